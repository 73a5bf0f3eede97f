// The old message formats (magic 0 and 1): produced message sets converted into a record batch, and stored batches
// converted into the message set an old fetch reads.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compressFrameSync } from 'lz4-napi';
import { compressSync as snappyBlock } from 'snappy';
import { crc32 } from '@node-rs/crc32';
import { compress, Compression } from '../../src/protocol/compression.js';
import { ErrorCode, KafkaError } from '../../src/protocol/errors.js';
import { batchesToMessageSet, messageSetToBatches, xxh32Short } from '../../src/protocol/message-sets.js';
import { Attributes, Batch, validateBatches, writeInt64 } from '../../src/protocol/record-batch.js';
import { buildControlBatch, buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import { messageSet, readMessageSet, type OldMessage } from '../helpers/message-sets.js';
import { propertySeed } from '../helpers/property-seed.js';

const NOW = 1_800_000_000_000;
const MiB = 1 << 20;
const messageSetToBatch = (set: Buffer, now: number) => messageSetToBatches(set, now, MiB);
const BASE = 1_700_000_000_000;
const messages: OldMessage[] = [
  { key: 'k0', value: 'v0', timestamp: BASE + 5 },
  { key: null, value: 'no key', timestamp: BASE + 9 },
  { key: 'k2', value: '', timestamp: BASE },
  { key: 'k3', value: null, timestamp: BASE + 2 },
];

/** The one batch a conversion made: header fields and records, keys and values as strings. */
function converted(batch: Buffer, maxBatchBytes = MiB) {
  validateBatches(batch, maxBatchBytes);
  const [decoded, ...rest] = decodeRecordBatches(batch);
  assert.equal(rest.length, 0);
  const { info, records } = decoded!;
  return {
    codec: info.attributes & Attributes.COMPRESSION_MASK,
    logAppendTime: (info.attributes & Attributes.TIMESTAMP_LOG_APPEND) !== 0,
    maxTimestamp: info.maxTimestamp,
    records: records.map((r) => ({ offset: r.offset, timestamp: r.timestamp, key: r.key?.toString() ?? null, value: r.value?.toString() ?? null, headers: r.headers.length })),
  };
}

const asRecords = (timestamps: number[]) =>
  messages.map((m, i) => ({ offset: i, timestamp: timestamps[i]!, key: m.key, value: m.value, headers: 0 }));

function expectError(run: () => unknown, code: number, message: RegExp): void {
  assert.throws(run, (err: unknown) => err instanceof KafkaError && err.code === code && message.test(err.message));
}

test('XXH32 of short inputs matches the reference vectors and the header checksums of LZ4 frames', () => {
  assert.equal(xxh32Short(Buffer.alloc(0)), 0x02cc5d05);
  assert.equal(xxh32Short(Buffer.from('a')), 0x550d7456);
  assert.equal(xxh32Short(Buffer.from('abc')), 0x32d153ff);
  const frame = compressFrameSync(Buffer.from('x'.repeat(100)));
  assert.equal((xxh32Short(frame.subarray(4, 6)) >>> 8) & 0xff, frame[6]);
});

test('magic 0 messages become one LogAppendTime batch stamped with the time of conversion, in order, keys and values as sent', () => {
  const plain = converted(messageSetToBatch(messageSet(messages, 0), NOW));
  assert.deepEqual(plain, { codec: Compression.NONE, logAppendTime: true, maxTimestamp: NOW, records: asRecords([NOW, NOW, NOW, NOW]) });
  for (const codec of [Compression.GZIP, Compression.SNAPPY]) {
    assert.deepEqual(converted(messageSetToBatch(messageSet(messages, 0, codec), NOW)), { ...plain, codec });
  }
});

test('magic 1 messages keep their timestamps; a compressed wrapper\'s codec becomes the batch\'s, whichever framing it used', () => {
  const timestamps = messages.map((m) => m.timestamp!);
  const expected = { codec: Compression.NONE, logAppendTime: false, maxTimestamp: BASE + 9, records: asRecords(timestamps) };
  assert.deepEqual(converted(messageSetToBatch(messageSet(messages, 1), NOW)), expected);
  const xerial = (inner: Buffer) => {
    // the Java client's framing: magic, version and compatible version, then length-prefixed blocks
    const block = snappyBlock(inner) as Buffer;
    const head = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
    head.writeInt32BE(block.length, 16);
    return Buffer.concat([head, block]);
  };
  const cases: [string, Buffer, number][] = [
    ['gzip', messageSet(messages, 1, Compression.GZIP), Compression.GZIP],
    ['snappy', messageSet(messages, 1, Compression.SNAPPY), Compression.SNAPPY],
    ['snappy, xerial framing', messageSet(messages, 1, Compression.SNAPPY, xerial), Compression.SNAPPY],
    ['lz4', messageSet(messages, 1, Compression.LZ4), Compression.LZ4],
  ];
  for (const [name, set, codec] of cases) assert.deepEqual(converted(messageSetToBatch(set, NOW)), { ...expected, codec }, name);
  // a magic 1 message without a timestamp (-1) takes the time of conversion
  assert.deepEqual(converted(messageSetToBatch(messageSet([{ key: 'k', value: 'v' }], 1), NOW)).records[0]!.timestamp, NOW);
});

test('a magic 0 LZ4 wrapper with the header checksum of Kafka before 0.10 (KAFKA-3160) is read', () => {
  const broken = (inner: Buffer) => {
    const frame = Buffer.from(compressFrameSync(inner));
    // taken over the magic number and the descriptor, not the descriptor alone
    frame[6] = (xxh32Short(frame.subarray(0, 6)) >>> 8) & 0xff;
    return frame;
  };
  assert.deepEqual(converted(messageSetToBatch(messageSet(messages, 0, Compression.LZ4, broken), NOW)).records, asRecords([NOW, NOW, NOW, NOW]));
});

test('bad message sets are refused with the code an old producer expects, naming where', () => {
  const set = messageSet(messages, 1);
  const flipped = Buffer.from(set);
  flipped[30] ^= 0xff; // in the first message's key
  expectError(() => messageSetToBatch(flipped, NOW), ErrorCode.CORRUPT_MESSAGE, /CRC32 mismatch in the message at byte 0/);
  expectError(() => messageSetToBatch(set.subarray(0, set.length - 3), NOW), ErrorCode.CORRUPT_MESSAGE, /does not fit the/);
  expectError(() => messageSetToBatch(Buffer.concat([set, Buffer.alloc(5)]), NOW), ErrorCode.CORRUPT_MESSAGE, /5 bytes after the last message/);
  const wrapperInWrapper = messageSet(messages, 1, Compression.GZIP, () => compress(Compression.GZIP, messageSet(messages, 1, Compression.GZIP)));
  expectError(() => messageSetToBatch(wrapperInWrapper, NOW), ErrorCode.INVALID_RECORD, /compressed message inside a compressed message/);
  const magic2 = messageSet(messages.slice(0, 1), 1);
  magic2.writeInt8(2, 16);
  magic2.writeUInt32BE(crc32(magic2.subarray(16)), 12);
  expectError(() => messageSetToBatch(magic2, NOW), ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, /message magic 2 in a message set/);
  expectError(() => messageSetToBatch(messageSet(messages, 1, Compression.ZSTD), NOW), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, /codec 4 in a magic 1 message/);
  expectError(() => messageSetToBatch(messageSet(messages, 1, Compression.GZIP, () => compress(Compression.GZIP, Buffer.alloc(0))), NOW), ErrorCode.CORRUPT_MESSAGE, /holds no message/);
  expectError(() => messageSetToBatch(messageSet(messages, 1, Compression.GZIP, (inner) => inner), NOW), ErrorCode.CORRUPT_MESSAGE, /not a gzip stream/);
  // framing and CRC right, a key length past the end of its message: [offset, size, crc, magic, attributes, timestamp] then the key's
  const longKey = messageSet(messages.slice(0, 1), 1);
  longKey.writeInt32BE(1000, 12 + 4 + 2 + 8);
  longKey.writeUInt32BE(crc32(longKey.subarray(16)), 12);
  expectError(() => messageSetToBatch(longKey, NOW), ErrorCode.CORRUPT_MESSAGE, /a key or value of 1000 bytes does not fit the message at byte 0/);
});

test('a wrapper of 100,000 messages, keys and values of every size up to 300 bytes, converts both ways exactly', () => {
  const many: OldMessage[] = Array.from({ length: 100_000 }, (_, i) => ({
    key: i % 7 === 0 ? null : `k${i}`,
    value: i % 11 === 0 ? null : String(i % 10).repeat(i % 300),
    timestamp: BASE + ((i * 7919) % 1000), // out of order: negative deltas from the first
  }));
  const batch = messageSetToBatches(messageSet(many, 1, Compression.GZIP), NOW, MiB);
  const { codec, maxTimestamp, records } = converted(batch, 2 * MiB);
  assert.deepEqual([codec, maxTimestamp], [Compression.GZIP, BASE + 999]);
  assert.deepEqual(records, many.map((m, i) => ({ offset: i, timestamp: m.timestamp, key: m.key, value: m.value, headers: 0 })));

  // stored at offset 5,000, read back by an old consumer from offset 65,000 on
  writeInt64(batch, Batch.BASE_OFFSET, 5000);
  const expected = many.slice(60_000).map((m, i) => ({ offset: 65_000 + i, magic: 1, attributes: 0, ...m }));
  assert.deepEqual(readMessageSet(batchesToMessageSet(batch, 65_000, 1, 1 << 30, true)), expected);
  const bounded = batchesToMessageSet(batch, 65_000, 1, 100_000, true);
  const fitting = readMessageSet(bounded);
  assert.deepEqual(fitting, expected.slice(0, fitting.length));
  const size = (m: { key: string | null; value: string | null }) => 12 + 4 + 2 + 8 + 4 + (m.key?.length ?? 0) + 4 + (m.value?.length ?? 0);
  assert.equal(bounded.length, fitting.reduce((sum, m) => sum + size(m), 0));
  assert.ok(bounded.length <= 100_000 && bounded.length + size(expected[fitting.length]!) > 100_000, `${fitting.length} messages in ${bounded.length} bytes`);
});

test('uncompressed messages are cut into batches within max.message.bytes, each wrapper is a batch of its own, order kept', () => {
  const value = 'v'.repeat(1000);
  const small = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value, timestamp: BASE + i }));
  // about 3 records of 1,034 bytes at most each, with the batch header, fit in 3,300 bytes
  const cut = validateBatches(messageSetToBatches(messageSet(small, 1), NOW, 3300), 3300);
  assert.deepEqual(cut.batches.map((b) => b.recordsCount), [3, 3, 3, 1]);
  const decoded = decodeRecordBatches(messageSetToBatches(messageSet(small, 1), NOW, 3300)).flatMap((b) => b.records);
  assert.deepEqual(decoded.map((r) => [r.key!.toString(), r.value!.length, r.timestamp]), small.map((m) => [m.key, 1000, m.timestamp]));
  // plain, a gzip wrapper, plain: three batches, in that order
  const mixed = Buffer.concat([messageSet(small.slice(0, 2), 1), messageSet(small.slice(2, 5), 1, Compression.GZIP), messageSet(small.slice(5, 6), 0)]);
  const batches = decodeRecordBatches(messageSetToBatches(mixed, NOW, MiB));
  assert.deepEqual(batches.map((b) => [b.info.attributes & (Attributes.COMPRESSION_MASK | Attributes.TIMESTAMP_LOG_APPEND), b.records.map((r) => r.key!.toString())]), [
    [Compression.NONE, ['k0', 'k1']], [Compression.GZIP, ['k2', 'k3', 'k4']], [Attributes.TIMESTAMP_LOG_APPEND, ['k5']],
  ]);
  // a message larger than the limit alone: a batch of its own, for the produce path to refuse as too large
  assert.deepEqual(validateBatches(messageSetToBatches(messageSet(small.slice(0, 3), 1), NOW, 500), MiB).batches.map((b) => b.recordsCount), [1, 1, 1]);
});

/** Stored batches: offsets 10-12 gzip with headers, a commit marker at 13, 14-15 LogAppendTime. */
function storedBatches(): Buffer {
  const records = [0, 1, 2].map((i) => ({ key: `k${i}`, value: `v${i}`, timestamp: BASE + i, headers: [{ key: 'h', value: 'x' }] }));
  const marker = buildControlBatch(true, 7, 0);
  writeInt64(marker, Batch.BASE_OFFSET, 13); // not covered by the CRC
  return Buffer.concat([
    buildRecordBatch(records, { baseOffset: 10, compression: Compression.GZIP }),
    marker,
    buildRecordBatch([{ key: null, value: 'a', timestamp: BASE }, { key: 'b', value: null, timestamp: BASE }], { baseOffset: 14, logAppendTime: true, maxTimestamp: BASE + 50 }),
  ]);
}

test('stored batches become one uncompressed message per record from the offset asked, control batches and headers left out', () => {
  const stored = storedBatches();
  const all = [
    { offset: 10, key: 'k0', value: 'v0', timestamp: BASE },
    { offset: 11, key: 'k1', value: 'v1', timestamp: BASE + 1 },
    { offset: 12, key: 'k2', value: 'v2', timestamp: BASE + 2 },
    { offset: 14, key: null, value: 'a', timestamp: BASE + 50 },
    { offset: 15, key: 'b', value: null, timestamp: BASE + 50 },
  ];
  const v1 = readMessageSet(batchesToMessageSet(stored, 11, 1, 1 << 20, true));
  assert.deepEqual(v1, all.slice(1).map((m) => ({ ...m, magic: 1, attributes: m.offset >= 14 ? 0x08 : 0 })));
  const v0 = readMessageSet(batchesToMessageSet(stored, 10, 0, 1 << 20, true));
  assert.deepEqual(v0, all.map((m) => ({ ...m, magic: 0, attributes: 0, timestamp: null })));
});

test('a converted message set holds the whole messages within its limit, and the first one whole when asked to', () => {
  const stored = storedBatches();
  const whole = batchesToMessageSet(stored, 10, 1, 1 << 20, true);
  const sizes = readMessageSet(whole).map((m) => 12 + 4 + 2 + 8 + 4 + (m.key?.length ?? 0) + 4 + (m.value?.length ?? 0));
  assert.equal(whole.length, sizes.reduce((a, b) => a + b));
  const offsets = (maxBytes: number, firstWhole: boolean) => readMessageSet(batchesToMessageSet(stored, 10, 1, maxBytes, firstWhole)).map((m) => m.offset);
  assert.deepEqual(offsets(sizes[0]! + sizes[1]!, true), [10, 11]);
  assert.deepEqual(offsets(sizes[0]! + sizes[1]! - 1, true), [10]);
  assert.deepEqual(offsets(1, true), [10]);
  assert.deepEqual(offsets(1, false), []);
  assert.deepEqual(readMessageSet(batchesToMessageSet(stored, 16, 1, 1 << 20, true)), []);
});

/** Recomputes the CRC32 of every whole message of a set, so that a mutation reaches the parsing behind the check. */
function withRightCrcs(set: Buffer): Buffer {
  for (let at = 0; at + 16 <= set.length; ) {
    const size = set.readInt32BE(at + 8);
    if (size < 4 || at + 12 + size > set.length) break;
    set.writeUInt32BE(crc32(set.subarray(at + 16, at + 12 + size)), at + 12);
    at += 12 + size;
  }
  return set;
}

// What a hostile or broken old producer may send: any bytes, framed with the right CRCs, in a plain set or inside a
// wrapper. The conversion either makes batches that pass the produce path's own checks, or refuses the set with a
// Kafka error code; it never throws anything else, which would fail the request as a whole.
test('mutated message sets with right CRCs convert into valid batches or are refused with a Kafka error, never anything else', () => {
  const oldMessage = fc.record({ key: fc.option(fc.string({ maxLength: 20 })), value: fc.option(fc.string({ maxLength: 60 })), timestamp: fc.integer({ min: -1, max: 2 ** 42 }) });
  fc.assert(
    fc.property(
      fc.array(oldMessage, { minLength: 1, maxLength: 8 }),
      fc.constantFrom(0 as const, 1 as const),
      fc.constantFrom(Compression.NONE, Compression.GZIP, Compression.SNAPPY, Compression.LZ4),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.boolean(),
      (batchMessages, magic, codec, changes, inside) => {
        const mutate = (set: Buffer) => {
          const out = Buffer.from(set);
          for (const [at, byte] of changes) out[at % out.length] = byte;
          return withRightCrcs(out);
        };
        const set = codec !== Compression.NONE && inside
          ? messageSet(batchMessages, magic, codec, (inner) => compress(codec, mutate(inner)))
          : mutate(messageSet(batchMessages, magic, codec));
        let batches: Buffer;
        try {
          batches = messageSetToBatches(set, NOW, MiB);
        } catch (err) {
          if (err instanceof KafkaError) return;
          throw err;
        }
        const { records } = validateBatches(batches, MiB);
        assert.equal(decodeRecordBatches(batches).reduce((n, b) => n + b.records.length, 0), records);
      },
    ),
    { seed: propertySeed(20261204), numRuns: 2000 },
  );
});
