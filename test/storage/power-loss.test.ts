// Property: whatever the order of appends across partitions, journal rounds, checkpoints, rolls, clean restarts,
// process crashes and writes refused by a full disk, a power loss never takes an acknowledged (fsync mode) append,
// nor brings back a refused one, and idempotent retries after it land once; in both modes what survives is a
// prefix of what was appended, with no hole. The disk is simulated (see power-loss-disk.ts): files keep only the
// bytes, and directories only the entries, that were synced.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { LogManager } from '../../src/storage/log-manager.js';
import { diskPropertyOptions } from '../helpers/property-seed.js';
import { tempDir } from '../helpers/temp-dir.js';
import { validateBatches } from '../../src/protocol/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import { openLogs, readAll, untilAcknowledged, whenRecovered } from './helpers.js';
import { cutsArb, powerLossDisk } from './power-loss-disk.js';

const PARTITIONS = 6;

/** An idempotent producer's batch: its producer id (epoch 0) and first sequence. */
interface Idempotent {
  producerId: number;
  sequence: number;
}

/**
 * Appends and waits until durable. A partition rolling back a failed write refuses appends for that moment
 * (KAFKA_STORAGE_ERROR, thrown at once): those are retried, a failure of the append itself is not.
 */
async function appendWhenReady(logs: LogManager, partition: number, values: string[], idempotent?: Idempotent, onAssigned?: (baseOffset: number) => void, batchPerValue = false): Promise<void> {
  const producer = (sequence: number) => (idempotent ? { producerId: idempotent.producerId, producerEpoch: 0, baseSequence: sequence } : {});
  const batch = batchPerValue
    ? Buffer.concat(values.map((v, i) => buildRecordBatch([{ key: `k-${v}`, value: v }], producer((idempotent?.sequence ?? 0) + i))))
    : buildRecordBatch(
        values.map((v) => ({ key: `k-${v}`, value: v })),
        producer(idempotent?.sequence ?? 0),
      );
  const result = await whenRecovered(() => logs.getLog('t', partition)!.append(batch, validateBatches(batch, 1 << 20)));
  onAssigned?.(result.baseOffset);
  return result.durable;
}

type Op =
  | { kind: 'append'; partition: number; values: string[]; batchPerValue: boolean }
  | { kind: 'burst'; values: string[] }
  | { kind: 'diskFull'; skip: number; fail: number; values: string[] }
  | { kind: 'restart' }
  /** `checkpointFirst`: the sealed-segment checkpoint is written before the appends the power loss cuts into. */
  | { kind: 'powerLoss'; afterOps: number; cuts: number[]; inFlight: number; syncMs: number; powerStaysOn: boolean; checkpointFirst: boolean };

const value = fc.string({ minLength: 0, maxLength: 40 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), partition: fc.nat(PARTITIONS - 1), values: fc.array(value, { minLength: 1, maxLength: 3 }), batchPerValue: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('burst' as const), values: fc.array(value, { minLength: PARTITIONS, maxLength: PARTITIONS }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('diskFull' as const), skip: fc.nat(12), fail: fc.integer({ min: 1, max: 4 }), values: fc.array(value, { minLength: PARTITIONS, maxLength: PARTITIONS }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('powerLoss' as const),
      afterOps: fc.nat(60),
      cuts: cutsArb,
      inFlight: fc.integer({ min: 1, max: 3 }),
      syncMs: fc.constantFrom(0, 2),
      powerStaysOn: fc.boolean(),
      checkpointFirst: fc.boolean(),
    }),
  },
);

test('a power loss at any point keeps every acknowledged append, and idempotent retries after it land once, through journal rounds, checkpoints and rolls', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), fc.boolean(), fc.boolean(), fc.boolean(), async (ops, journalEveryRound, idempotentProducers, none) => {
      // flush.policy=none promises nothing on power loss but a prefix: what survives has no holes and no garbage
      const idempotent = idempotentProducers && !none;
      const { dir, cleanup } = await tempDir();
      const spare = await tempDir();
      const disk = powerLossDisk(spare.dir);
      // tiny checkpoints and segments, so runs pass both often; either every round journaled or only wide ones
      const open = () => openLogs(dir, { fs: disk.fsFor(), directSyncMax: journalEveryRound ? 0 : 4, journalCheckpointBytes: 2048 });
      let logs: LogManager = await open();
      /** What each partition must hold: [offset, value], in order. */
      const model: [number, string][][] = Array.from({ length: PARTITIONS }, () => []);
      // idempotent producers retry what was refused or lost with the same sequence, as real ones do; each
      // value must then be in the log exactly once. Plain appends are not retried.
      const nextSequence = new Array<number>(PARTITIONS).fill(0);
      /** One idempotent producer per partition. */
      const producerId = Array.from({ length: PARTITIONS }, (_, p) => 100 + p);
      /** Appends, and once durable adds the values at their offsets to the model; `issued` hears of each offset given. */
      const send = async (p: number, values: string[], issued?: (base: number) => void, batchPerValue = false): Promise<void> => {
        let base = -1;
        const assigned = (offset: number) => {
          base = offset;
          issued?.(offset);
        };
        if (!idempotent) await appendWhenReady(logs, p, values, undefined, assigned, batchPerValue);
        else {
          const sequence = nextSequence[p]!;
          nextSequence[p] = sequence + values.length;
          await appendWhenReady(logs, p, values, { producerId: producerId[p]!, sequence }, assigned, batchPerValue);
        }
        model[p]!.push(...values.map((v, i) => [base + i, v] as [number, string]));
      };
      const retry = (p: number, values: string[], sequence: number): Promise<void> =>
        untilAcknowledged(async () => {
          let base = -1;
          await appendWhenReady(logs, p, values, { producerId: producerId[p]!, sequence }, (offset) => (base = offset));
          // a duplicate is answered with the offset it already has
          if (!model[p]!.some(([o]) => o === base)) model[p]!.push(...values.map((v, i) => [base + i, v] as [number, string]));
        });
      const check = async (when: string) => {
        for (let p = 0; p < PARTITIONS; p++) {
          const log = logs.getLog('t', p)!;
          assert.deepEqual(await readAll(log, 0), model[p], `partition ${p} ${when}`);
          assert.ok(log.logEndOffset >= (model[p]!.at(-1)?.[0] ?? -1) + 1, `partition ${p} end ${when}`);
        }
      };
      try {
        await logs.createTopic('t', PARTITIONS, { 'segment.bytes': '500', 'flush.policy': none ? 'none' : 'fsync' });
        for (const op of ops) {
          switch (op.kind) {
            case 'append':
              await send(op.partition, op.values, undefined, op.batchPerValue);
              break;
            case 'burst':
              await Promise.all(op.values.map((v, p) => send(p, [v])));
              break;
            case 'diskFull': {
              // a round of appends while writes and syncs fail for a moment: the refused appends are gone for
              // good (also after a later power loss: the journal never replays them), the others are kept;
              // an idempotent producer sends its refused batch again, and it lands once
              disk.fillUp(op.skip, op.fail);
              const sequences = [...nextSequence];
              const outcomes = await Promise.allSettled(op.values.map((v, p) => send(p, [v])));
              disk.fillUp(0, 0);
              if (idempotent) await Promise.all(outcomes.map((o, p) => (o.status === 'rejected' ? retry(p, [op.values[p]!], sequences[p]!) : undefined)));
              await check('after a full disk');
              break;
            }
            case 'restart':
              await logs.close();
              logs = await open();
              await check('after a clean restart');
              break;
            case 'powerLoss': {
              // keep appending to every partition, in rounds, until the power goes mid-way through whatever
              // the engine is doing (a journal round, a checkpoint, a roll); appends acknowledged by then must survive
              // slow syncs leave writes to a new segment time to land while the old one's roll sync still runs
              // the start after the loss takes the segments it records where their files are as they were
              if (op.checkpointFirst) await logs.checkpointSealedSegments();
              disk.slowSyncs(op.syncMs);
              disk.failAfter(op.afterOps);
              /** Each partition's values in the order they were sent (the idempotent producer's sequence order). */
              const sent: string[][] = Array.from({ length: PARTITIONS }, () => []);
              /**
               * Each partition's values in the order the log took them (gave them offsets): a send refused at once
               * (a rollback still running) is sent again a moment later, after the ones behind it, as a producer
               * with several requests in flight and no idempotence reorders on a retry.
               */
              const taken: string[][] = Array.from({ length: PARTITIONS }, () => []);
              /** Every value an offset was given to (a refused append's offset goes to the next one). */
              const given: Map<number, Set<string>>[] = Array.from({ length: PARTITIONS }, () => new Map());
              const firstSequence = [...nextSequence];
              const acked = new Array<number>(PARTITIONS).fill(0);
              for (let round = 0; round < 20 && disk.on; round++) {
                await Promise.allSettled(
                  sent.flatMap((values, p) =>
                    // several appends in flight per partition, as a pipelining producer keeps: a roll between them
                    // puts them in two segment files, synced apart
                    Array.from({ length: op.inFlight }, (_, k) => {
                      const v = `r${round}p${p}i${k}`;
                      values.push(v);
                      const issued = (offset: number) => {
                        taken[p]!.push(v);
                        given[p]!.set(offset, (given[p]!.get(offset) ?? new Set()).add(v));
                      };
                      return send(p, [v], issued).then(() => void acked[p]!++);
                    }),
                  ),
                );
              }
              const dead = logs;
              // or only the process dies (SIGKILL): its writes stay in the page cache, for a later power loss to take
              if (op.powerStaysOn) await disk.crash();
              else await disk.powerLoss((i) => op.cuts[i % op.cuts.length]!);
              disk.slowSyncs(0);
              // the dead process's timers and descriptors go; every write or sync it tries now fails
              await dead.close().catch(() => undefined);
              logs = await open();
              for (let p = 0; p < PARTITIONS; p++) {
                const got = await readAll(logs.getLog('t', p)!, 0);
                // acknowledged appends (fsync) are all there; every record there is one that was appended, at its
                // offset: no garbage, nothing moved. Unacknowledged ones may be lost, but never with later ones
                // kept (their segment files are synced apart; the start cuts the log at the first loss): the log
                // holds every offset from 0 up to its end, each record once.
                const ackedBefore = none ? [] : model[p]!;
                const ackedNow = none ? [] : model[p]!.slice(model[p]!.length - acked[p]!);
                for (const entry of [...ackedBefore, ...ackedNow]) assert.ok(got.some(([o, v]) => o === entry[0] && v === entry[1]), `partition ${p}: acknowledged ${entry} kept`);
                const before = new Map(model[p]!.slice(0, model[p]!.length - acked[p]!));
                for (const [o, v] of got) assert.ok(before.get(o) === v || given[p]!.get(o)?.has(v), `partition ${p}: ${v} at ${o} was appended there`);
                assert.deepEqual(got.map(([o]) => o), Array.from({ length: got.length }, (_, i) => i), `partition ${p}: no hole`);
                const appended = [...model[p]!.slice(0, model[p]!.length - acked[p]!).map(([, v]) => v), ...taken[p]!];
                assert.deepEqual(got.map(([, v]) => v), appended.slice(0, got.length), `partition ${p}: what survived is a prefix of what was appended`);
                model[p] = got;
                if (!idempotent) continue;
                // the producer sends again everything it got no answer for: what survived is a duplicate (answered
                // from the log), the rest is appended in order, so each value ends up in the log once
                for (let i = acked[p]!; i < sent[p]!.length; i++) await retry(p, [sent[p]![i]!], firstSequence[p]! + i);
              }
              await check('after a power loss');
              break;
            }
          }
        }
        await check('at the end');
      } finally {
        await logs.close().catch(() => undefined);
        await cleanup();
        await spare.cleanup();
      }
    }),
    diskPropertyOptions(20261130, 60),
  );
});
