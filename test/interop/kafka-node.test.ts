// kafka-node, a Node client still installed half a million times a month though unmaintained since 2019: it speaks
// the APIs of Kafka 0.10 (Produce v2 and Fetch v2 with 0.10's message format, ListOffsets v0, JoinGroup and
// SyncGroup v0, OffsetCommit v2), which Kafka 4 no longer serves. It cannot be told to send headers or compress with
// anything but gzip here (its snappy needs a native module built at install).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkaNode from 'kafka-node';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { withBroker } from '../helpers/broker.js';
import { assertSameMessages, makeMessages, withoutHeaders, type ConsumedMessage, type TestMessage } from './dataset.js';

const { KafkaClient, Producer, KeyedMessage, Consumer, ConsumerGroup, Offset } = kafkaNode;
const GZIP = 1;

/** kafka-node's callbacks as promises. */
function call<T = void>(fn: (cb: (err?: unknown, data?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, data) => (err ? reject(err instanceof Error ? err : new Error(JSON.stringify(err))) : resolve(data as T))));
}

async function connected(bootstrap: string): Promise<kafkaNode.KafkaClient> {
  const client = new KafkaClient({ kafkaHost: bootstrap, requestTimeout: 30_000 });
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', reject);
  });
  return client;
}

/** Sends each partition's messages in order, 100 to a request, with acks=all; returns the base offset of each request. */
async function produce(client: kafkaNode.KafkaClient, topic: string, messages: TestMessage[], attributes: number): Promise<number[]> {
  const producer = new Producer(client, { requireAcks: -1 });
  // on a client already connected it is ready at once, and says so before a listener could be added
  assert.ok((producer as unknown as { ready: boolean }).ready, 'the producer is ready');
  const baseOffsets: number[] = [];
  const partitions = [...new Set(messages.map((m) => m.partition))];
  for (const partition of partitions) {
    const mine = messages.filter((m) => m.partition === partition);
    for (let i = 0; i < mine.length; i += 100) {
      const batch = mine.slice(i, i + 100).map((m) => new KeyedMessage(m.key as string, m.value as string));
      const acked = await call<Record<string, Record<string, number>>>((cb) => producer.send([{ topic, partition, messages: batch, attributes }], cb));
      baseOffsets.push(acked[topic]![String(partition)]!);
    }
  }
  return baseOffsets;
}

interface NodeMessage {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  timestamp?: Date;
}

const asConsumed = (m: NodeMessage): ConsumedMessage => ({ partition: m.partition, offset: m.offset, key: m.key, value: m.value, headers: [], timestamp: m.timestamp?.getTime() ?? -1 });

/** The first `count` messages a kafka-node consumer emits (its first error, or 60 s without them, fails). */
function take(from: kafkaNode.Consumer | kafkaNode.ConsumerGroup, count: number, who: string): Promise<ConsumedMessage[]> {
  // both declare the same 'message' and 'error' events
  const consumer = from as kafkaNode.Consumer;
  const got: ConsumedMessage[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${who} consumed ${got.length} of ${count} in 60 s`)), 60_000);
    consumer.on('error', reject);
    consumer.on('message', (m) => {
      got.push(asConsumed(m as unknown as NodeMessage));
      if (got.length === count) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

/**
 * Reads `count` messages of the topic's partitions from offset 0 with kafka-node's Consumer (no group), which fetches
 * with v0: 0.8's messages, without timestamps.
 */
async function consume(bootstrap: string, topic: string, partitions: number, count: number): Promise<ConsumedMessage[]> {
  // closing the consumer closes its client
  const client = await connected(bootstrap);
  const topics = Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 }));
  const consumer = new Consumer(client, topics, { autoCommit: false, fromOffset: true, encoding: 'utf8', keyEncoding: 'utf8' });
  try {
    return await take(consumer, count, 'the consumer');
  } finally {
    await call((cb) => consumer.close(false, cb));
  }
}

test('kafka-node: 1,000 messages over 3 partitions, gzip and uncompressed, acks=all, read back exactly; latest offsets by ListOffsets v0', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    const client = await connected(bootstrap);
    try {
      for (const [name, attributes] of [['none', 0], ['gzip', GZIP]] as const) {
        const topic = `kn-${name}`;
        await broker.createTopic(topic, 3, {});
        const messages = withoutHeaders(makeMessages(1000, 3));
        // each partition's 334, 333 and 333 messages in requests of 100: base offsets 0, 100, 200, 300
        assert.deepEqual(await produce(client, topic, messages, attributes), [0, 100, 200, 300, 0, 100, 200, 300, 0, 100, 200, 300]);
        const consumed = await consume(bootstrap, topic, 3, messages.length);
        assertSameMessages(messages, consumed, { checkTimestamps: false });
        assert.ok(consumed.every((m) => m.timestamp === -1), 'magic 0: no timestamps');
        const offset = new Offset(client);
        assert.deepEqual(await call((cb) => offset.fetchLatestOffsets([topic], cb)), { [topic]: { 0: 334, 1: 333, 2: 333 } });
      }
    } finally {
      await call((cb) => client.close(cb));
    }
  });
});

test('kafka-node reads what kafkajs produced (gzip batches with headers), without the headers', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('modern', 2, {});
    const messages = makeMessages(500, 2);
    const producer = new Kafka({ clientId: 'kn-test', brokers: [bootstrap], logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    try {
      for (const partition of [0, 1]) {
        await producer.send({
          topic: 'modern', acks: -1, compression: CompressionTypes.GZIP,
          messages: messages.filter((m) => m.partition === partition).map((m) => ({ partition, key: m.key, value: m.value, timestamp: String(m.timestamp), headers: Object.fromEntries(m.headers) })),
        });
      }
    } finally {
      await producer.disconnect();
    }
    assertSameMessages(withoutHeaders(messages), await consume(bootstrap, 'modern', 2, messages.length), { checkTimestamps: false });
  });
});

/** A kafka-node group member that takes `count` messages, then leaves, committing what it took. */
async function groupMember(bootstrap: string, group: string, topic: string, count: number): Promise<ConsumedMessage[]> {
  const member = new ConsumerGroup({ kafkaHost: bootstrap, groupId: group, fromOffset: 'earliest', encoding: 'utf8', keyEncoding: 'utf8', autoCommit: true, autoCommitIntervalMs: 100, sessionTimeout: 6000 }, [topic]);
  try {
    return await take(member, count, 'the group member');
  } finally {
    await call((cb) => member.close(true, cb));
  }
}

test('kafka-node group (JoinGroup and SyncGroup v0, OffsetCommit v2): a member takes everything and leaves; the next resumes at its commits', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('kn-g-topic', 3, {});
    const client = await connected(bootstrap);
    try {
      const first = withoutHeaders(makeMessages(300, 3));
      const before = Date.now();
      await produce(client, 'kn-g-topic', first, GZIP);
      const after = Date.now();
      const consumed = await groupMember(bootstrap, 'kn-g', 'kn-g-topic', first.length);
      assertSameMessages(first, consumed, { checkTimestamps: false });
      // a group fetches with v2: 0.10's messages, with the timestamps kafka-node gave them as it sent them
      assert.ok(consumed.every((m) => m.timestamp >= before && m.timestamp <= after), 'timestamps of the time of sending');
      const admin = new Kafka({ clientId: 'kn-test', brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        const [committed] = await admin.fetchOffsets({ groupId: 'kn-g', topics: ['kn-g-topic'] });
        assert.deepEqual(committed!.partitions.map((p) => [p.partition, p.offset]).sort(), [[0, '100'], [1, '100'], [2, '100']]);
      } finally {
        await admin.disconnect();
      }
      const more = withoutHeaders(makeMessages(90, 3)).map((m, i) => ({ ...m, value: `more-${i}` }));
      await produce(client, 'kn-g-topic', more, 0);
      const resumed = await groupMember(bootstrap, 'kn-g', 'kn-g-topic', more.length);
      assert.deepEqual(resumed.map((m) => m.value).sort(), more.map((m) => m.value).sort());
      assert.deepEqual([...new Set(resumed.map((m) => m.offset))].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => 100 + i));
    } finally {
      await call((cb) => client.close(cb));
    }
  });
});
