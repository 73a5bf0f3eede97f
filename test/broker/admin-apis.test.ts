// The remaining admin APIs at the protocol level: CreatePartitions, DeleteRecords, DescribeCluster,
// OffsetForLeaderEpoch, IncrementalAlterConfigs operations, dynamic broker configs, DescribeConfigs of the broker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import type { RunningBroker } from '../../src/index.js';
import { withBroker, withClient } from '../helpers/broker.js';
import { withTempDir } from '../helpers/temp-dir.js';

test('CreatePartitions grows a topic, refuses shrinking, and validate-only changes nothing', async () => {
  await withBroker(async (b) => {
    const c = await KafkaClient.connectTo(b.bootstrap);
    try {
      await b.broker.createTopic('grow', 2, {});
      const create = (count: number, validateOnly = false, name = 'grow') => c.send(37, 3, { topics: [{ name, count, assignments: null }], timeoutMs: 1000, validateOnly }).then((r) => r.results[0].errorCode);
      assert.equal(await create(5, true), 0);
      assert.equal(b.broker.logs.topics.get('grow')!.partitions.length, 2);
      assert.equal(await create(5), 0);
      assert.equal(b.broker.logs.topics.get('grow')!.partitions.length, 5);
      assert.equal(await create(3), ErrorCode.INVALID_PARTITIONS);
      assert.equal(await create(9, false, 'nope'), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      const md = await c.send(3, 12, { topics: [{ name: 'grow', topicId: '0'.repeat(32) }], allowAutoTopicCreation: false });
      assert.equal(md.topics[0].partitions.length, 5);
    } finally {
      c.close();
    }
  });
});

test('DeleteRecords moves the low watermark; fetching below it is OFFSET_OUT_OF_RANGE', async () => {
  await withBroker(async (b) => {
    const c = await KafkaClient.connectTo(b.bootstrap);
    try {
      await b.broker.createTopic('t', 1, {});
      await c.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records: buildRecordBatch(['a', 'b', 'c', 'd'].map((value) => ({ value }))) }] }] });
      const del = await c.send(21, 2, { topics: [{ name: 't', partitions: [{ partitionIndex: 0, offset: 3 }, { partitionIndex: 7, offset: 1 }] }], timeoutMs: 1000 });
      assert.deepEqual(del.topics[0].partitions.map((p: { lowWatermark: number; errorCode: number }) => [p.lowWatermark, p.errorCode]), [[3, 0], [-1, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]);
      const beyond = await c.send(21, 2, { topics: [{ name: 't', partitions: [{ partitionIndex: 0, offset: 10 }] }], timeoutMs: 1000 });
      assert.equal(beyond.topics[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
      const earliest = await c.send(2, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -2 }] }] });
      assert.equal(earliest.topics[0].partitions[0].offset, 3);
      const f = await c.send(1, 11, { replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: 1, partitionMaxBytes: 1 << 20 }] }], forgottenTopicsData: [], rackId: '' });
      assert.deepEqual([f.responses[0].partitions[0].errorCode, f.responses[0].partitions[0].logStartOffset], [ErrorCode.OFFSET_OUT_OF_RANGE, 3]);
    } finally {
      c.close();
    }
  });
});

test('DescribeCluster, OffsetForLeaderEpoch and broker DescribeConfigs', async () => {
  await withBroker(async (b) => {
    const c = await KafkaClient.connectTo(b.bootstrap);
    try {
      const cluster = await c.send(60, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 });
      assert.deepEqual([cluster.errorCode, cluster.clusterId, cluster.controllerId, cluster.brokers.map((x: { brokerId: number; port: number }) => [x.brokerId, x.port])], [0, b.broker.clusterId, 1, [[1, b.port]]]);
      await b.broker.createTopic('t', 1, {});
      await c.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records: buildRecordBatch([{ value: 'x' }, { value: 'y' }]) }] }] });
      const epochs = await c.send(23, 4, { replicaId: -1, topics: [{ topic: 't', partitions: [{ partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0 }, { partition: 3, currentLeaderEpoch: 0, leaderEpoch: 0 }] }] });
      assert.deepEqual(epochs.topics[0].partitions.map((p: { errorCode: number; leaderEpoch: number; endOffset: number }) => [p.errorCode, p.leaderEpoch, p.endOffset]), [[0, 0, 2], [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, -1, -1]]);
      const cfg = await c.send(32, 4, { resources: [{ resourceType: 4, resourceName: '1', configurationKeys: ['auto.create.topics.enable', 'log.flush.policy'] }], includeSynonyms: false, includeDocumentation: false });
      assert.deepEqual(cfg.results[0].configs.map((x: { name: string; value: string; readOnly: boolean }) => [x.name, x.value, x.readOnly]), [['auto.create.topics.enable', 'true', true], ['log.flush.policy', 'fsync', false]]);
    } finally {
      c.close();
    }
  });
});

test('DescribeConfigs: a topic config\'s source and synonyms (topic override, then the broker\'s setting under Kafka\'s broker-wide name, then the built-in default)', async () => {
  await withBroker(async (b) => {
    const c = await KafkaClient.connectTo(b.bootstrap);
    try {
      await b.broker.createTopic('t', 1, { 'retention.ms': '60000', 'unclean.leader.election.enable': 'true' });
      type Entry = { name: string; value: string; configSource: number; isDefault: boolean; synonyms: { name: string; value: string; source: number }[] };
      const describe = async (resourceType: number, resourceName: string, keys: string[]) => {
        const res = await c.send(32, 4, { resources: [{ resourceType, resourceName, configurationKeys: keys }], includeSynonyms: true, includeDocumentation: false });
        const entries: Entry[] = res.results[0].configs;
        return entries.sort((x, y) => keys.indexOf(x.name) - keys.indexOf(y.name)).map((e) => [e.name, e.value, e.configSource, e.synonyms.map((s) => [s.name, s.value, s.source])]);
      };
      const { DYNAMIC_TOPIC_CONFIG: TOPIC, STATIC_BROKER_CONFIG: STATIC, DEFAULT_CONFIG: DEFAULT } = { DYNAMIC_TOPIC_CONFIG: 1, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 };
      assert.deepEqual(await describe(2, 't', ['retention.ms', 'segment.ms', 'flush.ms', 'max.message.bytes', 'unclean.leader.election.enable', 'leader.replication.throttled.replicas']), [
        ['retention.ms', '60000', TOPIC, [['retention.ms', '60000', TOPIC], ['log.retention.ms', '604800000', DEFAULT]]],
        ['segment.ms', '3600000', STATIC, [['log.roll.ms', '3600000', STATIC], ['log.roll.ms', '604800000', DEFAULT]]],
        ['flush.ms', '1000', DEFAULT, [['log.flush.interval.ms', '1000', DEFAULT]]],
        ['max.message.bytes', '1048588', DEFAULT, [['message.max.bytes', '1048588', DEFAULT]]],
        ['unclean.leader.election.enable', 'true', TOPIC, [['unclean.leader.election.enable', 'true', TOPIC], ['unclean.leader.election.enable', 'false', DEFAULT]]],
        ['leader.replication.throttled.replicas', '', DEFAULT, []],
      ]);
      assert.deepEqual(await describe(4, '1', ['log.roll.ms', 'log.retention.ms', 'message.max.bytes', 'segment.ms', 'leader.replication.throttled.replicas']), [
        ['log.roll.ms', '3600000', STATIC, [['log.roll.ms', '3600000', STATIC], ['log.roll.ms', '604800000', DEFAULT]]],
        ['log.retention.ms', '604800000', DEFAULT, [['log.retention.ms', '604800000', DEFAULT]]],
        ['message.max.bytes', '1048588', DEFAULT, [['message.max.bytes', '1048588', DEFAULT]]],
      ]);
      // v3+ give each value's type (Kafka's ConfigType: BOOLEAN 1, STRING 2, INT 3, LONG 5, DOUBLE 6, LIST 7)
      const typed = async (resourceType: number, resourceName: string, keys: string[]) => {
        const res = await c.send(32, 4, { resources: [{ resourceType, resourceName, configurationKeys: keys }], includeSynonyms: false, includeDocumentation: false });
        return new Map(res.results[0].configs.map((e: { name: string; configType: number }) => [e.name, e.configType]));
      };
      assert.deepEqual(
        await typed(2, 't', ['retention.ms', 'cleanup.policy', 'min.cleanable.dirty.ratio', 'unclean.leader.election.enable', 'compression.type', 'segment.bytes']),
        new Map([['segment.bytes', 3], ['retention.ms', 5], ['cleanup.policy', 7], ['min.cleanable.dirty.ratio', 6], ['compression.type', 2], ['unclean.leader.election.enable', 1]]),
      );
      assert.deepEqual(await typed(4, '1', ['broker.id', 'log.dirs', 'log.roll.ms']), new Map([['broker.id', 3], ['log.dirs', 2], ['log.roll.ms', 5]]));
      // compaction's settings: the I/O bound from the start's setting, a double as Java writes it; the map's built in
      assert.deepEqual(await describe(4, '1', ['log.cleaner.dedupe.buffer.size', 'log.cleaner.io.max.bytes.per.second']), [
        ['log.cleaner.dedupe.buffer.size', '134217728', DEFAULT, [['log.cleaner.dedupe.buffer.size', '134217728', DEFAULT]]],
        ['log.cleaner.io.max.bytes.per.second', '1048576.0', STATIC, [['log.cleaner.io.max.bytes.per.second', '1048576.0', STATIC], ['log.cleaner.io.max.bytes.per.second', '1.7976931348623157E308', DEFAULT]]],
      ]);
      assert.deepEqual(await typed(4, '1', ['log.cleaner.dedupe.buffer.size', 'log.cleaner.io.max.bytes.per.second']), new Map([['log.cleaner.dedupe.buffer.size', 5], ['log.cleaner.io.max.bytes.per.second', 6]]));
      // v0 has no synonyms and says only whether a value is the default
      const v0 = await c.send(32, 0, { resources: [{ resourceType: 2, resourceName: 't', configurationKeys: ['retention.ms', 'segment.ms', 'flush.ms'] }] });
      assert.deepEqual(new Map(v0.results[0].configs.map((e: Entry) => [e.name, e.isDefault])), new Map([['retention.ms', false], ['segment.ms', false], ['flush.ms', true]]));
    } finally {
      c.close();
    }
  }, { logDefaults: { segmentMs: 3_600_000 }, compactionIoBytesPerSecond: 1 << 20 });
});

test('dynamic broker configs: topic defaults set cluster-wide (\'\') and for this broker at run time, by Kafka\'s broker-wide names; kept across a restart', () =>
  withTempDir(async (dataDir) => {
    type Entry = { name: string; value: string; configSource: number; synonyms: { name: string; value: string; source: number }[] };
    const [TOPIC, BROKER, CLUSTER, DEFAULT] = [1, 2, 3, 5];
    const session = (fn: (c: KafkaClient, b: RunningBroker) => Promise<void>) => withClient(fn, { dataDir });
    const alter = async (c: KafkaClient, resourceName: string, configs: [string, number, string | null][], validateOnly = false) =>
      (await c.send(44, 1, { resources: [{ resourceType: 4, resourceName, configs: configs.map(([name, configOperation, value]) => ({ name, configOperation, value })) }], validateOnly })).responses[0];
    const describe = async (c: KafkaClient, resourceType: number, resourceName: string, keys: string[] | null) => {
      const res = await c.send(32, 4, { resources: [{ resourceType, resourceName, configurationKeys: keys }], includeSynonyms: true, includeDocumentation: false });
      return (res.results[0].configs as Entry[]).map((e) => [e.name, e.value, e.configSource, e.synonyms.map((x) => [x.value, x.source])]);
    };
    await session(async (c, b) => {
      await b.broker.createTopic('plain', 2, {});
      await b.broker.createTopic('own', 1, { 'retention.ms': '60000' });
      assert.equal((await alter(c, '', [['log.retention.ms', 0, '3600000'], ['log.cleanup.policy', 0, 'delete']])).errorCode, 0);
      assert.deepEqual([0, 1].map((p) => b.broker.logs.getLog('plain', p)!.config.retentionMs), [3_600_000, 3_600_000]);
      assert.equal(b.broker.logs.getLog('own', 0)!.config.retentionMs, 60_000, 'a topic\'s own value wins');
      assert.equal((await alter(c, '1', [['log.retention.ms', 0, '7200000'], ['log.cleanup.policy', 2, 'compact']])).errorCode, 0);
      assert.equal(b.broker.logs.getLog('plain', 0)!.config.retentionMs, 7_200_000, 'this broker\'s value wins over the cluster-wide one');
      assert.equal(b.broker.logs.getLog('plain', 0)!.config.cleanupPolicy, 'compact,delete');
      // a new topic takes them too
      await b.broker.createTopic('later', 1, {});
      assert.equal(b.broker.logs.getLog('later', 0)!.config.retentionMs, 7_200_000);
      assert.deepEqual(await describe(c, 2, 'plain', ['retention.ms']), [
        ['retention.ms', '7200000', BROKER, [['7200000', BROKER], ['3600000', CLUSTER], ['604800000', DEFAULT]]],
      ]);
      assert.deepEqual(await describe(c, 2, 'own', ['retention.ms']), [
        ['retention.ms', '60000', TOPIC, [['60000', TOPIC], ['7200000', BROKER], ['3600000', CLUSTER], ['604800000', DEFAULT]]],
      ]);
      assert.deepEqual(await describe(c, 4, '', null), [
        ['log.retention.ms', '3600000', CLUSTER, [['3600000', CLUSTER]]],
        ['log.cleanup.policy', 'delete', CLUSTER, [['delete', CLUSTER]]],
      ]);

      // refused, and nothing changes: read-only settings, unknown names, bad values, other brokers; validate-only
      const refusals: [string, [string, number, string | null][], number][] = [
        ['1', [['num.partitions', 0, '3']], ErrorCode.INVALID_REQUEST],
        ['1', [['no.such.config', 0, '3']], ErrorCode.INVALID_CONFIG],
        ['', [['log.retention.ms', 0, 'soon']], ErrorCode.INVALID_CONFIG],
        ['', [['log.retention.ms', 0, '1'], ['log.segment.bytes', 0, '1']], ErrorCode.INVALID_CONFIG],
        ['7', [['log.retention.ms', 0, '1']], ErrorCode.INVALID_REQUEST],
      ];
      for (const [name, configs, code] of refusals) assert.equal((await alter(c, name, configs)).errorCode, code, JSON.stringify(configs));
      assert.equal((await alter(c, '', [['log.retention.ms', 0, '1']], true)).errorCode, 0);
      assert.equal(b.broker.logs.getLog('plain', 0)!.config.retentionMs, 7_200_000);
      assert.deepEqual(b.broker.logs.dynamicDefaults, { cluster: { 'retention.ms': '3600000', 'cleanup.policy': 'delete' }, broker: { 'retention.ms': '7200000', 'cleanup.policy': 'delete,compact' } });
    });
    await session(async (c, b) => {
      assert.equal(b.broker.logs.getLog('plain', 0)!.config.retentionMs, 7_200_000, 'kept across a restart');
      assert.equal((await alter(c, '1', [['log.retention.ms', 1, null]])).errorCode, 0);
      assert.equal(b.broker.logs.getLog('plain', 0)!.config.retentionMs, 3_600_000, 'back to the cluster-wide value');
      assert.equal((await alter(c, '', [['log.retention.ms', 1, null]])).errorCode, 0);
      assert.equal(b.broker.logs.getLog('plain', 0)!.config.retentionMs, 604_800_000, 'back to the default');
    });
  }));

test('compaction\'s settings change at run time, cluster-wide and for this broker, as Kafka\'s log cleaner configs do; kept across a restart', () =>
  withTempDir(async (dataDir) => {
    type Entry = { name: string; value: string; configSource: number; readOnly: boolean; synonyms: { name: string; value: string; source: number }[] };
    const [BROKER, CLUSTER, DEFAULT] = [2, 3, 5];
    const IO = 'log.cleaner.io.max.bytes.per.second';
    const MAP = 'log.cleaner.dedupe.buffer.size';
    const session = (fn: (c: KafkaClient, b: RunningBroker) => Promise<void>) => withClient(fn, { dataDir });
    const alter = async (c: KafkaClient, resourceName: string, configs: [string, number, string | null][]) =>
      (await c.send(44, 1, { resources: [{ resourceType: 4, resourceName, configs: configs.map(([name, configOperation, value]) => ({ name, configOperation, value })) }], validateOnly: false })).responses[0];
    const describe = async (c: KafkaClient, resourceName: string, keys: string[] | null) => {
      const res = await c.send(32, 4, { resources: [{ resourceType: 4, resourceName, configurationKeys: keys }], includeSynonyms: true, includeDocumentation: false });
      return (res.results[0].configs as Entry[]).filter((e) => e.name.startsWith('log.cleaner.')).map((e) => [e.name, e.value, e.configSource, e.readOnly, e.synonyms.map((x) => [x.value, x.source])]);
    };
    await session(async (c, b) => {
      // unbounded, as Kafka's default: Java's largest double
      assert.deepEqual(await describe(c, '1', [IO, MAP]), [
        [IO, '1.7976931348623157E308', DEFAULT, false, [['1.7976931348623157E308', DEFAULT]]],
        [MAP, '134217728', DEFAULT, false, [['134217728', DEFAULT]]],
      ]);
      assert.equal((await alter(c, '', [[IO, 0, '104857600'], [MAP, 0, '16777216']])).errorCode, 0);
      assert.equal((await alter(c, '1', [[IO, 0, '52428800.5']])).errorCode, 0);
      assert.equal(b.broker.logs.cleaner.ioBytesPerSecond, 52428800.5, 'this broker\'s value wins over the cluster-wide one');
      assert.equal(b.broker.logs.cleanerSettings.mapBytes, 16777216);
      assert.deepEqual(await describe(c, '1', [IO, MAP]), [
        [IO, '5.24288005E7', BROKER, false, [['5.24288005E7', BROKER], ['1.048576E8', CLUSTER], ['1.7976931348623157E308', DEFAULT]]],
        [MAP, '16777216', CLUSTER, false, [['16777216', CLUSTER], ['134217728', DEFAULT]]],
      ]);
      assert.deepEqual(await describe(c, '', null), [
        [IO, '1.048576E8', CLUSTER, false, [['1.048576E8', CLUSTER]]],
        [MAP, '16777216', CLUSTER, false, [['16777216', CLUSTER]]],
      ]);
      // refused, and nothing changes
      for (const value of ['100', 'fast', '', '-5']) assert.equal((await alter(c, '1', [[IO, 0, value]])).errorCode, ErrorCode.INVALID_CONFIG, value);
      assert.equal((await alter(c, '', [[MAP, 0, '1000']])).errorCode, ErrorCode.INVALID_CONFIG);
      assert.equal(b.broker.logs.cleaner.ioBytesPerSecond, 52428800.5);
    });
    await session(async (c, b) => {
      assert.equal(b.broker.logs.cleaner.ioBytesPerSecond, 52428800.5, 'kept across a restart');
      assert.equal(b.broker.logs.cleanerSettings.mapBytes, 16777216);
      assert.equal((await alter(c, '1', [[IO, 1, null]])).errorCode, 0);
      assert.equal(b.broker.logs.cleaner.ioBytesPerSecond, 104857600, 'back to the cluster-wide value');
      assert.equal((await alter(c, '', [[IO, 1, null], [MAP, 1, null]])).errorCode, 0);
      assert.equal(b.broker.logs.cleaner.ioBytesPerSecond, Infinity, 'back to no bound');
      assert.equal(b.broker.logs.cleanerSettings.mapBytes, 134217728);
    });
  }));

test('IncrementalAlterConfigs: set, delete, append and subtract on cleanup.policy; invalid values change nothing', async () => {
  await withBroker(async (b) => {
    const c = await KafkaClient.connectTo(b.bootstrap);
    try {
      await b.broker.createTopic('t', 1, { 'retention.ms': '1000' });
      const alter = (configs: { name: string; configOperation: number; value: string | null }[]) =>
        c.send(44, 1, { resources: [{ resourceType: 2, resourceName: 't', configs }], validateOnly: false }).then((r) => r.responses[0].errorCode);
      assert.equal(await alter([{ name: 'cleanup.policy', configOperation: 2, value: 'compact' }]), 0);
      assert.equal(b.broker.logs.topics.get('t')!.config.cleanupPolicy, 'compact,delete');
      assert.equal(await alter([{ name: 'cleanup.policy', configOperation: 3, value: 'delete' }]), 0);
      assert.equal(b.broker.logs.topics.get('t')!.config.cleanupPolicy, 'compact');
      assert.equal(await alter([{ name: 'retention.ms', configOperation: 1, value: null }]), 0);
      assert.deepEqual(b.broker.logs.topics.get('t')!.overrides, { 'cleanup.policy': 'compact' });
      assert.equal(await alter([{ name: 'segment.bytes', configOperation: 0, value: '1' }, { name: 'retention.ms', configOperation: 0, value: '5' }]), ErrorCode.INVALID_CONFIG);
      assert.deepEqual(b.broker.logs.topics.get('t')!.overrides, { 'cleanup.policy': 'compact' });
      // a resource type with no configs here (a group, 32)
      const group = await c.send(44, 1, { resources: [{ resourceType: 32, resourceName: 'g', configs: [{ name: 'x', configOperation: 0, value: '1' }] }], validateOnly: false });
      assert.equal(group.responses[0].errorCode, ErrorCode.INVALID_REQUEST);
    } finally {
      c.close();
    }
  });
});

test('idle connections are closed after the idle timeout; a client that stops reading is not buffered without bound', async () => {
  await withBroker(async (b) => {
    const idle = await KafkaClient.connectTo(b.bootstrap);
    await idle.closed();
    await b.broker.createTopic('big', 1, {});
    const producer = await KafkaClient.connectTo(b.bootstrap);
    await producer.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: 'big', partitionData: [{ index: 0, records: buildRecordBatch([{ value: Buffer.alloc(100_000, 7) }]) }] }] });
    producer.close();
    // 300 fetches of 100 KB each, pipelined by a client that does not read: 30 MB of answers it never takes
    const greedy = await KafkaClient.connectTo(b.bootstrap);
    greedy.socket.pause();
    const fetch = { replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics: [{ topic: 'big', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }], forgottenTopicsData: [], rackId: '' };
    const responses: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) responses.push(greedy.send(1, 11, fetch));
    let maxInFlight = 0;
    let maxUnsent = 0;
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 10));
      for (const conn of b.broker.connections) {
        maxInFlight = Math.max(maxInFlight, conn.inFlight);
        maxUnsent = Math.max(maxUnsent, conn.unsentBytes);
      }
    }
    assert.ok(maxInFlight <= 4, `${maxInFlight} requests in flight on one connection`);
    assert.ok(maxUnsent < 2_000_000, `${maxUnsent} response bytes buffered for a client that does not read`);
    greedy.socket.resume();
    assert.equal((await Promise.all(responses)).length, 300);
    greedy.close();
  }, { idleTimeoutMs: 300, maxInFlightPerConnection: 4 });
});

test('Metadata while a topic is being created: LEADER_NOT_AVAILABLE in the list of all topics, and a request naming it waits for it', async () => {
  await withBroker(async (b) => {
    const c = await KafkaClient.connectTo(b.bootstrap);
    try {
      const creating = b.broker.createTopic('big', 3000, {});
      assert.equal(b.broker.logs.topics.get('big')?.partitions.length, 0, 'the creation has begun, nothing is served yet');
      const [all, named] = await Promise.all([
        c.send(3, 12, { topics: null, allowAutoTopicCreation: false }),
        c.send(3, 12, { topics: [{ name: 'big', topicId: '0'.repeat(32) }], allowAutoTopicCreation: false }),
      ]);
      const listed = all.topics.find((t: { name: string }) => t.name === 'big');
      assert.deepEqual([listed.errorCode, listed.partitions.length], [ErrorCode.LEADER_NOT_AVAILABLE, 0]);
      assert.deepEqual([named.topics[0].errorCode, named.topics[0].partitions.length], [0, 3000]);
      await creating;
      const after = await c.send(3, 12, { topics: null, allowAutoTopicCreation: false });
      assert.deepEqual([after.topics[0].errorCode, after.topics[0].partitions.length], [0, 3000]);
    } finally {
      c.close();
    }
  });
});

// Kafka's AclOperation codes, and the bit fields a broker without an authorizer answers: every operation the
// resource type supports. A field not asked for is INT32_MIN.
const OP = { READ: 3, WRITE: 4, CREATE: 5, DELETE: 6, ALTER: 7, DESCRIBE: 8, CLUSTER_ACTION: 9, DESCRIBE_CONFIGS: 10, ALTER_CONFIGS: 11, IDEMPOTENT_WRITE: 12 };
const field = (...ops: number[]) => ops.reduce((f, op) => f + 2 ** op, 0);
const TOPIC_OPS = field(OP.READ, OP.WRITE, OP.CREATE, OP.DELETE, OP.ALTER, OP.DESCRIBE, OP.DESCRIBE_CONFIGS, OP.ALTER_CONFIGS);
const GROUP_OPS = field(OP.READ, OP.DESCRIBE, OP.DELETE);
const CLUSTER_OPS = field(OP.CREATE, OP.CLUSTER_ACTION, OP.DESCRIBE_CONFIGS, OP.ALTER_CONFIGS, OP.IDEMPOTENT_WRITE, OP.ALTER, OP.DESCRIBE);
const NOT_ASKED = -(2 ** 31);

test('authorized operations: asked for, every operation of the resource type (no authorizer, as in Kafka without one); not asked, INT32_MIN', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    for (const asked of [true, false]) {
      const v8 = await c.send(3, 8, { topics: [{ name: 't' }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: asked, includeTopicAuthorizedOperations: asked });
      assert.deepEqual([v8.topics[0].topicAuthorizedOperations, v8.clusterAuthorizedOperations], asked ? [TOPIC_OPS, CLUSTER_OPS] : [NOT_ASKED, NOT_ASKED]);
      const v12 = await c.send(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: asked });
      assert.deepEqual(v12.topics.map((t: { name: string; topicAuthorizedOperations: number }) => [t.name, t.topicAuthorizedOperations]), [['t', asked ? TOPIC_OPS : NOT_ASKED]]);
      const cluster = await c.send(60, 1, { includeClusterAuthorizedOperations: asked, endpointType: 1 });
      assert.equal(cluster.clusterAuthorizedOperations, asked ? CLUSTER_OPS : NOT_ASKED);
      const groups = await c.send(15, 5, { groups: ['g'], includeAuthorizedOperations: asked });
      assert.deepEqual([groups.groups[0].groupState, groups.groups[0].authorizedOperations], ['Dead', asked ? GROUP_OPS : NOT_ASKED]);
    }
    // a group that is not a KIP-848 consumer group is not described, so neither are its operations
    const consumerGroups = await c.send(69, 0, { groupIds: ['g'], includeAuthorizedOperations: true });
    assert.deepEqual([consumerGroups.groups[0].errorCode, consumerGroups.groups[0].authorizedOperations], [ErrorCode.GROUP_ID_NOT_FOUND, NOT_ASKED]);
  });
});

test('with delete.topic.enable false DeleteTopics refuses every topic that exists with TOPIC_DELETION_DISABLED, and deletes nothing', async () => {
  await withClient(async (c, { broker }) => {
    await broker.createTopic('kept', 2, {});
    const res = await c.send(20, 6, { topics: [{ name: 'kept', topicId: '0'.repeat(32) }, { name: 'missing', topicId: '0'.repeat(32) }], timeoutMs: 1000 });
    assert.deepEqual(res.responses.map((r: { name: string; errorCode: number; errorMessage: string | null }) => [r.name, r.errorCode, r.errorMessage]), [
      ['kept', ErrorCode.TOPIC_DELETION_DISABLED, 'Topic deletion is disabled (delete.topic.enable=false)'],
      ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'unknown topic missing'],
    ]);
    const old = await c.send(20, 1, { topicNames: ['kept'], timeoutMs: 1000 });
    assert.equal(old.responses[0].errorCode, ErrorCode.TOPIC_DELETION_DISABLED);
    assert.equal(broker.logs.topics.get('kept')?.partitions.length, 2);
    const described = await c.send(32, 4, { resources: [{ resourceType: 4, resourceName: '1', configurationKeys: ['delete.topic.enable'] }], includeSynonyms: false, includeDocumentation: false });
    assert.deepEqual(described.results[0].configs.map((e: { name: string; value: string; readOnly: boolean }) => [e.name, e.value, e.readOnly]), [['delete.topic.enable', 'false', true]]);
  }, { deleteTopicEnable: false });
});
