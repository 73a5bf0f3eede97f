// kafkajs: admin (create, offsets, offsets by time, configs, delete) and produce with acks=-1. kafkajs has no
// consumer without a group, so what it produced is read back by librdkafka (confluent-kafka).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs, { CompressionTypes, Kafka, logLevel, type Admin, type Message, type Producer } from 'kafkajs';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import type { Broker } from '../../src/index.js';
import { withBroker } from '../helpers/broker.js';
import { assertSameMessages, makeMessages } from './dataset.js';
import { pythonConsume } from './python-clients.js';

// not found by Node's named-export detection in kafkajs' CommonJS module
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

function client(bootstrap: string): Kafka {
  return new Kafka({ clientId: 'interop', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
}

/** Runs `fn` against a fresh broker with a connected kafkajs admin and producer. */
async function withAdminAndProducer(fn: (admin: Admin, producer: Producer, broker: Broker, bootstrap: string) => Promise<void>): Promise<void> {
  await withBroker(async ({ bootstrap, broker }) => {
    const kafka = client(bootstrap);
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer();
    await producer.connect();
    try {
      await fn(admin, producer, broker, bootstrap);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
}

test('kafkajs: create, produce 10,000 with acks=-1, offsets, offsets by time, configs, delete', async () => {
  await withAdminAndProducer(async (admin, producer, broker, bootstrap) => {
    assert.equal(await admin.createTopics({ topics: [{ topic: 'clicks', numPartitions: 6 }] }), true);
    const messages = makeMessages(10_000, 6);
    for (let i = 0; i < messages.length; i += 500) {
      const chunk: Message[] = messages.slice(i, i + 500).map((m) => ({
        key: m.key, value: m.value, partition: m.partition, timestamp: String(m.timestamp),
        headers: Object.fromEntries(m.headers),
      }));
      const res = await producer.send({ topic: 'clicks', acks: -1, messages: chunk });
      for (const r of res) assert.equal(r.errorCode, 0);
    }
    const offsets = await admin.fetchTopicOffsets('clicks');
    assert.deepEqual(
      offsets.map((o) => [o.partition, o.low, o.high]).sort((a, b) => Number(a[0]) - Number(b[0])),
      [0, 1, 2, 3, 4, 5].map((p) => [p, '0', String(messages.filter((m) => m.partition === p).length)]),
    );
    const byTime = await admin.fetchTopicOffsetsByTimestamp('clicks', messages[1200]!.timestamp);
    assert.deepEqual(byTime.map((o) => [o.partition, o.offset]).sort((a, b) => Number(a[0]) - Number(b[0])), [0, 1, 2, 3, 4, 5].map((p) => [p, '200']));

    assertSameMessages(messages, await pythonConsume('confluent', bootstrap, 'clicks', 6, messages.length));

    const configs = await admin.describeConfigs({ resources: [{ type: 2, name: 'clicks', configNames: ['retention.ms'] }], includeSynonyms: false });
    assert.deepEqual(configs.resources[0]!.configEntries.map((c) => [c.configName, c.configValue]), [['retention.ms', '604800000']]);
    await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'clicks', configEntries: [{ name: 'retention.ms', value: '60000' }] }] });
    assert.equal(broker.logs.topics.get('clicks')!.config.retentionMs, 60000);

    await admin.deleteTopics({ topics: ['clicks'] });
    assert.deepEqual(await admin.listTopics(), []);
  });
});

test('kafkajs: creating an existing topic or a bad name fails with the Kafka error', async () => {
  await withBroker(async ({ bootstrap }) => {
    const admin = client(bootstrap).admin();
    await admin.connect();
    try {
      assert.equal(await admin.createTopics({ topics: [{ topic: 'dup' }] }), true);
      // kafkajs reports TOPIC_ALREADY_EXISTS as "nothing created" rather than an error
      assert.equal(await admin.createTopics({ topics: [{ topic: 'dup' }] }), false);
      await assert.rejects(admin.createTopics({ topics: [{ topic: 'bad/name' }] }), (err: Error) => JSON.stringify(err).includes('INVALID_TOPIC_EXCEPTION'));
    } finally {
      await admin.disconnect();
    }
  });
});

test('kafkajs: with delete.topic.enable false deleting a topic fails with TOPIC_DELETION_DISABLED, and the topic stays', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    const admin = client(bootstrap).admin();
    await admin.connect();
    try {
      assert.equal(await admin.createTopics({ topics: [{ topic: 'precious' }] }), true);
      await assert.rejects(admin.deleteTopics({ topics: ['precious'] }), (err: Error) => JSON.stringify(err).includes('TOPIC_DELETION_DISABLED'));
      assert.ok(broker.logs.topics.has('precious'));
    } finally {
      await admin.disconnect();
    }
  }, { deleteTopicEnable: false });
});

test('kafkajs: topics take the Kafka topic configs tools send, and describe every one; tiered storage and lz4 levels are refused with the reason', async () => {
  await withAdminAndProducer(async (admin, producer, broker) => {
    const set: Record<string, string> = {
      'flush.messages': '1', // the example of Kafka's own documentation
      'max.message.bytes': '64000',
      'unclean.leader.election.enable': 'false',
      preallocate: 'true',
      'segment.jitter.ms': '1000',
      'segment.index.bytes': '1048576',
      'message.timestamp.before.max.ms': '86400000',
      'message.format.version': '2.8-IV1',
      'message.downconversion.enable': 'false',
      'file.delete.delay.ms': '1000',
      'leader.replication.throttled.replicas': '*',
      'follower.replication.throttled.replicas': '0:1,1:1',
      'local.retention.ms': '-2',
      'remote.storage.enable': 'false',
    };
    const configEntries = Object.entries(set).map(([name, value]) => ({ name, value }));
    assert.equal(await admin.createTopics({ topics: [{ topic: 'configured', numPartitions: 2, configEntries }] }), true);
    await producer.send({ topic: 'configured', acks: -1, messages: [{ key: 'k', value: 'v', partition: 0 }] });
    assert.equal(broker.logs.getLog('configured', 0)!.highWatermark, 1);

    const described = async () => {
      const res = await admin.describeConfigs({ resources: [{ type: 2, name: 'configured' }], includeSynonyms: false });
      return new Map(res.resources[0]!.configEntries.map((c) => [c.configName, c]));
    };
    const entries = await described();
    assert.deepEqual([...entries.keys()].sort(), [
      'cleanup.policy', 'compression.gzip.level', 'compression.type', 'compression.zstd.level', 'delete.retention.ms',
      'file.delete.delay.ms', 'flush.messages', 'flush.ms', 'flush.policy', 'follower.replication.throttled.replicas',
      'index.interval.bytes', 'leader.replication.throttled.replicas', 'local.retention.bytes', 'local.retention.ms',
      'max.compaction.lag.ms', 'max.message.bytes', 'message.downconversion.enable', 'message.format.version',
      'message.timestamp.after.max.ms', 'message.timestamp.before.max.ms', 'message.timestamp.difference.max.ms',
      'message.timestamp.type', 'min.cleanable.dirty.ratio', 'min.compaction.lag.ms', 'min.insync.replicas', 'preallocate',
      'remote.log.copy.disable', 'remote.log.delete.on.disable', 'remote.storage.enable', 'retention.bytes', 'retention.ms',
      'segment.bytes', 'segment.index.bytes', 'segment.jitter.ms', 'segment.ms', 'unclean.leader.election.enable',
    ]);
    for (const [name, value] of Object.entries(set)) {
      assert.deepEqual([entries.get(name)!.configValue, entries.get(name)!.isDefault], [value, false], name);
    }
    assert.deepEqual(
      ['segment.index.bytes', 'message.timestamp.after.max.ms', 'compression.zstd.level'].map((n) => [entries.get(n)!.configValue, entries.get(n)!.isDefault]),
      [['1048576', false], ['9223372036854775807', true], ['3', true]],
    );

    await admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'configured', configEntries: [...configEntries, { name: 'unclean.leader.election.enable', value: 'true' }] }] });
    assert.equal((await described()).get('unclean.leader.election.enable')!.configValue, 'true');

    // kafkajs reports the code, not the message (the messages are checked with our own client)
    for (const configs of [{ 'remote.storage.enable': 'true' }, { 'compression.lz4.level': '9' }, { preallocate: 'maybe' }, { 'leader.replication.throttled.replicas': 'all' }]) {
      const attempt = admin.createTopics({ topics: [{ topic: 'refused', configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }] });
      await assert.rejects(attempt, (err: Error & { errors?: { type: string }[] }) => err.errors?.[0]?.type === 'INVALID_CONFIG', JSON.stringify(configs));
    }
    assert.equal(broker.logs.topics.has('refused'), false);
  });
});

test('kafkajs: AlterConfigs on the broker sets the topic defaults (log.retention.ms, ...) topics without their own value take, and replaces them whole', async () => {
  await withAdminAndProducer(async (admin, _producer, broker) => {
    assert.equal(await admin.createTopics({ topics: [{ topic: 'defaulted' }] }), true);
    const alterBroker = (configEntries: { name: string; value: string }[]) => admin.alterConfigs({ validateOnly: false, resources: [{ type: 4, name: '1', configEntries }] });
    await alterBroker([{ name: 'log.retention.ms', value: '3600000' }, { name: 'log.segment.bytes', value: '1048576' }]);
    const config = () => broker.logs.getLog('defaulted', 0)!.config;
    assert.deepEqual([config().retentionMs, config().segmentBytes], [3_600_000, 1_048_576]);
    const entry = async (type: number, name: string, configName: string) => {
      const res = await admin.describeConfigs({ resources: [{ type, name, configNames: [configName] }], includeSynonyms: false });
      const e = res.resources[0]!.configEntries[0]!;
      return [e.configName, e.configValue, e.configSource];
    };
    assert.deepEqual(await entry(4, '1', 'log.retention.ms'), ['log.retention.ms', '3600000', 2]);
    assert.deepEqual(await entry(2, 'defaulted', 'retention.ms'), ['retention.ms', '3600000', 2]);
    // AlterConfigs replaces the whole set: what it leaves out goes back to the default
    await alterBroker([{ name: 'log.segment.bytes', value: '2097152' }]);
    assert.deepEqual([config().retentionMs, config().segmentBytes], [604_800_000, 2_097_152]);
    await assert.rejects(alterBroker([{ name: 'broker.id', value: '2' }]), (err: Error & { type?: string }) => err.type === 'INVALID_REQUEST');
    assert.equal(config().segmentBytes, 2_097_152);
  });
});

test('kafkajs: a compacted topic refuses records without a key (INVALID_RECORD), plain or gzip, and takes keyed ones', async () => {
  await withAdminAndProducer(async (admin, producer, broker) => {
    await admin.createTopics({ topics: [{ topic: 'profiles', numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
    for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
      const keyless = producer.send({ topic: 'profiles', acks: -1, compression, messages: [{ key: 'k1', value: 'a' }, { value: 'no key' }] });
      await assert.rejects(keyless, (err: Error & { type?: string }) => err.type === 'INVALID_RECORD');
      const [ok] = await producer.send({ topic: 'profiles', acks: -1, compression, messages: [{ key: 'k1', value: 'a' }, { key: 'k2', value: null }] });
      assert.equal(ok!.errorCode, 0);
    }
    // the refused batches left nothing: two keyed batches of two records each
    assert.equal(broker.logs.getLog('profiles', 0)!.logEndOffset, 4);
  });
});

test('kafkajs: the internal topics refuse appends, record and topic deletion and new partitions (INVALID_TOPIC_EXCEPTION); committed offsets stay', async () => {
  await withAdminAndProducer(async (admin, producer, broker, bootstrap) => {
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 2 }, { topic: '__mine' }] });
    await admin.setOffsets({ groupId: 'billing', topic: 'orders', partitions: [{ partition: 0, offset: '0' }, { partition: 1, offset: '0' }] });
    const offsets = broker.logs.topics.get('__consumer_offsets')!;
    const stored = offsets.partitions.map((log) => log.logEndOffset);
    // kafkajs reports a record deletion's error per partition, in an error it wraps; the others on the error itself
    type Reported = Error & { type?: string; cause?: Reported; partitions?: { error?: { type?: string } }[] };
    const invalidTopic = (err: Reported): boolean =>
      [err.type, ...(err.partitions ?? []).map((p) => p.error?.type)].includes('INVALID_TOPIC_EXCEPTION') || (err.cause !== undefined && invalidTopic(err.cause));
    // kafkajs deletes records only of topics it has metadata for
    await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] });
    await assert.rejects(producer.send({ topic: '__consumer_offsets', messages: [{ key: '["offset","billing","orders",0]', value: '{"offset":99}' }] }), invalidTopic);
    await assert.rejects(admin.deleteTopicRecords({ topic: '__consumer_offsets', partitions: [{ partition: 0, offset: '-1' }] }), invalidTopic);
    await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: '__consumer_offsets', count: offsets.partitions.length + 1 }] }), invalidTopic);
    await assert.rejects(admin.deleteTopics({ topics: ['__consumer_offsets'] }), invalidTopic);
    assert.deepEqual(offsets.partitions.map((log) => log.logEndOffset), stored);
    assert.equal(broker.logs.topics.get('__consumer_offsets'), offsets);
    const [committed] = await admin.fetchOffsets({ groupId: 'billing', topics: ['orders'] });
    assert.deepEqual(committed!.partitions.map((p) => [p.partition, p.offset]).sort(), [[0, '0'], [1, '0']]);
    // Metadata marks those topics internal, and only those (kafkajs does not show the flag: asked with our client)
    const c = await KafkaClient.connectTo(bootstrap);
    try {
      const metadata = await c.send(3, 12, { topics: null, allowAutoTopicCreation: false });
      assert.deepEqual(
        metadata.topics.map((t: { name: string; isInternal: boolean }) => [t.name, t.isInternal]).sort(),
        [['__consumer_offsets', true], ['__mine', false], ['orders', false]],
      );
    } finally {
      c.close();
    }
  });
});

test('kafkajs: ACL requests get SECURITY_DISABLED, as from a Kafka broker without an authorizer', async () => {
  await withAdminAndProducer(async (admin) => {
    const acl = { resourceType: AclResourceTypes.TOPIC, resourceName: 'orders', resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:alice', host: '*', operation: AclOperationTypes.READ, permissionType: AclPermissionTypes.ALLOW };
    const securityDisabled = (err: Error & { type?: string }) => err.type === 'SECURITY_DISABLED';
    await assert.rejects(admin.describeAcls({ resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY }), securityDisabled);
    await assert.rejects(admin.createAcls({ acl: [acl] }), securityDisabled);
    await assert.rejects(admin.deleteAcls({ filters: [acl] }), securityDisabled);
  });
});

test('kafkajs: partition reassignments on one broker: to itself accepted, anywhere else INVALID_REPLICA_ASSIGNMENT, none ever listed', async () => {
  await withAdminAndProducer(async (admin, _producer, broker, bootstrap) => {
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 2 }] });
    const { nodeId } = broker.config;
    await admin.alterPartitionReassignments({ topics: [{ topic: 'orders', partitionAssignment: [{ partition: 0, replicas: [nodeId] }, { partition: 1, replicas: [nodeId] }] }] });
    // kafkajs gathers the partitions' errors in one error (wrapped by its retrier)
    type Reported = Error & { cause?: Reported; errors?: { partition: number; type: string }[] };
    const refused = (expected: [number, string][]) => (err: Reported) => {
      let aggregate: Reported | undefined = err;
      while (aggregate && !aggregate.errors) aggregate = aggregate.cause;
      assert.deepEqual(aggregate?.errors?.map((e) => [e.partition, e.type]), expected);
      return true;
    };
    await assert.rejects(
      admin.alterPartitionReassignments({ topics: [{ topic: 'orders', partitionAssignment: [{ partition: 0, replicas: [nodeId, nodeId + 1] }, { partition: 1, replicas: [] }] }] }),
      refused([[0, 'INVALID_REPLICA_ASSIGNMENT'], [1, 'INVALID_REPLICA_ASSIGNMENT']]),
    );
    await assert.rejects(
      admin.alterPartitionReassignments({ topics: [{ topic: 'orders', partitionAssignment: [{ partition: 5, replicas: [nodeId] }] }] }),
      refused([[5, 'UNKNOWN_TOPIC_OR_PARTITION']]),
    );
    // a cancellation (null replicas; kafkajs cannot send one: asked with our client)
    const c = await KafkaClient.connectTo(bootstrap);
    try {
      const cancelled = await c.send(45, 0, { timeoutMs: 1000, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, replicas: null }] }] });
      assert.equal(cancelled.responses[0].partitions[0].errorCode, ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);
    } finally {
      c.close();
    }
    assert.deepEqual(await admin.listPartitionReassignments({}), { topics: [] });
    assert.deepEqual(await admin.listPartitionReassignments({ topics: [{ topic: 'orders', partitions: [0, 1] }] }), { topics: [] });
    assert.equal(broker.logs.topics.get('orders')!.partitions.length, 2);
  });
});
