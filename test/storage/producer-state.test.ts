// Idempotent producer state in the storage engine: duplicate and sequence checks, and its rebuild from
// snapshots (written at roll, recorded at clean close) plus the log after them, also after a crash.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ErrorCode } from '../../src/protocol/errors.js';
import { validateBatches } from '../../src/protocol/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { crash, fullDisk, openLogs, snapshotFiles, waitUntil, whenRecovered } from './helpers.js';

function idempotent(log: PartitionLog, producerId: number, seq: number, value: string) {
  // stamped a minute before the broker's clock: the state keeps the batch's time, which a rebuild finds too
  const batch = buildRecordBatch([{ value, timestamp: Date.now() - 60_000 }], { producerId, producerEpoch: 0, baseSequence: seq });
  return log.append(batch, validateBatches(batch, 1 << 20));
}

test('producer state is snapshotted at roll and recorded at the close of a large active segment, and rebuilt after a crash from the snapshot and the log', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    await logs.createTopic('p', 1, { 'segment.bytes': '300' });
    const log = logs.getLog('p', 0)!;
    for (let seq = 0; seq < 12; seq++) await idempotent(log, 7, seq, `v${seq}-${'x'.repeat(40)}`).durable;
    await idempotent(log, 8, 0, 'other').durable;
    assert.ok(log.segments.length > 3);
    // the last roll's snapshot is taken at the active segment's base; older ones are pruned to one
    const latest = `${String(log.activeSegment.baseOffset).padStart(20, '0')}.snapshot`;
    const partitionDir = join(dir, 'p-0');
    await waitUntil('the last roll wrote its snapshot and pruned older ones', async () => {
      const names = await snapshotFiles(partitionDir);
      return names.includes(latest) && names.length <= 2;
    });
    const live = JSON.stringify(log.producers.toJSON());
    // crash: no clean close
    await crash(logs);
    const again = await openLogs(dir);
    const recovered = again.getLog('p', 0)!;
    assert.equal(JSON.stringify(recovered.producers.toJSON()), live, 'the same state, last timestamps included');
    const dup = idempotent(recovered, 7, 11, `v11-${'x'.repeat(40)}`);
    assert.equal(dup.baseOffset, 11, 'the last batch before the crash is recognised as a duplicate');
    assert.throws(() => idempotent(recovered, 7, 13, 'gap'), { code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
    assert.equal((await idempotent(recovered, 7, 12, 'next').durable, recovered.logEndOffset), 14);
    // a large active segment's state is recorded at clean close; a small one is scanned at the next start
    await again.createTopic('q', 1);
    const large = again.getLog('q', 0)!;
    for (let seq = 0; seq < 3; seq++) await idempotent(large, 7, seq, `w${seq}-${'y'.repeat(30_000)}`).durable;
    await again.close();
    // no snapshot file at either log end: a large active segment's state goes into the shutdown's one file
    assert.ok(!(await snapshotFiles(join(dir, 'p-0'))).includes(`${String(14).padStart(20, '0')}.snapshot`));
    assert.deepEqual(await snapshotFiles(join(dir, 'q-0')), []);
    const third = await openLogs(dir);
    assert.equal(idempotent(third.getLog('p', 0)!, 8, 0, 'other').baseOffset, 12, 'state from the roll snapshot and the log after it');
    assert.equal(idempotent(third.getLog('q', 0)!, 7, 2, `w2-${'y'.repeat(30_000)}`).baseOffset, 2, 'state recorded at the close');
    assert.throws(() => idempotent(third.getLog('q', 0)!, 7, 4, 'gap'), { code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
    await third.close();
  }));

test('an append of several batches of one idempotent producer is checked batch after batch, as Kafka does', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    await logs.createTopic('p', 1);
    const log = logs.getLog('p', 0)!;
    const batches = (producerId: number, sequences: [number, number][]) => {
      const records = Buffer.concat(sequences.map(([seq, count]) => buildRecordBatch(Array.from({ length: count }, (_, i) => ({ value: `s${seq + i}` })), { producerId, producerEpoch: 0, baseSequence: seq })));
      return log.append(records, validateBatches(records, 1 << 20));
    };
    // a new producer: its second and third batches continue the first
    const first = batches(7, [[0, 2], [2, 1], [3, 3]]);
    assert.deepEqual([first.baseOffset, first.lastOffset], [0, 5]);
    await first.durable;
    // the same append again is a duplicate, answered with its first batch's offset; nothing is appended
    assert.equal(batches(7, [[0, 2], [2, 1], [3, 3]]).baseOffset, 0);
    assert.equal(log.logEndOffset, 6);
    // a gap inside one append, or a retried batch mixed with a new one, refuses the whole append
    assert.throws(() => batches(7, [[6, 1], [8, 1]]), { code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
    assert.throws(() => batches(7, [[3, 3], [6, 1]]), { code: ErrorCode.INVALID_REQUEST });
    const newThenRetried = Buffer.concat([
      buildRecordBatch([{ value: 'new' }], { producerId: 8, producerEpoch: 0, baseSequence: 0 }),
      buildRecordBatch([{ value: 's3' }, { value: 's4' }, { value: 's5' }], { producerId: 7, producerEpoch: 0, baseSequence: 3 }),
    ]);
    assert.throws(() => log.append(newThenRetried, validateBatches(newThenRetried, 1 << 20)), { code: ErrorCode.INVALID_REQUEST });
    assert.equal(log.logEndOffset, 6);
    // two producers interleaved in one append are each checked against their own state
    const mixed = batches(7, [[6, 1]]);
    await mixed.durable;
    const both = Buffer.concat([
      buildRecordBatch([{ value: 'a' }], { producerId: 8, producerEpoch: 0, baseSequence: 0 }),
      buildRecordBatch([{ value: 'b' }], { producerId: 7, producerEpoch: 0, baseSequence: 7 }),
      buildRecordBatch([{ value: 'c' }], { producerId: 8, producerEpoch: 0, baseSequence: 1 }),
    ]);
    const appended = log.append(both, validateBatches(both, 1 << 20));
    assert.deepEqual([appended.baseOffset, appended.lastOffset], [7, 9]);
    await appended.durable;
    assert.equal(batches(8, [[2, 1]]).baseOffset, 10);
    await logs.close();
  }));

test('refused appends put the producer state back exactly as it was: epochs, cached batches and timestamps', () =>
  withTempDir(async (dir) => {
    const disk = fullDisk();
    const logs = await openLogs(dir, { fs: disk.fs });
    await logs.createTopic('p', 1);
    const log = logs.getLog('p', 0)!;
    // eight batches: the state caches the last five (sequences 3 to 7)
    for (let seq = 0; seq < 8; seq++) await idempotent(log, 7, seq, `v${seq}`).durable;
    await idempotent(log, 8, 0, 'other').durable;
    const before = JSON.stringify(log.producers.toJSON());
    // five more in flight when the disk fills: each of the cached batches' places is taken by a refused one; a
    // producer new to the partition, and one beginning a new epoch, are refused with them
    disk.setFull(true);
    const refused = [
      ...Array.from({ length: 5 }, (_, i) => idempotent(log, 7, 8 + i, `v${8 + i}`)),
      idempotent(log, 9, 0, 'new producer'),
      log.append(...epochBatch(8, 1, 'new epoch')),
    ];
    const outcomes = await Promise.allSettled(refused.map((r) => r.durable));
    assert.deepEqual(outcomes.map((o) => o.status), refused.map(() => 'rejected'));
    assert.equal(JSON.stringify(log.producers.toJSON()), before, 'the state before the refused appends');
    disk.setFull(false);
    // the producer sends its refused batches again, in order: the state expects exactly them
    const resent = await whenRecovered(() => idempotent(log, 7, 8, 'v8'));
    assert.equal(resent.baseOffset, 9);
    await resent.durable;
    assert.equal(idempotent(log, 7, 4, 'v4').baseOffset, 4, 'an older cached batch is still known as a duplicate');
    assert.throws(() => idempotent(log, 9, 1, 'gap'), { code: ErrorCode.UNKNOWN_PRODUCER_ID });
    await logs.close();
  }));

function epochBatch(producerId: number, epoch: number, value: string): [Buffer, ReturnType<typeof validateBatches>] {
  const batch = buildRecordBatch([{ value }], { producerId, producerEpoch: epoch, baseSequence: 0 });
  return [batch, validateBatches(batch, 1 << 20)];
}
