import { ProtocolError } from './errors.js';

const TWO_POW_32 = 0x1_0000_0000;
const EMPTY = Buffer.alloc(0);

/**
 * Reads Kafka primitives from one buffer with an integer cursor. Every read checks bounds and throws
 * ProtocolError on underflow, so a decoder either returns a whole message or fails at one boundary.
 * int64 values are returned as numbers (exact up to 2^53, which covers offsets, timestamps and ids in practice).
 */
export class Reader {
  pos: number;
  readonly end: number;

  constructor(
    readonly buf: Buffer,
    pos = 0,
    end = buf.length,
  ) {
    this.pos = pos;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): number {
    const at = this.pos;
    if (n < 0 || at + n > this.end) throw new ProtocolError(`need ${n} bytes at ${at}, have ${this.end - at}`);
    this.pos = at + n;
    return at;
  }

  bool(): boolean {
    return this.buf[this.need(1)] !== 0;
  }

  int8(): number {
    return this.buf.readInt8(this.need(1));
  }

  int16(): number {
    return this.buf.readInt16BE(this.need(2));
  }

  uint16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }

  int32(): number {
    return this.buf.readInt32BE(this.need(4));
  }

  uint32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }

  int64(): number {
    const at = this.need(8);
    return this.buf.readInt32BE(at) * TWO_POW_32 + this.buf.readUInt32BE(at + 4);
  }

  float64(): number {
    return this.buf.readDoubleBE(this.need(8));
  }

  uuid(): string {
    const at = this.need(16);
    return this.buf.toString('hex', at, at + 16);
  }

  /** Unsigned LEB128 up to 32 bits. */
  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new ProtocolError('truncated varint');
      const byte = this.buf[this.pos++]!;
      if (shift === 28) {
        if (byte > 0x0f) throw new ProtocolError('varint longer than 32 bits');
        return (result | (byte << 28)) >>> 0;
      }
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  }

  /** Zig-zag signed varint (32 bits). */
  varint(): number {
    const raw = this.uvarint();
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** Zig-zag signed varlong, returned as a number (exact within ±2^53). */
  varlong(): number {
    let result = 0;
    let multiplier = 1;
    for (let i = 0; ; i++) {
      if (i === 10) throw new ProtocolError('varlong longer than 64 bits');
      if (this.pos >= this.end) throw new ProtocolError('truncated varlong');
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) break;
      multiplier *= 128;
    }
    // zig-zag decode without bit operations (values exceed 32 bits)
    return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
  }

  nullableString(flexible: boolean): string | null {
    const n = flexible ? this.uvarint() - 1 : this.int16();
    if (n < 0) return null;
    const at = this.need(n);
    return this.buf.toString('utf8', at, at + n);
  }

  string(flexible: boolean): string {
    const s = this.nullableString(flexible);
    if (s === null) throw new ProtocolError('null where a string is required');
    return s;
  }

  nullableBytes(flexible: boolean): Buffer | null {
    const n = flexible ? this.uvarint() - 1 : this.int32();
    if (n < 0) return null;
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }

  bytes(flexible: boolean): Buffer {
    return this.nullableBytes(flexible) ?? EMPTY;
  }

  /** Array element count; -1 means a null array. Counts larger than the bytes left are rejected up front. */
  arrayLength(flexible: boolean): number {
    const n = flexible ? this.uvarint() - 1 : this.int32();
    if (n > this.end - this.pos) throw new ProtocolError(`array of ${n} elements in ${this.end - this.pos} bytes`);
    return n < 0 ? -1 : n;
  }

  /** Skips a tagged-field section and returns nothing; decoders that know tags read them with taggedFields(). */
  skipTaggedFields(): void {
    const count = this.uvarint();
    for (let i = 0; i < count; i++) {
      this.uvarint();
      this.need(this.uvarint());
    }
  }

  skip(n: number): void {
    this.need(n);
  }
}
