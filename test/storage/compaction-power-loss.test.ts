// Property: a power loss or a process crash at any point of a compaction pass (mapping, copying, the swap's renames and unlinks,
// the new indexes) or of the appends beside it loses no acknowledged record that is still the latest of its key,
// serves nothing that was not appended at its offset, and brings back no record an earlier pass removed, also
// when the journal that carried those records replays after the restart. The disk keeps only synced bytes and
// directory entries (see power-loss-disk.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { validateBatches } from '../../src/protocol/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import { diskPropertyOptions } from '../helpers/property-seed.js';
import { tempDir } from '../helpers/temp-dir.js';
import { clockAt, keyedContents, openLogs, type KeyedRecord } from './helpers.js';
import { cutsArb, powerLossDisk } from './power-loss-disk.js';

type Op =
  | { kind: 'append'; records: { key: string | null; value: string | null }[] }
  | { kind: 'tick'; ms: number }
  | { kind: 'compact' }
  /** The sealed-segment checkpoint written now: compactions after it replace segments it records. */
  | { kind: 'checkpoint' }
  | { kind: 'restart' }
  | { kind: 'powerLoss'; afterOps: number; cuts: number[]; compacting: boolean; powerStaysOn: boolean };

const DELETE_RETENTION_MS = 1000;
const recordArb = fc.oneof(
  fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd'), value: fc.option(fc.string({ maxLength: 30 }), { freq: 4 }) }),
  fc.record({ key: fc.constant(null), value: fc.string({ maxLength: 30 }) }),
);
const opsArb: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: fc.array(recordArb, { minLength: 1, maxLength: 3 }).map((records) => ({ kind: 'append' as const, records })) },
    { weight: 1, arbitrary: fc.nat(1500).map((ms) => ({ kind: 'tick' as const, ms })) },
    { weight: 2, arbitrary: fc.constant({ kind: 'compact' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'checkpoint' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('powerLoss' as const),
        afterOps: fc.nat(80),
        cuts: cutsArb,
        compacting: fc.boolean(),
        powerStaysOn: fc.boolean(),
      }),
    },
  ),
  { minLength: 1, maxLength: 40 },
);

test('a power loss during compaction or beside it keeps the latest acknowledged record of every key and brings back nothing removed', async () => {
  await fc.assert(
    fc.asyncProperty(opsArb, fc.boolean(), async (ops, journalEveryRound) => {
      const { dir, cleanup } = await tempDir();
      const spare = await tempDir();
      const disk = powerLossDisk(spare.dir);
      let now = 1_000_000;
      const clock = clockAt(() => now);
      // either every round journaled (so replay meets compacted segments) or only wide ones; small checkpoints
      const open = () => openLogs(dir, { fs: disk.fsFor(), clock, directSyncMax: journalEveryRound ? 0 : 4, journalCheckpointBytes: 4096 });
      let logs: LogManager = await open();
      /** Every record appended, by offset (acknowledged or not; a refused append's offsets are given again). */
      const appended = new Map<number, Set<string>>();
      /** Acknowledged records, by offset. */
      const acked = new Map<number, KeyedRecord>();
      const fingerprint = (r: KeyedRecord) => JSON.stringify([r.key, r.value, r.timestamp]);
      const append = async (records: { key: string | null; value: string | null }[]) => {
        const recs = records.map((r) => ({ ...r, timestamp: now }));
        const batch = buildRecordBatch(recs);
        const result = logs.getLog('c', 0)!.append(batch, validateBatches(batch, 1 << 20));
        recs.forEach((r, i) => appended.set(result.baseOffset + i, (appended.get(result.baseOffset + i) ?? new Set()).add(fingerprint(r))));
        await result.durable;
        recs.forEach((r, i) => acked.set(result.baseOffset + i, r));
      };
      /** Checks what the log serves now against what was appended; `allowed`: the offsets it may serve. */
      const check = async (when: string, allowed?: (offset: number) => boolean) => {
        const log = logs.getLog('c', 0)!;
        const got = await keyedContents(log);
        for (const [offset, rec] of got) {
          assert.ok(appended.get(offset)?.has(fingerprint(rec)), `${when}: ${fingerprint(rec)} at ${offset} was appended there`);
          if (allowed) assert.ok(allowed(offset), `${when}: record at ${offset} (key ${rec.key}) was removed before and is back`);
        }
        const latest = new Map<string, number>();
        for (const [offset, r] of [...acked].sort((a, b) => a[0] - b[0])) if (r.key !== null) latest.set(r.key, offset);
        for (const [offset, r] of acked) {
          if (got.has(offset)) continue;
          const superseded = r.key !== null && latest.get(r.key) !== offset;
          // its delete horizon, from the first pass that kept it, is delete.retention.ms after its append or later
          const expiredTombstone = r.key !== null && r.value === null && r.timestamp + DELETE_RETENTION_MS <= now;
          assert.ok(superseded || expiredTombstone, `${when}: acknowledged record at ${offset} (key ${r.key}) lost while still the latest`);
        }
        const lastAcked = Math.max(-1, ...acked.keys());
        assert.ok(log.logEndOffset > lastAcked, `${when}: log end ${log.logEndOffset} after acknowledged ${lastAcked}`);
        return got;
      };
      try {
        await logs.createTopic('c', 1, {
          'cleanup.policy': 'compact',
          'segment.bytes': '250',
          'delete.retention.ms': String(DELETE_RETENTION_MS),
          'min.cleanable.dirty.ratio': '0',
        });
        for (const op of ops) {
          switch (op.kind) {
            case 'append':
              await append(op.records);
              break;
            case 'tick':
              now += op.ms;
              break;
            case 'compact':
              await logs.runRetention();
              break;
            case 'checkpoint':
              await logs.checkpointSealedSegments();
              break;
            case 'restart':
              await logs.close();
              logs = await open();
              break;
            case 'powerLoss': {
              const before = new Set((await check('before a power loss')).keys());
              const firstNew = logs.getLog('c', 0)!.logEndOffset;
              disk.failAfter(op.afterOps);
              // appends (and passes) until the power goes: in a pass's middle, or in a round beside it
              for (let round = 0; round < 20 && disk.on; round++) {
                const pass = op.compacting ? logs.runRetention() : Promise.resolve(0);
                const key = String.fromCharCode(97 + (round % 4));
                await Promise.allSettled([append([{ key, value: `r${round}` }]), append([{ key: null, value: `u${round}` }]), pass]);
              }
              const dead = logs;
              // or only the process dies (SIGKILL): its writes stay in the page cache, for a later power loss to take
              if (op.powerStaysOn) await disk.crash();
              else await disk.powerLoss((i) => op.cuts[i % op.cuts.length]!);
              await dead.close().catch(() => undefined);
              logs = await open();
              // a pass cut short may leave what it was removing; nothing removed before it may come back
              const got = await check('after a power loss', (offset) => before.has(offset) || offset >= firstNew);
              // what survived is the log now: unacknowledged survivors count as appended and acknowledged
              acked.clear();
              for (const [offset, rec] of got) acked.set(offset, rec);
              break;
            }
          }
          await check(`after ${op.kind}`);
        }
      } finally {
        await logs.close().catch(() => undefined);
        await cleanup();
        await spare.cleanup();
      }
    }),
    diskPropertyOptions(20261201, 100),
  );
});
