// Property: under random keyed appends (tombstones among them), compaction passes, time passing, clean restarts
// and crashes, a compacted log only ever drops records that a later record of the same key superseded, or
// tombstones appended delete.retention.ms ago or more; every survivor is unchanged at its offset; and after a pass
// the closed segments hold each key once, at its latest offset there. With a key map of two keys, a pass takes
// several rounds and must end the same.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { validateBatches } from '../../src/protocol/record-batch.js';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import { OFFSET_MAP_SLOT_BYTES } from '../../src/storage/offset-map.js';
import { propertySeed } from '../helpers/property-seed.js';
import { tempDir } from '../helpers/temp-dir.js';
import { addKeyedRecords, clockAt, crash, keyedContents, openLogs, type KeyedRecord } from './helpers.js';

type Op =
  | { kind: 'append'; records: { key: string | null; value: string | null }[] }
  | { kind: 'tick'; ms: number }
  /** A compaction pass, with a read from offset `at` (modulo the log end + 1) issued just before it. */
  | { kind: 'compact'; at: number }
  | { kind: 'restart' }
  | { kind: 'crash' };

const DELETE_RETENTION_MS = 1000;
const recordArb = fc.oneof(
  fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd'), value: fc.option(fc.string({ maxLength: 30 }), { freq: 4 }) }),
  fc.record({ key: fc.constant(null), value: fc.string({ maxLength: 30 }) }),
);
/** Rarer passes (a lower `compactWeight`) find more keys to map at once. */
const opsArb = (compactWeight: number, maxLength: number): fc.Arbitrary<Op[]> =>
  fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.array(recordArb, { minLength: 1, maxLength: 3 }).map((records) => ({ kind: 'append' as const, records })) },
      { weight: 2, arbitrary: fc.nat(1500).map((ms) => ({ kind: 'tick' as const, ms })) },
      { weight: compactWeight, arbitrary: fc.nat(200).map((at) => ({ kind: 'compact' as const, at })) },
      { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
    ),
    { minLength: 1, maxLength },
  );

for (const [variant, mapBytes, ops, seed] of [
  ['a key map larger than the log', undefined, opsArb(3, 40), 777],
  ['a key map of two keys (several rounds a pass)', 3 * OFFSET_MAP_SLOT_BYTES, opsArb(1, 80), 778],
] as const) {
  test(`compaction drops only superseded records and expired tombstones, under random appends, passes, restarts and crashes: ${variant}`, async () => {
    await fc.assert(
      fc.asyncProperty(ops, async (ops) => {
        const { dir, cleanup } = await tempDir();
        let now = 1_000_000;
        const clock = clockAt(() => now);
        const open = () => openLogs(dir, { clock, compactionMapBytes: mapBytes });
        let logs: LogManager = await open();
        const model: KeyedRecord[] = [];
        /**
         * Whether compaction may have removed the record at an offset: superseded by a later one of its key, or a
         * tombstone appended delete.retention.ms ago or more (its delete horizon, set by the first pass that kept
         * it, is at least that: a pass at the horizon drops it).
         */
        const droppableNow = () => {
          const latest = new Map<string, number>();
          model.forEach((r, offset) => r.key !== null && latest.set(r.key, offset));
          return (offset: number) => {
            const r = model[offset]!;
            return r.key !== null && (latest.get(r.key) !== offset || (r.value === null && r.timestamp + DELETE_RETENTION_MS <= now));
          };
        };
        try {
          await logs.createTopic('c', 1, { 'cleanup.policy': 'compact', 'segment.bytes': '250', 'delete.retention.ms': String(DELETE_RETENTION_MS), 'min.cleanable.dirty.ratio': '0' });
          for (const op of ops) {
            switch (op.kind) {
              case 'append': {
                const batch = buildRecordBatch(op.records.map((r) => ({ ...r, timestamp: now })));
                await logs.getLog('c', 0)!.append(batch, validateBatches(batch, 1 << 20)).durable;
                model.push(...op.records.map((r) => ({ ...r, timestamp: now })));
                break;
              }
              case 'tick':
                now += op.ms;
                break;
              case 'compact': {
                const log = logs.getLog('c', 0)!;
                const from = op.at % (model.length + 1);
                const racing = log.read(from, 1 << 20);
                await logs.runRetention();
                // one read racing the pass: the records it returns are unchanged, and any it passed over from the offset asked for are ones compaction may drop
                const readRecords = new Map<number, KeyedRecord>();
                const { records } = await racing;
                addKeyedRecords(records, readRecords);
                const read = [...readRecords].filter(([offset]) => offset >= from);
                // as in Kafka, a read may answer with a batch compaction emptied from `from` on (kept at a segment's
                // end, its records all below): the client moves on past its last offset
                const batches = decodeRecordBatches(records);
                const last = batches[batches.length - 1]?.info;
                const readEnd = last ? last.baseOffset + last.lastOffsetDelta + 1 : from;
                const droppable = droppableNow();
                assert.ok(readEnd > from || from === model.length, `nothing read at ${from} of ${model.length}`);
                for (const [offset, rec] of read) assert.deepEqual(rec, model[offset], `read at ${offset} unchanged`);
                for (let offset = from; offset < (read[0]?.[0] ?? readEnd); offset++) assert.ok(droppable(offset), `read from ${from} passed over ${offset}, still the latest of its key`);
                const closedEnd = log.activeSegment.baseOffset;
                const latestClosed = new Map<string, number>();
                model.forEach((r, offset) => r.key !== null && offset < closedEnd && latestClosed.set(r.key, offset));
                for (const [offset, rec] of await keyedContents(log)) {
                  if (offset < closedEnd && rec.key !== null) assert.equal(offset, latestClosed.get(rec.key), `key ${rec.key} at ${offset} is superseded at ${latestClosed.get(rec.key)}`);
                }
                break;
              }
              case 'restart':
                await logs.close();
                logs = await open();
                break;
              case 'crash':
                await crash(logs);
                logs = await open();
                break;
            }
            const log = logs.getLog('c', 0)!;
            assert.equal(log.logEndOffset, model.length);
            const got = await keyedContents(log);
            for (const [offset, rec] of got) assert.deepEqual(rec, model[offset], `offset ${offset} unchanged`);
            const droppable = droppableNow();
            model.forEach((_r, offset) => {
              if (!got.has(offset)) assert.ok(droppable(offset), `record at ${offset} (key ${model[offset]!.key}) dropped while still the latest`);
            });
          }
        } finally {
          await logs.close().catch(() => undefined);
          await cleanup();
        }
      }),
      { numRuns: 80, seed: propertySeed(seed) },
    );
  });
}
