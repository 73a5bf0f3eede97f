// The newest librdkafka, through Confluent's Node client @confluentinc/kafka-javascript (KafkaJS-style API): admin,
// idempotent produce with every codec, consume back exactly, offsets by time, DeleteRecords, transactions. The broker
// runs in a process of its own (see withCliBroker).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withCliBroker } from '../helpers/cli-broker.js';
import { until } from '../helpers/until.js';
import { assertSameMessages, makeMessages, type ConsumedMessage, type TestMessage } from './dataset.js';
import { kafkaJavascript, kjsKafka, type KjsConsumer, type KjsKafka, type KjsMessage } from './kafka-javascript.js';

function toConsumed(partition: number, m: KjsMessage): ConsumedMessage {
  return {
    partition,
    offset: Number(m.offset),
    key: m.key === null ? null : m.key.toString(),
    value: m.value === null ? null : m.value.toString(),
    headers: Object.entries(m.headers ?? {}).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((one) => [k, one.toString()] as [string, string])),
    timestamp: Number(m.timestamp),
  };
}

/** Reads `count` messages of `topic` from the beginning in a group of its own. */
async function consumeAll(kafka: KjsKafka, topic: string, count: number, extra: Record<string, unknown> = {}): Promise<ConsumedMessage[]> {
  const consumer: KjsConsumer = kafka.consumer({ kafkaJS: { groupId: `read-${topic}`, fromBeginning: true }, ...extra });
  const consumed: ConsumedMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({ eachMessage: async ({ partition, message }) => void consumed.push(toConsumed(partition, message)) });
    await until(() => consumed.length >= count, `${count} messages of ${topic}`, 60_000);
  } finally {
    await consumer.disconnect();
  }
  return consumed;
}

const toSend = (m: TestMessage) => ({ key: m.key, value: m.value, partition: m.partition, timestamp: String(m.timestamp), headers: Object.fromEntries(m.headers) });

test('@confluentinc/kafka-javascript: create, idempotent acks=all produce with every codec, consume back exactly, offsets by time, DeleteRecords, delete', async () => {
  const { KafkaJS, librdkafkaVersion } = kafkaJavascript();
  // the point of this client: a librdkafka much newer than Debian's
  assert.match(librdkafkaVersion, /^2\.(1[0-9]|[2-9][0-9])\./);
  await withCliBroker([], async ({ bootstrap, dataDir }) => {
    const kafka = kjsKafka(bootstrap);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const codecs = ['None', 'GZIP', 'SNAPPY', 'LZ4', 'ZSTD'] as const;
      await admin.createTopics({ topics: codecs.map((codec) => ({ topic: `kjs-${codec}`, numPartitions: 3 })) });
      assert.deepEqual((await admin.listTopics()).filter((t) => t.startsWith('kjs-')).sort(), codecs.map((c) => `kjs-${c}`).sort());
      const messages = makeMessages(3000, 3);
      for (const codec of codecs) {
        const topic = `kjs-${codec}`;
        const producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1, compression: KafkaJS.CompressionTypes[codec] }, 'linger.ms': 5 });
        await producer.connect();
        try {
          for (let i = 0; i < messages.length; i += 500) {
            const results = await producer.send({ topic, messages: messages.slice(i, i + 500).map(toSend) });
            assert.ok(results.every((r) => r.errorCode === 0), `${codec}: ${JSON.stringify(results)}`);
          }
        } finally {
          await producer.disconnect();
        }
        const consumed = await consumeAll(kafka, topic, messages.length);
        // this client's producer sends an empty value as null under Node 20 (kafkajs reads those records as null too)
        // and as empty under Node 22: either is taken where the value sent was empty (message i is at partition i % 3,
        // offset i / 3), a null sent must still come back null
        for (const m of consumed) if (m.value === null && messages[m.offset * 3 + m.partition]?.value === '') m.value = '';
        assertSameMessages(messages, consumed);
        // stored as the client compressed it: the codec bits of the first batch's attributes (after base offset,
        // length, leader epoch, magic and CRC)
        const segment = await readFile(join(dataDir, `${topic}-0`, '00000000000000000000.log'));
        assert.equal(segment.readInt16BE(8 + 4 + 4 + 1 + 4) & 7, { None: 0, GZIP: 1, SNAPPY: 2, LZ4: 3, ZSTD: 4 }[codec], `${codec} attribute`);
      }

      // message i went to partition i % 3 at offset floor(i / 3); the first at or after message 600's time
      const byTime = await admin.fetchTopicOffsetsByTimestamp('kjs-None', messages[600]!.timestamp);
      assert.deepEqual(byTime.map((p) => [p.partition, Number(p.offset)]).sort(), [[0, 200], [1, 200], [2, 200]]);
      await admin.deleteTopicRecords({ topic: 'kjs-None', partitions: [{ partition: 1, offset: '250' }] });
      const offsets = await admin.fetchTopicOffsets('kjs-None');
      assert.deepEqual(offsets.map((p) => [p.partition, Number(p.low), Number(p.high)]).sort(), [[0, 0, 1000], [1, 250, 1000], [2, 0, 1000]]);

      await admin.deleteTopics({ topics: codecs.map((c) => `kjs-${c}`) });
      assert.deepEqual((await admin.listTopics()).filter((t) => t.startsWith('kjs-')), []);
    } finally {
      await admin.disconnect();
    }
  });
});

test('@confluentinc/kafka-javascript: consume-transform-produce in transactions; read_committed sees the committed ones once, and the group resumes after them', async () => {
  await withCliBroker([], async ({ bootstrap }) => {
    const kafka = kjsKafka(bootstrap);
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1 } });
    const tx = kafka.producer({ kafkaJS: { transactionalId: 'kjs-tx', idempotent: true, maxInFlightRequests: 1 } });
    const consumer = kafka.consumer({ kafkaJS: { groupId: 'kjs-etl', fromBeginning: true, autoCommit: false } });
    try {
      await admin.createTopics({ topics: [{ topic: 'kjs-in', numPartitions: 2 }, { topic: 'kjs-out', numPartitions: 2 }] });
      await producer.connect();
      await producer.send({ topic: 'kjs-in', messages: Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: `in-${i}`, partition: i % 2 })) });
      await tx.connect();
      await consumer.connect();
      await consumer.subscribe({ topics: ['kjs-in'] });
      // each input message is transformed in a transaction of its own with its offset; every third is aborted
      let seen = 0;
      const aborted: string[] = [];
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          seen++;
          const value = message.value!.toString();
          const t = await tx.transaction();
          await t.send({ topic: 'kjs-out', messages: [{ key: message.key!.toString(), value: value.toUpperCase(), partition }] });
          await t.sendOffsets({ consumer, topics: [{ topic: 'kjs-in', partitions: [{ partition, offset: String(Number(message.offset) + 1) }] }] });
          if (Number(value.slice(3)) % 3 === 0 && !aborted.includes(value)) {
            await t.abort();
            aborted.push(value);
            // not committed: read it again, and this time commit it
            throw new Error(`abort ${value} once`);
          }
          await t.commit();
        },
      });
      await until(() => seen >= 40 + aborted.length && aborted.length === 14, 'every input transformed', 60_000);
      await consumer.disconnect();

      const committed = await consumeAll(kafka, 'kjs-out', 40, { kafkaJS: { groupId: 'read-kjs-out', fromBeginning: true }, 'isolation.level': 'read_committed' });
      assert.deepEqual(committed.map((m) => m.value).sort(), Array.from({ length: 40 }, (_, i) => `IN-${i}`).sort());
      // the aborted attempts are in the log too, and a read_uncommitted reader sees them
      const everything = await consumeAll(kafka, 'kjs-out', 54, { kafkaJS: { groupId: 'read-all-kjs-out', fromBeginning: true }, 'isolation.level': 'read_uncommitted' });
      assert.equal(everything.length, 54);
      const offsets = await admin.fetchOffsets({ groupId: 'kjs-etl', topics: ['kjs-in'] });
      assert.deepEqual(offsets[0]!.partitions.map((p) => [p.partition, Number(p.offset)]).sort(), [[0, 20], [1, 20]]);
    } finally {
      await tx.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});

// Admin tools show an action only where the broker says it is allowed: with no authorizer, every operation a
// resource type supports, as Kafka without one answers.
test('@confluentinc/kafka-javascript admin: topics and groups described with the operations allowed on them; groups listed by state and deleted', async () => {
  const { KafkaJS } = kafkaJavascript();
  const { ConsumerGroupStates: state, AclOperationTypes: op } = KafkaJS;
  const sorted = (ops: number[] | undefined) => [...(ops ?? [])].sort((a, b) => a - b);
  await withCliBroker([], async ({ bootstrap }) => {
    const kafka = kjsKafka(bootstrap);
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({ kafkaJS: { acks: -1 } });
    await producer.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'kjs-admin', numPartitions: 2 }] });
      const [topic] = await admin.fetchTopicMetadata({ topics: ['kjs-admin'], includeAuthorizedOperations: true });
      assert.deepEqual(topic!.partitions.map((p) => p.partitionId), [0, 1]);
      assert.deepEqual(sorted(topic!.authorizedOperations), sorted([op.READ, op.WRITE, op.CREATE, op.DELETE, op.ALTER, op.DESCRIBE, op.DESCRIBE_CONFIGS, op.ALTER_CONFIGS]));
      const [unasked] = await admin.fetchTopicMetadata({ topics: ['kjs-admin'] });
      assert.equal(unasked!.authorizedOperations, undefined);

      await producer.send({ topic: 'kjs-admin', messages: [0, 1, 0, 1].map((partition, i) => ({ value: `m${i}`, partition })) });
      const consumer = kafka.consumer({ kafkaJS: { groupId: 'kjs-viewers', fromBeginning: true, autoCommit: false } });
      await consumer.connect();
      let consumed = 0;
      try {
        await consumer.subscribe({ topics: ['kjs-admin'] });
        await consumer.run({ eachMessage: async () => void consumed++ });
        await until(() => consumed === 4, 'the group to consume the four messages', 60_000);
        await consumer.commitOffsets([{ topic: 'kjs-admin', partition: 0, offset: '2' }, { topic: 'kjs-admin', partition: 1, offset: '1' }]);
        const { groups } = await admin.describeGroups(['kjs-viewers', 'kjs-nobody'], { includeAuthorizedOperations: true });
        const [viewers, nobody] = groups;
        assert.deepEqual([viewers!.groupId, viewers!.state, viewers!.protocolType, viewers!.members.length], ['kjs-viewers', state.STABLE, 'consumer', 1]);
        assert.deepEqual(viewers!.members[0]!.assignment.topicPartitions.map((tp) => [tp.topic, tp.partition]).sort(), [['kjs-admin', 0], ['kjs-admin', 1]]);
        assert.deepEqual(sorted(viewers!.authorizedOperations), sorted([op.READ, op.DESCRIBE, op.DELETE]));
        // an unknown group is Dead, as in Kafka, and the operations are still answered
        assert.deepEqual([nobody!.groupId, nobody!.state, sorted(nobody!.authorizedOperations)], ['kjs-nobody', state.DEAD, sorted([op.READ, op.DESCRIBE, op.DELETE])]);
        const listed = await admin.listGroups({ matchConsumerGroupStates: [state.STABLE] });
        assert.deepEqual(listed.groups.map((g) => [g.groupId, g.protocolType, g.state]), [['kjs-viewers', 'consumer', state.STABLE]]);
      } finally {
        await consumer.disconnect();
      }

      assert.deepEqual((await admin.listGroups({ matchConsumerGroupStates: [state.STABLE] })).groups, []);
      assert.deepEqual((await admin.listGroups({ matchConsumerGroupStates: [state.EMPTY] })).groups.map((g) => g.groupId), ['kjs-viewers']);
      const [offsets] = await admin.fetchOffsets({ groupId: 'kjs-viewers', topics: ['kjs-admin'] });
      assert.deepEqual(offsets!.partitions.map((p) => [p.partition, p.offset]).sort(), [[0, '2'], [1, '1']]);
      assert.deepEqual((await admin.deleteGroups(['kjs-viewers'])).map((r) => [r.groupId, r.errorCode]), [['kjs-viewers', 0]]);
      assert.deepEqual((await admin.listGroups()).groups, []);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
