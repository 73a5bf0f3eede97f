import { HEADER_BYTES, SEALED_BYTES, readSealed, stateKey, wholeWithHeader, withHeader, writeSealed, type SealedSegmentState } from './shutdown-state.js';

/** A sealed segment as the checkpoint records it: what a clean shutdown records, and its file's inode number and ctime. */
export interface CheckpointedSegment extends SealedSegmentState {
  inode: number;
  changedMs: number;
}

export interface PartitionCheckpoint {
  topicId: string;
  partition: number;
  sealed: CheckpointedSegment[];
}

/** 2: with each file's ctime (version 1 files are ignored, as a start without a checkpoint would be). */
const VERSION = 2;
/** int16 version, int32 record count. */
const BODY_FIXED_BYTES = 2 + 4;
/** 16-byte topic id, int32 partition, int32 count of sealed segments. */
const RECORD_FIXED_BYTES = 16 + 4 + 4;
/** The shutdown state's fields of a sealed segment, then the inode number and the ctime as float64s. */
const SEGMENT_BYTES = SEALED_BYTES + 16;

/**
 * The sealed-segment checkpoint, written every so often while the broker runs, for the start after a crash: a
 * segment recorded in it is taken as recorded if its three files are there and its `.log` file still has the
 * recorded inode number, size and ctime, without reading any of them (see PartitionLoader.load).
 */
export function encodeSealedCheckpoint(states: readonly PartitionCheckpoint[]): Buffer {
  let size = HEADER_BYTES + BODY_FIXED_BYTES;
  for (const s of states) size += RECORD_FIXED_BYTES + s.sealed.length * SEGMENT_BYTES;
  const out = Buffer.alloc(size);
  let at = HEADER_BYTES;
  at = out.writeInt16BE(VERSION, at);
  at = out.writeInt32BE(states.length, at);
  for (const s of states) {
    at += Buffer.from(s.topicId, 'hex').copy(out, at);
    at = out.writeInt32BE(s.partition, at);
    at = out.writeInt32BE(s.sealed.length, at);
    for (const g of s.sealed) at = out.writeDoubleBE(g.changedMs, out.writeDoubleBE(g.inode, writeSealed(out, at, g)));
  }
  return withHeader(out);
}

/** The records of a checkpoint keyed by stateKey; empty when it is torn, corrupt or of another version. */
export function decodeSealedCheckpoint(data: Buffer): Map<string, PartitionCheckpoint> {
  const states = new Map<string, PartitionCheckpoint>();
  if (!wholeWithHeader(data, BODY_FIXED_BYTES) || data.readInt16BE(HEADER_BYTES) !== VERSION) return states;
  const count = data.readInt32BE(HEADER_BYTES + 2);
  let at = HEADER_BYTES + BODY_FIXED_BYTES;
  for (let i = 0; i < count; i++) {
    const topicId = data.toString('hex', at, at + 16);
    const partition = data.readInt32BE(at + 16);
    const segments = data.readInt32BE(at + 20);
    at += RECORD_FIXED_BYTES;
    const sealed: CheckpointedSegment[] = [];
    for (let g = 0; g < segments; g++, at += SEGMENT_BYTES) {
      sealed.push({ ...readSealed(data, at), inode: data.readDoubleBE(at + SEALED_BYTES), changedMs: data.readDoubleBE(at + SEALED_BYTES + 8) });
    }
    states.set(stateKey(topicId, partition), { topicId, partition, sealed });
  }
  return states;
}
