// Idempotent producers: librdkafka with enable.idempotence=true (as the Java client defaults to) keeps
// producing through a link that keeps dropping, and the topic holds every record exactly once, in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
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
