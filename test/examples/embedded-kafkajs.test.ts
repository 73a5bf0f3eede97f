// Example: testing a Node app against a real Kafka-protocol broker, no Docker. Shown in the README.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker, type RunningBroker } from '../../src/index.js'; // in your project: from 'sluice'

let broker: RunningBroker;

before(async () => {
  broker = await startBroker(); // 127.0.0.1, a free port, a temporary data dir removed on close
});

after(async () => {
  await broker.close();
});

test('an app publishes order events and a consumer group reads them, with kafkajs', async () => {
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer();
  await admin.connect();
  await producer.connect();
  try {
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }] });
    await producer.send({ topic: 'orders', messages: [{ key: 'order-1', value: 'created' }, { key: 'order-1', value: 'paid' }] });
    const offsets = await admin.fetchTopicOffsets('orders');
    assert.equal(offsets.reduce((n, p) => n + Number(p.high), 0), 2);

    const consumer = kafka.consumer({ groupId: 'billing' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    const seen: string[] = [];
    await new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(`${message.key}:${message.value}`);
          if (seen.length === 2) resolve();
        },
      });
    });
    await consumer.disconnect();
    assert.deepEqual(seen, ['order-1:created', 'order-1:paid']); // same key, same partition, in order
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
});
