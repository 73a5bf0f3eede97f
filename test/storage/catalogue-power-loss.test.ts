// Property: under random topic creations and deletions, added partitions, DeleteRecords, appends, clean restarts
// and power losses or process crashes at any point of any of them, what was acknowledged holds after the restart: a
// created topic is there with its partitions and acknowledged records, a deleted one is gone and does not come back,
// and a log start offset never moves back. What was cut short may or may not have happened, but whole. The disk
// keeps only synced bytes and directory entries (see power-loss-disk.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { validateBatches } from '../../src/protocol/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import { diskPropertyOptions } from '../helpers/property-seed.js';
import { tempDir } from '../helpers/temp-dir.js';
import { openLogs, readAll } from './helpers.js';
import { cutsArb, powerLossDisk } from './power-loss-disk.js';

const NAMES = ['x', 'y', 'z'];

type Change =
  | { kind: 'create'; topic: string; partitions: number }
  | { kind: 'delete'; topic: string }
  | { kind: 'grow'; topic: string; by: number }
  | { kind: 'deleteRecords'; topic: string; partition: number; fraction: number }
  | { kind: 'append'; topic: string; partition: number; count: number };
type Op = Change | { kind: 'restart' } | { kind: 'powerLoss'; during: Change; afterOps: number; cuts: number[]; powerStaysOn: boolean };

const topicArb = fc.constantFrom(...NAMES);
const changeArb: fc.Arbitrary<Change> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), topic: topicArb, partitions: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('delete' as const), topic: topicArb }),
  fc.record({ kind: fc.constant('grow' as const), topic: topicArb, by: fc.integer({ min: 1, max: 2 }) }),
  fc.record({ kind: fc.constant('deleteRecords' as const), topic: topicArb, partition: fc.nat(4), fraction: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('append' as const), topic: topicArb, partition: fc.nat(4), count: fc.integer({ min: 1, max: 4 }) }),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: changeArb },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('powerLoss' as const),
      during: changeArb,
      afterOps: fc.nat(40),
      cuts: cutsArb,
      powerStaysOn: fc.boolean(),
    }),
  },
);

/** What a topic holds: per partition, its log start offset and its records from there, as [offset, value]. */
type TopicModel = { start: number; records: [number, string][] }[];

test('a power loss in the middle of topic creations, deletions, added partitions and DeleteRecords keeps whatever was acknowledged', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
      const { dir, cleanup } = await tempDir();
      const spare = await tempDir();
      const disk = powerLossDisk(spare.dir);
      // a tiny fold size: the catalogue's log is folded into a new snapshot every two or so
      const open = () => openLogs(dir, { fs: disk.fsFor(), catalogueFoldBytes: 150 });
      let logs: LogManager = await open();
      const model = new Map<string, TopicModel>();
      let nextValue = 0;

      /** Applies a change to the log and, once acknowledged, to the model; refusals the model expects are ignored. */
      const apply = async (change: Change): Promise<void> => {
        const topic = model.get(change.topic);
        switch (change.kind) {
          case 'create':
            if (topic) return;
            await logs.createTopic(change.topic, change.partitions, { 'segment.bytes': '200' });
            model.set(change.topic, Array.from({ length: change.partitions }, () => ({ start: 0, records: [] })));
            return;
          case 'delete':
            if (!topic) return;
            await logs.deleteTopic(change.topic);
            model.delete(change.topic);
            return;
          case 'grow':
            if (!topic) return;
            await logs.createPartitions(change.topic, topic.length + change.by);
            for (let i = 0; i < change.by; i++) topic.push({ start: 0, records: [] });
            return;
          case 'deleteRecords': {
            const p = topic?.[change.partition % topic.length];
            if (!p) return;
            const log = logs.getLog(change.topic, change.partition % topic!.length)!;
            const before = Math.max(p.start, Math.floor(change.fraction * log.highWatermark));
            const start = await logs.deleteRecords(change.topic, change.partition % topic!.length, before);
            p.start = Math.max(p.start, start);
            p.records = p.records.filter(([o]) => o >= p.start);
            return;
          }
          case 'append': {
            const p = topic?.[change.partition % topic.length];
            if (!p) return;
            const values = Array.from({ length: change.count }, () => `v${nextValue++}`);
            const batch = buildRecordBatch(values.map((value) => ({ key: null, value })));
            const result = logs.getLog(change.topic, change.partition % topic!.length)!.append(batch, validateBatches(batch, 1 << 20));
            await result.durable;
            p.records.push(...values.map((v, i) => [result.baseOffset + i, v] as [number, string]));
            return;
          }
        }
      };

      /** The log's topics as a model; `cut` names the topic whose change the power cut short (it may be half-way). */
      const observe = async (): Promise<Map<string, TopicModel>> => {
        const seen = new Map<string, TopicModel>();
        for (const name of NAMES) {
          const topic = logs.topics.get(name);
          if (!topic) continue;
          const partitions: TopicModel = [];
          for (const log of topic.partitions) partitions.push({ start: log.logStartOffset, records: await readAll(log, log.logStartOffset) });
          seen.set(name, partitions);
        }
        return seen;
      };

      /** What was acknowledged is there; only the change cut short (`during`) may have left more, or less, of itself. */
      const check = (seen: Map<string, TopicModel>, when: string, during?: Change) => {
        for (const name of NAMES) {
          const expected = model.get(name);
          const got = seen.get(name);
          const open = during?.topic === name;
          if (!expected) {
            assert.ok(!got || (open && during!.kind === 'create'), `${when}: topic ${name} is there, never created or deleted since`);
            continue;
          }
          if (!got) {
            assert.ok(open && during!.kind === 'delete', `${when}: topic ${name} is gone`);
            continue;
          }
          assert.ok(got.length === expected.length || (open && during!.kind === 'grow' && got.length === expected.length + during!.by), `${when}: ${name} has ${got.length} partitions, not ${expected.length}`);
          expected.forEach((p, i) => {
            const g = got[i]!;
            assert.ok(g.start >= p.start, `${when}: ${name}-${i} log start ${g.start} went back from ${p.start}`);
            const kept = p.records.filter(([o]) => o >= g.start);
            const lost = kept.filter(([o, v]) => !g.records.some(([go, gv]) => go === o && gv === v));
            assert.deepEqual(lost, [], `${when}: ${name}-${i} lost acknowledged records`);
            if (g.start > p.start) assert.ok(open && during!.kind === 'deleteRecords', `${when}: ${name}-${i} log start moved on its own`);
          });
        }
      };

      try {
        for (const op of ops) {
          if (op.kind === 'restart') {
            await logs.close();
            logs = await open();
          } else if (op.kind === 'powerLoss') {
            disk.failAfter(op.afterOps);
            const acknowledged = apply(op.during).then(() => true, () => false);
            // appends elsewhere keep the disk busy until the power goes
            for (let round = 0; round < 10 && disk.on; round++) {
              await Promise.allSettled([...model.keys()].filter((t) => t !== op.during.topic).map((t) => apply({ kind: 'append', topic: t, partition: round, count: 1 })));
            }
            const done = await acknowledged;
            const dead = logs;
            // or only the process dies (SIGKILL): what it wrote stays in the page cache, for a later power loss to take
            if (op.powerStaysOn) await disk.crash();
            else await disk.powerLoss((i) => op.cuts[i % op.cuts.length]!);
            await dead.close().catch(() => undefined);
            logs = await open();
            const seen = await observe();
            check(seen, 'after a power loss', done ? undefined : op.during);
            // unacknowledged appends may have survived; what is there now is what the next checks start from
            for (const [name, topic] of seen) model.set(name, topic);
            for (const name of [...model.keys()]) if (!seen.has(name)) model.delete(name);
          } else {
            await apply(op);
          }
          check(await observe(), `after ${op.kind}`);
        }
      } finally {
        await logs.close().catch(() => undefined);
        await cleanup();
        await spare.cleanup();
      }
    }),
    diskPropertyOptions(20261202, 80),
  );
});
