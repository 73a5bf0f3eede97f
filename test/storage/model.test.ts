// Property: under random appends, reads, timestamp look-ups, DeleteRecords and retention passes racing a read, clean
// restarts, crash restarts and crashes that tear the last segment's tail, the log always agrees with a plain in-memory model (an array of values and timestamps with a start offset).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { LogManager, LogManagerOptions } from '../../src/storage/log-manager.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { maxTimestampRecord, offsetForTimestamp } from '../../src/storage/timestamp-lookup.js';
import { propertySeed } from '../helpers/property-seed.js';
import { tempDir } from '../helpers/temp-dir.js';
import { readdir, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { Batch, batchSizeAt, readInt64, validateBatches } from '../../src/protocol/record-batch.js';
import { ErrorCode, type KafkaError } from '../../src/protocol/errors.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import { crash, openLogs, readAll, recordsFrom } from './helpers.js';

interface Entry {
  value: string;
  /** Not in order: producers set their own timestamps, and ListOffsets must still find the first match. */
  timestamp: number;
}

type Op =
  /** One append of the entries, `perBatch` records to a batch (several batches in one append, as one produce request can carry). */
  | { kind: 'append'; entries: Entry[]; perBatch: number }
  | { kind: 'read'; at: number }
  | { kind: 'byTimestamp'; target: number }
  | { kind: 'maxTimestamp' }
  | { kind: 'deleteRecords'; at: number }
  /** A retention pass keeping about `keepBytes`, with a read from offset `at` (as in `read`), timestamp look-ups and an append issued just before it. */
  | { kind: 'retention'; keepBytes: number; at: number }
  | { kind: 'restart' }
  /** The sealed-segment checkpoint written now: a later crash start takes the segments it records. */
  | { kind: 'checkpoint' }
  | { kind: 'crash' }
  | { kind: 'tear'; permille: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.array(fc.record({ value: fc.string({ minLength: 0, maxLength: 60 }), timestamp: fc.integer({ min: 1000, max: 1100 }) }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 5 }),
      )
      .map(([entries, perBatch]) => ({ kind: 'append' as const, entries, perBatch })),
  },
  { weight: 2, arbitrary: fc.nat(200).map((at) => ({ kind: 'read' as const, at })) },
  { weight: 2, arbitrary: fc.integer({ min: 990, max: 1110 }).map((target) => ({ kind: 'byTimestamp' as const, target })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'maxTimestamp' as const }) },
  { weight: 1, arbitrary: fc.nat(200).map((at) => ({ kind: 'deleteRecords' as const, at })) },
  { weight: 1, arbitrary: fc.tuple(fc.nat(1200), fc.nat(200)).map(([keepBytes, at]) => ({ kind: 'retention' as const, keepBytes, at })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'checkpoint' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
  { weight: 1, arbitrary: fc.nat(1000).map((permille) => ({ kind: 'tear' as const, permille })) },
);

/**
 * Cuts the last segment file of `partitionDir` at `permille`/1000 of its size, as a disk losing an unsynced tail
 * would, and returns the log end offset recovery must come back with: the end of the last whole batch before
 * the cut, or the segment's base offset if none is left; null when there is no segment file to cut.
 */
async function tearLastSegment(partitionDir: string, permille: number): Promise<number | null> {
  const last = (await readdir(partitionDir)).filter((n) => n.endsWith('.log')).sort().at(-1);
  if (last === undefined) return null; // a log restarted at its start offset has no file until its first write
  const path = join(partitionDir, last);
  const bytes = await readFile(path);
  const cut = Math.floor((bytes.length * permille) / 1000);
  let end = Number(last.slice(0, 20));
  for (let at = 0; at + Batch.LOG_OVERHEAD <= cut; ) {
    const size = batchSizeAt(bytes, at);
    if (at + size > cut) break;
    end = readInt64(bytes, at + Batch.BASE_OFFSET) + bytes.readInt32BE(at + Batch.LAST_OFFSET_DELTA) + 1;
    at += size;
  }
  await truncate(path, cut);
  return end;
}

/**
 * Runs the property on a topic of `configs`, every appended value followed by `pad` (large values make active
 * segments that a clean shutdown records instead of leaving them to be scanned again), its logs opened with
 * `logOptions`.
 */
async function matchesModel(configs: Record<string, string>, pad: string, runs: { numRuns: number; seed: number }, logOptions: Partial<LogManagerOptions> = {}): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
      const { dir, cleanup } = await tempDir();
      let logs: LogManager = await openLogs(dir, logOptions);
      try {
        await logs.createTopic('m', 1, configs);
        const model: Entry[] = [];
        let start = 0;
        /** ListOffsets' answer from the model: the first record at or after the start offset matching `pred`. */
        const firstWhere = (pred: (e: Entry) => boolean, from = start, end = model.length) => {
          const i = model.findIndex((e, offset) => offset >= from && offset < end && pred(e));
          return i < 0 ? null : { offset: i, timestamp: model[i]!.timestamp };
        };
        const readOffset = (at: number) => start + (model.length - start === 0 ? 0 : at % (model.length - start + 1));
        /**
         * One read from `offset` issued now, checked once what raced it is done: refused only below the log start
         * by then; otherwise the model from the offset asked for, never records further on.
         */
        const raceRead = (log: PartitionLog, offset: number) => {
          const settled = log.read(offset, 1 << 20).then(
            ({ records }) => recordsFrom(records, offset),
            (err: KafkaError) => err,
          );
          const end = model.length;
          return {
            check: async () => {
              const got = await settled;
              if (got instanceof Error) {
                assert.equal(got.code, ErrorCode.OFFSET_OUT_OF_RANGE, got.message);
                assert.ok(offset < start, `offset ${offset} refused, log start ${start}`);
              } else {
                assert.ok(got.length > 0 || offset === end, `nothing read at ${offset} of ${end}`);
                assert.deepEqual(got, model.slice(offset, offset + got.length).map((e, i) => [offset + i, e.value]));
              }
            },
          };
        };
        for (const op of ops) {
          const log = logs.getLog('m', 0)!;
          switch (op.kind) {
            case 'append': {
              const entries = op.entries.map((e) => ({ ...e, value: e.value + pad }));
              const chunks = Array.from({ length: Math.ceil(entries.length / op.perBatch) }, (_, i) => entries.slice(i * op.perBatch, (i + 1) * op.perBatch));
              const batch = Buffer.concat(chunks.map((chunk) => buildRecordBatch(chunk.map((e) => ({ value: e.value, timestamp: e.timestamp })))));
              const res = log.append(batch, validateBatches(batch, 1 << 30));
              assert.equal(res.baseOffset, model.length);
              await res.durable;
              model.push(...entries);
              break;
            }
            case 'read': {
              const offset = readOffset(op.at);
              const got = await readAll(log, offset);
              assert.deepEqual(got, model.slice(offset).map((e, i) => [offset + i, e.value]));
              break;
            }
            case 'byTimestamp':
              assert.deepEqual(await offsetForTimestamp(log, op.target), firstWhere((e) => e.timestamp >= op.target));
              break;
            case 'maxTimestamp': {
              const max = Math.max(...model.slice(start).map((e) => e.timestamp));
              assert.deepEqual(await maxTimestampRecord(log), firstWhere((e) => e.timestamp === max));
              break;
            }
            case 'deleteRecords': {
              const target = Math.min(model.length, start + op.at % 10);
              const racing = raceRead(log, readOffset(op.at));
              await logs.deleteRecords('m', 0, target);
              start = Math.max(start, target);
              await racing.check();
              break;
            }
            case 'retention': {
              await logs.setTopicOverrides('m', { 'retention.bytes': String(op.keepBytes) });
              const racing = raceRead(log, readOffset(op.at));
              const target = 990 + (op.at % 121);
              const lookingUp = offsetForTimestamp(log, target).catch((err: Error) => err);
              const lookingUpMax = maxTimestampRecord(log).catch((err: Error) => err);
              const [startBefore, endBefore] = [start, model.length];
              // an append in flight too: a pass may roll nothing, but must not disturb what is being written
              const entry = { value: `r${model.length}`, timestamp: 1050 };
              const batch = buildRecordBatch([entry]);
              const appending = log.append(batch, validateBatches(batch, 1 << 30));
              await logs.runRetention();
              assert.equal(appending.baseOffset, model.length);
              await appending.durable;
              model.push(entry);
              // the active segment may go too (all of it below the high watermark), leaving the log empty at its end
              assert.ok(log.logStartOffset >= start && log.logStartOffset <= model.length, `log start ${log.logStartOffset}`);
              start = log.logStartOffset;
              await racing.check();
              // a look-up racing the pass answers from the log as it was before or after it, or in between (the
              // closed segments gone, the active one not yet), with the append or without, never with an error
              const starts = Array.from({ length: start - startBefore + 1 }, (_, i) => startBefore + i);
              const windows = starts.flatMap((from) => [endBefore, model.length].map((end) => [from, end] as const));
              const oneOf = (found: unknown, answers: unknown[], what: string) =>
                assert.ok(answers.some((a) => JSON.stringify(a) === JSON.stringify(found)), `${what} gave ${found instanceof Error ? found.message : JSON.stringify(found)}`);
              oneOf(await lookingUp, windows.map(([from, end]) => firstWhere((e) => e.timestamp >= target, from, end)), `look-up of ${target}`);
              const newestIn = windows.map(([from, end]) => {
                const max = Math.max(...model.slice(from, end).map((e) => e.timestamp));
                return firstWhere((e) => e.timestamp === max, from, end);
              });
              oneOf(await lookingUpMax, newestIn, 'max timestamp look-up');
              break;
            }
            case 'restart':
              await logs.close();
              logs = await openLogs(dir, logOptions);
              break;
            case 'checkpoint':
              await logs.checkpointSealedSegments();
              break;
            case 'crash':
              // no clean shutdown: descriptors dropped, no marker, no index files for the active segment
              await crash(logs);
              logs = await openLogs(dir, logOptions);
              break;
            case 'tear': {
              await crash(logs);
              const end = await tearLastSegment(join(dir, 'm-0'), op.permille);
              // a log start past what survived starts the log afresh there, as Kafka does
              if (end !== null) model.length = Math.max(end, start);
              logs = await openLogs(dir, logOptions);
              break;
            }
          }
          const now = logs.getLog('m', 0)!;
          assert.equal(now.logEndOffset, model.length);
          assert.equal(now.logStartOffset, start);
        }
        assert.deepEqual(await readAll(logs.getLog('m', 0)!), model.slice(start).map((e, i) => [start + i, e.value]));
      } finally {
        await logs.close().catch(() => undefined);
        await cleanup();
      }
    }),
    runs,
  );
}

test('the log matches an in-memory model under random operations and restarts', () =>
  matchesModel({ 'segment.bytes': '400', 'index.interval.bytes': '150' }, '', { numRuns: 150, seed: propertySeed(424242) }));

test('the log matches an in-memory model with closed segments\' indexes dropped from memory and read back at every look-up', () =>
  matchesModel({ 'segment.bytes': '400', 'index.interval.bytes': '150' }, '', { numRuns: 100, seed: propertySeed(20261201) }, { indexCacheBytes: 0 }));

test('the log matches an in-memory model with active segments large enough to be recorded at clean shutdown', () =>
  matchesModel({ 'segment.bytes': '500000', 'index.interval.bytes': '8000' }, 'x'.repeat(40_000), { numRuns: 60, seed: propertySeed(20261130) }));
