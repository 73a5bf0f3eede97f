// What produce validation writes into a batch: its newest timestamp where the client stated another, as Kafka's
// broker does (sarama before 2025 states -1 in every batch it produces).
import assert from 'node:assert/strict';
import { crc32c } from '@node-rs/crc32';
import { test } from 'node:test';
import { Compression } from '../../src/protocol/compression.js';
import { Attributes, Batch, batchCrcValid, readInt64, validateBatches, writeInt64 } from '../../src/protocol/record-batch.js';
import { buildRecordBatch, decodeBatchRecords } from '../../src/protocol/records.js';

const MiB = 1 << 20;
const BASE = 1_700_000_000_000;
/** Three records whose newest is the second, not the last. */
const records = [0, 7, 3].map((d, i) => ({ key: `k${i}`, value: `v${i}`, timestamp: BASE + d }));

/** `batch` with another newest timestamp stated in its header, and its CRC made to match, as a client would send it. */
function stating(batch: Buffer, maxTimestamp: number): Buffer {
  const out = Buffer.from(batch);
  writeInt64(out, Batch.MAX_TIMESTAMP, maxTimestamp);
  out.writeUInt32BE(crc32c(out.subarray(Batch.ATTRIBUTES)), Batch.CRC);
  return out;
}

const codecs = { none: Compression.NONE, gzip: Compression.GZIP, snappy: Compression.SNAPPY, lz4: Compression.LZ4, zstd: Compression.ZSTD };

test('a batch stating -1 as its newest timestamp is given its records\' newest, CRC and records intact, for every codec', () => {
  for (const [name, compression] of Object.entries(codecs)) {
    const sent = stating(buildRecordBatch(records, { compression }), -1);
    const [info] = validateBatches(sent, MiB).batches;
    assert.equal(info!.maxTimestamp, BASE + 7, name);
    assert.equal(readInt64(sent, Batch.MAX_TIMESTAMP), BASE + 7, name);
    assert.ok(batchCrcValid(sent, 0, sent.length), `${name}: CRC`);
    assert.deepEqual(decodeBatchRecords(sent), decodeBatchRecords(buildRecordBatch(records, { compression })), `${name}: records`);
  }
});

test('an uncompressed batch stating a wrong newest timestamp is corrected; a compressed one is read only when its header cannot be right', () => {
  const plain = stating(buildRecordBatch(records), BASE + 100);
  assert.equal(validateBatches(plain, MiB).batches[0]!.maxTimestamp, BASE + 7);
  assert.equal(readInt64(plain, Batch.MAX_TIMESTAMP), BASE + 7);
  // newer than its first record, so not refuted by the header: taken as stated, without decompressing
  const gzip = stating(buildRecordBatch(records, { compression: Compression.GZIP }), BASE + 100);
  assert.equal(validateBatches(gzip, MiB).batches[0]!.maxTimestamp, BASE + 100);
  // older than its first record: decompressed, and corrected
  const older = stating(buildRecordBatch(records, { compression: Compression.GZIP }), BASE - 1);
  assert.equal(validateBatches(older, MiB).batches[0]!.maxTimestamp, BASE + 7);
});

test('a batch that states its newest timestamp, or asks for the append time, is left byte for byte', () => {
  for (const [name, compression] of Object.entries(codecs)) {
    const sent = buildRecordBatch(records, { compression });
    const copy = Buffer.from(sent);
    assert.equal(validateBatches(sent, MiB).batches[0]!.maxTimestamp, BASE + 7, name);
    assert.ok(sent.equals(copy), name);
  }
  const appendTime = stating(buildRecordBatch(records), -1);
  appendTime.writeInt16BE(Attributes.TIMESTAMP_LOG_APPEND, Batch.ATTRIBUTES);
  appendTime.writeUInt32BE(crc32c(appendTime.subarray(Batch.ATTRIBUTES)), Batch.CRC);
  const copy = Buffer.from(appendTime);
  validateBatches(appendTime, MiB);
  assert.ok(appendTime.equals(copy));
});
