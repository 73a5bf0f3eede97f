// Idempotent producers: librdkafka with enable.idempotence=true (as the Java client defaults to) keeps
// producing through a link that keeps dropping, and the topic holds every record exactly once, in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { RECORDS_THREAD_MIN_BYTES } from '../../src/broker/records-work.js';
import { preparationBytes, preparationFor } from '../../src/broker/produced-records.js';
import { Compression } from '../../src/protocol/compression.js';
import { Attributes, batchInfoAt, batchSizeAt, type BatchInfo } from '../../src/protocol/record-batch.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { withBroker } from '../helpers/broker.js';
import { RecordingProxy } from '../helpers/recording-proxy.js';
import { python, pythonConsume } from './python-clients.js';

test('librdkafka idempotent producer through a link cut every 25 requests: each record exactly once, in order', async (t) => {
  const proxy = await RecordingProxy.start();
  try {
    await withBroker(async ({ broker }) => {
      proxy.targetPort = broker.port;
      await broker.createTopic('exactly', 1, {});
      const bootstrap = `127.0.0.1:${proxy.port}`;
      proxy.cutEveryFrames = 25;
      const [report] = await python('confluent-produce-idempotent', [bootstrap, 'exactly', '50000']);
      proxy.cutEveryFrames = 0;
      const cuts = proxy.cuts;
      assert.deepEqual(report, { errors: [], unflushed: 0 });
      assert.ok(cuts >= 5, `the link was cut ${cuts} times`);
      t.diagnostic(`link cut ${cuts} times; ${broker.logs.getLog('exactly', 0)!.duplicatesDropped} retried batches dropped as duplicates`);
      const consumed = await pythonConsume('confluent', `127.0.0.1:${broker.port}`, 'exactly', 1, 50_000);
      assert.equal(consumed.length, 50_000);
      assert.deepEqual(consumed.map((m) => m.value), Array.from({ length: 50_000 }, (_, i) => `v-${i}`));
      assert.deepEqual(consumed.map((m) => m.offset), Array.from({ length: 50_000 }, (_, i) => i));
    }, { advertisedPort: proxy.port });
  } finally {
    await proxy.close();
  }
});

/** The batches `log` stores, read straight from it: each one's bytes and header. */
async function storedBatches(log: PartitionLog): Promise<{ raw: Buffer; info: BatchInfo }[]> {
  const batches: { raw: Buffer; info: BatchInfo }[] = [];
  for (let offset = log.logStartOffset; offset < log.logEndOffset; ) {
    const { records } = await log.read(offset, 8 << 20);
    for (let at = 0; at < records.length; ) {
      const size = batchSizeAt(records, at);
      const info = batchInfoAt(records, at, size);
      batches.push({ raw: records.subarray(at, at + size), info });
      offset = info.baseOffset + info.lastOffsetDelta + 1;
      at += size;
    }
  }
  return batches;
}

test('librdkafka idempotent producer, gzip batches of 7,000 and 300 keyed records in turn to a compacted topic through a link cut every 10 requests: the large ones checked in the records thread, every record once, in order', async (t) => {
  const proxy = await RecordingProxy.start();
  try {
    await withBroker(async ({ broker }) => {
      proxy.targetPort = broker.port;
      await broker.createTopic('keyed', 1, { 'cleanup.policy': 'compact' });
      proxy.cutEveryFrames = 10;
      const [report] = await python('confluent-produce-idempotent', [`127.0.0.1:${proxy.port}`, 'keyed', '150000', 'gzip', '7000', '1', '7000,300']);
      proxy.cutEveryFrames = 0;
      assert.deepEqual(report, { errors: [], unflushed: 0 });
      const bootstrap = `127.0.0.1:${broker.port}`;
      // stored as sent (the topic keeps the producer's codec): judged as the produce handler judged them
      const log = broker.logs.getLog('keyed', 0)!;
      const where = { thread: 0, loop: 0 };
      for (const { raw } of await storedBatches(log)) {
        where[preparationBytes(raw, preparationFor(9, log.config, Date.now())) >= RECORDS_THREAD_MIN_BYTES ? 'thread' : 'loop']++;
      }
      t.diagnostic(`link cut ${proxy.cuts} times; stored batches prepared in the thread ${where.thread}, on the event loop ${where.loop}`);
      assert.ok(proxy.cuts >= 2 && where.thread > 0 && where.loop > 0, JSON.stringify({ cuts: proxy.cuts, ...where }));
      const consumed = await pythonConsume('confluent', bootstrap, 'keyed', 1, 150_000);
      assert.deepEqual(consumed.map((m) => [m.offset, m.key, m.value]), Array.from({ length: 150_000 }, (_, i) => [i, `k${i}`, `v-${i}`]));
    }, { advertisedPort: proxy.port });
  } finally {
    await proxy.close();
  }
});

test('librdkafka idempotent producer, lz4 batches to a topic that stores zstd: re-encoded in the records thread, every record once, in order', async (t) => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('recoded', 1, { 'compression.type': 'zstd' });
    const [report] = await python('confluent-produce-idempotent', [bootstrap, 'recoded', '100000', 'lz4', '10000']);
    assert.deepEqual(report, { errors: [], unflushed: 0 });
    const consumed = await pythonConsume('confluent', bootstrap, 'recoded', 1, 100_000);
    assert.deepEqual(consumed.map((m) => [m.offset, m.value]), Array.from({ length: 100_000 }, (_, i) => [i, `v-${i}`]));
    const stored = await storedBatches(broker.logs.getLog('recoded', 0)!);
    t.diagnostic(`${stored.length} batches stored`);
    assert.ok(stored.every(({ info }) => (info.attributes & Attributes.COMPRESSION_MASK) === Compression.ZSTD));
  });
});

test('kafkajs idempotent producer: InitProducerId, sequences, every record once', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('kjs-idem', 1, {});
    const producer = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      for (let i = 0; i < 20; i++) {
        await producer.send({ topic: 'kjs-idem', messages: Array.from({ length: 50 }, (_, j) => ({ value: `v-${i * 50 + j}`, partition: 0 })) });
      }
    } finally {
      await producer.disconnect();
    }
    const consumed = await pythonConsume('confluent', bootstrap, 'kjs-idem', 1, 1000);
    assert.deepEqual(consumed.map((m) => m.value), Array.from({ length: 1000 }, (_, i) => `v-${i}`));
    assert.equal(broker.logs.getLog('kjs-idem', 0)!.producers.size, 1);
  });
});
