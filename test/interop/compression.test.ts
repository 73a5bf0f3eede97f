// Every compression codec, produced by one client and read by another: batches are stored as sent, so
// whatever one client compresses, another must decompress unchanged.
import { test } from 'node:test';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { withBroker } from '../helpers/broker.js';
import { assertSameMessages, makeMessages } from './dataset.js';
import { pythonConsume, pythonProduce } from './python-clients.js';
import assert from 'node:assert/strict';

const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const;

test('each codec written by librdkafka is read by kafka-python, and the other way round', async () => {
  await withBroker(async ({ bootstrap }) => {
    for (const codec of CODECS) {
      const messages = makeMessages(2000, 3);
      const a = `rdk-to-kp-${codec}`;
      assert.deepEqual(await pythonProduce('confluent', bootstrap, a, messages, codec), { errors: [], unflushed: 0 });
      assertSameMessages(messages, await pythonConsume('kp', bootstrap, a, 3, messages.length));
      const b = `kp-to-rdk-${codec}`;
      assert.deepEqual(await pythonProduce('kp', bootstrap, b, messages, codec), { errors: [], unflushed: 0 });
      assertSameMessages(messages, await pythonConsume('confluent', bootstrap, b, 3, messages.length));
    }
  }, { defaultPartitions: 3 });
});

test('gzip written by kafkajs is read by librdkafka', async () => {
  await withBroker(async ({ bootstrap }) => {
    const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const messages = makeMessages(2000, 3);
    try {
      await producer.send({
        topic: 'kjs-gzip', acks: -1, compression: CompressionTypes.GZIP,
        messages: messages.map((m) => ({ key: m.key, value: m.value, partition: m.partition, timestamp: String(m.timestamp), headers: Object.fromEntries(m.headers) })),
      });
    } finally {
      await producer.disconnect();
    }
    assertSameMessages(messages, await pythonConsume('confluent', bootstrap, 'kjs-gzip', 3, messages.length));
  }, { defaultPartitions: 3 });
});
