// Property: under random transactions of several producers (committed and aborted, keyed records), plain appends,
// compaction passes, time passing, clean restarts and crashes, a compacted log read as a read_committed consumer
// reads it (batches of the aborted transactions the log reports skipped from each one's first offset until its
// ABORT marker, as Kafka's clients do) holds no record of an aborted transaction, every record it holds unchanged
// at its offset, and every key's latest committed record; no transaction is left open (the last stable offset is
// the high watermark), also when the producers and transactions are rebuilt from the log alone; and every append of
// a producer is taken in sequence, through passes that remove its batches and markers and through crashes.
import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { Attributes, validateBatches } from '../../src/protocol/record-batch.js';
import { buildControlBatch, buildRecordBatch, ControlType, decodeRecordBatches } from '../../src/protocol/records.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { propertySeed } from '../helpers/property-seed.js';
import { tempDir } from '../helpers/temp-dir.js';
import { clockAt, crash, openLogs } from './helpers.js';

interface KV {
  key: string;
  value: string;
}

type Op =
  | { kind: 'txn'; producer: number; records: KV[]; commit: boolean }
  | { kind: 'put'; records: KV[] }
  | { kind: 'tick'; ms: number }
  | { kind: 'compact' }
  | { kind: 'restart' }
  /** A crash, and a start that finds no producer snapshot: the producers and transactions are rebuilt from the log. */
  | { kind: 'crash-without-snapshots' }
  | { kind: 'crash' };

const DELETE_RETENTION_MS = 1000;
const recordsArb = fc.array(
  fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.string({ minLength: 1, maxLength: 30 })).map(([key, value]): KV => ({ key, value })),
  { minLength: 1, maxLength: 3 },
);
const opsArb: fc.Arbitrary<Op[]> = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.constantFrom(1, 2, 3), recordsArb, fc.boolean()).map(([producer, records, commit]) => ({ kind: 'txn' as const, producer, records, commit })) },
    { weight: 2, arbitrary: recordsArb.map((records) => ({ kind: 'put' as const, records })) },
    { weight: 3, arbitrary: fc.nat(1500).map((ms) => ({ kind: 'tick' as const, ms })) },
    { weight: 3, arbitrary: fc.constant({ kind: 'compact' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'crash-without-snapshots' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
  ),
  // long enough that transactions are superseded, and their markers stamped and removed
  { minLength: 20, maxLength: 60 },
);

/**
 * The records a read_committed consumer is given, by offset, reading the whole log from its start; checks that each
 * aborted transaction the log reports ends with its ABORT marker there (without it, the consumer would skip its
 * producer's later records, which a later record of that producer shows only when there is one).
 */
async function readCommitted(log: PartitionLog): Promise<Map<number, KV>> {
  const aborted = log.transactions.abortedBetween(log.logStartOffset, log.lastStableOffset).sort((x, y) => x.firstOffset - y.firstOffset);
  const unended = new Map(aborted.map((t) => [t.lastOffset, t.producerId]));
  const skipping = new Set<number>();
  const out = new Map<number, KV>();
  let offset = log.logStartOffset;
  while (offset < log.lastStableOffset) {
    const { records } = await log.read(offset, 1 << 20, log.lastStableOffset);
    if (records.length === 0) break;
    for (const batch of decodeRecordBatches(records)) {
      const { info } = batch;
      offset = info.baseOffset + info.lastOffsetDelta + 1;
      while (aborted.length > 0 && aborted[0]!.firstOffset <= offset - 1) skipping.add(aborted.shift()!.producerId);
      if ((info.attributes & Attributes.CONTROL) !== 0) {
        if (batch.records[0]!.key!.readInt16BE(2) === ControlType.ABORT) {
          skipping.delete(info.producerId);
          if (unended.get(info.baseOffset) === info.producerId) unended.delete(info.baseOffset);
        }
        continue;
      }
      if ((info.attributes & Attributes.TRANSACTIONAL) !== 0 && skipping.has(info.producerId)) continue;
      for (const r of batch.records) out.set(r.offset, { key: r.key!.toString(), value: r.value!.toString() });
    }
  }
  assert.deepEqual([...unended], [], 'aborted transactions known without their ABORT markers: [marker offset, producer]');
  return out;
}

test('compaction of a log written by transactions: read_committed reads only committed records, each key\'s latest always, under random transactions, passes, restarts and crashes', async () => {
  await fc.assert(
    fc.asyncProperty(opsArb, async (ops) => {
      const { dir, cleanup } = await tempDir();
      let now = 1_000_000;
      const clock = clockAt(() => now);
      let logs: LogManager = await openLogs(dir, { clock });
      /** Per offset: a record with whether a read_committed consumer may see it, or a marker (null). */
      const model: ({ kv: KV; committed: boolean } | null)[] = [];
      const sequences = new Map<number, number>();
      const append = (batch: Buffer) => logs.getLog('t', 0)!.append(batch, validateBatches(batch, 1 << 20)).durable;
      try {
        await logs.createTopic('t', 1, { 'cleanup.policy': 'compact', 'segment.bytes': '300', 'delete.retention.ms': String(DELETE_RETENTION_MS), 'min.cleanable.dirty.ratio': '0' });
        for (const op of ops) {
          switch (op.kind) {
            case 'txn': {
              const baseSequence = sequences.get(op.producer) ?? 0;
              sequences.set(op.producer, baseSequence + op.records.length);
              const records = op.records.map((r) => ({ ...r, timestamp: now }));
              await append(buildRecordBatch(records, { producerId: op.producer, producerEpoch: 0, baseSequence, transactional: true }));
              await append(buildControlBatch(op.commit, op.producer, 0));
              model.push(...op.records.map((kv) => ({ kv, committed: op.commit })), null);
              break;
            }
            case 'put':
              await append(buildRecordBatch(op.records.map((r) => ({ ...r, timestamp: now }))));
              model.push(...op.records.map((kv) => ({ kv, committed: true })));
              break;
            case 'tick':
              now += op.ms;
              break;
            case 'compact':
              await logs.runRetention();
              break;
            case 'restart':
              await logs.close();
              logs = await openLogs(dir, { clock });
              break;
            case 'crash-without-snapshots': {
              await crash(logs);
              const partition = join(dir, 't-0');
              for (const name of await readdir(partition)) if (name.endsWith('.snapshot')) await rm(join(partition, name));
              logs = await openLogs(dir, { clock });
              break;
            }
            case 'crash':
              await crash(logs);
              logs = await openLogs(dir, { clock });
              break;
          }
          const log = logs.getLog('t', 0)!;
          assert.equal(log.logEndOffset, model.length);
          assert.equal(log.lastStableOffset, log.highWatermark, 'no transaction is open');
          const read = await readCommitted(log);
          for (const [offset, kv] of read) {
            const expected = model[offset];
            assert.ok(expected, `a record read at ${offset}, where a marker was`);
            assert.ok(expected.committed, `a record of an aborted transaction read at ${offset}`);
            assert.deepEqual(kv, expected.kv, `offset ${offset} unchanged`);
          }
          const latest = new Map<string, number>();
          model.forEach((m, offset) => m?.committed && latest.set(m.kv.key, offset));
          for (const [key, offset] of latest) assert.deepEqual(read.get(offset), model[offset]!.kv, `the latest committed record of ${key}, at ${offset}`);
        }
      } finally {
        await logs.close().catch(() => undefined);
        await cleanup();
      }
    }),
    { numRuns: 60, seed: propertySeed(779), includeErrorInReport: true },
  );
});
