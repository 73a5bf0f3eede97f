// The message formats before record batches: message sets of magic 0 (Kafka 0.8) and magic 1 (0.10, with
// timestamps), which Produce v0-2 carry and Fetch v0-3 answer with. Sluice stores only record batches (magic 2), so
// a produced message set is converted into batches, and stored batches are converted into a message set for an
// old fetch. Old clients only take this path, so it decodes every message; the record batch path never does.
//
// A message set is a run of [offset int64][size int32][message]; a message is [crc32 (IEEE, of what follows)]
// [magic int8][attributes int8][timestamp int64, magic 1 only][key bytes][value bytes]. A compressed message (codec
// in attributes' low three bits) is a wrapper whose value is a compressed message set of the real messages.
import { crc32 } from '@node-rs/crc32';
import { Compression, decodingBytes, decompress } from './compression.js';
import { ErrorCode, KafkaError, ProtocolError } from './errors.js';
import { Attributes, Batch, batchInfoAt, batchSizeAt, readInt64, writeInt64 } from './record-batch.js';
import { sealRecordBatch } from './records.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

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

/**
 * Where the parts of one message lie in the buffer holding it: one view per message set, filled in again for each of
 * its messages, so that converting millions of small messages (a compressed wrapper may hold them) makes no object
 * per message. A length of -1 is a null key or value.
 */
interface MessageView {
  magic: 0 | 1;
  attributes: number;
  timestamp: number;
  keyAt: number;
  keyLength: number;
  valueAt: number;
  valueLength: number;
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
 * Records are written straight from the messages' bytes.
 * Throws CORRUPT_MESSAGE for bad framing or CRC32, INVALID_RECORD for a wrapper inside a wrapper.
 */
export function messageSetToBatches(messageSet: Buffer, nowMs: number, maxBatchBytes: number): Buffer {
  const batches: Buffer[] = [];
  let run = new RecordsSection(Compression.NONE, nowMs);
  const endRun = () => {
    if (run.count > 0) batches.push(run.seal());
    run = new RecordsSection(Compression.NONE, nowMs);
  };
  visitMessages(messageSet, (set, message) => {
    const codec = message.attributes & Attributes.COMPRESSION_MASK;
    if (codec === Compression.NONE) {
      const bytes = RECORD_OVERHEAD_AT_MOST + Math.max(message.keyLength, 0) + Math.max(message.valueLength, 0);
      if (run.count > 0 && run.bytesAtMost + bytes > maxBatchBytes) endRun();
      run.add(set, message, bytes);
      return;
    }
    endRun();
    if (codec > Compression.LZ4) throw new KafkaError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `codec ${codec} in a magic ${message.magic} message`);
    if (message.valueLength < 0) throw corrupt('a compressed message without a value');
    const value = set.subarray(message.valueAt, message.valueAt + message.valueLength);
    const wrapped = new RecordsSection(codec, nowMs);
    visitMessages(decompress(codec, codec === Compression.LZ4 && message.magic === 0 ? withLz4HeaderChecksum(value) : value), (inner, m) => {
      if ((m.attributes & Attributes.COMPRESSION_MASK) !== Compression.NONE) throw new KafkaError(ErrorCode.INVALID_RECORD, 'a compressed message inside a compressed message');
      wrapped.add(inner, m, 0);
    });
    if (wrapped.count === 0) throw corrupt('a compressed message holds no message');
    batches.push(wrapped.seal());
  });
  endRun();
  if (batches.length === 0) throw corrupt('the message set holds no message');
  return batches.length === 1 ? batches[0]! : Buffer.concat(batches);
}

/**
 * About how many bytes converting `messageSet` reads and decompresses: every message's, and what its compressed
 * wrappers decompress to. Reads the message headers only, and stops at the first that does not parse (conversion
 * refuses it).
 */
export function messageSetDecodingBytes(messageSet: Buffer): number {
  let bytes = 0;
  for (let at = 0; messageSet.length - at >= LOG_OVERHEAD; ) {
    const start = at + LOG_OVERHEAD;
    const end = start + messageSet.readInt32BE(at + 8);
    if (end < start + CRC_BYTES + 2 || end > messageSet.length) break;
    bytes += end - start;
    const magic = messageSet[start + CRC_BYTES]!;
    const codec = messageSet[start + CRC_BYTES + 1]! & Attributes.COMPRESSION_MASK;
    // a wrapper holds its compressed messages in its value, after its key
    const keyAt = start + CRC_BYTES + 2 + (magic === 1 ? 8 : 0);
    if (codec !== Compression.NONE && keyAt + 4 <= end) {
      const valueAt = keyAt + 4 + Math.max(messageSet.readInt32BE(keyAt), 0) + 4;
      if (valueAt <= end) bytes += decodingBytes(codec, messageSet.subarray(valueAt, end));
    }
    at = end;
  }
  return bytes;
}

const uvarintBytes = (x: number) => {
  let n = 1;
  for (; x >= 0x80; n++) x = Math.floor(x / 128);
  return n;
};
const varintBytes = (v: number) => uvarintBytes(((v << 1) ^ (v >> 31)) >>> 0);
const varlongBytes = (v: number) => uvarintBytes(v >= 0 ? v * 2 : -v * 2 - 1);

/** The records section of one v2 batch, written from old messages as they are read. */
class RecordsSection {
  private readonly body = new Writer(4096);
  count = 0;
  /** What the batch takes at most so far, for cutting runs of uncompressed messages. */
  bytesAtMost = Batch.HEADER_BYTES;
  private baseTimestamp = 0;
  private maxTimestamp = -1;
  private timed = false;

  constructor(
    private readonly codec: number,
    private readonly nowMs: number,
  ) {}

  add(set: Buffer, m: MessageView, bytesAtMost: number): void {
    const timestamp = m.magic === 1 && m.timestamp >= 0 ? m.timestamp : this.nowMs;
    if (m.magic === 1) this.timed = true;
    if (this.count === 0) this.baseTimestamp = timestamp;
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
    const delta = timestamp - this.baseTimestamp;
    const key = Math.max(m.keyLength, 0);
    const value = Math.max(m.valueLength, 0);
    const w = this.body;
    w.varint(1 + varlongBytes(delta) + varintBytes(this.count) + varintBytes(m.keyLength) + key + varintBytes(m.valueLength) + value + 1);
    w.int8(0); // attributes
    w.varlong(delta);
    w.varint(this.count);
    w.varint(m.keyLength);
    w.copyFrom(set, m.keyAt, m.keyAt + key);
    w.varint(m.valueLength);
    w.copyFrom(set, m.valueAt, m.valueAt + value);
    w.varint(0); // headers
    this.count++;
    this.bytesAtMost += bytesAtMost;
  }

  seal(): Buffer {
    const untimed = !this.timed;
    return sealRecordBatch(this.body.toBuffer(), this.count, this.count - 1, this.baseTimestamp, this.maxTimestamp, { compression: this.codec, logAppendTime: untimed });
  }
}

/** Calls `visit` with each message of a set, unwrapped no further; each one's framing and CRC32 checked first. */
function visitMessages(set: Buffer, visit: (set: Buffer, message: MessageView) => void): void {
  const m: MessageView = { magic: 0, attributes: 0, timestamp: -1, keyAt: 0, keyLength: -1, valueAt: 0, valueLength: -1 };
  let at = 0;
  while (at < set.length) {
    if (set.length - at < LOG_OVERHEAD) throw corrupt(`${set.length - at} bytes after the last message, short of a message header`);
    const size = set.readInt32BE(at + 8);
    const start = at + LOG_OVERHEAD;
    const end = start + size;
    if (size < CRC_BYTES + 2 + 8 || end > set.length) throw corrupt(`message of ${size} bytes at byte ${at} does not fit the ${set.length}-byte message set`);
    if (crc32(set.subarray(start + CRC_BYTES, end)) !== set.readUInt32BE(start)) throw corrupt(`CRC32 mismatch in the message at byte ${at}`);
    let p = start + CRC_BYTES;
    const magic = set.readInt8(p);
    if (magic !== 0 && magic !== 1) throw new KafkaError(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `message magic ${magic} in a message set`);
    m.magic = magic;
    m.attributes = set.readInt8(p + 1);
    p += 2;
    if (magic === 1) {
      if (end - p < 8) throw corrupt(`message at byte ${at} ends inside its timestamp`);
      m.timestamp = readInt64(set, p);
      p += 8;
    } else {
      m.timestamp = -1;
    }
    m.keyLength = lengthAt(set, p, end, at);
    m.keyAt = p + 4;
    p = m.keyAt + Math.max(m.keyLength, 0);
    m.valueLength = lengthAt(set, p, end, at);
    m.valueAt = p + 4;
    p = m.valueAt + Math.max(m.valueLength, 0);
    if (p !== end) throw corrupt(`${end - p} bytes after the value of the message at byte ${at}`);
    visit(set, m);
    at = end;
  }
}

/** The length of the key or value field at `p` of the message at byte `at`: -1 for null; it must end by `end`. */
function lengthAt(set: Buffer, p: number, end: number, at: number): number {
  if (end - p < 4) throw corrupt(`the message at byte ${at} ends inside its key or value`);
  const length = set.readInt32BE(p);
  if (length < -1 || p + 4 + length > end) throw corrupt(`a key or value of ${length} bytes does not fit the message at byte ${at}`);
  return length;
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
  const out = new MessageSetOut(Math.min(maxBytes, 64 << 10));
  // a batch at a time, each record written as it is read: what the set can hold may end long before the read's
  // batches do, and a compressed batch may hold millions of small records
  for (let at = 0; at + Batch.HEADER_BYTES <= batches.length; ) {
    const size = batchSizeAt(batches, at);
    if (size < Batch.HEADER_BYTES || at + size > batches.length) break;
    const info = batchInfoAt(batches, at, size);
    const payload = batches.subarray(at + Batch.HEADER_BYTES, at + size);
    at += size;
    if ((info.attributes & Attributes.CONTROL) !== 0 || info.baseOffset + info.lastOffsetDelta < fromOffset) continue;
    const logAppendTime = (info.attributes & Attributes.TIMESTAMP_LOG_APPEND) !== 0;
    const r = new Reader(decompress(info.attributes & Attributes.COMPRESSION_MASK, payload));
    for (let i = 0; i < info.recordsCount; i++) {
      const end = r.varint() + r.pos;
      if (end > r.end) throw new ProtocolError(`record ${i} runs past the end of the batch at offset ${info.baseOffset}`);
      r.int8(); // attributes
      const timestampDelta = r.varlong();
      const offset = info.baseOffset + r.varint();
      if (offset >= fromOffset) {
        const keyLength = r.varint();
        const keyAt = r.pos;
        r.skip(Math.max(keyLength, 0));
        const valueLength = r.varint();
        const valueAt = r.pos;
        r.skip(Math.max(valueLength, 0));
        const timestamp = logAppendTime ? info.maxTimestamp : info.baseTimestamp + timestampDelta;
        const bytes = messageBytes(magic, keyLength, valueLength);
        if ((out.length > 0 || !firstWhole) && out.length + bytes > maxBytes) return out.toBuffer();
        out.message(magic, offset, logAppendTime, timestamp, r.buf, keyAt, keyLength, valueAt, valueLength, bytes);
      }
      r.pos = end;
    }
  }
  return out.toBuffer();
}

/**
 * About how many bytes batchesToMessageSet reads and decompresses to convert `batches` from `fromOffset`: every batch
 * it converts, compressed ones as what they decompress to.
 */
export function conversionBytes(batches: Buffer, fromOffset: number): number {
  let bytes = 0;
  for (let at = 0; at + Batch.HEADER_BYTES <= batches.length; ) {
    const size = batchSizeAt(batches, at);
    if (size < Batch.HEADER_BYTES || at + size > batches.length) break;
    const attributes = batches.readInt16BE(at + Batch.ATTRIBUTES);
    const last = readInt64(batches, at + Batch.BASE_OFFSET) + batches.readInt32BE(at + Batch.LAST_OFFSET_DELTA);
    if ((attributes & Attributes.CONTROL) === 0 && last >= fromOffset) {
      const codec = attributes & Attributes.COMPRESSION_MASK;
      bytes += codec === Compression.NONE ? size : decodingBytes(codec, batches.subarray(at + Batch.HEADER_BYTES, at + size));
    }
    at += size;
  }
  return bytes;
}

/** What one message of `magic` with keys and values of these lengths (-1 for null) takes in a set. */
function messageBytes(magic: 0 | 1, keyLength: number, valueLength: number): number {
  return LOG_OVERHEAD + CRC_BYTES + 2 + (magic === 1 ? 8 : 0) + 4 + Math.max(keyLength, 0) + 4 + Math.max(valueLength, 0);
}

/** An uncompressed message set, written message by message into one growing buffer. */
class MessageSetOut {
  private buf: Buffer;
  length = 0;

  constructor(initialBytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(initialBytes, 256));
  }

  message(magic: 0 | 1, offset: number, logAppendTime: boolean, timestamp: number, src: Buffer, keyAt: number, keyLength: number, valueAt: number, valueLength: number, bytes: number): void {
    if (this.length + bytes > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + bytes));
      this.buf.copy(grown, 0, 0, this.length);
      this.buf = grown;
    }
    const out = this.buf;
    const start = this.length;
    writeInt64(out, start, offset);
    out.writeInt32BE(bytes - LOG_OVERHEAD, start + 8);
    let at = start + LOG_OVERHEAD + CRC_BYTES;
    out.writeInt8(magic, at++);
    out.writeInt8(magic === 1 && logAppendTime ? TIMESTAMP_LOG_APPEND : 0, at++);
    if (magic === 1) {
      writeInt64(out, at, timestamp);
      at += 8;
    }
    out.writeInt32BE(keyLength, at);
    at += 4 + (keyLength > 0 ? src.copy(out, at + 4, keyAt, keyAt + keyLength) : 0);
    out.writeInt32BE(valueLength, at);
    at += 4 + (valueLength > 0 ? src.copy(out, at + 4, valueAt, valueAt + valueLength) : 0);
    out.writeUInt32BE(crc32(out.subarray(start + LOG_OVERHEAD + CRC_BYTES, at)), start + LOG_OVERHEAD);
    this.length = at;
  }

  toBuffer(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}
