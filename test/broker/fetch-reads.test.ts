// Fetch reads its partitions together, in waves, yet answers as one pass in request order would: checked against
// that pass, done here with the partitions' own reads, one after another.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ErrorCode } from '../../src/protocol/errors.js';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { withClient } from '../helpers/broker.js';
import { propertySeed } from '../helpers/property-seed.js';

const API = { PRODUCE: 0, FETCH: 1 } as const;
const PARTITIONS = 6;
/** 't' keeps each partition in one segment; 'r' rolls often, so a fetch offset may lie in an earlier segment. */
const TOPICS: { name: string; configs: Record<string, string> }[] = [
  { name: 't', configs: {} },
  { name: 'r', configs: { 'segment.bytes': '3000' } },
];

interface Wanted {
  topic: string;
  partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
}

/** What each partition answers: its error code and the offsets of the batches it returns. */
type Answer = { errorCode: number; offsets: number[] };

/** The pass in request order: each partition read with what its partition_max_bytes and max_bytes leave it. */
async function oneByOne(logs: (topic: string, partition: number) => PartitionLog, wanted: Wanted[], maxBytes: number): Promise<Answer[]> {
  let budget = maxBytes;
  let total = 0;
  const answers: Answer[] = [];
  for (const w of wanted) {
    const log = logs(w.topic, w.partition);
    const limit = Math.min(w.partitionMaxBytes, budget);
    try {
      if (!(limit > 0 || total === 0)) {
        // no room left: nothing read, but an offset out of range is still reported
        log.checkReadable(w.fetchOffset);
        answers.push({ errorCode: 0, offsets: [] });
        continue;
      }
      const { records } = await log.read(w.fetchOffset, Math.max(limit, 1));
      answers.push({ errorCode: 0, offsets: decodeRecordBatches(records).map((b) => b.info.baseOffset) });
      total += records.length;
      budget -= records.length;
    } catch (err) {
      answers.push({ errorCode: (err as { code: number }).code, offsets: [] });
    }
  }
  return answers;
}

test('Fetch over many partitions answers as a pass in request order would: the same batches within partition_max_bytes and max_bytes, the first always whole', async () => {
  await withClient(async (c, b) => {
    const counts = new Map<string, number>();
    // batches of 60 B to 2.6 KB, 0 to 12 per partition, the same sizes in every run
    const sizes = fc.sample(fc.array(fc.integer({ min: 0, max: 2500 }), { minLength: 0, maxLength: 12 }), { numRuns: TOPICS.length * PARTITIONS, seed: 7 });
    for (const [t, { name, configs }] of TOPICS.entries()) {
      await b.broker.createTopic(name, PARTITIONS, configs);
      for (let p = 0; p < PARTITIONS; p++) {
        const batches = sizes[t * PARTITIONS + p]!;
        for (const size of batches) {
          const res = await c.send(API.PRODUCE, 9, {
            transactionalId: null, acks: -1, timeoutMs: 5000,
            topicData: [{ name, partitionData: [{ index: p, records: buildRecordBatch([{ value: 'x'.repeat(size) }]) }] }],
          });
          assert.equal(res.responses[0].partitionResponses[0].errorCode, 0);
        }
        counts.set(`${name}-${p}`, batches.length);
      }
    }
    assert.ok(Array.from({ length: PARTITIONS }, (_, p) => b.broker.logs.getLog('r', p)!.segments.length).some((n) => n > 2), 'topic r rolled');
    const logs = (topic: string, partition: number) => b.broker.logs.getLog(topic, partition)!;

    const wantedArb = fc
      .tuple(
        fc.shuffledSubarray([...counts.keys()], { minLength: 1 }),
        fc.array(fc.tuple(fc.nat(14), fc.oneof(fc.constant(0), { weight: 2, arbitrary: fc.integer({ min: 0, max: 3000 }) }, fc.integer({ min: 0, max: 9000 }), fc.constant(1 << 20))), { minLength: TOPICS.length * PARTITIONS, maxLength: TOPICS.length * PARTITIONS }),
      )
      .map(([keys, params]) =>
        keys.map((key, i): Wanted => {
          const [topic, partition] = key.split('-') as [string, string];
          const [offsetDraw, partitionMaxBytes] = params[i]!;
          // mostly within the log, now and then at its end or past it (OFFSET_OUT_OF_RANGE)
          const fetchOffset = Math.min(offsetDraw, counts.get(key)! + 1);
          return { topic, partition: Number(partition), fetchOffset, partitionMaxBytes };
        }),
      );
    await fc.assert(
      fc.asyncProperty(wantedArb, fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 6000 }) }, fc.integer({ min: 0, max: 30000 }), fc.constant(50 << 20)), async (wanted, maxBytes) => {
        // the request names each topic once, its partitions in the order drawn: the pass follows that order
        const byTopic = TOPICS.map(({ name }) => ({ topic: name, partitions: wanted.filter((w) => w.topic === name) })).filter((t) => t.partitions.length > 0);
        const ordered = byTopic.flatMap((t) => t.partitions);
        const expected = await oneByOne(logs, ordered, maxBytes);
        const res = await c.send(API.FETCH, 11, {
          replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
          topics: byTopic.map((t) => ({ topic: t.topic, partitions: t.partitions.map((w) => ({ partition: w.partition, fetchOffset: w.fetchOffset, partitionMaxBytes: w.partitionMaxBytes })) })),
          forgottenTopicsData: [], rackId: '',
        });
        const answered: Answer[] = res.responses.flatMap((t: { partitions: { errorCode: number; records: Buffer }[] }) =>
          t.partitions.map((p) => ({ errorCode: p.errorCode, offsets: decodeRecordBatches(p.records).map((batch) => batch.info.baseOffset) })),
        );
        assert.deepEqual(answered, expected);
      }),
      { numRuns: 1000, seed: propertySeed(11) },
    );
  });
});

test('Fetch answers a partition with nothing past the fetch offset without reading it, and reads the others', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('q', 3, {});
    const res = await c.send(API.PRODUCE, 9, {
      transactionalId: null, acks: -1, timeoutMs: 5000,
      topicData: [{ name: 'q', partitionData: [{ index: 0, records: buildRecordBatch([{ value: 'x' }, { value: 'y' }]) }] }],
    });
    assert.equal(res.responses[0].partitionResponses[0].errorCode, 0);
    const reads: number[] = [];
    for (let p = 0; p < 3; p++) {
      const log = b.broker.logs.getLog('q', p)!;
      const read = log.read.bind(log);
      log.read = (...args) => {
        reads.push(p);
        return read(...args);
      };
    }
    const fetch = async (offsets: number[]) => {
      const out = await c.send(API.FETCH, 11, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic: 'q', partitions: offsets.map((fetchOffset, partition) => ({ partition, fetchOffset, partitionMaxBytes: 1 << 20 })) }],
        forgottenTopicsData: [], rackId: '',
      });
      return out.responses[0].partitions.map((p: { errorCode: number; highWatermark: bigint | number; lastStableOffset: bigint | number; logStartOffset: bigint | number; records: Buffer }) =>
        [p.errorCode, Number(p.highWatermark), Number(p.lastStableOffset), Number(p.logStartOffset), decodeRecordBatches(p.records).length]);
    };
    // caught up everywhere: no read at all, each partition answered with its offsets
    assert.deepEqual(await fetch([2, 0, 0]), [[0, 2, 2, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]);
    assert.deepEqual(reads, []);
    // behind on partition 0, past the end on partition 2 (a read refuses it)
    assert.deepEqual(await fetch([0, 0, 1]), [[0, 2, 2, 0, 1], [0, 0, 0, 0, 0], [ErrorCode.OFFSET_OUT_OF_RANGE, 0, 0, 0, 0]]);
    assert.deepEqual(reads, [0, 2]);
  });
});
