import { crc32c } from '@node-rs/crc32';
import { SEALED_FIELDS, stateKey, type SealedSegmentState } from './shutdown-state.js';

/** A sealed segment as the checkpoint records it: what a clean shutdown records, and its file's inode number. */
export interface CheckpointedSegment extends SealedSegmentState {
  inode: number;
}

export interface PartitionCheckpoint {
  topicId: string;
  partition: number;
  sealed: CheckpointedSegment[];
}

const VERSION = 1;
/** int32 size of the body, uint32 CRC32C of the body. */
const HEADER_BYTES = 8;
/** int16 version, int32 record count. */
const BODY_FIXED_BYTES = 2 + 4;
/** 16-byte topic id, int32 partition, int32 count of sealed segments. */
const RECORD_FIXED_BYTES = 16 + 4 + 4;
/** Each field a float64: SEALED_FIELDS, then the inode number. */
const SEGMENT_BYTES = (SEALED_FIELDS.length + 1) * 8;

/**
 * The sealed-segment checkpoint, written every so often while the broker runs, for the start after a crash: a
 * segment recorded in it is taken as recorded if its three files are there and its `.log` file still has the
 * recorded inode and size, without reading any of them (see PartitionLog.loadFrom).
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
    for (const g of s.sealed) {
      for (const field of SEALED_FIELDS) at = out.writeDoubleBE(g[field], at);
      at = out.writeDoubleBE(g.inode, at);
    }
  }
  out.writeInt32BE(size - HEADER_BYTES, 0);
  out.writeUInt32BE(crc32c(out.subarray(HEADER_BYTES)), 4);
  return out;
}

/** The records of a checkpoint keyed by stateKey; empty when it is torn, corrupt or of another version. */
export function decodeSealedCheckpoint(data: Buffer): Map<string, PartitionCheckpoint> {
  const states = new Map<string, PartitionCheckpoint>();
  if (data.length < HEADER_BYTES + BODY_FIXED_BYTES || data.readInt32BE(0) !== data.length - HEADER_BYTES) return states;
  if (crc32c(data.subarray(HEADER_BYTES)) !== data.readUInt32BE(4) || data.readInt16BE(HEADER_BYTES) !== VERSION) return states;
  const count = data.readInt32BE(HEADER_BYTES + 2);
  let at = HEADER_BYTES + BODY_FIXED_BYTES;
  for (let i = 0; i < count; i++) {
    const topicId = data.toString('hex', at, at + 16);
    const partition = data.readInt32BE(at + 16);
    const segments = data.readInt32BE(at + 20);
    at += RECORD_FIXED_BYTES;
    const sealed: CheckpointedSegment[] = [];
    for (let g = 0; g < segments; g++, at += SEGMENT_BYTES) {
      const segment = {} as CheckpointedSegment;
      SEALED_FIELDS.forEach((field, f) => (segment[field] = data.readDoubleBE(at + f * 8)));
      segment.inode = data.readDoubleBE(at + SEALED_FIELDS.length * 8);
      sealed.push(segment);
    }
    states.set(stateKey(topicId, partition), { topicId, partition, sealed });
  }
  return states;
}
