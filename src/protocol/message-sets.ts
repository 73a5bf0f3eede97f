// The message formats before record batches: message sets of magic 0 (Kafka 0.8) and magic 1 (0.10, with
// timestamps), which Produce v0-2 carry and Fetch v0-3 answer with. Sluice stores only record batches (magic 2), so
// a produced message set is converted into batches, and stored batches are converted into a message set for an
// old fetch. Old clients only take this path, so it decodes every message; the record batch path never does.
//
// A message set is a run of [offset int64][size int32][message]; a message is [crc32 (IEEE, of what follows)]
// [magic int8][attributes int8][timestamp int64, magic 1 only][key bytes][value bytes]. A compressed message (codec
// in attributes' low three bits) is a wrapper whose value is a compressed message set of the real messages.
import { crc32 } from '@node-rs/crc32';
import { Compression, decompress } from './compression.js';
import { ErrorCode, KafkaError } from './errors.js';
import { Attributes, Batch, batchSizeAt, writeInt64 } from './record-batch.js';
import { buildRecordBatch, decodeRecordBatches } from './records.js';
import { Reader } from './reader.js';

const LOG_OVERHEAD = 12; // offset and size
const CRC_BYTES = 4;
const TIMESTAMP_LOG_APPEND = 0x08; // attributes bit of magic 1

/** The message-set magic a Fetch version answers with: 0.8's format for v0-1, 0.10's for v2-3. */
export function messageSetMagicFor(fetchVersion: number): 0 | 1 {
  return fetchVersion < 2 ? 0 : 1;
}

function corrupt(message: string): KafkaError {
  return new KafkaError(ErrorCode.CORRUPT_MESSAGE, message);
}

/** One message of a set, as sent. */
interface LegacyMessage {
  magic: 0 | 1;
  attributes: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
}

/** The most one record takes in a batch besides its key and value: length, attributes, deltas, lengths, header count. */
const RECORD_OVERHEAD_AT_MOST = 5 + 1 + 10 + 5 + 5 + 5 + 1;

/**
 * Converts a produced message set into v2 record batches holding its messages in order, keys and values as sent: one
 * batch per compressed wrapper, in the wrapper's codec, and one per run of uncompressed messages, cut where the next
 * would take the batch past `maxBatchBytes` (Kafka checks max.message.bytes message by message here, so a set of
 * many small messages may well be larger). Magic 1 messages keep their timestamps; magic 0 ones have none and take
 * `nowMs`, and a batch of magic 0 messages alone is a LogAppendTime batch (Kafka would store -1, which time-based
 * retention, rolls and ListOffsets by time cannot use). Offsets in the set are ignored: the log assigns them.
 * Throws CORRUPT_MESSAGE for bad framing or CRC32, INVALID_RECORD for a wrapper inside a wrapper.
 */
export function messageSetToBatches(messageSet: Buffer, nowMs: number, maxBatchBytes: number): Buffer {
  const batches: Buffer[] = [];
  let run: LegacyMessage[] = [];
  let runBytes = Batch.HEADER_BYTES;
  const endRun = () => {
    if (run.length > 0) batches.push(batchOf(run, Compression.NONE, nowMs));
    run = [];
    runBytes = Batch.HEADER_BYTES;
  };
  for (const message of messagesOf(messageSet)) {
    const codec = message.attributes & Attributes.COMPRESSION_MASK;
    if (codec === Compression.NONE) {
      const bytes = RECORD_OVERHEAD_AT_MOST + (message.key?.length ?? 0) + (message.value?.length ?? 0);
      if (run.length > 0 && runBytes + bytes > maxBatchBytes) endRun();
      run.push(message);
      runBytes += bytes;
      continue;
    }
    endRun();
    if (codec > Compression.LZ4) throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `codec ${codec} in a magic ${message.magic} message`);
    if (message.value === null) throw corrupt('a compressed message without a value');
    const inner = [...messagesOf(decompress(codec, codec === Compression.LZ4 && message.magic === 0 ? withLz4HeaderChecksum(message.value) : message.value))];
    if (inner.some((m) => (m.attributes & Attributes.COMPRESSION_MASK) !== Compression.NONE)) {
      throw new KafkaError(ErrorCode.INVALID_RECORD, 'a compressed message inside a compressed message');
    }
    if (inner.length === 0) throw corrupt('a compressed message holds no message');
    batches.push(batchOf(inner, codec, nowMs));
  }
  endRun();
  if (batches.length === 0) throw corrupt('the message set holds no message');
  return batches.length === 1 ? batches[0]! : Buffer.concat(batches);
}

function batchOf(messages: LegacyMessage[], codec: number, nowMs: number): Buffer {
  const untimed = messages.every((m) => m.magic === 0);
  const records = messages.map((m) => ({ key: m.key, value: m.value, timestamp: m.magic === 1 && m.timestamp >= 0 ? m.timestamp : nowMs }));
  return buildRecordBatch(records, { compression: codec, logAppendTime: untimed, ...(untimed ? { baseTimestamp: nowMs, maxTimestamp: nowMs } : {}) });
}

/** The messages of a set, unwrapped no further; each one's framing and CRC32 checked. */
function* messagesOf(set: Buffer): Generator<LegacyMessage> {
  const r = new Reader(set);
  while (r.remaining > 0) {
    if (r.remaining < LOG_OVERHEAD) throw corrupt(`${r.remaining} bytes after the last message, short of a message header`);
    r.int64();
    const size = r.int32();
    if (size < CRC_BYTES + 2 + 8 || size > r.remaining) throw corrupt(`message of ${size} bytes at byte ${r.pos - LOG_OVERHEAD} does not fit the ${set.length}-byte message set`);
    const start = r.pos;
    const end = start + size;
    const crc = r.uint32();
    if (crc32(set.subarray(start + CRC_BYTES, end)) !== crc) throw corrupt(`CRC32 mismatch in the message at byte ${start - LOG_OVERHEAD}`);
    const m = new Reader(set, r.pos, end);
    const magic = m.int8();
    if (magic !== 0 && magic !== 1) throw new KafkaError(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `message magic ${magic} in a message set`);
    const attributes = m.int8();
    const timestamp = magic === 1 ? m.int64() : -1;
    const key = m.nullableBytes(false);
    const value = m.nullableBytes(false);
    if (m.remaining !== 0) throw corrupt(`${m.remaining} bytes after the value of the message at byte ${start - LOG_OVERHEAD}`);
    r.pos = end;
    yield { magic, attributes, timestamp, key, value };
  }
}

/**
 * Kafka before 0.10 wrote LZ4 frames with a wrong header checksum (KAFKA-3160: taken over the magic number too), and
 * its clients of that time still do in magic 0 messages; the decoder checks it, so the right one is written in.
 */
function withLz4HeaderChecksum(frame: Buffer): Buffer {
  const DESCRIPTOR = 4;
  if (frame.length < DESCRIPTOR + 3) return frame;
  const hasContentSize = (frame[DESCRIPTOR]! & 0x08) !== 0;
  const checksumAt = DESCRIPTOR + 2 + (hasContentSize ? 8 : 0);
  if (frame.length <= checksumAt) return frame;
  const fixed = Buffer.from(frame);
  fixed[checksumAt] = (xxh32Short(frame.subarray(DESCRIPTOR, checksumAt)) >>> 8) & 0xff;
  return fixed;
}

const PRIME1 = 0x9e3779b1;
const PRIME2 = 0x85ebca77;
const PRIME3 = 0xc2b2ae3d;
const PRIME4 = 0x27d4eb2f;
const PRIME5 = 0x165667b1;
const rotl = (x: number, r: number) => ((x << r) | (x >>> (32 - r))) >>> 0;

/** XXH32 with seed 0 of fewer than 16 bytes (an LZ4 frame descriptor is at most 10), the only case needed. */
export function xxh32Short(data: Buffer): number {
  if (data.length >= 16) throw new RangeError('xxh32Short takes fewer than 16 bytes');
  let h = (PRIME5 + data.length) >>> 0;
  let at = 0;
  for (; at + 4 <= data.length; at += 4) {
    h = (h + Math.imul(data.readUInt32LE(at), PRIME3)) >>> 0;
    h = Math.imul(rotl(h, 17), PRIME4) >>> 0;
  }
  for (; at < data.length; at++) {
    h = (h + Math.imul(data[at]!, PRIME5)) >>> 0;
    h = Math.imul(rotl(h, 11), PRIME1) >>> 0;
  }
  h = Math.imul(h ^ (h >>> 15), PRIME2) >>> 0;
  h = Math.imul(h ^ (h >>> 13), PRIME3) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Converts stored record batches (whole, as a read returns them) into an uncompressed message set of `magic`, from
 * `fromOffset` on: one message per record with its absolute offset. Control batches are left out, as are headers,
 * which the old formats cannot carry; magic 1 keeps each record's timestamp and its type. The set holds the whole
 * messages that fit in `maxBytes`, and with `firstWhole` always the first, so an old consumer is never stuck behind
 * a message larger than its fetch size. Uncompressed, every old client can read it, whatever codec the batches
 * were stored in.
 */
export function batchesToMessageSet(batches: Buffer, fromOffset: number, magic: 0 | 1, maxBytes: number, firstWhole: boolean): Buffer {
  const messages: Buffer[] = [];
  let total = 0;
  // a batch at a time: what the set can hold may end long before the read's batches do, compressed ones most of all
  for (let at = 0; at + Batch.LOG_OVERHEAD <= batches.length; at += batchSizeAt(batches, at)) {
    const [decoded] = decodeRecordBatches(batches.subarray(at, at + batchSizeAt(batches, at)));
    if (!decoded) break;
    const { info, records } = decoded;
    if ((info.attributes & Attributes.CONTROL) !== 0) continue;
    const logAppendTime = (info.attributes & Attributes.TIMESTAMP_LOG_APPEND) !== 0;
    for (const record of records) {
      if (record.offset < fromOffset) continue;
      const message = encodeMessage(magic, record.offset, logAppendTime, record.timestamp, record.key, record.value);
      if ((total > 0 || !firstWhole) && total + message.length > maxBytes) return Buffer.concat(messages, total);
      messages.push(message);
      total += message.length;
    }
  }
  return Buffer.concat(messages, total);
}

function encodeMessage(magic: 0 | 1, offset: number, logAppendTime: boolean, timestamp: number, key: Buffer | null, value: Buffer | null): Buffer {
  const bodyBytes = 2 + (magic === 1 ? 8 : 0) + 4 + (key?.length ?? 0) + 4 + (value?.length ?? 0);
  const out = Buffer.allocUnsafe(LOG_OVERHEAD + CRC_BYTES + bodyBytes);
  writeInt64(out, 0, offset);
  out.writeInt32BE(CRC_BYTES + bodyBytes, 8);
  let at = LOG_OVERHEAD + CRC_BYTES;
  out.writeInt8(magic, at++);
  out.writeInt8(magic === 1 && logAppendTime ? TIMESTAMP_LOG_APPEND : 0, at++);
  if (magic === 1) {
    writeInt64(out, at, timestamp);
    at += 8;
  }
  for (const bytes of [key, value]) {
    out.writeInt32BE(bytes === null ? -1 : bytes.length, at);
    at += 4;
    if (bytes !== null) at += bytes.copy(out, at);
  }
  out.writeUInt32BE(crc32(out.subarray(LOG_OVERHEAD + CRC_BYTES)), LOG_OVERHEAD);
  return out;
}
