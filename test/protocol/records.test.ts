// Reading the records of stored batches: visitRecords walks a batch's records where they lie, and gives what
// decodeBatchRecords decodes (offset, key bytes, whether the value is null, timestamp), for every codec; a batch it cannot read
// is reported as such, as decodeBatchRecords reports it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Compression } from '../../src/protocol/compression.js';
import { batchInfoAt } from '../../src/protocol/record-batch.js';
import { buildRecordBatch, decodeBatchRecords, visitRecords } from '../../src/protocol/records.js';

const sample = [
  { key: 'a', value: 'one', offsetDelta: 0 },
  { key: null, value: 'no key', offsetDelta: 1 },
  { key: 'tomb', value: null, offsetDelta: 3 },
  { key: '', value: 'empty key', offsetDelta: 4, headers: [{ key: 'h', value: 'v' }] },
  { key: 'k'.repeat(300), value: 'x'.repeat(1000), offsetDelta: 9 },
];

const visited = (batch: Buffer, stopAt = Infinity) => {
  const out: [number, string | null, boolean, number][] = [];
  const readable = visitRecords(batch, batchInfoAt(batch, 0, batch.length), (records, keyStart, keyEnd, offset, valueNull, timestamp) => {
    out.push([offset, keyStart < 0 ? null : records.toString('latin1', keyStart, keyEnd), valueNull, timestamp]);
    return out.length >= stopAt;
  });
  return { readable, out };
};

test('visitRecords gives each record\'s offset, key, null value and timestamp as decodeBatchRecords decodes them, for every codec, and stops when asked', () => {
  for (const compression of [Compression.NONE, Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD]) {
    for (const logAppendTime of [false, true]) {
      const batch = buildRecordBatch(sample.map((r, i) => ({ ...r, timestamp: 1_000 + 7 * i })), { compression, baseOffset: 100, lastOffsetDelta: 9, logAppendTime, maxTimestamp: 5_000 });
      const decoded = decodeBatchRecords(batch)!.map((r) => [r.offset, r.key === null ? null : r.key.toString('latin1'), r.value === null, r.timestamp] as const);
      assert.deepEqual(decoded.map((r) => r[0]), [100, 101, 103, 104, 109]);
      assert.deepEqual(decoded.map((r) => r[3]), logAppendTime ? [5_000, 5_000, 5_000, 5_000, 5_000] : [1_000, 1_007, 1_014, 1_021, 1_028]);
      assert.deepEqual(visited(batch), { readable: true, out: decoded }, `codec ${compression}`);
      assert.deepEqual(visited(batch, 2).out, decoded.slice(0, 2));
    }
  }
});

test('visitRecords reports a batch whose records cannot be read, as decodeBatchRecords does', () => {
  const batch = buildRecordBatch(sample.map((r) => ({ ...r, timestamp: 1_000 })), { baseOffset: 100, lastOffsetDelta: 9 });
  // the records cut short: the header still counts five of them
  const cut = Buffer.from(batch.subarray(0, batch.length - 600));
  cut.writeInt32BE(cut.length - 12, 8);
  assert.equal(decodeBatchRecords(cut), null);
  assert.equal(visited(cut).readable, false);
  // compressed bytes that are not what their codec makes
  const gzip = Buffer.from(buildRecordBatch(sample.map((r) => ({ ...r, timestamp: 1_000 })), { compression: Compression.GZIP }));
  gzip.fill(0x55, 61 + 10);
  assert.equal(decodeBatchRecords(gzip), null);
  assert.equal(visited(gzip).readable, false);
});
