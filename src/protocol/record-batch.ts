import { crc32c } from '@node-rs/crc32';
import { Compression, MAX_DECOMPRESSED_BYTES, decodingBytes, decompress, decompressedSize } from './compression.js';
import { ErrorCode, KafkaError } from './errors.js';
import { Reader } from './reader.js';

/**
 * Record batch v2 (magic 2) header layout. Batches are kept as the bytes the client sent; the broker only
 * reads these header fields and patches the base offset (outside the CRC) and, for LogAppendTime, the
 * timestamp fields (inside the CRC, so the CRC is recomputed then).
 */
export const Batch = {
  BASE_OFFSET: 0,
  LENGTH: 8,
  PARTITION_LEADER_EPOCH: 12,
  MAGIC: 16,
  CRC: 17,
  ATTRIBUTES: 21,
  LAST_OFFSET_DELTA: 23,
  BASE_TIMESTAMP: 27,
  MAX_TIMESTAMP: 35,
  PRODUCER_ID: 43,
  PRODUCER_EPOCH: 51,
  BASE_SEQUENCE: 53,
  RECORDS_COUNT: 57,
  HEADER_BYTES: 61,
  /** Bytes before the length field's payload: baseOffset + batchLength. */
  LOG_OVERHEAD: 12,
} as const;

export const Attributes = {
  COMPRESSION_MASK: 0x07,
  TIMESTAMP_LOG_APPEND: 0x08,
  TRANSACTIONAL: 0x10,
  CONTROL: 0x20,
  DELETE_HORIZON: 0x40,
} as const;

const TWO_POW_32 = 0x1_0000_0000;
/** A single-node log has one leader epoch; Metadata reports the same. */
const LEADER_EPOCH = 0;

export function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_POW_32 + buf.readUInt32BE(at + 4);
}

export function writeInt64(buf: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / TWO_POW_32);
  buf.writeInt32BE(hi, at);
  buf.writeUInt32BE(v - hi * TWO_POW_32, at + 4);
}

/** Size in bytes of the batch starting at `at`, or -1 if the header is not fully inside `buf`. */
export function batchSizeAt(buf: Buffer, at: number): number {
  if (at + Batch.LOG_OVERHEAD > buf.length) return -1;
  return buf.readInt32BE(at + Batch.LENGTH) + Batch.LOG_OVERHEAD;
}

export function batchCrcValid(buf: Buffer, at: number, size: number): boolean {
  return crc32c(buf.subarray(at + Batch.ATTRIBUTES, at + size)) === buf.readUInt32BE(at + Batch.CRC);
}

export interface BatchInfo {
  /** Byte position of the batch inside the buffer it was parsed from. */
  position: number;
  size: number;
  baseOffset: number;
  lastOffsetDelta: number;
  recordsCount: number;
  attributes: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
}

export function batchInfoAt(buf: Buffer, at: number, size: number): BatchInfo {
  return {
    position: at,
    size,
    baseOffset: readInt64(buf, at + Batch.BASE_OFFSET),
    lastOffsetDelta: buf.readInt32BE(at + Batch.LAST_OFFSET_DELTA),
    recordsCount: buf.readInt32BE(at + Batch.RECORDS_COUNT),
    attributes: buf.readInt16BE(at + Batch.ATTRIBUTES),
    baseTimestamp: readInt64(buf, at + Batch.BASE_TIMESTAMP),
    maxTimestamp: readInt64(buf, at + Batch.MAX_TIMESTAMP),
    producerId: readInt64(buf, at + Batch.PRODUCER_ID),
    producerEpoch: buf.readInt16BE(at + Batch.PRODUCER_EPOCH),
    baseSequence: buf.readInt32BE(at + Batch.BASE_SEQUENCE),
  };
}

/** A produce request's records split into batches, validated, ready to have offsets assigned in place. */
export interface ValidatedBatches {
  batches: BatchInfo[];
  records: number;
  bytes: number;
}

/** What a topic asks of each record beyond framing (each rule costs a walk over the records, and decompression). */
export interface RecordRules {
  /** A compacted topic: a record without a key could never be compacted away. */
  keysRequired: boolean;
  /** CreateTime topics with timestamp bounds: the oldest and newest record timestamp accepted now. */
  timestamps: { earliest: number; latest: number } | null;
}

/** Framing only: no key or timestamp checks. */
export const NO_RECORD_RULES: Readonly<RecordRules> = { keysRequired: false, timestamps: null };

/**
 * Validates the record batches of one produce partition: framing, magic, CRC32C, counts, for uncompressed
 * batches the record framing and offset deltas (a walk over varints, no allocation per record), and for
 * compressed ones the codec's framing and the size it states, without decoding them. Where `rules` ask for
 * keys or timestamp bounds, every record is checked: compressed batches are then decompressed and walked too,
 * as Kafka does for such topics.
 * Throws KafkaError with the code the produce response should carry.
 */
export function validateBatches(records: Buffer, maxBatchBytes: number, rules: Readonly<RecordRules> = NO_RECORD_RULES): ValidatedBatches {
  // made with its first batch: an empty array's first push reserves room for 16, and nearly every append is one batch
  let batches: BatchInfo[] | null = null;
  let at = 0;
  let total = 0;
  if (records.length === 0) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'empty record set');
  while (at < records.length) {
    if (records.length - at < Batch.HEADER_BYTES) {
      throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `truncated batch header at byte ${at}`);
    }
    const magic = records.readInt8(at + Batch.MAGIC);
    if (magic !== 2) {
      throw new KafkaError(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `record batch magic ${magic} is not supported (need 2)`);
    }
    const size = batchSizeAt(records, at);
    if (size < Batch.HEADER_BYTES || at + size > records.length) {
      throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `batch length ${size} at byte ${at} does not fit the ${records.length}-byte record set`);
    }
    if (size > maxBatchBytes) {
      throw new KafkaError(ErrorCode.MESSAGE_TOO_LARGE, `batch of ${size} bytes exceeds max.message.bytes ${maxBatchBytes}`);
    }
    if (!batchCrcValid(records, at, size)) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `CRC32C mismatch in batch at byte ${at}`);
    const info = batchInfoAt(records, at, size);
    if (info.recordsCount <= 0 || info.lastOffsetDelta !== info.recordsCount - 1) {
      throw new KafkaError(
        ErrorCode.INVALID_RECORD,
        `batch at byte ${at}: ${info.recordsCount} records but last offset delta ${info.lastOffsetDelta}`,
      );
    }
    if ((info.attributes & Attributes.COMPRESSION_MASK) > Compression.ZSTD) {
      throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `unknown compression codec ${info.attributes & 7}`);
    }
    const codec = info.attributes & Attributes.COMPRESSION_MASK;
    if (codec === Compression.NONE) stateNewestTimestamp(records, info, validateRecords(new Reader(records, at + Batch.HEADER_BYTES, at + size), info, rules));
    else {
      const payload = records.subarray(at + Batch.HEADER_BYTES, at + size);
      if (decompressedSize(codec, payload).stated > MAX_DECOMPRESSED_BYTES) {
        throw new KafkaError(ErrorCode.INVALID_RECORD, `batch at byte ${at} decompresses to more than ${MAX_DECOMPRESSED_BYTES} bytes`);
      }
      // a newest timestamp older than the first cannot be right (sarama stated -1 until 2025): the records say
      if (rules.keysRequired || rules.timestamps || info.maxTimestamp < info.baseTimestamp) {
        stateNewestTimestamp(records, info, validateRecords(new Reader(decompress(codec, payload)), info, rules));
      }
    }
    if (batches === null) batches = [info];
    else batches.push(info);
    total += info.recordsCount;
    at += size;
  }
  // not empty (refused above), so the loop made it
  return { batches: batches!, records: total, bytes: records.length };
}

/**
 * About how many bytes validating `records` under `rules`, and re-encoding them in `codec` (null: kept as sent),
 * decompresses or compresses: the work validateBatches and recompressBatches do beyond walking batch headers. Reads
 * the headers only, and stops at the first that does not parse (validation refuses it, without decoding anything).
 */
export function batchesDecodingBytes(records: Buffer, rules: Readonly<RecordRules>, codec: number | null): number {
  let bytes = 0;
  for (let at = 0; records.length - at >= Batch.HEADER_BYTES; ) {
    const size = batchSizeAt(records, at);
    if (size < Batch.HEADER_BYTES || at + size > records.length) break;
    const attributes = records.readInt16BE(at + Batch.ATTRIBUTES);
    const sent = attributes & Attributes.COMPRESSION_MASK;
    const recoded = codec !== null && codec !== sent && (attributes & Attributes.CONTROL) === 0;
    if (sent === Compression.NONE) {
      if (recoded) bytes += size;
    } else if (recoded || rules.keysRequired || rules.timestamps || readInt64(records, at + Batch.MAX_TIMESTAMP) < readInt64(records, at + Batch.BASE_TIMESTAMP)) {
      bytes += decodingBytes(sent, records.subarray(at + Batch.HEADER_BYTES, at + size));
    }
    at += size;
  }
  return bytes;
}

/** An invalid record inside a batch; `index` is the record's position in the batch (KIP-467). */
export class InvalidRecordError extends KafkaError {
  constructor(
    readonly index: number,
    message: string,
    code: number = ErrorCode.INVALID_RECORD,
  ) {
    super(code, message);
  }
}

/**
 * Makes a batch's header state the newest timestamp of its records, as Kafka does at append: the time index (so
 * ListOffsets by time), time-based rolls and the expiry of idle producers' state read it. The CRC covers the field,
 * so it is computed again; a batch that states it right, as clients do, is left as it came.
 */
function stateNewestTimestamp(records: Buffer, info: BatchInfo, newest: number): void {
  if (info.maxTimestamp === newest || (info.attributes & Attributes.TIMESTAMP_LOG_APPEND) !== 0) return;
  writeInt64(records, info.position + Batch.MAX_TIMESTAMP, newest);
  records.writeUInt32BE(crc32c(records.subarray(info.position + Batch.ATTRIBUTES, info.position + info.size)), info.position + Batch.CRC);
  info.maxTimestamp = newest;
}

/**
 * Walks a batch's records (uncompressed, between `r`'s position and end): framing, offset deltas, and what `rules`
 * ask. Returns the newest record timestamp (-1, Kafka's "no timestamp", if none is newer).
 */
function validateRecords(r: Reader, batch: BatchInfo, rules: Readonly<RecordRules>): number {
  const { timestamps } = rules;
  let newest = -1;
  for (let i = 0; i < batch.recordsCount; i++) {
    let timestamp: number;
    try {
      const length = r.varint();
      const end = r.pos + length;
      if (length < 0 || end > r.end) throw new InvalidRecordError(i, `record ${i} length ${length} overruns its batch`);
      r.int8(); // attributes
      timestamp = batch.baseTimestamp + r.varlong();
      const offsetDelta = r.varint();
      if (offsetDelta !== i) throw new InvalidRecordError(i, `record ${i} has offset delta ${offsetDelta}`);
      if (rules.keysRequired && r.varint() < 0) throw new InvalidRecordError(i, `record ${i} has no key: a compacted topic needs one`);
      r.pos = end;
    } catch (err) {
      if (err instanceof InvalidRecordError) throw err;
      throw new InvalidRecordError(i, `record ${i} is malformed`);
    }
    if (timestamps && (timestamp < timestamps.earliest || timestamp > timestamps.latest)) {
      throw new InvalidRecordError(
        i,
        `record ${i} has timestamp ${timestamp}, outside [${timestamps.earliest}, ${timestamps.latest}] (message.timestamp.before.max.ms / after.max.ms)`,
        ErrorCode.INVALID_TIMESTAMP,
      );
    }
    if (timestamp > newest) newest = timestamp;
  }
  if (r.pos !== r.end) throw new InvalidRecordError(batch.recordsCount - 1, `${r.end - r.pos} bytes after the last record`);
  return newest;
}

/**
 * Assigns offsets in place: writes the base offset, and for LogAppendTime topics the append time into the
 * timestamp fields (then recomputes the CRC, which covers them).
 */
export function assignOffsets(buf: Buffer, info: BatchInfo, baseOffset: number, logAppendTimeMs: number | null): void {
  writeInt64(buf, info.position + Batch.BASE_OFFSET, baseOffset);
  buf.writeInt32BE(LEADER_EPOCH, info.position + Batch.PARTITION_LEADER_EPOCH);
  info.baseOffset = baseOffset;
  if (logAppendTimeMs !== null) {
    const attrs = (info.attributes | Attributes.TIMESTAMP_LOG_APPEND) & 0xffff;
    buf.writeInt16BE(attrs << 16 >> 16, info.position + Batch.ATTRIBUTES);
    writeInt64(buf, info.position + Batch.MAX_TIMESTAMP, logAppendTimeMs);
    buf.writeUInt32BE(crc32c(buf.subarray(info.position + Batch.ATTRIBUTES, info.position + info.size)), info.position + Batch.CRC);
    info.attributes = attrs;
    info.maxTimestamp = logAppendTimeMs;
  }
}
