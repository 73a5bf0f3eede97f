import { crc32c } from '@node-rs/crc32';
import { compress, decompress, type CompressionLevels } from './compression.js';
import { KafkaError, ProtocolError } from './errors.js';
import { Attributes, Batch, batchInfoAt, batchSizeAt, type BatchInfo, writeInt64 } from './record-batch.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

/** One record, decoded. Used off the hot path only: CLI, tests, timestamp look-ups, compaction. */
export interface KafkaRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface NewRecord {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: { key: string; value: Buffer | string | null }[];
  timestamp?: number;
  /** Position in the batch's offset range (default: its index); compaction leaves gaps. */
  offsetDelta?: number;
}

export interface BuildBatchOptions {
  compression?: number;
  compressionLevels?: Readonly<CompressionLevels>;
  baseOffset?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
  control?: boolean;
  logAppendTime?: boolean;
  /** Header fields a rewritten batch keeps from the original (compaction). */
  lastOffsetDelta?: number;
  baseTimestamp?: number;
  maxTimestamp?: number;
  /**
   * When compaction may drop the batch's tombstones (KIP-534): written as the base timestamp, with the delete
   * horizon attribute; records keep their timestamps, stored as deltas from it.
   */
  deleteHorizonMs?: number;
}

const toBuf = (v: Buffer | string | null | undefined): Buffer | null => (v === null || v === undefined ? null : typeof v === 'string' ? Buffer.from(v) : v);

/** Encodes records as one v2 record batch (the form a producer sends). */
export function buildRecordBatch(records: NewRecord[], options: BuildBatchOptions = {}): Buffer {
  if (records.length === 0) throw new RangeError('a batch needs at least one record');
  const now = Date.now();
  const baseTimestamp = options.deleteHorizonMs ?? options.baseTimestamp ?? records[0]!.timestamp ?? now;
  let maxTimestamp = options.deleteHorizonMs === undefined ? baseTimestamp : -1;
  let lastDelta = 0;
  const body = new Writer(1024);
  records.forEach((rec, i) => {
    const ts = rec.timestamp ?? now;
    if (ts > maxTimestamp) maxTimestamp = ts;
    lastDelta = rec.offsetDelta ?? i;
    const w = new Writer(128);
    w.int8(0);
    w.varlong(ts - baseTimestamp);
    w.varint(lastDelta);
    const key = toBuf(rec.key);
    const value = toBuf(rec.value);
    writeVarBytes(w, key);
    writeVarBytes(w, value);
    const headers = rec.headers ?? [];
    w.varint(headers.length);
    for (const h of headers) {
      writeVarBytes(w, Buffer.from(h.key));
      writeVarBytes(w, toBuf(h.value));
    }
    const bytes = w.toBuffer();
    body.varint(bytes.length);
    body.raw(bytes);
  });
  return sealRecordBatch(body.toBuffer(), records.length, lastDelta, baseTimestamp, maxTimestamp, options);
}

/**
 * A v2 record batch around an encoded (uncompressed) records section of `recordsCount` records, compressed as
 * `options` asks; header fields `options` gives take precedence over the ones passed.
 */
export function sealRecordBatch(
  section: Buffer,
  recordsCount: number,
  lastDelta: number,
  baseTimestamp: number,
  maxTimestamp: number,
  options: BuildBatchOptions = {},
): Buffer {
  const codec = options.compression ?? 0;
  const payload = compress(codec, section, options.compressionLevels);
  const batch = Buffer.alloc(Batch.HEADER_BYTES + payload.length);
  writeInt64(batch, Batch.BASE_OFFSET, options.baseOffset ?? 0);
  batch.writeInt32BE(batch.length - Batch.LOG_OVERHEAD, Batch.LENGTH);
  batch.writeInt32BE(-1, Batch.PARTITION_LEADER_EPOCH);
  batch.writeInt8(2, Batch.MAGIC);
  let attributes = codec;
  if (options.transactional) attributes |= Attributes.TRANSACTIONAL;
  if (options.control) attributes |= Attributes.CONTROL;
  if (options.logAppendTime) attributes |= Attributes.TIMESTAMP_LOG_APPEND;
  if (options.deleteHorizonMs !== undefined) attributes |= Attributes.DELETE_HORIZON;
  batch.writeInt16BE(attributes, Batch.ATTRIBUTES);
  batch.writeInt32BE(options.lastOffsetDelta ?? lastDelta, Batch.LAST_OFFSET_DELTA);
  writeInt64(batch, Batch.BASE_TIMESTAMP, baseTimestamp);
  writeInt64(batch, Batch.MAX_TIMESTAMP, options.maxTimestamp ?? maxTimestamp);
  writeInt64(batch, Batch.PRODUCER_ID, options.producerId ?? -1);
  batch.writeInt16BE(options.producerEpoch ?? -1, Batch.PRODUCER_EPOCH);
  batch.writeInt32BE(options.baseSequence ?? -1, Batch.BASE_SEQUENCE);
  batch.writeInt32BE(recordsCount, Batch.RECORDS_COUNT);
  payload.copy(batch, Batch.HEADER_BYTES);
  batch.writeUInt32BE(crc32c(batch.subarray(Batch.ATTRIBUTES)), Batch.CRC);
  return batch;
}

/**
 * A batch's header alone, without records: what compaction keeps of a producer's last batch once every record of it
 * is gone, as Kafka's cleaner does, so that the producer's sequence and epoch outlive its records (a start that
 * rebuilds producers from the log finds them there). Offsets, producer fields, the largest timestamp (as both
 * timestamps) and the transactional and control flags are kept; codec and delete horizon are dropped, having
 * nothing left to apply to.
 */
export function emptyBatchOf(raw: Buffer, info: BatchInfo): Buffer {
  const out = Buffer.from(raw.subarray(0, Batch.HEADER_BYTES));
  out.writeInt32BE(Batch.HEADER_BYTES - Batch.LOG_OVERHEAD, Batch.LENGTH);
  out.writeInt16BE(info.attributes & ~(Attributes.COMPRESSION_MASK | Attributes.DELETE_HORIZON), Batch.ATTRIBUTES);
  writeInt64(out, Batch.BASE_TIMESTAMP, info.maxTimestamp);
  out.writeInt32BE(0, Batch.RECORDS_COUNT);
  out.writeUInt32BE(crc32c(out.subarray(Batch.ATTRIBUTES)), Batch.CRC);
  return out;
}

/**
 * Re-encodes the batches whose codec is not `codec` (a topic's compression.type): the records section is
 * decompressed and compressed again; the header keeps every field but the codec bits, the length and the CRC.
 * Records are not decoded, and control batches stay as they are. Null when no batch needs it.
 */
export function recompressBatches(records: Buffer, batches: readonly BatchInfo[], codec: number, levels: Readonly<CompressionLevels>): Buffer | null {
  const needs = (b: BatchInfo) => (b.attributes & Attributes.CONTROL) === 0 && (b.attributes & Attributes.COMPRESSION_MASK) !== codec;
  if (!batches.some(needs)) return null;
  return Buffer.concat(
    batches.map((b) => {
      const batch = records.subarray(b.position, b.position + b.size);
      if (!needs(b)) return batch;
      const payload = compress(codec, decompress(b.attributes & Attributes.COMPRESSION_MASK, batch.subarray(Batch.HEADER_BYTES)), levels);
      const out = Buffer.allocUnsafe(Batch.HEADER_BYTES + payload.length);
      batch.copy(out, 0, 0, Batch.HEADER_BYTES);
      payload.copy(out, Batch.HEADER_BYTES);
      out.writeInt32BE(out.length - Batch.LOG_OVERHEAD, Batch.LENGTH);
      out.writeInt16BE((b.attributes & ~Attributes.COMPRESSION_MASK) | codec, Batch.ATTRIBUTES);
      out.writeUInt32BE(crc32c(out.subarray(Batch.ATTRIBUTES)), Batch.CRC);
      return out;
    }),
  );
}

/** The two kinds of transaction markers (control record key type). */
export const ControlType = { ABORT: 0, COMMIT: 1 } as const;

/**
 * A transaction marker as the coordinator writes it to each partition of a transaction: one control record
 * whose key is (version 0, type) and whose value is (version 0, coordinator epoch), in a transactional
 * control batch carrying the producer's id and epoch.
 */
export function buildControlBatch(commit: boolean, producerId: number, producerEpoch: number, coordinatorEpoch = 0): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(commit ? ControlType.COMMIT : ControlType.ABORT, 2);
  const value = Buffer.alloc(6);
  value.writeInt16BE(0, 0);
  value.writeInt32BE(coordinatorEpoch, 2);
  return buildRecordBatch([{ key, value }], { producerId, producerEpoch, transactional: true, control: true });
}

/** The marker type (ControlType) of the control batch at `at`: its first record's key, read without decoding the rest. */
export function controlTypeAt(buf: Buffer, at: number, size: number): number {
  const r = new Reader(buf, at + Batch.HEADER_BYTES, at + size);
  r.varint(); // record length
  r.int8(); // attributes
  r.varlong(); // timestamp delta
  r.varint(); // offset delta
  const key = readVarBytes(r);
  if (key === null || key.length < 4) throw new ProtocolError('control record without a type');
  return key.readInt16BE(2);
}

function writeVarBytes(w: Writer, v: Buffer | null): void {
  if (v === null) {
    w.varint(-1);
    return;
  }
  w.varint(v.length);
  w.raw(v);
}

function readVarBytes(r: Reader): Buffer | null {
  const n = r.varint();
  if (n < 0) return null;
  const start = r.pos;
  r.skip(n);
  return r.buf.subarray(start, start + n);
}

/**
 * Calls `visit` for each record of one whole batch with the batch's (decompressed) records, where its key lies in
 * them (`keyStart` -1 for a null key), its offset, whether its value is null and its timestamp (a LogAppendTime
 * batch's, for each of its records), and stops early once `visit` returns true. Allocates nothing per record:
 * compaction reads every record of a log this way, and decoding made two buffers and an object or two of each. False
 * when the records cannot be read (as decodeBatchRecords gives null).
 */
export function visitRecords(
  batch: Buffer,
  info: BatchInfo,
  visit: (records: Buffer, keyStart: number, keyEnd: number, offset: number, valueNull: boolean, timestamp: number) => boolean | void,
): boolean {
  const logAppendTime = (info.attributes & Attributes.TIMESTAMP_LOG_APPEND) !== 0;
  try {
    const r = new Reader(decompress(info.attributes & Attributes.COMPRESSION_MASK, batch.subarray(Batch.HEADER_BYTES)));
    for (let i = 0; i < info.recordsCount; i++) {
      const length = r.varint();
      const end = r.pos + length;
      r.int8(); // attributes
      const timestampDelta = r.varlong();
      const offset = info.baseOffset + r.varint();
      const keyLength = r.varint();
      const keyStart = r.pos;
      if (keyLength > 0) r.skip(keyLength);
      const valueNull = r.varint() < 0;
      if (end > r.end) throw new ProtocolError('record past the end of its batch');
      const timestamp = logAppendTime ? info.maxTimestamp : info.baseTimestamp + timestampDelta;
      if (visit(r.buf, keyLength < 0 ? -1 : keyStart, keyLength < 0 ? -1 : keyStart + keyLength, offset, valueNull, timestamp)) return true;
      r.pos = end;
    }
    return true;
  } catch (err) {
    if (err instanceof KafkaError) return false;
    throw err;
  }
}

/** A record found by its timestamp: its offset, and the timestamp it carries. */
export interface TimedOffset {
  offset: number;
  timestamp: number;
}

/**
 * In one whole batch, the first record at or after `fromOffset` whose timestamp is at least `target`, or null if
 * none is. A batch whose records cannot be read answers for itself: its first offset from `fromOffset` on, at its
 * header's max timestamp.
 */
export function firstRecordAtTime(batch: Buffer, fromOffset: number, target: number): TimedOffset | null {
  const info = batchInfoAt(batch, 0, batch.length);
  const found: TimedOffset = { offset: -1, timestamp: -1 };
  const readable = visitRecords(batch, info, (_records, _keyStart, _keyEnd, offset, _valueNull, timestamp) => {
    if (offset < fromOffset || timestamp < target) return false;
    found.offset = offset;
    found.timestamp = timestamp;
    return true;
  });
  if (!readable) return { offset: Math.max(fromOffset, info.baseOffset), timestamp: info.maxTimestamp };
  return found.offset >= 0 ? found : null;
}

export interface DecodedBatch {
  info: BatchInfo;
  records: KafkaRecord[];
}

/**
 * The records of one whole batch, or null when they cannot be decoded (corrupt, or compressed past
 * MAX_DECOMPRESSED_BYTES): for readers of stored batches that can fall back on the batch header.
 */
export function decodeBatchRecords(batch: Buffer): KafkaRecord[] | null {
  try {
    return decodeRecordBatches(batch)[0]?.records ?? null;
  } catch (err) {
    if (err instanceof KafkaError) return null;
    throw err;
  }
}

/** Decodes every batch in `data` (a fetch response's records, or a segment range). A partial trailing batch is ignored. */
export function decodeRecordBatches(data: Buffer): DecodedBatch[] {
  const out: DecodedBatch[] = [];
  let at = 0;
  while (at < data.length) {
    const size = batchSizeAt(data, at);
    if (size < 0 || at + size > data.length) break;
    if (data.readInt8(at + Batch.MAGIC) !== 2) throw new ProtocolError(`unsupported magic ${data.readInt8(at + Batch.MAGIC)}`);
    const info = batchInfoAt(data, at, size);
    const payload = decompress(info.attributes & Attributes.COMPRESSION_MASK, data.subarray(at + Batch.HEADER_BYTES, at + size));
    const r = new Reader(payload);
    const records: KafkaRecord[] = [];
    const logAppendTime = (info.attributes & Attributes.TIMESTAMP_LOG_APPEND) !== 0;
    for (let i = 0; i < info.recordsCount; i++) {
      const length = r.varint();
      const end = r.pos + length;
      r.int8();
      const tsDelta = r.varlong();
      const offsetDelta = r.varint();
      const key = readVarBytes(r);
      const value = readVarBytes(r);
      const headerCount = r.varint();
      const headers: RecordHeader[] = [];
      for (let h = 0; h < headerCount; h++) {
        const hk = readVarBytes(r);
        headers.push({ key: hk === null ? '' : hk.toString('utf8'), value: readVarBytes(r) });
      }
      r.pos = end;
      records.push({
        offset: info.baseOffset + offsetDelta,
        timestamp: logAppendTime ? info.maxTimestamp : info.baseTimestamp + tsDelta,
        key,
        value,
        headers,
      });
    }
    out.push({ info, records });
    at += size;
  }
  return out;
}
