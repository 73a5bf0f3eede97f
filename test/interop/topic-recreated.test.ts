// A topic deleted and made again under the same name, as test suites do between tests: its consumer group's
// committed offsets go with the old topic (as in Kafka), so the group reads the new topic from where it says to
// start, not from the old topic's positions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import { startBroker, type RunningBroker } from '../../src/index.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

const OFFSET_FETCH = 9;

async function committed(b: RunningBroker, group: string, topic: string): Promise<number[]> {
  const c = await KafkaClient.connectTo(b.bootstrap);
  try {
    const res = await c.send(OFFSET_FETCH, 7, { groupId: group, topics: [{ name: topic, partitionIndexes: [0, 1] }], requireStable: false });
    return res.topics[0].partitions.map((p: { committedOffset: number }) => p.committedOffset);
  } finally {
    c.close();
  }
}

/** Consumes `count` messages of `topic` in group `g` from the beginning, committing each; returns their values by partition. */
async function consumeAll(kafka: Kafka, topic: string, count: number): Promise<string[]> {
  const consumer: Consumer = kafka.consumer({ groupId: 'g', maxWaitTimeInMs: 100 });
  const seen: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ partition, message }) => void seen.push(`${partition}:${message.value!.toString()}`) });
    await until(() => seen.length >= count, `${count} messages of ${topic}`);
    // the commit of the last ones: kafkajs commits what eachMessage returned from when it disconnects
  } finally {
    await consumer.disconnect();
  }
  return seen.sort();
}

test('kafkajs: a topic deleted and made again starts its group at the beginning, not at the old committed offsets; also after a restart', async () => {
  await withTempDir(async (dataDir) => {
    let b = await startBroker({ dataDir });
    try {
      const kafka = new Kafka({ clientId: 'recreate', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      const producer = kafka.producer();
      await admin.connect();
      await producer.connect();
      try {
        await admin.createTopics({ topics: [{ topic: 't', numPartitions: 2 }, { topic: 'kept', numPartitions: 1 }], waitForLeaders: true });
        const send = (topic: string, values: string[], partition = 0) => producer.send({ topic, acks: -1, messages: values.map((value) => ({ value, partition })) });
        await send('t', ['a1', 'a2', 'a3', 'a4']);
        await send('t', ['b1', 'b2'], 1);
        await send('kept', ['k1', 'k2']);
        assert.deepEqual(await consumeAll(kafka, 't', 6), ['0:a1', '0:a2', '0:a3', '0:a4', '1:b1', '1:b2']);
        assert.equal((await consumeAll(kafka, 'kept', 2)).length, 2);
        assert.deepEqual(await committed(b, 'g', 't'), [4, 2]);

        await admin.deleteTopics({ topics: ['t'] });
        assert.deepEqual(await committed(b, 'g', 't'), [-1, -1]);
        assert.deepEqual(await committed(b, 'g', 'kept'), [2, -1]);
        await admin.createTopics({ topics: [{ topic: 't', numPartitions: 2 }], waitForLeaders: true });
        await send('t', ['c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
        await send('t', ['d1'], 1);
        // with the old offsets (4 and 2) the group would have started at c5, never reading c1 to c4
        assert.deepEqual(await consumeAll(kafka, 't', 7), ['0:c1', '0:c2', '0:c3', '0:c4', '0:c5', '0:c6', '1:d1']);
        assert.deepEqual(await committed(b, 'g', 't'), [6, 1]);
      } finally {
        await producer.disconnect();
        await admin.disconnect();
      }
      // the deletion's tombstones hold across a restart; the new topic's offsets are kept
      await b.close();
      b = await startBroker({ dataDir });
      assert.deepEqual(await committed(b, 'g', 't'), [6, 1]);
      assert.deepEqual(await committed(b, 'g', 'kept'), [2, -1]);

      // a deletion whose offsets a crash kept (the topic's files gone, the tombstones never written) is finished at start
      await b.broker.logs.deleteTopic('kept');
      assert.deepEqual(await committed(b, 'g', 'kept'), [2, -1]);
      await b.close();
      b = await startBroker({ dataDir });
      assert.deepEqual(await committed(b, 'g', 'kept'), [-1, -1]);
      assert.deepEqual(await committed(b, 'g', 't'), [6, 1]);
    } finally {
      await b.close();
    }
  });
});

test('OffsetFetch after a deletion made through our own client sees the offsets gone at once', async () => {
  const b = await startBroker();
  const c = await KafkaClient.connectTo(b.bootstrap);
  try {
    await b.broker.createTopic('x', 1, {});
    await c.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 'x', partitionData: [{ index: 0, records: buildRecordBatch([{ value: 'v' }]) }] }] });
    const commit = await c.send(8, 8, { groupId: 'solo', generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1, topics: [{ name: 'x', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: '' }] }] });
    assert.equal(commit.topics[0].partitions[0].errorCode, 0);
    assert.deepEqual(await committed(b, 'solo', 'x'), [1, -1]);
    const del = await c.send(20, 6, { topics: [{ name: 'x', topicId: '0'.repeat(32) }], timeoutMs: 1000 });
    assert.equal(del.responses[0].errorCode, 0);
    assert.deepEqual(await committed(b, 'solo', 'x'), [-1, -1]);
  } finally {
    c.close();
    await b.close();
  }
});

test('kafkajs: offsets a transaction sent for a topic deleted before its commit are not stored by the commit, also when the topic is made again first', async () => {
  const b = await startBroker();
  const kafka = new Kafka({ clientId: 'txn-deleted', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({ transactionalId: 'td', idempotent: true, maxInFlightRequests: 1 });
  try {
    await admin.connect();
    await producer.connect();
    await admin.createTopics({ topics: [{ topic: 'gone', numPartitions: 2 }, { topic: 'out' }], waitForLeaders: true });
    const txn = await producer.transaction();
    await txn.send({ topic: 'out', messages: [{ value: 'done' }] });
    await txn.sendOffsets({ consumerGroupId: 'tg', topics: [{ topic: 'gone', partitions: [{ partition: 0, offset: '7' }, { partition: 1, offset: '3' }] }, { topic: 'out', partitions: [{ partition: 0, offset: '1' }] }] });
    await admin.deleteTopics({ topics: ['gone'] });
    await txn.commit();
    assert.deepEqual(await committed(b, 'tg', 'gone'), [-1, -1]);
    assert.deepEqual(await committed(b, 'tg', 'out'), [1, -1]);
    // made again before the commit: the offsets were meant for the old topic, and went with it (as in Kafka)
    await admin.createTopics({ topics: [{ topic: 'gone', numPartitions: 2 }], waitForLeaders: true });
    const again = await producer.transaction();
    await again.send({ topic: 'out', messages: [{ value: 'done again' }] });
    await again.sendOffsets({ consumerGroupId: 'tg', topics: [{ topic: 'gone', partitions: [{ partition: 0, offset: '5' }] }, { topic: 'out', partitions: [{ partition: 0, offset: '2' }] }] });
    await admin.deleteTopics({ topics: ['gone'] });
    await admin.createTopics({ topics: [{ topic: 'gone', numPartitions: 2 }], waitForLeaders: true });
    await again.commit();
    assert.deepEqual(await committed(b, 'tg', 'gone'), [-1, -1]);
    assert.deepEqual(await committed(b, 'tg', 'out'), [2, -1]);
  } finally {
    await producer.disconnect();
    await admin.disconnect();
    await b.close();
  }
});

/** The end offset and, for read_committed, the last stable offset of each partition of `topic`. */
async function ends(b: RunningBroker, topic: string, partitions: number): Promise<{ end: number[]; stable: number[] }> {
  const c = await KafkaClient.connectTo(b.bootstrap);
  try {
    const at = async (isolationLevel: number) => {
      const res = await c.send(2, 5, { replicaId: -1, isolationLevel, topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp: -1 })) }] });
      return res.topics[0].partitions.map((p: { offset: number }) => p.offset);
    };
    return { end: await at(0), stable: await at(1) };
  } finally {
    c.close();
  }
}

test('kafkajs: a transaction that wrote to a topic deleted and made again before its commit leaves the new topic no marker, unless it wrote to the new one', async () => {
  const b = await startBroker();
  const kafka = new Kafka({ clientId: 'txn-recreated', brokers: [b.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const plain = kafka.producer();
  const producer = kafka.producer({ transactionalId: 'tr', idempotent: true, maxInFlightRequests: 1 });
  try {
    await Promise.all([admin.connect(), plain.connect(), producer.connect()]);
    await admin.createTopics({ topics: [{ topic: 'gone', numPartitions: 2 }, { topic: 'out' }], waitForLeaders: true });
    const remake = async () => {
      await admin.deleteTopics({ topics: ['gone'] });
      await admin.createTopics({ topics: [{ topic: 'gone', numPartitions: 2 }], waitForLeaders: true });
    };

    const txn = await producer.transaction();
    await txn.send({ topic: 'gone', messages: [{ value: 'old', partition: 0 }, { value: 'old', partition: 1 }] });
    await txn.send({ topic: 'out', messages: [{ value: 'o1' }] });
    await remake();
    await plain.send({ topic: 'gone', acks: -1, messages: [{ value: 'new', partition: 0 }] });
    await txn.commit();
    // before, each new partition took the old transaction's COMMIT marker: offsets 1 and 0 went to it
    assert.deepEqual(await ends(b, 'gone', 2), { end: [1, 0], stable: [1, 0] });
    assert.deepEqual(await ends(b, 'out', 1), { end: [2], stable: [2] });

    // a transaction that wrote to the old topic and then to another partition of the new one: the partition added
    // for the new topic is closed by the marker, the one added for the old topic is left alone (a producer of its
    // own: this one's sequence numbers for the old partitions would not be taken by the new ones)
    const second = kafka.producer({ transactionalId: 'tr2', idempotent: true, maxInFlightRequests: 1 });
    await second.connect();
    const both = await second.transaction();
    await both.send({ topic: 'gone', messages: [{ value: 'before', partition: 0 }] });
    await remake();
    await both.send({ topic: 'gone', messages: [{ value: 'after', partition: 1 }] });
    assert.deepEqual(await ends(b, 'gone', 2), { end: [0, 1], stable: [0, 0] });
    await both.commit();
    assert.deepEqual(await ends(b, 'gone', 2), { end: [0, 2], stable: [0, 2] });
    await second.disconnect();
  } finally {
    await Promise.all([producer.disconnect(), plain.disconnect(), admin.disconnect()]);
    await b.close();
  }
});
