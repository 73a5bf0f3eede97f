// Every compression codec, produced by one client and read by another: batches are stored as sent (or, for a
// topic with a compression.type, recompressed), so whatever one client compresses, another must read unchanged.
import { test } from 'node:test';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { withBroker } from '../helpers/broker.js';
import type { RunningBroker } from '../../src/index.js';
import { assertSameMessages, makeMessages } from './dataset.js';
import { pythonConsume, pythonProduce } from './python-clients.js';
import assert from 'node:assert/strict';
import { decodeRecordBatches } from '../../src/protocol/records.js';

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

/** The codecs of every batch stored in a topic's partitions. */
async function storedCodecs(b: RunningBroker, topic: string): Promise<Set<number>> {
  const codecs = new Set<number>();
  for (const log of b.broker.logs.requireTopic(topic).partitions) {
    for (const batch of decodeRecordBatches((await log.read(0, 64 << 20)).records)) codecs.add(batch.info.attributes & 7);
  }
  return codecs;
}

test("a topic's compression.type recompresses what clients send, and other clients read it unchanged", async () => {
  await withBroker(async (b) => {
    await b.broker.createTopic('to-zstd', 3, { 'compression.type': 'zstd' });
    await b.broker.createTopic('to-plain', 3, { 'compression.type': 'uncompressed' });
    const messages = makeMessages(2000, 3);
    assert.deepEqual(await pythonProduce('confluent', b.bootstrap, 'to-zstd', messages, 'snappy'), { errors: [], unflushed: 0 });
    assert.deepEqual(await storedCodecs(b, 'to-zstd'), new Set([4]));
    assertSameMessages(messages, await pythonConsume('kp', b.bootstrap, 'to-zstd', 3, messages.length));
    assertSameMessages(messages, await pythonConsume('confluent', b.bootstrap, 'to-zstd', 3, messages.length));
    assert.deepEqual(await pythonProduce('kp', b.bootstrap, 'to-plain', messages, 'lz4'), { errors: [], unflushed: 0 });
    assert.deepEqual(await storedCodecs(b, 'to-plain'), new Set([0]));
    assertSameMessages(messages, await pythonConsume('confluent', b.bootstrap, 'to-plain', 3, messages.length));
  });
});
