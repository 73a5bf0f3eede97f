// Property: under random transactional appends, commit and abort markers, plain appends, writes and syncs refused
// by a full disk (and rolled back), clean restarts, and power losses or process crashes at any point, the last stable offset and the
// aborted-transaction index a partition serves always equal what its own records say (worked out here from the
// batches read back), acknowledged appends and markers survive, and nothing is served that was not appended. The
// disk keeps only synced bytes and directory entries (see power-loss-disk.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Attributes, Batch, batchInfoAt, batchSizeAt, validateBatches } from '../../src/protocol/record-batch.js';
import { buildControlBatch, buildRecordBatch, ControlType, controlTypeAt } from '../../src/protocol/records.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { diskPropertyOptions } from '../helpers/property-seed.js';
import { tempDir } from '../helpers/temp-dir.js';
import { openLogs, untilAcknowledged, whenRecovered } from './helpers.js';
import { cutsArb, powerLossDisk } from './power-loss-disk.js';

const PARTITIONS = 2;
const PRODUCERS = 3;

type Step =
  | { kind: 'data'; producer: number; count: number }
  | { kind: 'end'; producer: number; commit: boolean }
  | { kind: 'plain'; partition: number };
type Op =
  | Step
  | { kind: 'restart' }
  | { kind: 'diskFull'; skip: number; fail: number; steps: Step[] }
  /** `checkpointFirst`: the sealed-segment checkpoint is written before the steps the power loss cuts into. */
  | { kind: 'powerLoss'; afterOps: number; cuts: number[]; steps: Step[]; powerStaysOn: boolean; checkpointFirst: boolean };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('data' as const), producer: fc.nat(PRODUCERS - 1), count: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('end' as const), producer: fc.nat(PRODUCERS - 1), commit: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('plain' as const), partition: fc.nat(PARTITIONS - 1) }) },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: stepArb },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('diskFull' as const), skip: fc.nat(12), fail: fc.integer({ min: 1, max: 4 }), steps: fc.array(stepArb, { minLength: 1, maxLength: 6 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('powerLoss' as const),
      afterOps: fc.nat(50),
      cuts: cutsArb,
      steps: fc.array(stepArb, { minLength: 1, maxLength: 8 }),
      powerStaysOn: fc.boolean(),
      checkpointFirst: fc.boolean(),
    }),
  },
);

/** A batch read back: offsets, producer, and for a marker whether it commits. */
interface StoredBatch {
  first: number;
  last: number;
  producerId: number;
  transactional: boolean;
  marker: 'commit' | 'abort' | null;
  bytes: string;
}

async function storedBatches(log: PartitionLog): Promise<StoredBatch[]> {
  const out: StoredBatch[] = [];
  let offset = log.logStartOffset;
  while (offset < log.highWatermark) {
    const { records } = await log.read(offset, 1 << 20);
    if (records.length === 0) break;
    for (let at = 0; at + Batch.LOG_OVERHEAD <= records.length; ) {
      const size = batchSizeAt(records, at);
      if (at + size > records.length) break;
      const info = batchInfoAt(records, at, size);
      const control = (info.attributes & Attributes.CONTROL) !== 0;
      out.push({
        first: info.baseOffset,
        last: info.baseOffset + info.lastOffsetDelta,
        producerId: info.producerId,
        transactional: (info.attributes & Attributes.TRANSACTIONAL) !== 0,
        marker: control ? (controlTypeAt(records, at, size) === ControlType.COMMIT ? 'commit' : 'abort') : null,
        // the records' bytes, past the offset and length: what the producer sent, apart from what the broker sets
        bytes: records.subarray(at + Batch.HEADER_BYTES, at + size).toString('hex'),
      });
      offset = info.baseOffset + info.lastOffsetDelta + 1;
      at += size;
    }
  }
  return out;
}

/** The last stable offset and aborted transactions the batches themselves give, as Kafka defines them. */
function expectedTransactions(batches: StoredBatch[], highWatermark: number) {
  const open = new Map<number, number>();
  const aborted: [number, number, number][] = [];
  for (const b of batches) {
    if (!b.transactional) continue;
    if (b.marker === null) {
      if (!open.has(b.producerId)) open.set(b.producerId, b.first);
    } else if (open.has(b.producerId)) {
      if (b.marker === 'abort') aborted.push([b.producerId, open.get(b.producerId)!, b.last]);
      open.delete(b.producerId);
    }
  }
  return { lastStableOffset: Math.min(highWatermark, ...open.values()), aborted, open };
}

test('the last stable offset and aborted transactions always match the records, through restarts and power losses', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), fc.boolean(), async (ops, journalEveryRound) => {
      const { dir, cleanup } = await tempDir();
      const spare = await tempDir();
      const disk = powerLossDisk(spare.dir);
      const open = () => openLogs(dir, { fs: disk.fsFor(), directSyncMax: journalEveryRound ? 0 : 4, journalCheckpointBytes: 4096 });
      let logs: LogManager = await open();
      /** Each producer's id, next sequence and whether its transaction is open; it writes to partition `p % PARTITIONS`. */
      const producers = Array.from({ length: PRODUCERS }, (_, p) => ({ id: 1000 + p, sequence: 0, open: false }));
      /** Acknowledged batches per partition, by first offset: their bytes (see StoredBatch.bytes). */
      const acked: Map<number, string>[] = Array.from({ length: PARTITIONS }, () => new Map());
      /** Every batch ever appended per partition, by first offset (several: a refused one's offset is reused). */
      const appended: Map<number, Set<string>>[] = Array.from({ length: PARTITIONS }, () => new Map());
      let nextValue = 0;

      const append = async (partition: number, batch: Buffer): Promise<void> => {
        const bytes = batch.subarray(Batch.HEADER_BYTES).toString('hex');
        const result = await whenRecovered(() => logs.getLog('t', partition)!.append(batch, validateBatches(batch, 1 << 20)));
        const seen = appended[partition]!.get(result.baseOffset) ?? new Set();
        appended[partition]!.set(result.baseOffset, seen.add(bytes));
        await result.durable;
        acked[partition]!.set(result.baseOffset, bytes);
      };
      const run = async (step: Step): Promise<void> => {
        if (step.kind === 'plain') return append(step.partition, buildRecordBatch([{ value: `plain${nextValue++}` }]));
        const p = producers[step.producer]!;
        const partition = step.producer % PARTITIONS;
        if (step.kind === 'end') {
          if (!p.open) return;
          await append(partition, buildControlBatch(step.commit, p.id, 0));
          p.open = false;
          return;
        }
        const values = Array.from({ length: step.count }, () => ({ value: `txn${nextValue++}`.padEnd(40, '.') }));
        const sequence = p.sequence;
        p.sequence += step.count;
        p.open = true; // open from its first data batch, even a refused one (the marker will say what happened)
        await append(partition, buildRecordBatch(values, { producerId: p.id, producerEpoch: 0, baseSequence: sequence, transactional: true }));
      };
      /** `startOver`: appends may have been lost, so producers start over (see below). */
      const check = async (when: string, startOver: boolean) => {
        for (let partition = 0; partition < PARTITIONS; partition++) {
          const log = logs.getLog('t', partition)!;
          const batches = await storedBatches(log);
          for (const b of batches) assert.ok(appended[partition]!.get(b.first)?.has(b.bytes), `${when}: partition ${partition}: batch at ${b.first} was appended there`);
          for (const [first, bytes] of acked[partition]!) assert.ok(batches.some((b) => b.first === first && b.bytes === bytes), `${when}: partition ${partition}: acknowledged batch at ${first} kept`);
          const expected = expectedTransactions(batches, log.highWatermark);
          assert.equal(log.lastStableOffset, expected.lastStableOffset, `${when}: partition ${partition}: last stable offset`);
          const aborted = log.transactions.abortedBetween(0, log.logEndOffset).map((a) => [a.producerId, a.firstOffset, a.lastOffset]);
          assert.deepEqual(aborted, expected.aborted, `${when}: partition ${partition}: aborted transactions`);
          if (!startOver) continue;
          // what survived is acknowledged from now on; a producer whose batches may be lost starts over under a
          // new id, as a client would, and its transaction still open is aborted, as the coordinator would
          acked[partition] = new Map(batches.map((b) => [b.first, b.bytes]));
          // an abort marker is written again while refused (a round behind a failed one is cut off), as a coordinator does
          for (const [producerId] of expected.open) await untilAcknowledged(() => append(partition, buildControlBatch(false, producerId, 0)));
        }
        if (startOver) for (const p of producers) Object.assign(p, { id: p.id + PRODUCERS, sequence: 0, open: false });
      };
      try {
        await logs.createTopic('t', PARTITIONS, { 'segment.bytes': '400' });
        for (const op of ops) {
          if (op.kind === 'restart') {
            await logs.close();
            logs = await open();
            await check('after a clean restart', false);
          } else if (op.kind === 'diskFull') {
            disk.fillUp(op.skip, op.fail);
            await Promise.allSettled(op.steps.map(run));
            disk.fillUp(0, 0);
            // refused batches are gone: their producers start over, as after a power loss
            await check('after a full disk', true);
          } else if (op.kind === 'powerLoss') {
            if (op.checkpointFirst) await logs.checkpointSealedSegments();
            disk.failAfter(op.afterOps);
            for (let round = 0; round < 10 && disk.on; round++) await Promise.allSettled(op.steps.map(run));
            const dead = logs;
            // or only the process dies (SIGKILL): its writes stay in the page cache, for a later power loss to take
            if (op.powerStaysOn) await disk.crash();
            else await disk.powerLoss((i) => op.cuts[i % op.cuts.length]!);
            await dead.close().catch(() => undefined);
            logs = await open();
            await check('after a power loss', true);
          } else {
            await run(op);
          }
          await check(`after ${op.kind}`, false);
        }
      } finally {
        await logs.close().catch(() => undefined);
        await cleanup();
        await spare.cleanup();
      }
    }),
    diskPropertyOptions(20261203, 80),
  );
});
