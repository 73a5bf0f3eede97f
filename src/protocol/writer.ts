const TWO_POW_32 = 0x1_0000_0000;
/** Buffers at least this large are referenced, not copied, so fetch responses carry log bytes without a copy. */
const ZERO_COPY_MIN_BYTES = 1024;

/**
 * Builds an encoded message as a list of buffers: small fields go into a growing scratch buffer, large byte
 * payloads (record batches) are appended by reference. `finish()` returns the chunks for one vectored write.
 */
export class Writer {
  private buf: Buffer;
  private pos = 0;
  private chunkStart = 0;
  private readonly chunks: Buffer[] = [];

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  private cutChunk(): void {
    if (this.pos > this.chunkStart) {
      this.chunks.push(this.buf.subarray(this.chunkStart, this.pos));
    }
    this.chunkStart = this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.cutChunk();
    this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    this.pos = 0;
    this.chunkStart = 0;
  }

  bool(v: boolean): void {
    this.int8(v ? 1 : 0);
  }

  int8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
  }

  int16(v: number): void {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
  }

  uint16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  int32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  uint32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  int64(v: number): void {
    this.ensure(8);
    const hi = Math.floor(v / TWO_POW_32);
    this.buf.writeInt32BE(hi, this.pos);
    this.buf.writeUInt32BE(v - hi * TWO_POW_32, this.pos + 4);
    this.pos += 8;
  }

  float64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  uuid(hex: string): void {
    this.ensure(16);
    const written = this.buf.write(hex, this.pos, 16, 'hex');
    if (written !== 16) throw new TypeError(`uuid must be 32 hex digits, got ${JSON.stringify(hex)}`);
    this.pos += 16;
  }

  uvarint(v: number): void {
    this.ensure(5);
    let x = v >>> 0;
    while (x >= 0x80) {
      this.buf[this.pos++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    this.buf[this.pos++] = x;
  }

  varint(v: number): void {
    this.uvarint((v << 1) ^ (v >> 31));
  }

  varlong(v: number): void {
    this.ensure(10);
    // zig-zag without 32-bit operators: values may exceed 2^32
    let x = v >= 0 ? v * 2 : -v * 2 - 1;
    while (x >= 0x80) {
      this.buf[this.pos++] = (x % 128) | 0x80;
      x = Math.floor(x / 128);
    }
    this.buf[this.pos++] = x;
  }

  nullableString(v: string | null | undefined, flexible: boolean): void {
    if (v === null || v === undefined) {
      if (flexible) this.uvarint(0);
      else this.int16(-1);
      return;
    }
    const n = Buffer.byteLength(v);
    if (flexible) this.uvarint(n + 1);
    else this.int16(n);
    this.ensure(n);
    this.buf.write(v, this.pos, n, 'utf8');
    this.pos += n;
  }

  string(v: string, flexible: boolean): void {
    this.nullableString(v, flexible);
  }

  nullableBytes(v: Buffer | null | undefined, flexible: boolean): void {
    if (v === null || v === undefined) {
      if (flexible) this.uvarint(0);
      else this.int32(-1);
      return;
    }
    if (flexible) this.uvarint(v.length + 1);
    else this.int32(v.length);
    this.raw(v);
  }

  bytes(v: Buffer, flexible: boolean): void {
    this.nullableBytes(v, flexible);
  }

  arrayLength(n: number, flexible: boolean): void {
    if (flexible) this.uvarint(n + 1);
    else this.int32(n);
  }

  /** Appends bytes; large buffers are kept by reference (the caller must not change them afterwards). */
  raw(v: Buffer): void {
    if (v.length >= ZERO_COPY_MIN_BYTES) {
      this.cutChunk();
      this.chunks.push(v);
      return;
    }
    this.ensure(v.length);
    v.copy(this.buf, this.pos);
    this.pos += v.length;
  }

  /** Copies `src[start, end)` in, always (no view of `src` is made or kept). */
  copyFrom(src: Buffer, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    // Buffer.copy costs more than a short loop for the few bytes of a small key or value
    if (n > 32) {
      this.pos += src.copy(this.buf, this.pos, start, end);
      return;
    }
    for (let i = start; i < end; i++) this.buf[this.pos++] = src[i]!;
  }

  /** The encoded bytes as chunks, in order. The writer must not be used afterwards. */
  finish(): Buffer[] {
    this.cutChunk();
    return this.chunks;
  }

  /** The encoded bytes as one buffer (tests, small messages). */
  toBuffer(): Buffer {
    const chunks = this.finish();
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }
}
