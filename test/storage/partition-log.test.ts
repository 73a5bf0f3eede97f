import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogManager } from '../../src/storage/log-manager.js';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import { validateBatches } from '../../src/protocol/record-batch.js';
import { tempDir } from '../helpers/temp-dir.js';

function batchOf(values: string[], timestamp?: number): Buffer {
  return buildRecordBatch(values.map((v) => ({ key: `k-${v}`, value: v, timestamp })));
}

test('append then read returns the same records with assigned offsets', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const logs = await LogManager.open({ dataDir: dir });
    await logs.createTopic('t', 1);
    const log = logs.getLog('t', 0)!;
    const a = batchOf(['a', 'b', 'c']);
    const r1 = log.append(a, validateBatches(a, 1 << 20));
    const b = batchOf(['d']);
    const r2 = log.append(b, validateBatches(b, 1 << 20));
    assert.equal(r1.baseOffset, 0);
    assert.equal(r2.baseOffset, 3);
    await r2.durable;
    assert.equal(log.highWatermark, 4);
    const read = await log.read(1, 1 << 20);
    const values = decodeRecordBatches(read.records).flatMap((x) => x.records.map((r) => [r.offset, r.value!.toString()]));
    assert.deepEqual(values, [[0, 'a'], [1, 'b'], [2, 'c'], [3, 'd']]);
    await logs.close();
    const again = await LogManager.open({ dataDir: dir });
    assert.equal(again.cleanStart, true);
    assert.equal(again.getLog('t', 0)!.logEndOffset, 4);
    await again.close();
  } finally {
    await cleanup();
  }
});
