import { crc32c } from '@node-rs/crc32';

/** What a clean shutdown records of one partition's active segment: its indexes and the producer state at the log end. */
export interface ActiveSegmentState {
  segmentBaseOffset: number;
  /** The log end offset the producer snapshot was taken at. */
  snapshotOffset: number;
  offsetIndex: Buffer;
  timeIndex: Buffer;
  /** The producer and transaction state, as a roll's snapshot file holds it. */
  snapshot: string;
}

/** What a start needs of a sealed segment: what scanning the end of its file and reading its index files' ends gives. */
export interface SealedSegmentState {
  baseOffset: number;
  size: number;
  nextOffset: number;
  maxTimestamp: number;
  maxTimestampOffset: number;
  /** The first time index entry's timestamp (see Segment.firstTimestamp). */
  firstTimestamp: number;
}

/**
 * What a clean shutdown records of one partition, so the next start touches no file of its sealed segments
 * (opened on first use) and needs no index or snapshot file for its active one.
 */
export interface PartitionShutdownState {
  topicId: string;
  partition: number;
  active: ActiveSegmentState;
  sealed: SealedSegmentState[];
}

/**
 * 3: every partition's active segment is recorded (2 left out small ones, whose next start then read the newest
 * producer snapshot file and the log after it, which after a crash in a storm of rolls could be most of the log).
 */
const VERSION = 3;
/** int32 size of the body, uint32 CRC32C of the body: the header of this file and of the sealed-segment checkpoint. */
export const HEADER_BYTES = 8;
/** 16-byte topic id, int32 partition, int64 active segment base offset, int64 snapshot offset. */
const RECORD_FIXED_BYTES = 16 + 4 + 8 + 8;
/** A SealedSegmentState's fields in the file's order, each a float64 (offsets and timestamps are below 2^53). */
const SEALED_FIELDS = ['baseOffset', 'size', 'nextOffset', 'maxTimestamp', 'maxTimestampOffset', 'firstTimestamp'] as const satisfies readonly (keyof SealedSegmentState)[];
export const SEALED_BYTES = SEALED_FIELDS.length * 8;

/** Writes a sealed segment's fields at `at`; returns where they end. */
export function writeSealed(out: Buffer, at: number, g: SealedSegmentState): number {
  for (const field of SEALED_FIELDS) at = out.writeDoubleBE(g[field], at);
  return at;
}

export function readSealed(data: Buffer, at: number): SealedSegmentState {
  const g = {} as SealedSegmentState;
  SEALED_FIELDS.forEach((field, f) => (g[field] = data.readDoubleBE(at + f * 8)));
  return g;
}

/** Fills in the header of `out`, a body behind HEADER_BYTES, and returns it. */
export function withHeader(out: Buffer): Buffer {
  out.writeInt32BE(out.length - HEADER_BYTES, 0);
  out.writeUInt32BE(crc32c(out.subarray(HEADER_BYTES)), 4);
  return out;
}

/** Whether `data` is whole, its body at least `minBody` bytes and matching its header's size and CRC32C. */
export function wholeWithHeader(data: Buffer, minBody: number): boolean {
  if (data.length < HEADER_BYTES + minBody || data.readInt32BE(0) !== data.length - HEADER_BYTES) return false;
  return crc32c(data.subarray(HEADER_BYTES)) === data.readUInt32BE(4);
}
/** int16 version, float64 stamp, int32 record count. */
const BODY_FIXED_BYTES = 2 + 8 + 4;

/**
 * One file for every partition at a clean shutdown, instead of two index files and a producer snapshot per
 * active segment: with 10,000 partitions, creating 30,000 small files was most of a shutdown (and reading them most
 * of the next start). Body: int16 version, float64 stamp (the clean-shutdown marker's, so a file left by an earlier
 * shutdown is never paired with a later marker), int32 count, then the records: the fixed fields, then the offset
 * index, the time index and the snapshot, each as int32 length and bytes, then an int32 count of sealed segments
 * and each one's fields.
 */
export function encodeShutdownState(stamp: number, states: readonly PartitionShutdownState[]): Buffer {
  let size = HEADER_BYTES + BODY_FIXED_BYTES;
  const snapshots = states.map((s) => Buffer.from(s.active.snapshot, 'utf8'));
  states.forEach((s, i) => {
    size += RECORD_FIXED_BYTES + 12 + s.active.offsetIndex.length + s.active.timeIndex.length + snapshots[i]!.length;
    size += 4 + s.sealed.length * SEALED_BYTES;
  });
  const out = Buffer.alloc(size);
  let at = HEADER_BYTES;
  at = out.writeInt16BE(VERSION, at);
  at = out.writeDoubleBE(stamp, at);
  at = out.writeInt32BE(states.length, at);
  states.forEach((s, i) => {
    at += Buffer.from(s.topicId, 'hex').copy(out, at);
    at = out.writeInt32BE(s.partition, at);
    at = out.writeBigInt64BE(BigInt(s.active.segmentBaseOffset), at);
    at = out.writeBigInt64BE(BigInt(s.active.snapshotOffset), at);
    for (const bytes of [s.active.offsetIndex, s.active.timeIndex, snapshots[i]!]) {
      at = out.writeInt32BE(bytes.length, at);
      at += bytes.copy(out, at);
    }
    at = out.writeInt32BE(s.sealed.length, at);
    for (const g of s.sealed) at = writeSealed(out, at, g);
  });
  return withHeader(out);
}

/**
 * The records of a file written by encodeShutdownState with this `stamp`, keyed by stateKey; empty when the file
 * is torn, corrupt, of another version or of another shutdown (the start then scans, as after a crash).
 */
export function decodeShutdownState(data: Buffer, stamp: number): Map<string, PartitionShutdownState> {
  const states = new Map<string, PartitionShutdownState>();
  if (!wholeWithHeader(data, BODY_FIXED_BYTES)) return states;
  let at = HEADER_BYTES;
  if (data.readInt16BE(at) !== VERSION || data.readDoubleBE(at + 2) !== stamp) return states;
  const count = data.readInt32BE(at + 10);
  at += BODY_FIXED_BYTES;
  for (let i = 0; i < count; i++) {
    const topicId = data.toString('hex', at, at + 16);
    const partition = data.readInt32BE(at + 16);
    const segmentBaseOffset = Number(data.readBigInt64BE(at + 20));
    const snapshotOffset = Number(data.readBigInt64BE(at + 28));
    at += RECORD_FIXED_BYTES;
    const parts: Buffer[] = [];
    for (let p = 0; p < 3; p++) {
      const length = data.readInt32BE(at);
      parts.push(data.subarray(at + 4, at + 4 + length));
      at += 4 + length;
    }
    const [offsetIndex, timeIndex, snapshot] = parts as [Buffer, Buffer, Buffer];
    const active = { segmentBaseOffset, snapshotOffset, offsetIndex, timeIndex, snapshot: snapshot.toString('utf8') };
    const sealed: SealedSegmentState[] = [];
    const sealedCount = data.readInt32BE(at);
    at += 4;
    for (let g = 0; g < sealedCount; g++, at += SEALED_BYTES) sealed.push(readSealed(data, at));
    states.set(stateKey(topicId, partition), { topicId, partition, active, sealed });
  }
  return states;
}

export const stateKey = (topicId: string, partition: number): string => `${topicId}:${partition}`;
