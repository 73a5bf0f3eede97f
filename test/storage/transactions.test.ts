// Transactions as the storage engine sees them: the last stable offset and the aborted-transaction index,
// kept in log order, rebuilt after a crash from snapshots and the log, and restored when a marker's write fails.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateBatches } from '../../src/protocol/record-batch.js';
import { buildControlBatch, buildRecordBatch } from '../../src/protocol/records.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { crash, fullDisk, openLogs, snapshotFiles, waitUntil, whenRecovered } from './helpers.js';

let sequences = new Map<number, number>();

function txnData(log: PartitionLog, producerId: number, values: string[]) {
  const seq = sequences.get(producerId) ?? 0;
  sequences.set(producerId, seq + values.length);
  const batch = buildRecordBatch(values.map((value) => ({ value: value + '-'.repeat(60) })), { producerId, producerEpoch: 0, baseSequence: seq, transactional: true });
  return log.append(batch, validateBatches(batch, 1 << 20));
}

function marker(log: PartitionLog, producerId: number, commit: boolean) {
  const batch = buildControlBatch(commit, producerId, 0);
  return log.append(batch, validateBatches(batch, 1 << 20));
}

function plain(log: PartitionLog, value: string) {
  const batch = buildRecordBatch([{ value }]);
  return log.append(batch, validateBatches(batch, 1 << 20));
}

const aborted = (log: PartitionLog, from = 0, to = log.logEndOffset) => log.transactions.abortedBetween(from, to).map((a) => [a.producerId, a.firstOffset, a.lastOffset]);

test('LSO and aborted transactions follow the log and are rebuilt after a crash and after a clean restart', () =>
  withTempDir(async (dir) => {
    sequences = new Map();
    const logs = await openLogs(dir);
    await logs.createTopic('t', 1, { 'segment.bytes': '400' });
    const log = logs.getLog('t', 0)!;
    await txnData(log, 1, ['a0', 'a1']).durable; // 0-1
    await plain(log, 'p2').durable; // 2
    await txnData(log, 2, ['b3']).durable; // 3
    assert.equal(log.lastStableOffset, 0);
    await marker(log, 1, false).durable; // 4: abort 1
    assert.equal(log.lastStableOffset, 3, 'producer 2 still open');
    await txnData(log, 1, ['a5']).durable; // 5: producer 1's next transaction
    await marker(log, 2, true).durable; // 6: commit 2
    assert.equal(log.lastStableOffset, 5);
    await marker(log, 1, true).durable; // 7: commit 1
    await txnData(log, 3, ['c8', 'c9']).durable; // 8-9, left open
    assert.equal(log.lastStableOffset, 8);
    assert.deepEqual(aborted(log), [[1, 0, 4]]);
    assert.deepEqual(aborted(log, 5), [], 'nothing aborted overlaps offsets from 5');
    assert.ok(log.segments.length > 2, 'several segments, so snapshots are written at the rolls');
    const latest = `${String(log.activeSegment.baseOffset).padStart(20, '0')}.snapshot`;
    await waitUntil('the last roll wrote its snapshot', async () => (await snapshotFiles(join(dir, 't-0'))).includes(latest));

    await crash(logs); // crash: no clean close
    const crashed = await openLogs(dir);
    const c = crashed.getLog('t', 0)!;
    assert.deepEqual([c.highWatermark, c.lastStableOffset, c.transactions.openCount], [10, 8, 1]);
    assert.deepEqual(aborted(c), [[1, 0, 4]]);
    await marker(c, 3, false).durable; // 10
    assert.deepEqual([c.lastStableOffset, aborted(c)], [11, [[1, 0, 4], [3, 8, 10]]]);
    await crashed.close();

    const clean = await openLogs(dir);
    const l = clean.getLog('t', 0)!;
    assert.deepEqual([l.lastStableOffset, aborted(l)], [11, [[1, 0, 4], [3, 8, 10]]], 'after a clean restart: the roll snapshot and the small active segment scanned');
    await l.deleteRecordsBefore(5);
    assert.deepEqual(aborted(l), [[3, 8, 10]], 'aborted transactions below the log start are dropped');
    await clean.close();
  }));

test('a marker whose write fails leaves the transaction open; the retried marker closes it', () =>
  withTempDir(async (dir) => {
    sequences = new Map();
    const disk = fullDisk();
    const logs = await openLogs(dir, { fs: disk.fs });
    await logs.createTopic('t', 1);
    const log = logs.getLog('t', 0)!;
    await txnData(log, 9, ['x0', 'x1']).durable;
    disk.setFull(true);
    await assert.rejects(marker(log, 9, false).durable);
    assert.deepEqual([log.logEndOffset, log.lastStableOffset, log.transactions.openCount, aborted(log)], [2, 0, 1, []]);
    disk.setFull(false);
    await (await whenRecovered(() => marker(log, 9, false))).durable;
    assert.deepEqual([log.lastStableOffset, aborted(log)], [3, [[9, 0, 2]]]);
    await logs.close();
  }));
