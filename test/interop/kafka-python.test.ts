// kafka-python (python3-kafka): admin, produce (acks=all), consume, limits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { withBroker } from '../helpers/broker.js';
import { assertSameMessages, makeMessages, withoutHeaders, type ConsumedMessage } from './dataset.js';
import { python, pythonConsume, pythonProduce } from './python-clients.js';
import { until } from '../helpers/until.js';

test('kafka-python: create, produce 10,000 with acks=all, consume back exactly, delete', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await python('kp-admin', [bootstrap, 'orders', 'create', '6']);
    assert.equal(broker.logs.topics.get('orders')?.partitions.length, 6);
    const messages = makeMessages(10_000, 6);
    assert.deepEqual(await pythonProduce('kp', bootstrap, 'orders', messages), { errors: [], unflushed: 0 });
    assertSameMessages(messages, await pythonConsume('kp', bootstrap, 'orders', 6, messages.length));
    await python('kp-admin', [bootstrap, 'orders', 'delete']);
    assert.equal(broker.logs.topics.has('orders'), false);
  });
});

test('kafka-python: a message over max.message.bytes gets MessageSizeTooLargeError from the broker', async () => {
  await withBroker(async ({ bootstrap }) => {
    const tooBig = { key: 'k', value: 'z'.repeat(1_100_000), headers: [] as [string, string][], timestamp: 1_700_000_000_000, partition: 0 };
    const report = await pythonProduce('kp', bootstrap, 'limits', [tooBig]);
    assert.equal(report.errors.length, 1);
    assert.match(report.errors[0]!, /MessageSizeTooLargeError/);
  });
});

// Told a Kafka version, kafka-python sends that version's requests instead of the newest it knows: the older
// versions Sluice advertises, answered to a client of its own implementation.
for (const version of ['1.0', '2.0']) {
  test(`kafka-python speaking Kafka ${version}: create, produce with gzip and acks=all, consume back exactly, delete`, async () => {
    await withBroker(async ({ bootstrap, broker }) => {
      await python('kp-admin', [bootstrap, 'spoken', 'create', '3', version]);
      assert.equal(broker.logs.topics.get('spoken')?.partitions.length, 3);
      const messages = makeMessages(2000, 3);
      assert.deepEqual(await python('kp-produce', [bootstrap, 'spoken', 'gzip', 'all', version], messages), [{ errors: [], unflushed: 0 }]);
      assertSameMessages(messages, (await python('kp-consume', [bootstrap, 'spoken', '3', String(messages.length), version])) as ConsumedMessage[]);
      await python('kp-admin', [bootstrap, 'spoken', 'delete', '1', version]);
      assert.equal(broker.logs.topics.has('spoken'), false);
    });
  });
}

// Before 0.11 kafka-python speaks the old message formats: Produce v0 and Fetch v0 with 0.8's messages, v1 at 0.9,
// Produce v2 and Fetch v2 with 0.10's, which carry timestamps (and before 0.10 its lz4 does not work with the lz4
// module Debian ships). Headers need 0.11.
for (const [version, codec] of [['0.8.2', 'snappy'], ['0.9', 'gzip'], ['0.10', 'lz4']] as const) {
  test(`kafka-python speaking Kafka ${version}: produce with ${codec} and acks=all in the old message format, consume back exactly`, async () => {
    await withBroker(async ({ bootstrap, broker }) => {
      await broker.createTopic('old', 3, {});
      const messages = withoutHeaders(makeMessages(2000, 3));
      assert.deepEqual(await python('kp-produce', [bootstrap, 'old', codec, 'all', version], messages), [{ errors: [], unflushed: 0 }]);
      const consumed = (await python('kp-consume', [bootstrap, 'old', '3', String(messages.length), version])) as ConsumedMessage[];
      assertSameMessages(messages, consumed, { checkTimestamps: version === '0.10' });
      // and by the newest version it speaks, which reads the batches they were stored as
      assertSameMessages(messages, await pythonConsume('kp', bootstrap, 'old', 3, messages.length), { checkTimestamps: version === '0.10' });
    });
  });
}

interface OffsetsTopicRecord {
  kind: 'offset' | 'group' | 'other';
  group: string;
  topic?: string;
  topicPartition?: number;
  version?: number;
  offset?: number;
  protocolType?: string;
  generation?: number;
  protocol?: string | null;
  members?: { memberId: string; clientId: string }[];
  tombstone: boolean;
}

// Burrow and Kafka's OffsetsMessageFormatter read __consumer_offsets directly, in Kafka's record formats.
test('kafka-python reads __consumer_offsets as those tools do: a kafkajs group\'s offsets and metadata in Kafka\'s record formats', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('orders', 2, {});
    const kafka = new Kafka({ clientId: 'offsets-reader', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'orders', messages: [0, 1, 0, 1, 0].map((partition, i) => ({ partition, value: `m${i}` })) });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'billing', heartbeatInterval: 300 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    let consumed = 0;
    await consumer.run({ eachMessage: async () => void consumed++ });
    await until(() => consumed === 5, 'the group to consume the five messages', 30_000);
    await consumer.disconnect();

    const records = (await python('kp-offsets-topic', [bootstrap, '1000000'])) as OffsetsTopicRecord[];
    assert.ok(records.every((r) => r.kind !== 'other' && r.group === 'billing'), JSON.stringify(records));
    const offsets = new Map<string, OffsetsTopicRecord>();
    for (const r of records.filter((x) => x.kind === 'offset')) offsets.set(`${r.topic}-${r.topicPartition}`, r);
    assert.deepEqual([...offsets.entries()].sort().map(([k, r]) => [k, r.version, r.offset, r.tombstone]), [['orders-0', 3, 3, false], ['orders-1', 3, 2, false]]);
    const groups = records.filter((x) => x.kind === 'group');
    const stable = groups.find((g) => (g.members ?? []).length === 1)!;
    assert.deepEqual([stable.version, stable.protocolType, stable.protocol, stable.members![0]!.clientId], [3, 'consumer', 'RoundRobinAssigner', 'offsets-reader']);
    // the member left: the last record has the group empty, in a later generation
    const last = groups.at(-1)!;
    assert.deepEqual(last.members, []);
    assert.ok(last.generation! > stable.generation!, `generation ${last.generation} after ${stable.generation}`);
  });
});
