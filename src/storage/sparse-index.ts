/**
 * In-memory sparse indexes of one segment. The offset index maps a relative offset to a byte position; the
 * time index maps a max timestamp seen so far to a relative offset. Both are kept in typed arrays, written to
 * `.index` / `.timeindex` files when a segment is closed (an active segment's into the clean shutdown's state
 * file), and rebuilt from the log data when those are missing or the shutdown was not clean (index files are not
 * checksummed; the log is the truth).
 */
/**
 * Shared by every empty index (a sealed segment's whose indexes stay in their files, a new segment's): a
 * zero-length array holds nothing and is never written, as an append grows the arrays first. With tens of
 * thousands of segments, arrays of their own were a third of each segment's memory.
 */
const NO_INT32 = new Int32Array(0);
const NO_FLOAT64 = new Float64Array(0);

export class OffsetIndex {
  relOffsets: Int32Array;
  positions: Int32Array;
  count = 0;

  constructor(capacity = 0) {
    this.relOffsets = capacity > 0 ? new Int32Array(capacity) : NO_INT32;
    this.positions = capacity > 0 ? new Int32Array(capacity) : NO_INT32;
  }

  append(relOffset: number, position: number): void {
    if (this.count === this.relOffsets.length) {
      this.relOffsets = grow(this.relOffsets);
      this.positions = grow(this.positions);
    }
    this.relOffsets[this.count] = relOffset;
    this.positions[this.count] = position;
    this.count++;
  }

  /** Byte position of the last indexed batch whose relative offset is <= relOffset (0 if none). */
  lookup(relOffset: number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.relOffsets[mid]! <= relOffset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? 0 : this.positions[found]!;
  }

  /** Gives back spare capacity (the growth doubling leaves up to half of it unused) once entries stop coming. */
  trim(): void {
    if (this.relOffsets.length === this.count) return;
    this.relOffsets = this.relOffsets.slice(0, this.count);
    this.positions = this.positions.slice(0, this.count);
  }

  /** Drops entries at or past `position` (truncation). */
  truncateToPosition(position: number): void {
    while (this.count > 0 && this.positions[this.count - 1]! >= position) this.count--;
  }

  serialize(): Buffer {
    const out = Buffer.allocUnsafe(this.count * 8);
    for (let i = 0; i < this.count; i++) {
      out.writeInt32BE(this.relOffsets[i]!, i * 8);
      out.writeInt32BE(this.positions[i]!, i * 8 + 4);
    }
    return out;
  }

  static deserialize(buf: Buffer): OffsetIndex {
    const index = new OffsetIndex(buf.length >> 3);
    for (let at = 0; at + 8 <= buf.length; at += 8) index.append(buf.readInt32BE(at), buf.readInt32BE(at + 4));
    return index;
  }
}

export class TimeIndex {
  timestamps: Float64Array;
  relOffsets: Int32Array;
  count = 0;

  constructor(capacity = 0) {
    this.timestamps = capacity > 0 ? new Float64Array(capacity) : NO_FLOAT64;
    this.relOffsets = capacity > 0 ? new Int32Array(capacity) : NO_INT32;
  }

  append(timestamp: number, relOffset: number): void {
    if (this.count > 0 && timestamp <= this.timestamps[this.count - 1]!) return;
    if (this.count === this.timestamps.length) {
      this.timestamps = grow(this.timestamps);
      this.relOffsets = grow(this.relOffsets);
    }
    this.timestamps[this.count] = timestamp;
    this.relOffsets[this.count] = relOffset;
    this.count++;
  }

  /**
   * Relative offset to start scanning from for the first record with timestamp >= target: the offset of the
   * last entry whose timestamp is < target (entries are batch-granular and increasing), or 0.
   */
  lookup(target: number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timestamps[mid]! < target) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? 0 : this.relOffsets[found]!;
  }

  /** Gives back spare capacity once entries stop coming (see OffsetIndex.trim). */
  trim(): void {
    if (this.timestamps.length === this.count) return;
    this.timestamps = this.timestamps.slice(0, this.count);
    this.relOffsets = this.relOffsets.slice(0, this.count);
  }

  truncateToRelOffset(relOffset: number): void {
    while (this.count > 0 && this.relOffsets[this.count - 1]! >= relOffset) this.count--;
  }

  serialize(): Buffer {
    const out = Buffer.allocUnsafe(this.count * 12);
    for (let i = 0; i < this.count; i++) {
      out.writeDoubleBE(this.timestamps[i]!, i * 12);
      out.writeInt32BE(this.relOffsets[i]!, i * 12 + 8);
    }
    return out;
  }

  static deserialize(buf: Buffer): TimeIndex {
    const index = new TimeIndex(Math.floor(buf.length / 12));
    for (let at = 0; at + 12 <= buf.length; at += 12) index.append(buf.readDoubleBE(at), buf.readInt32BE(at + 8));
    return index;
  }
}

function grow<T extends Int32Array | Float64Array>(a: T): T {
  const next = new (a.constructor as new (n: number) => T)(Math.max(16, a.length * 2));
  next.set(a);
  return next;
}
