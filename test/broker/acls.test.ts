// ACLs at the protocol level, with Sluice's own client: the three ACL APIs at every version, the refusal each other
// API answers a client the ACLs do not allow (Kafka's codes, in Kafka's places), what a grant then allows, and the
// ACLs kept across a restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { authenticate } from '../../src/admin/sasl-client.js';
import { AclOperation as Op, AclPermission, PatternType, ResourceType } from '../../src/protocol/acl.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import type { RunningBroker, StartBrokerOptions } from '../../src/index.js';
import { withBroker } from '../helpers/broker.js';
import { capturedLogger } from '../helpers/captured-logger.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { tlsFixture } from '../helpers/tls-fixtures.js';

const USERS = { admin: 'admin-secret', alice: 'alice-secret', bob: 'bob-secret' };
const ACLS: StartBrokerOptions = { sasl: { users: USERS }, acls: { enabled: true, superUsers: ['User:admin'] } };
const E = ErrorCode;
const NO_TOPIC_ID = '0'.repeat(32);
const MEMBER_ID_REQUIRED = 79;

async function login(bootstrap: string, user: keyof typeof USERS): Promise<KafkaClient> {
  const c = await KafkaClient.connectTo(bootstrap);
  await authenticate(c, { mechanism: 'SCRAM-SHA-256', username: user, password: USERS[user] });
  return c;
}

interface Acl {
  resourceType: number;
  resourceName: string;
  resourcePatternType?: number;
  principal: string;
  host?: string;
  operation: number;
  permissionType?: number;
}

const createAcls = (c: KafkaClient, acls: Acl[], version = 3) =>
  c.send(30, version, { creations: acls.map((a) => ({ resourcePatternType: PatternType.LITERAL, host: '*', permissionType: AclPermission.ALLOW, ...a })) })
    .then((r) => r.results.map((x: { errorCode: number; errorMessage: string | null }) => [x.errorCode, x.errorMessage]));
const allFilter = { resourceTypeFilter: ResourceType.ANY, resourceNameFilter: null, patternTypeFilter: PatternType.ANY, principalFilter: null, hostFilter: null, operation: Op.ANY, permissionType: AclPermission.ANY };

const produce = (c: KafkaClient, topic: string, transactionalId: string | null = null) =>
  c.send(0, 9, { transactionalId, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: buildRecordBatch([{ value: 'v' }]) }] }] })
    .then((r) => r.responses[0].partitionResponses[0].errorCode as number);
const fetch = (c: KafkaClient, topic: string) =>
  c.send(1, 11, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }], forgottenTopicsData: [], rackId: '',
  }).then((r) => r.responses[0].partitions[0].errorCode as number);
const metadata = (c: KafkaClient, topics: string[] | null, allowAutoTopicCreation = false) =>
  c.send(3, 12, { topics: topics && topics.map((name) => ({ name, topicId: NO_TOPIC_ID })), allowAutoTopicCreation, includeTopicAuthorizedOperations: true });
const join = (c: KafkaClient, groupId: string) =>
  c.send(11, 9, { groupId, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null });
const commit = (c: KafkaClient, groupId: string, topic: string) =>
  c.send(8, 9, { groupId, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }] })
    .then((r) => r.topics[0].partitions[0].errorCode as number);
const initProducerId = (c: KafkaClient, transactionalId: string | null) =>
  c.send(22, 4, { transactionalId, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });

const bit = (...ops: number[]) => ops.reduce((b, op) => b | (1 << op), 0);

test('CreateAcls, DescribeAcls and DeleteAcls at every version; refusals of bad bindings and of clients without ALTER or DESCRIBE on the cluster; kept across a restart', async () => {
  await withTempDir(async (dataDir) => {
    await withBroker(async ({ bootstrap }) => {
      const admin = await login(bootstrap, 'admin');
      const alice = await login(bootstrap, 'alice');
      try {
        assert.deepEqual(await createAcls(admin, [
          { resourceType: ResourceType.TOPIC, resourceName: 'orders', principal: 'User:alice', operation: Op.READ },
          { resourceType: ResourceType.TOPIC, resourceName: 'logs-', resourcePatternType: PatternType.PREFIXED, principal: 'User:alice', operation: Op.WRITE },
          { resourceType: ResourceType.GROUP, resourceName: 'g', principal: 'User:alice', operation: Op.READ, permissionType: AclPermission.DENY, host: '10.1.1.1' },
          { resourceType: ResourceType.GROUP, resourceName: 'g', principal: 'User:alice', operation: Op.WRITE },
          { resourceType: ResourceType.ANY, resourceName: 'x', principal: 'User:alice', operation: Op.READ },
          { resourceType: ResourceType.TOPIC, resourceName: 'x', principal: 'alice', operation: Op.READ },
        ]), [
          [0, null], [0, null], [0, null],
          [E.INVALID_REQUEST, 'operation WRITE does not apply to resource type GROUP'],
          [E.INVALID_REQUEST, 'resource type ANY cannot hold ACLs'],
          [E.INVALID_REQUEST, 'principal must be Type:name (User:alice), got "alice"'],
        ]);
        // v0 has no pattern type: LITERAL
        assert.deepEqual(await createAcls(admin, [{ resourceType: ResourceType.CLUSTER, resourceName: 'kafka-cluster', principal: 'User:bob', operation: Op.IDEMPOTENT_WRITE }], 0), [[0, null]]);

        const describe = await admin.send(29, 3, allFilter);
        assert.equal(describe.errorCode, 0);
        assert.deepEqual(describe.resources.map((r: { resourceType: number; resourceName: string; patternType: number; acls: unknown[] }) => [r.resourceType, r.resourceName, r.patternType, r.acls]), [
          [ResourceType.TOPIC, 'orders', PatternType.LITERAL, [{ principal: 'User:alice', host: '*', operation: Op.READ, permissionType: AclPermission.ALLOW }]],
          [ResourceType.TOPIC, 'logs-', PatternType.PREFIXED, [{ principal: 'User:alice', host: '*', operation: Op.WRITE, permissionType: AclPermission.ALLOW }]],
          [ResourceType.GROUP, 'g', PatternType.LITERAL, [{ principal: 'User:alice', host: '10.1.1.1', operation: Op.READ, permissionType: AclPermission.DENY }]],
          [ResourceType.CLUSTER, 'kafka-cluster', PatternType.LITERAL, [{ principal: 'User:bob', host: '*', operation: Op.IDEMPOTENT_WRITE, permissionType: AclPermission.ALLOW }]],
        ]);
        // MATCH: every pattern that applies to a topic named logs-app
        const matching = await admin.send(29, 2, { ...allFilter, resourceTypeFilter: ResourceType.TOPIC, resourceNameFilter: 'logs-app', patternTypeFilter: PatternType.MATCH });
        assert.deepEqual(matching.resources.map((r: { resourceName: string }) => r.resourceName), ['logs-']);
        // v0 and v1 filters: v0's is LITERAL, so the prefixed ACL is not listed to a client that could not tell
        assert.deepEqual((await admin.send(29, 0, { ...allFilter, patternTypeFilter: undefined })).resources.map((r: { resourceName: string }) => r.resourceName), ['orders', 'g', 'kafka-cluster']);
        assert.deepEqual((await admin.send(29, 1, { ...allFilter, principalFilter: 'User:bob' })).resources.map((r: { resourceName: string }) => r.resourceName), ['kafka-cluster']);
        assert.deepEqual([(await admin.send(29, 3, { ...allFilter, operation: 0 })).errorCode], [E.INVALID_REQUEST]);

        // alice may neither list nor change ACLs
        const refusedDescribe = await alice.send(29, 3, allFilter);
        assert.deepEqual([refusedDescribe.errorCode, refusedDescribe.errorMessage, refusedDescribe.resources], [E.CLUSTER_AUTHORIZATION_FAILED, 'not authorized to DESCRIBE the cluster', []]);
        assert.deepEqual(await createAcls(alice, [{ resourceType: ResourceType.TOPIC, resourceName: 'orders', principal: 'User:alice', operation: Op.ALL }]), [[E.CLUSTER_AUTHORIZATION_FAILED, 'not authorized to ALTER the cluster']]);
        assert.equal((await alice.send(31, 3, { filters: [allFilter] })).filterResults[0].errorCode, E.CLUSTER_AUTHORIZATION_FAILED);

        const deleted = await admin.send(31, 1, { filters: [{ ...allFilter, resourceTypeFilter: ResourceType.GROUP }, { ...allFilter, patternTypeFilter: PatternType.UNKNOWN }] });
        assert.deepEqual(deleted.filterResults.map((f: { errorCode: number; matchingAcls: { resourceName: string; host: string }[] }) => [f.errorCode, f.matchingAcls.map((m) => `${m.resourceName}@${m.host}`)]), [
          [0, ['g@10.1.1.1']],
          [E.INVALID_REQUEST, []],
        ]);
      } finally {
        admin.close();
        alice.close();
      }
    }, { ...ACLS, dataDir });
    // a restart finds them
    await withBroker(async ({ bootstrap, broker }) => {
      assert.equal(broker.authorizer?.size, 3);
      const alice = await login(bootstrap, 'alice');
      try {
        assert.equal(await fetch(alice, 'orders'), E.UNKNOWN_TOPIC_OR_PARTITION, 'READ on orders, which does not exist');
        assert.equal(await fetch(alice, 'payments'), E.TOPIC_AUTHORIZATION_FAILED);
      } finally {
        alice.close();
      }
    }, { ...ACLS, dataDir, autoCreateTopics: false });
  });
});

test('without ACLs turned on the ACL APIs answer SECURITY_DISABLED, and everyone may do everything', async () => {
  await withBroker(async ({ bootstrap }) => {
    const c = await KafkaClient.connectTo(bootstrap);
    try {
      assert.equal((await c.send(29, 3, allFilter)).errorCode, E.SECURITY_DISABLED);
      assert.deepEqual((await createAcls(c, [{ resourceType: ResourceType.TOPIC, resourceName: 'a', principal: 'User:a', operation: Op.READ }]))[0][0], E.SECURITY_DISABLED);
      assert.equal(await produce(c, 'orders'), 0);
      const md = await c.send(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: true, includeClusterAuthorizedOperations: true });
      assert.equal(md.topics[0].topicAuthorizedOperations, bit(Op.READ, Op.WRITE, Op.CREATE, Op.DELETE, Op.ALTER, Op.DESCRIBE, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS));
    } finally {
      c.close();
    }
  });
});

test('a client the ACLs allow nothing gets each API\'s refusal, and nothing changes', async () => {
  const { logger, lines } = capturedLogger();
  await withBroker(async ({ bootstrap, broker }) => {
    const admin = await login(bootstrap, 'admin');
    const c = await login(bootstrap, 'alice');
    try {
      assert.equal(await produce(admin, 'orders'), 0);
      assert.equal(await commit(admin, 'g', 'orders'), 0);
      const topicOf = (r: { topics: { partitions: { errorCode: number }[] }[] }) => r.topics[0]!.partitions[0]!.errorCode;
      const refusals: [string, () => Promise<unknown>, unknown][] = [
        ['Produce', () => produce(c, 'orders'), E.TOPIC_AUTHORIZATION_FAILED],
        ['Produce, auto-creating', () => produce(c, 'fresh'), E.TOPIC_AUTHORIZATION_FAILED],
        ['Produce, transactional', () => produce(c, 'orders', 'tx'), E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
        ['Fetch', () => fetch(c, 'orders'), E.TOPIC_AUTHORIZATION_FAILED],
        ['ListOffsets', () => c.send(2, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }] }).then(topicOf), E.TOPIC_AUTHORIZATION_FAILED],
        ['Metadata, all topics', () => metadata(c, null).then((r) => r.topics.length), 0],
        ['Metadata, named', () => metadata(c, ['orders']).then((r) => [r.topics[0].errorCode, r.topics[0].topicId, r.topics[0].partitions.length]), [E.TOPIC_AUTHORIZATION_FAILED, NO_TOPIC_ID, 0]],
        ['Metadata, auto-creating', () => metadata(c, ['fresh'], true).then((r) => r.topics[0].errorCode), E.TOPIC_AUTHORIZATION_FAILED],
        ['Metadata, cluster operations', () => c.send(3, 10, { topics: [], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: true, includeTopicAuthorizedOperations: false }).then((r) => r.clusterAuthorizedOperations), 0],
        ['OffsetForLeaderEpoch', () => c.send(23, 4, { replicaId: -1, topics: [{ topic: 'orders', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] }).then((r) => r.topics[0].partitions[0].errorCode), E.TOPIC_AUTHORIZATION_FAILED],
        ['CreateTopics', () => c.send(19, 7, { topics: [{ name: 'made', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000, validateOnly: false }).then((r) => r.topics[0].errorCode), E.TOPIC_AUTHORIZATION_FAILED],
        ['DeleteTopics', () => c.send(20, 6, { topics: [{ name: 'orders', topicId: NO_TOPIC_ID }, { name: 'missing', topicId: NO_TOPIC_ID }], timeoutMs: 1000 }).then((r) => r.responses.map((x: { errorCode: number }) => x.errorCode)), [E.TOPIC_AUTHORIZATION_FAILED, E.TOPIC_AUTHORIZATION_FAILED]],
        ['DeleteRecords', () => c.send(21, 2, { topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, offset: 1 }] }], timeoutMs: 1000 }).then(topicOf), E.TOPIC_AUTHORIZATION_FAILED],
        ['CreatePartitions', () => c.send(37, 3, { topics: [{ name: 'orders', count: 2, assignments: null }], timeoutMs: 1000, validateOnly: false }).then((r) => r.results[0].errorCode), E.TOPIC_AUTHORIZATION_FAILED],
        ['DescribeConfigs', () => c.send(32, 4, { resources: [{ resourceType: 2, resourceName: 'orders', configurationKeys: null }, { resourceType: 4, resourceName: '1', configurationKeys: null }], includeSynonyms: false, includeDocumentation: false }).then((r) => r.results.map((x: { errorCode: number }) => x.errorCode)), [E.TOPIC_AUTHORIZATION_FAILED, E.CLUSTER_AUTHORIZATION_FAILED]],
        ['IncrementalAlterConfigs', () => c.send(44, 1, { resources: [{ resourceType: 2, resourceName: 'orders', configs: [{ name: 'retention.ms', configOperation: 0, value: '1000' }] }], validateOnly: false }).then((r) => r.responses[0].errorCode), E.TOPIC_AUTHORIZATION_FAILED],
        ['AlterConfigs', () => c.send(33, 2, { resources: [{ resourceType: 4, resourceName: '', configs: [{ name: 'log.retention.ms', value: '1000' }] }], validateOnly: false }).then((r) => r.responses[0].errorCode), E.CLUSTER_AUTHORIZATION_FAILED],
        ['DescribeLogDirs', () => c.send(35, 4, { topics: null }).then((r) => [r.errorCode, r.results.length]), [E.CLUSTER_AUTHORIZATION_FAILED, 0]],
        ['FindCoordinator', () => c.send(10, 4, { keyType: 0, coordinatorKeys: ['g'] }).then((r) => r.coordinators[0].errorCode), E.GROUP_AUTHORIZATION_FAILED],
        ['FindCoordinator, transaction', () => c.send(10, 4, { keyType: 1, coordinatorKeys: ['tx'] }).then((r) => r.coordinators[0].errorCode), E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
        ['JoinGroup', () => join(c, 'g').then((r) => r.errorCode), E.GROUP_AUTHORIZATION_FAILED],
        ['SyncGroup', () => c.send(14, 5, { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] }).then((r) => r.errorCode), E.GROUP_AUTHORIZATION_FAILED],
        ['Heartbeat', () => c.send(12, 4, { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null }).then((r) => r.errorCode), E.GROUP_AUTHORIZATION_FAILED],
        ['LeaveGroup', () => c.send(13, 5, { groupId: 'g', members: [{ memberId: 'm', groupInstanceId: null, reason: null }] }).then((r) => r.errorCode), E.GROUP_AUTHORIZATION_FAILED],
        ['OffsetCommit', () => commit(c, 'g', 'orders'), E.GROUP_AUTHORIZATION_FAILED],
        ['OffsetFetch v8', () => c.send(9, 8, { groups: [{ groupId: 'g', topics: null }], requireStable: false }).then((r) => [r.groups[0].errorCode, r.groups[0].topics]), [E.GROUP_AUTHORIZATION_FAILED, []]],
        ['OffsetFetch v1', () => c.send(9, 1, { groupId: 'g', topics: [{ name: 'orders', partitionIndexes: [0] }] }).then(topicOf), E.GROUP_AUTHORIZATION_FAILED],
        ['DescribeGroups', () => c.send(15, 5, { groups: ['g'], includeAuthorizedOperations: true }).then((r) => r.groups[0].errorCode), E.GROUP_AUTHORIZATION_FAILED],
        ['ListGroups', () => c.send(16, 5, { statesFilter: [], typesFilter: [] }).then((r) => r.groups.length), 0],
        ['DeleteGroups', () => c.send(42, 2, { groupsNames: ['g'] }).then((r) => r.results[0].errorCode), E.GROUP_AUTHORIZATION_FAILED],
        ['OffsetDelete', () => c.send(47, 0, { groupId: 'g', topics: [{ name: 'orders', partitions: [{ partitionIndex: 0 }] }] }).then((r) => r.errorCode), E.GROUP_AUTHORIZATION_FAILED],
        ['InitProducerId, idempotent', () => initProducerId(c, null).then((r) => [r.errorCode, r.producerId]), [E.CLUSTER_AUTHORIZATION_FAILED, -1]],
        ['InitProducerId, transactional', () => initProducerId(c, 'tx').then((r) => r.errorCode), E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
        ['AddPartitionsToTxn', () => c.send(24, 3, { v3AndBelowTransactionalId: 'tx', v3AndBelowProducerId: 1, v3AndBelowProducerEpoch: 0, v3AndBelowTopics: [{ name: 'orders', partitions: [0] }] }).then((r) => r.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode), E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
        ['AddPartitionsToTxn v4 (between brokers)', () => c.send(24, 4, { transactions: [] }).then((r) => r.errorCode), E.CLUSTER_AUTHORIZATION_FAILED],
        ['AddOffsetsToTxn', () => c.send(25, 3, { transactionalId: 'tx', producerId: 1, producerEpoch: 0, groupId: 'g' }).then((r) => r.errorCode), E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
        ['EndTxn', () => c.send(26, 3, { transactionalId: 'tx', producerId: 1, producerEpoch: 0, committed: true }).then((r) => r.errorCode), E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
        ['TxnOffsetCommit', () => c.send(28, 3, { transactionalId: 'tx', groupId: 'g', producerId: 1, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: null, topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }] }).then(topicOf), E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
        ['DescribeProducers', () => c.send(61, 0, { topics: [{ name: 'orders', partitionIndexes: [0] }] }).then(topicOf), E.TOPIC_AUTHORIZATION_FAILED],
        ['DescribeTransactions', () => c.send(65, 0, { transactionalIds: ['tx'] }).then((r) => r.transactionStates[0].errorCode), E.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
        ['ConsumerGroupHeartbeat', () => c.send(68, 0, { groupId: 'g2', memberId: '', memberEpoch: 0, instanceId: null, rackId: null, rebalanceTimeoutMs: 10_000, subscribedTopicNames: ['orders'], serverAssignor: null, topicPartitions: [] }).then((r) => r.errorCode), E.GROUP_AUTHORIZATION_FAILED],
        ['ConsumerGroupDescribe', () => c.send(69, 0, { groupIds: ['g2'], includeAuthorizedOperations: true }).then((r) => r.groups[0].errorCode), E.GROUP_AUTHORIZATION_FAILED],
        ['AlterPartitionReassignments', () => c.send(45, 0, { timeoutMs: 1000, topics: [] }).then((r) => r.errorCode), E.CLUSTER_AUTHORIZATION_FAILED],
        ['ListPartitionReassignments', () => c.send(46, 0, { timeoutMs: 1000, topics: null }).then((r) => r.errorCode), E.CLUSTER_AUTHORIZATION_FAILED],
        ['DescribeCluster', () => c.send(60, 1, { includeClusterAuthorizedOperations: true, endpointType: 1 }).then((r) => [r.errorCode, r.clusterAuthorizedOperations]), [0, 0]],
      ];
      for (const [api, ask, expected] of refusals) assert.deepEqual(await ask(), expected, api);
      assert.deepEqual([...broker.logs.topics.keys()].sort(), ['__consumer_offsets', 'orders'], 'nothing created');
      assert.equal(broker.logs.getLog('orders', 0)!.logEndOffset, 1, 'nothing appended');
      assert.equal(broker.logs.topics.get('orders')!.partitions.length, 1);
      assert.equal(broker.logs.getLog('orders', 0)!.logStartOffset, 0);
      // each refusal of what a request named is logged with who asked
      assert.ok(lines.some((l) => l.msg === 'denied by ACLs' && l.principal === 'User:alice' && l.operation === 'WRITE' && l.resource === 'TOPIC:orders'), JSON.stringify(lines.slice(-3)));
    } finally {
      admin.close();
      c.close();
    }
  }, { ...ACLS, logger });
});

test('what grants allow: a consumer, an idempotent and a transactional producer, and the parts of a request the ACLs cover', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    const admin = await login(bootstrap, 'admin');
    const alice = await login(bootstrap, 'alice');
    const bob = await login(bootstrap, 'bob');
    try {
      for (const t of ['orders', 'payments', 'logs-app']) assert.equal(await produce(admin, t), 0);
      const alices = (resourceType: number, resourceName: string, operation: number, more: Partial<Acl> = {}): Acl => ({ resourceType, resourceName, principal: 'User:alice', operation, ...more });
      const T = ResourceType.TOPIC;
      assert.deepEqual((await createAcls(admin, [
        alices(T, 'orders', Op.READ), alices(T, 'orders', Op.WRITE), alices(T, 'logs-', Op.DESCRIBE, { resourcePatternType: PatternType.PREFIXED }),
        alices(ResourceType.GROUP, 'g', Op.READ), alices(ResourceType.TRANSACTIONAL_ID, 'tx', Op.WRITE),
        { resourceType: T, resourceName: '*', principal: 'User:*', operation: Op.READ, permissionType: AclPermission.DENY, host: '10.9.9.9' },
      ])).map((r: [number, string | null]) => r[0]), [0, 0, 0, 0, 0, 0]);

      // topics alice may DESCRIBE, with what she may do on each
      const all = await metadata(alice, null);
      assert.deepEqual(all.topics.map((t: { name: string; topicAuthorizedOperations: number }) => [t.name, t.topicAuthorizedOperations]).sort(), [
        ['logs-app', bit(Op.DESCRIBE)], ['orders', bit(Op.READ, Op.WRITE, Op.DESCRIBE)],
      ]);
      assert.equal(await produce(alice, 'orders'), 0);
      assert.equal(await produce(alice, 'logs-app'), E.TOPIC_AUTHORIZATION_FAILED, 'DESCRIBE only');
      assert.equal(await fetch(alice, 'orders'), 0);
      assert.equal(await fetch(alice, 'payments'), E.TOPIC_AUTHORIZATION_FAILED);
      // one refused topic does not fail the others
      const listed = await alice.send(2, 7, {
        replicaId: -1, isolationLevel: 0,
        topics: ['orders', 'payments', 'logs-app'].map((name) => ({ name, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] })),
      });
      assert.deepEqual(listed.topics.map((t: { partitions: { errorCode: number; offset: number }[] }) => [t.partitions[0]!.errorCode, t.partitions[0]!.offset]), [[0, 2], [E.TOPIC_AUTHORIZATION_FAILED, -1], [0, 1]]);

      // a consumer group: READ on the group and on the topics it commits
      const joined = await join(alice, 'g');
      assert.equal(joined.errorCode, MEMBER_ID_REQUIRED);
      assert.equal(await commit(alice, 'g', 'orders'), 0);
      assert.equal(await commit(alice, 'g', 'payments'), E.TOPIC_AUTHORIZATION_FAILED);
      assert.equal(await commit(alice, 'other', 'orders'), E.GROUP_AUTHORIZATION_FAILED);
      assert.equal(await commit(admin, 'g', 'payments'), 0);
      // her fetch of all the group's offsets leaves out what she may not DESCRIBE; one naming it is refused
      const fetched = await alice.send(9, 8, { groups: [{ groupId: 'g', topics: null }], requireStable: false });
      assert.deepEqual(fetched.groups[0].topics.map((t: { name: string; partitions: { committedOffset: number }[] }) => [t.name, t.partitions[0]!.committedOffset]), [['orders', 1]]);
      const named = await alice.send(9, 8, { groups: [{ groupId: 'g', topics: [{ name: 'payments', partitionIndexes: [0] }, { name: 'orders', partitionIndexes: [0] }] }], requireStable: false });
      assert.deepEqual(named.groups[0].topics.map((t: { name: string; partitions: { errorCode: number; committedOffset: number }[] }) => [t.name, t.partitions[0]!.errorCode, t.partitions[0]!.committedOffset]), [
        ['payments', E.TOPIC_AUTHORIZATION_FAILED, -1], ['orders', 0, 1],
      ]);
      assert.deepEqual((await alice.send(16, 5, { statesFilter: [], typesFilter: [] })).groups.map((g: { groupId: string }) => g.groupId), ['g']);
      assert.equal((await alice.send(15, 5, { groups: ['g'], includeAuthorizedOperations: true })).groups[0].authorizedOperations, bit(Op.READ, Op.DESCRIBE));

      // an idempotent producer needs WRITE on some topic (KIP-679): alice has it, bob has nothing
      assert.equal((await initProducerId(alice, null)).errorCode, 0);
      assert.equal((await initProducerId(bob, null)).errorCode, E.CLUSTER_AUTHORIZATION_FAILED);
      assert.deepEqual(await createAcls(admin, [{ resourceType: ResourceType.CLUSTER, resourceName: 'kafka-cluster', principal: 'User:bob', operation: Op.IDEMPOTENT_WRITE }]), [[0, null]]);
      assert.equal((await initProducerId(bob, null)).errorCode, 0, 'or IDEMPOTENT_WRITE on the cluster');

      // a transactional producer: WRITE on its transactional id and on each topic it adds
      const init = await initProducerId(alice, 'tx');
      assert.equal(init.errorCode, 0);
      const added = await alice.send(24, 3, {
        v3AndBelowTransactionalId: 'tx', v3AndBelowProducerId: init.producerId, v3AndBelowProducerEpoch: init.producerEpoch,
        v3AndBelowTopics: [{ name: 'orders', partitions: [0] }, { name: 'payments', partitions: [0] }],
      });
      assert.deepEqual(added.resultsByTopicV3AndBelow.map((t: { name: string; resultsByPartition: { partitionErrorCode: number }[] }) => [t.name, t.resultsByPartition[0]!.partitionErrorCode]), [
        ['orders', E.OPERATION_NOT_ATTEMPTED], ['payments', E.TOPIC_AUTHORIZATION_FAILED],
      ]);
      assert.equal((await alice.send(25, 3, { transactionalId: 'tx', producerId: init.producerId, producerEpoch: init.producerEpoch, groupId: 'other' })).errorCode, E.GROUP_AUTHORIZATION_FAILED);
      assert.equal((await alice.send(10, 4, { keyType: 1, coordinatorKeys: ['tx'] })).coordinators[0].errorCode, 0, 'WRITE implies DESCRIBE');

      // creating: CREATE on the cluster or the topic; the configs are echoed only with DESCRIBE_CONFIGS
      assert.deepEqual(await createAcls(admin, [alices(T, 'new-', Op.CREATE, { resourcePatternType: PatternType.PREFIXED })]), [[0, null]]);
      const created = await alice.send(19, 7, { topics: [{ name: 'new-one', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 1000, validateOnly: false });
      assert.deepEqual([created.topics[0].errorCode, created.topics[0].topicConfigErrorCode, created.topics[0].configs], [0, E.TOPIC_AUTHORIZATION_FAILED, null]);
      assert.ok(broker.logs.topics.has('new-one'));
      assert.equal((await metadata(alice, ['new-two'], true)).topics[0].errorCode, E.TOPIC_AUTHORIZATION_FAILED, 'CREATE does not imply DESCRIBE');
      assert.deepEqual(await createAcls(admin, [alices(T, 'new-', Op.DESCRIBE, { resourcePatternType: PatternType.PREFIXED })]), [[0, null]]);
      assert.equal((await metadata(alice, ['new-two'], true)).topics[0].errorCode, 0, 'auto-created');
      assert.ok(broker.logs.topics.has('new-two'));
      assert.equal(await produce(alice, 'new-three'), E.TOPIC_AUTHORIZATION_FAILED, 'CREATE is not WRITE');
    } finally {
      admin.close();
      alice.close();
      bob.close();
    }
  }, ACLS);
});

test('the principal: a verified TLS client certificate\'s distinguished name, an unverified one\'s or none\'s ANONYMOUS, SASL\'s user over TLS', async () => {
  const [cert, key, ca, alicePem, aliceKey, malloryPem, malloryKey] = ['server.pem', 'server.key', 'ca.pem', 'client.pem', 'client.key', 'untrusted-client.pem', 'untrusted-client.key'].map(tlsFixture);
  // each principal may see one topic
  const seen: [string, string][] = [['User:CN=alice', 'a'], ['User:CN=mallory', 'm'], ['User:ANONYMOUS', 'anon'], ['User:bob', 'b']];
  const visible = async (bootstrap: string, tls: { cert?: Buffer; key?: Buffer }, sasl?: keyof typeof USERS) => {
    const c = await KafkaClient.connectTo(bootstrap, 'principal', { ca, ...tls });
    try {
      if (sasl) await authenticate(c, { mechanism: 'PLAIN', username: sasl, password: USERS[sasl] });
      return (await metadata(c, null)).topics.map((t: { name: string }) => t.name);
    } finally {
      c.close();
    }
  };
  for (const clientAuth of ['requested', 'required'] as const) {
    await withBroker(async ({ bootstrap, broker }) => {
      for (const [, topic] of seen) await broker.createTopic(topic, 1, {});
      await broker.authorizer!.create(seen.map(([principal, resourceName]) => ({
        resourceType: ResourceType.TOPIC, resourceName, patternType: PatternType.LITERAL, principal, host: '*', operation: Op.DESCRIBE, permission: AclPermission.ALLOW,
      })));
      assert.deepEqual(await visible(bootstrap, { cert: alicePem, key: aliceKey }), ['a'], clientAuth);
      if (clientAuth === 'requested') {
        assert.deepEqual(await visible(bootstrap, { cert: malloryPem, key: malloryKey }), ['anon'], 'a certificate the CA did not sign names no one');
        assert.deepEqual(await visible(bootstrap, {}), ['anon']);
      } else {
        await assert.rejects(visible(bootstrap, { cert: malloryPem, key: malloryKey }), /connection closed|socket hang up|ECONNRESET|alert/i);
      }
    }, { tls: { cert, key, ca, clientAuth }, acls: { enabled: true } });
  }
  await withBroker(async ({ bootstrap, broker }) => {
    for (const [, topic] of seen) await broker.createTopic(topic, 1, {});
    await broker.authorizer!.create(seen.map(([principal, resourceName]) => ({
      resourceType: ResourceType.TOPIC, resourceName, patternType: PatternType.LITERAL, principal, host: '*', operation: Op.DESCRIBE, permission: AclPermission.ALLOW,
    })));
    assert.deepEqual(await visible(bootstrap, { cert: alicePem, key: aliceKey }, 'bob'), ['b'], 'SASL names the principal, as in Kafka');
  }, { tls: { cert, key, ca, clientAuth: 'requested' }, sasl: { users: USERS }, acls: { enabled: true } });
});

test('principal mapping rules name the principal from a certificate; a certificate no rule matches is refused and logged', async () => {
  const [cert, key, ca, alicePem, aliceKey] = ['server.pem', 'server.key', 'ca.pem', 'client.pem', 'client.key'].map(tlsFixture);
  const tls = { cert, key, ca, clientAuth: 'requested' as const };
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('mine', 1, {});
    await broker.authorizer!.create([{ resourceType: ResourceType.TOPIC, resourceName: 'mine', patternType: PatternType.LITERAL, principal: 'User:ALICE', host: '*', operation: Op.DESCRIBE, permission: AclPermission.ALLOW }]);
    const c = await KafkaClient.connectTo(bootstrap, 'mapped', { ca, cert: alicePem, key: aliceKey });
    try {
      assert.deepEqual((await metadata(c, null)).topics.map((t: { name: string }) => t.name), ['mine'], 'CN=alice is User:ALICE');
    } finally {
      c.close();
    }
    const anonymous = await KafkaClient.connectTo(bootstrap, 'anonymous', { ca });
    try {
      assert.deepEqual((await metadata(anonymous, null)).topics, [], 'no certificate: ANONYMOUS, whatever the rules');
    } finally {
      anonymous.close();
    }
  }, { tls, acls: { enabled: true }, principalMappingRules: 'RULE:^CN=([a-z]+)$/$1/U' });
  const { logger, lines } = capturedLogger();
  await withBroker(async ({ bootstrap }) => {
    const c = await KafkaClient.connectTo(bootstrap, 'unmapped', { ca, cert: alicePem, key: aliceKey });
    try {
      await assert.rejects(metadata(c, null), /connection closed/);
    } finally {
      c.close();
    }
    assert.ok(lines.some((l) => l.msg === 'closing connection: no principal mapping rule matches the client certificate' && l.certificate === 'CN=alice'));
  }, { tls, acls: { enabled: true }, principalMappingRules: 'RULE:^CN=bob$/bob/', logger });
});

test('a disk that refuses the ACL or credentials file: the change is answered KAFKA_STORAGE_ERROR and nothing changes; once it takes writes again, it is made', async () => {
  let failing = false;
  const eio = () => Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
  const fileSystem: FileSystem = {
    ...nodeFileSystem,
    writeFileAtomic: (path, data, durable, mode) => (failing && /(acls|scram-credentials)\.json$/.test(path) ? Promise.reject(eio()) : nodeFileSystem.writeFileAtomic(path, data, durable, mode)),
  };
  await withBroker(async ({ bootstrap, broker }) => {
    const admin = await login(bootstrap, 'admin');
    try {
      const grant = { resourceType: ResourceType.TOPIC, resourceName: 'orders', principal: 'User:alice', operation: Op.READ };
      failing = true;
      assert.deepEqual(await createAcls(admin, [grant]), [[E.KAFKA_STORAGE_ERROR, 'storage error: EIO: i/o error, write']]);
      assert.deepEqual((await admin.send(29, 3, allFilter)).resources, []);
      const salt = Buffer.alloc(16, 1);
      const upsert = { name: 'carol', mechanism: 1, iterations: 4096, salt, saltedPassword: Buffer.alloc(32, 2) };
      assert.deepEqual((await admin.send(51, 0, { deletions: [], upsertions: [upsert] })).results.map((r: { errorCode: number }) => r.errorCode), [E.KAFKA_STORAGE_ERROR]);
      assert.equal(broker.scramCredentials.users().length, 0);
      failing = false;
      assert.deepEqual(await createAcls(admin, [grant]), [[0, null]]);
      assert.equal((await admin.send(51, 0, { deletions: [], upsertions: [upsert] })).results[0].errorCode, 0);
      failing = true;
      assert.equal((await admin.send(31, 3, { filters: [allFilter] })).filterResults[0].errorCode, E.KAFKA_STORAGE_ERROR);
      assert.equal(broker.authorizer!.size, 1, 'nothing deleted');
    } finally {
      failing = false;
      admin.close();
    }
  }, { ...ACLS, fileSystem });
});

test('KIP-848: a member\'s regex matches only topics its client may DESCRIBE, rechecked at each heartbeat; ConsumerGroupDescribe refuses a group with topics the client may not DESCRIBE', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    const admin = await login(bootstrap, 'admin');
    const alice = await login(bootstrap, 'alice');
    const bob = await login(bootstrap, 'bob');
    try {
      for (const t of ['orders', 'payments']) await broker.createTopic(t, 1, {});
      const ids = new Map([...broker.logs.topics.values()].map((t) => [t.id, t.name]));
      assert.deepEqual((await createAcls(admin, [
        { resourceType: ResourceType.GROUP, resourceName: 'regex-readers', principal: 'User:*', operation: Op.READ },
        { resourceType: ResourceType.TOPIC, resourceName: 'orders', principal: 'User:alice', operation: Op.READ },
      ])).map((r: unknown[]) => r[0]), [0, 0]);
      let epoch = 0;
      const heartbeat = async () => {
        const r = await alice.send(68, 1, {
          groupId: 'regex-readers', memberId: 'alice-member', memberEpoch: epoch, instanceId: null, rackId: null, rebalanceTimeoutMs: 10_000,
          subscribedTopicNames: epoch === 0 ? [] : null, subscribedTopicRegex: epoch === 0 ? '.*' : null, serverAssignor: null, topicPartitions: epoch === 0 ? [] : null,
        });
        assert.equal(r.errorCode, 0, r.errorMessage);
        epoch = r.memberEpoch;
        return r.assignment === null ? null : r.assignment.topicPartitions.map((tp: { topicId: string }) => ids.get(tp.topicId)).sort();
      };
      assert.deepEqual(await heartbeat(), ['orders'], 'payments is not hers to see');
      assert.deepEqual(await createAcls(admin, [{ resourceType: ResourceType.TOPIC, resourceName: 'payments', principal: 'User:alice', operation: Op.DESCRIBE }]), [[0, null]]);
      assert.deepEqual(await heartbeat(), ['orders', 'payments'], 'granted: matched at the next heartbeat');
      // bob may describe the group, not its topics
      await createAcls(admin, [{ resourceType: ResourceType.GROUP, resourceName: 'regex-readers', principal: 'User:bob', operation: Op.DESCRIBE }]);
      const described = (await bob.send(69, 0, { groupIds: ['regex-readers'], includeAuthorizedOperations: false })).groups[0];
      assert.deepEqual([described.errorCode, described.errorMessage, described.members], [E.TOPIC_AUTHORIZATION_FAILED, 'group regex-readers has topics the client may not DESCRIBE: orders, payments', []]);
      const byAlice = (await alice.send(69, 0, { groupIds: ['regex-readers'], includeAuthorizedOperations: false })).groups[0];
      assert.deepEqual([byAlice.errorCode, byAlice.members.length], [0, 1]);
      // taken away again: off her assignment at her next heartbeat
      assert.equal((await admin.send(31, 3, { filters: [{ ...allFilter, resourceNameFilter: 'payments', patternTypeFilter: PatternType.LITERAL }] })).filterResults[0].matchingAcls.length, 1);
      assert.deepEqual(await heartbeat(), ['orders']);
    } finally {
      admin.close();
      alice.close();
      bob.close();
    }
  }, ACLS);
});

test('KIP-848: after a restart, a regex member\'s next heartbeat brings its DESCRIBE rights back before a new topic is matched', async () => {
  await withTempDir(async (dataDir) => {
    let epoch = 0;
    const heartbeat = (c: KafkaClient) =>
      c.send(68, 1, {
        groupId: 'regex-readers', memberId: 'alice-member', memberEpoch: epoch, instanceId: null, rackId: null, rebalanceTimeoutMs: 10_000,
        subscribedTopicNames: epoch === 0 ? [] : null, subscribedTopicRegex: epoch === 0 ? '.*' : null, serverAssignor: null, topicPartitions: null,
      }).then((r) => {
        assert.equal(r.errorCode, 0, r.errorMessage);
        epoch = r.memberEpoch;
      });
    const targetOf = async (c: KafkaClient, broker: RunningBroker['broker']) => {
      const names = new Map([...broker.logs.topics.values()].map((t) => [t.id, t.name]));
      const group = (await c.send(69, 0, { groupIds: ['regex-readers'], includeAuthorizedOperations: false })).groups[0];
      assert.equal(group.errorCode, 0, group.errorMessage);
      return group.members[0].targetAssignment.topicPartitions.map((tp: { topicId: string }) => names.get(tp.topicId)).sort();
    };
    await withBroker(async ({ bootstrap, broker }) => {
      for (const t of ['orders', 'payments']) await broker.createTopic(t, 1, {});
      const admin = await login(bootstrap, 'admin');
      const alice = await login(bootstrap, 'alice');
      try {
        await createAcls(admin, [
          { resourceType: ResourceType.GROUP, resourceName: 'regex-readers', principal: 'User:alice', operation: Op.READ },
          { resourceType: ResourceType.TOPIC, resourceName: 'orders', principal: 'User:alice', operation: Op.READ },
        ]);
        await heartbeat(alice);
        assert.deepEqual(await targetOf(alice, broker), ['orders']);
      } finally {
        admin.close();
        alice.close();
      }
    }, { ...ACLS, dataDir });
    await withBroker(async ({ bootstrap, broker }) => {
      const admin = await login(bootstrap, 'admin');
      const alice = await login(bootstrap, 'alice');
      try {
        await heartbeat(alice);
        await broker.createTopic('refunds', 1, {});
        await heartbeat(alice);
        assert.deepEqual(await targetOf(admin, broker), ['orders'], 'neither payments nor the new refunds');
      } finally {
        admin.close();
        alice.close();
      }
    }, { ...ACLS, dataDir });
  });
});

test('ACLs on a listener where clients cannot say who they are: a warning at start that every client is User:ANONYMOUS', async () => {
  const anonymous = capturedLogger();
  await withBroker(async () => undefined, { acls: { enabled: true }, logger: anonymous.logger });
  assert.ok(anonymous.lines.some((l) => l.level === 40 && /every client is User:ANONYMOUS/.test(String(l.msg))), JSON.stringify(anonymous.lines.map((l) => l.msg)));
  const named = capturedLogger();
  await withBroker(async () => undefined, { ...ACLS, logger: named.logger });
  assert.ok(!named.lines.some((l) => /every client is User:ANONYMOUS/.test(String(l.msg))));
});
