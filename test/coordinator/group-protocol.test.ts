// The group coordinator at the protocol level: the membership round trips, timeouts and error codes
// clients rely on, offsets, and state that survives a broker restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { GroupError } from '../../src/coordinator/group-coordinator.js';
import { decodeStoredRecord } from '../../src/coordinator/group-store.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { decodeConsumerProtocolAssignment, decodeConsumerProtocolSubscription, encodeConsumerProtocolSubscription } from '../../src/protocol/messages.generated.js';
import { Reader } from '../../src/protocol/reader.js';
import { Writer } from '../../src/protocol/writer.js';
import type { RunningBroker } from '../../src/index.js';
import { withClient } from '../helpers/broker.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { InternalTopic, jsonRecord, OFFSETS_TOPIC, parseJsonRecord } from '../../src/coordinator/internal-topic.js';
import { fullDisk, openLogs } from '../storage/helpers.js';

const Api = { OFFSET_COMMIT: 8, OFFSET_FETCH: 9, FIND_COORDINATOR: 10, JOIN: 11, HEARTBEAT: 12, LEAVE: 13, SYNC: 14, DESCRIBE: 15, LIST: 16, DELETE_GROUPS: 42, OFFSET_DELETE: 47 } as const;
const groupsConfig = { minSessionTimeoutMs: 500, offsetsTopicPartitions: 3, consumerSessionTimeoutMs: 1500, consumerHeartbeatIntervalMs: 200 };

function subscription(topics: string[]): Buffer {
  const w = new Writer();
  w.int16(1);
  encodeConsumerProtocolSubscription(w, 1, { topics, userData: null, ownedPartitions: [] });
  return w.toBuffer();
}

function withGroupBroker(fn: (b: RunningBroker, c: KafkaClient) => Promise<void>, dataDir?: string): Promise<void> {
  return withClient((c, b) => fn(b, c), { groups: groupsConfig, dataDir });
}

function join(c: KafkaClient, group: string, memberId: string, options: { instance?: string; session?: number; type?: string; topics?: string[] } = {}) {
  return c.send(Api.JOIN, 7, {
    groupId: group, sessionTimeoutMs: options.session ?? 1000, rebalanceTimeoutMs: 5000, memberId, groupInstanceId: options.instance ?? null,
    protocolType: options.type ?? 'consumer', protocols: [{ name: 'range', metadata: subscription(options.topics ?? ['t']) }], reason: null,
  });
}

/** The v4+ two-step join: MEMBER_ID_REQUIRED hands out an id, the second JoinGroup uses it. */
async function joinNew(c: KafkaClient, group: string, options: Parameters<typeof join>[3] = {}) {
  if (options.instance) return join(c, group, '', options);
  const first = await join(c, group, '', options);
  assert.equal(first.errorCode, GroupError.MEMBER_ID_REQUIRED);
  assert.ok(first.memberId.length > 0);
  return join(c, group, first.memberId, options);
}

const sync = (c: KafkaClient, group: string, generationId: number, memberId: string, assignments: { memberId: string; assignment: Buffer }[] = []) =>
  c.send(Api.SYNC, 5, { groupId: group, generationId, memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments });
const heartbeat = (c: KafkaClient, group: string, generationId: number, memberId: string, instance: string | null = null) =>
  c.send(Api.HEARTBEAT, 4, { groupId: group, generationId, memberId, groupInstanceId: instance }).then((r) => r.errorCode);

test('join (member id required), sync relays the leader assignment, heartbeat; FindCoordinator v0 and batched', async () => {
  await withGroupBroker(async (b, c) => {
    const v0 = await c.send(Api.FIND_COORDINATOR, 0, { key: 'g' });
    assert.deepEqual([v0.errorCode, v0.nodeId, v0.port], [0, 1, b.port]);
    const v4 = await c.send(Api.FIND_COORDINATOR, 4, { keyType: 0, coordinatorKeys: ['a', 'b', ''] });
    assert.deepEqual(v4.coordinators.map((x: { key: string; errorCode: number }) => [x.key, x.errorCode]), [['a', 0], ['b', 0], ['', ErrorCode.INVALID_GROUP_ID]]);

    const j = await joinNew(c, 'g');
    assert.equal(j.errorCode, 0);
    assert.equal(j.generationId, 1);
    assert.equal(j.leader, j.memberId);
    assert.equal(j.protocolName, 'range');
    assert.equal(j.members.length, 1);
    const s = await sync(c, 'g', 1, j.memberId, [{ memberId: j.memberId, assignment: Buffer.from('my-assignment') }]);
    assert.deepEqual([s.errorCode, s.assignment.toString()], [0, 'my-assignment']);
    assert.equal(await heartbeat(c, 'g', 1, j.memberId), 0);
    assert.equal(await heartbeat(c, 'g', 7, j.memberId), ErrorCode.ILLEGAL_GENERATION);
    assert.equal(await heartbeat(c, 'g', 1, 'nobody'), ErrorCode.UNKNOWN_MEMBER_ID);
    const d = await c.send(Api.DESCRIBE, 5, { groups: ['g', 'nope'], includeAuthorizedOperations: false });
    assert.equal(d.groups[0].groupState, 'Stable');
    assert.equal(d.groups[0].members[0].memberAssignment.toString(), 'my-assignment');
    assert.equal(d.groups[1].groupState, 'Dead');
  });
});

test('a second member triggers a rebalance; a member that stops heartbeating is evicted after its session timeout', async () => {
  await withGroupBroker(async (b, c) => {
    const c2 = await KafkaClient.connectTo(b.bootstrap);
    try {
      const one = await joinNew(c, 'g');
      await sync(c, 'g', 1, one.memberId, [{ memberId: one.memberId, assignment: Buffer.from('all') }]);
      // member two joins: one learns of the rebalance through its heartbeat and rejoins
      const twoFirst = await join(c2, 'g', '');
      const twoJoin = join(c2, 'g', twoFirst.memberId);
      assert.equal(await heartbeat(c, 'g', 1, one.memberId), ErrorCode.REBALANCE_IN_PROGRESS);
      const [oneRe, two] = await Promise.all([join(c, 'g', one.memberId), twoJoin]);
      assert.equal(oneRe.generationId, 2);
      assert.equal(two.generationId, 2);
      assert.equal(oneRe.leader, one.memberId, 'the leader stays');
      assert.equal(oneRe.members.length, 2);
      assert.equal(two.members.length, 0, 'followers get no member list');
      const [s1, s2] = await Promise.all([
        sync(c, 'g', 2, one.memberId, [{ memberId: one.memberId, assignment: Buffer.from('a1') }, { memberId: two.memberId, assignment: Buffer.from('a2') }]),
        sync(c2, 'g', 2, two.memberId),
      ]);
      assert.deepEqual([s1.assignment.toString(), s2.assignment.toString()], ['a1', 'a2']);
      // now only one heartbeats; two goes silent past its 1000 ms session
      const deadline = Date.now() + 10_000;
      let error = 0;
      while (error === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        error = await heartbeat(c, 'g', 2, one.memberId);
      }
      assert.equal(error, ErrorCode.REBALANCE_IN_PROGRESS);
      const alone = await join(c, 'g', one.memberId);
      assert.deepEqual([alone.generationId, alone.members.length], [3, 1]);
      assert.equal(await heartbeat(c2, 'g', 2, two.memberId), ErrorCode.UNKNOWN_MEMBER_ID);
    } finally {
      c2.close();
    }
  });
});

test('join errors: session timeout bounds, protocol mismatch, unknown member; static members fence their predecessors', async () => {
  await withGroupBroker(async (_b, c) => {
    assert.equal((await join(c, 'g', '', { session: 100 })).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
    assert.equal((await join(c, '', '')).errorCode, ErrorCode.INVALID_GROUP_ID);
    const j = await joinNew(c, 'g');
    await sync(c, 'g', 1, j.memberId);
    assert.equal((await join(c, 'g', '', { type: 'connect' })).errorCode, GroupError.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal((await join(c, 'g', 'made-up')).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);

    const s1 = await join(c, 'static', '', { instance: 'i-1', session: 5000 });
    assert.equal(s1.errorCode, 0);
    await sync(c, 'static', s1.generationId, s1.memberId, [{ memberId: s1.memberId, assignment: Buffer.from('x') }]);
    // the same instance restarts: new member id, same generation, the old id is fenced
    const s2 = await join(c, 'static', '', { instance: 'i-1', session: 5000 });
    assert.equal(s2.generationId, s1.generationId);
    assert.notEqual(s2.memberId, s1.memberId);
    assert.equal(await heartbeat(c, 'static', s1.generationId, s1.memberId, 'i-1'), GroupError.FENCED_INSTANCE_ID);
    assert.equal(await heartbeat(c, 'static', s2.generationId, s2.memberId, 'i-1'), 0);
    const s = await sync(c, 'static', s2.generationId, s2.memberId);
    assert.equal(s.assignment.toString(), 'x', 'the restarted static member keeps its assignment');
  });
});

test('offsets: standalone commit and fetch (v1, v7, v8 multi-group), -1 for never committed, limits and unknown topics', async () => {
  await withGroupBroker(async (b, c) => {
    await b.broker.createTopic('t', 2, {});
    const commit = (group: string, partitions: { partitionIndex: number; committedOffset: number; committedMetadata?: string }[], topic = 't') =>
      c.send(Api.OFFSET_COMMIT, 7, { groupId: group, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null, topics: [{ name: topic, partitions: partitions.map((p) => ({ committedLeaderEpoch: -1, committedMetadata: null, ...p })) }] })
        .then((r) => r.topics[0].partitions.map((p: { errorCode: number }) => p.errorCode));
    assert.deepEqual(await commit('g1', [{ partitionIndex: 0, committedOffset: 42, committedMetadata: 'meta' }]), [0]);
    assert.deepEqual(await commit('g2', [{ partitionIndex: 1, committedOffset: 7 }]), [0]);
    assert.deepEqual(await commit('g1', [{ partitionIndex: 1, committedOffset: 1, committedMetadata: 'x'.repeat(5000) }]), [ErrorCode.OFFSET_METADATA_TOO_LARGE]);
    assert.deepEqual(await commit('g1', [{ partitionIndex: 0, committedOffset: 1 }], 'missing'), [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);

    const v1 = await c.send(Api.OFFSET_FETCH, 1, { groupId: 'g1', topics: [{ name: 't', partitionIndexes: [0, 1] }] });
    assert.deepEqual(v1.topics[0].partitions.map((p: { committedOffset: number; metadata: string; errorCode: number }) => [p.committedOffset, p.metadata, p.errorCode]), [[42, 'meta', 0], [-1, '', 0]]);
    const all = await c.send(Api.OFFSET_FETCH, 7, { groupId: 'g1', topics: null, requireStable: false });
    assert.deepEqual(all.topics.map((t: { name: string; partitions: { partitionIndex: number; committedOffset: number }[] }) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.committedOffset])]), [['t', [[0, 42]]]]);
    const v8 = await c.send(Api.OFFSET_FETCH, 8, { groups: [{ groupId: 'g1', topics: [{ name: 't', partitionIndexes: [0] }] }, { groupId: 'g2', topics: null }, { groupId: 'never', topics: [{ name: 't', partitionIndexes: [1] }] }], requireStable: false });
    assert.deepEqual(v8.groups.map((g: { groupId: string; topics: { partitions: { committedOffset: number }[] }[] }) => [g.groupId, g.topics.flatMap((t) => t.partitions.map((p) => p.committedOffset))]), [['g1', [42]], ['g2', [7]], ['never', [-1]]]);

    // a group with active members refuses standalone commits
    const j = await joinNew(c, 'busy');
    await sync(c, 'busy', 1, j.memberId);
    assert.deepEqual(await commit('busy', [{ partitionIndex: 0, committedOffset: 1 }]), [ErrorCode.UNKNOWN_MEMBER_ID]);
  });
});

test('ListGroups filters by state; DeleteGroups only empty groups; OffsetDelete refuses subscribed topics; retention expires offsets', async () => {
  await withGroupBroker(async (b, c) => {
    await b.broker.createTopic('t', 1, {});
    await b.broker.createTopic('u', 1, {});
    const j = await joinNew(c, 'active', { topics: ['t'], session: 10_000 });
    await sync(c, 'active', 1, j.memberId);
    await c.send(Api.OFFSET_COMMIT, 7, { groupId: 'active', generationIdOrMemberEpoch: 1, memberId: j.memberId, groupInstanceId: null, topics: ['t', 'u'].map((name) => ({ name, partitions: [{ partitionIndex: 0, committedOffset: 3, committedLeaderEpoch: -1, committedMetadata: null }] })) });
    await c.send(Api.OFFSET_COMMIT, 2, { groupId: 'idle', generationIdOrMemberEpoch: -1, memberId: '', retentionTimeMs: -1, topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 5, committedMetadata: null }] }] });

    const list = async (states: string[]) => (await c.send(Api.LIST, 4, { statesFilter: states })).groups.map((g: { groupId: string; groupState: string }) => `${g.groupId}:${g.groupState}`).sort();
    assert.deepEqual(await list([]), ['active:Stable', 'idle:Empty']);
    assert.deepEqual(await list(['Empty']), ['idle:Empty']);

    const del = await c.send(Api.OFFSET_DELETE, 0, { groupId: 'active', topics: ['t', 'u'].map((name) => ({ name, partitions: [{ partitionIndex: 0 }] })) });
    assert.deepEqual(del.topics.map((t: { partitions: { errorCode: number }[] }) => t.partitions[0]!.errorCode), [GroupError.GROUP_SUBSCRIBED_TO_TOPIC, 0]);

    const groups = await c.send(Api.DELETE_GROUPS, 2, { groupsNames: ['active', 'idle', 'ghost'] });
    assert.deepEqual(groups.results.map((r: { errorCode: number }) => r.errorCode), [GroupError.NON_EMPTY_GROUP, 0, GroupError.GROUP_ID_NOT_FOUND]);
    assert.deepEqual(await list([]), ['active:Stable']);

    // offsets of a group that has been Empty longer than the retention are deleted
    await c.send(Api.LEAVE, 5, { groupId: 'active', members: [{ memberId: j.memberId, groupInstanceId: null, reason: null }] });
    assert.equal(b.broker.groups.describe('active').state, 'Empty');
    const expired = await b.broker.groups.expireOffsets(Date.now() + 8 * 24 * 3600 * 1000);
    assert.equal(expired, 1);
    const left = await c.send(Api.OFFSET_FETCH, 7, { groupId: 'active', topics: null, requireStable: false });
    assert.deepEqual(left.topics, []);
  });
});

test('committed offsets and a stable group survive a broker restart', () =>
  withTempDir(async (dir) => {
    let memberId = '';
    await withGroupBroker(async (b, c) => {
      await b.broker.createTopic('t', 3, {});
      const j = await joinNew(c, 'durable', { session: 30_000 });
      memberId = j.memberId;
      await sync(c, 'durable', 1, memberId, [{ memberId, assignment: Buffer.from('p0-p2') }]);
      const res = await c.send(Api.OFFSET_COMMIT, 8, { groupId: 'durable', generationIdOrMemberEpoch: 1, memberId, groupInstanceId: null, topics: [{ name: 't', partitions: [0, 1, 2].map((p) => ({ partitionIndex: p, committedOffset: 100 + p, committedLeaderEpoch: 0, committedMetadata: `m${p}` })) }] });
      assert.deepEqual(res.topics[0].partitions.map((p: { errorCode: number }) => p.errorCode), [0, 0, 0]);
    }, dir);
    await withGroupBroker(async (_b, c) => {
      const f = await c.send(Api.OFFSET_FETCH, 6, { groupId: 'durable', topics: [{ name: 't', partitionIndexes: [0, 1, 2] }], requireStable: false });
      assert.deepEqual(f.topics[0].partitions.map((p: { committedOffset: number; metadata: string; committedLeaderEpoch: number }) => [p.committedOffset, p.metadata, p.committedLeaderEpoch]), [[100, 'm0', 0], [101, 'm1', 0], [102, 'm2', 0]]);
      const d = await c.send(Api.DESCRIBE, 5, { groups: ['durable'], includeAuthorizedOperations: false });
      assert.equal(d.groups[0].groupState, 'Stable');
      assert.equal(d.groups[0].members[0].memberAssignment.toString(), 'p0-p2');
      assert.equal(await heartbeat(c, 'durable', 1, memberId), 0, 'the member carries on after the restart');
    }, dir);
  }));

test('offsets an earlier version stored as JSON are served after an upgrade, and rewritten in Kafka\'s form at its start', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    try {
      await logs.createTopic('t', 1, {});
      await new InternalTopic(logs, OFFSETS_TOPIC, 4).write('old', [jsonRecord(['o', 'old', 't', 0], { offset: 42, leaderEpoch: 0, metadata: 'kept', commitTimestampMs: 1000 })]);
    } finally {
      await logs.close();
    }
    const fetchOld = async (c: KafkaClient) => {
      const f = await c.send(Api.OFFSET_FETCH, 6, { groupId: 'old', topics: [{ name: 't', partitionIndexes: [0] }], requireStable: false });
      return f.topics[0].partitions.map((p: { committedOffset: number; metadata: string }) => [p.committedOffset, p.metadata]);
    };
    await withGroupBroker(async (_b, c) => assert.deepEqual(await fetchOld(c), [[42, 'kept']]), dir);
    const reopened = await openLogs(dir);
    try {
      const kinds: string[] = [];
      for await (const r of new InternalTopic(reopened, OFFSETS_TOPIC, 4).readAll()) kinds.push(parseJsonRecord(r) ? (r.value ? 'json' : 'json tombstone') : 'kafka');
      assert.deepEqual(kinds, ['json', 'json tombstone', 'kafka']);
    } finally {
      await reopened.close();
    }
    await withGroupBroker(async (_b, c) => assert.deepEqual(await fetchOld(c), [[42, 'kept']]), dir);
  }));

// KIP-848: ConsumerGroupHeartbeat with server-side assignment, as a client library would drive it.
type Owned = { topicId: string; partitions: number[] }[];

function cgHeartbeat(
  c: KafkaClient, group: string, memberId: string, memberEpoch: number,
  options: { topics?: string[] | null; regex?: string | null; owned?: Owned | null; assignor?: string | null; rebalanceTimeoutMs?: number; instance?: string } = {},
) {
  return c.send(68, 1, {
    groupId: group, memberId, memberEpoch, instanceId: options.instance ?? null, rackId: null, rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? 5000,
    subscribedTopicNames: options.topics === undefined ? null : options.topics, subscribedTopicRegex: options.regex ?? null,
    serverAssignor: options.assignor ?? null, topicPartitions: options.owned === undefined ? null : options.owned,
  });
}

const partitionsOf = (r: { assignment: { topicPartitions: Owned } | null }) => (r.assignment?.topicPartitions ?? []).flatMap((t) => t.partitions).sort((a, b) => a - b);

test('KIP-848 consumer group: uniform assignment, revoke before reassign, leave, fencing, epochs in offset commits', async () => {
  await withGroupBroker(async (b, c) => {
    const topic = await b.broker.createTopic('t', 6, {});
    const owned = (ps: number[]): Owned => [{ topicId: topic.id, partitions: ps }];
    const a = await cgHeartbeat(c, 'cg', 'member-a', 0, { topics: ['t'], owned: [] });
    assert.deepEqual([a.errorCode, a.memberEpoch, partitionsOf(a)], [0, 1, [0, 1, 2, 3, 4, 5]]);
    assert.equal(a.heartbeatIntervalMs, 200);
    // b joins: the group epoch moves to 2; b gets nothing a still holds
    const b1 = await cgHeartbeat(c, 'cg', 'member-b', 0, { topics: ['t'], owned: [] });
    assert.deepEqual([b1.memberEpoch, partitionsOf(b1)], [2, []]);
    // a is told to give up half, and keeps epoch 1 until it confirms
    const a2 = await cgHeartbeat(c, 'cg', 'member-a', 1, { owned: owned([0, 1, 2, 3, 4, 5]) });
    assert.equal(a2.memberEpoch, 1);
    const keep = partitionsOf(a2);
    assert.equal(keep.length, 3);
    const a3 = await cgHeartbeat(c, 'cg', 'member-a', 1, { owned: owned(keep) });
    assert.deepEqual([a3.memberEpoch, partitionsOf(a3)], [2, keep]);
    const b2 = await cgHeartbeat(c, 'cg', 'member-b', 2, { owned: [] });
    assert.deepEqual(partitionsOf(b2), [0, 1, 2, 3, 4, 5].filter((p) => !keep.includes(p)));

    const described = await c.send(69, 0, { groupIds: ['cg', 'nope'], includeAuthorizedOperations: true });
    const g = described.groups[0];
    assert.deepEqual([g.errorCode, g.groupState, g.groupEpoch, g.assignorName, g.members.length], [0, 'Stable', 2, 'uniform', 2]);
    // no authorizer: every operation on a group (READ 3, DELETE 6, DESCRIBE 8), as Kafka without one answers
    assert.equal(g.authorizedOperations, 2 ** 3 + 2 ** 6 + 2 ** 8);
    assert.equal(described.groups[1].errorCode, GroupError.GROUP_ID_NOT_FOUND);
    const listed = await c.send(Api.LIST, 5, { statesFilter: [], typesFilter: ['consumer'] });
    assert.deepEqual(listed.groups.map((x: { groupId: string; groupType: string }) => [x.groupId, x.groupType]), [['cg', 'consumer']]);
    // tools that know only DescribeGroups see the members in the classic consumer protocol's encoding, as from Kafka
    const classic = (await c.send(Api.DESCRIBE, 5, { groups: ['cg'], includeAuthorizedOperations: false })).groups[0];
    assert.deepEqual([classic.errorCode, classic.groupState, classic.protocolType, classic.protocolData], [0, 'Stable', 'consumer', 'uniform']);
    const decoded = (bytes: Buffer, decode: (r: Reader, v: number) => unknown) => {
      const r = new Reader(bytes);
      return decode(r, r.int16());
    };
    const members = classic.members.map((m: { memberId: string; memberMetadata: Buffer; memberAssignment: Buffer }) => [
      m.memberId,
      (decoded(m.memberMetadata, decodeConsumerProtocolSubscription) as { topics: string[] }).topics,
      (decoded(m.memberAssignment, decodeConsumerProtocolAssignment) as { assignedPartitions: { topic: string; partitions: number[] }[] }).assignedPartitions.map((t) => [t.topic, [...t.partitions].sort()]),
    ]).sort();
    assert.deepEqual(members, [['member-a', ['t'], [['t', keep]]], ['member-b', ['t'], [['t', partitionsOf(b2)]]]]);

    // offsets are committed with the member epoch
    const commit = (epoch: number) => c.send(Api.OFFSET_COMMIT, 9, { groupId: 'cg', generationIdOrMemberEpoch: epoch, memberId: 'member-b', groupInstanceId: null, topics: [{ name: 't', partitions: [{ partitionIndex: partitionsOf(b2)[0]!, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }] }] }).then((r) => r.topics[0].partitions[0].errorCode);
    assert.equal(await commit(2), 0);
    assert.equal(await commit(1), 113, 'STALE_MEMBER_EPOCH');

    assert.equal((await cgHeartbeat(c, 'cg', 'member-b', 1)).errorCode, 110, 'FENCED_MEMBER_EPOCH');
    assert.equal((await cgHeartbeat(c, 'cg', 'ghost', 3)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal((await cgHeartbeat(c, 'cg2', 'x', 0, { topics: ['t'], assignor: 'magic' })).errorCode, 112, 'UNSUPPORTED_ASSIGNOR');
    // a classic group with members refuses consumer-protocol members
    const j = await joinNew(c, 'classic');
    await sync(c, 'classic', 1, j.memberId);
    assert.equal((await cgHeartbeat(c, 'classic', 'm', 0, { topics: ['t'] })).errorCode, GroupError.GROUP_ID_NOT_FOUND);

    // b leaves: a takes everything at the next epoch
    assert.equal((await cgHeartbeat(c, 'cg', 'member-b', -1)).memberEpoch, -1);
    const silentSince = Date.now(); // a's last heartbeat is sent after this
    const a4 = await cgHeartbeat(c, 'cg', 'member-a', 2, { owned: owned(keep) });
    assert.deepEqual([a4.memberEpoch, partitionsOf(a4)], [3, [0, 1, 2, 3, 4, 5]]);
    // a goes silent past the session timeout: the group empties
    const describeCg = async () => (await c.send(69, 0, { groupIds: ['cg'], includeAuthorizedOperations: false })).groups[0];
    let after = await describeCg();
    // polled rather than slept: the expiry check runs on the coordinator's timer, which a loaded machine delays
    while (after.groupState !== 'Empty' && Date.now() - silentSince < 15_000) {
      await new Promise((r) => setTimeout(r, 100));
      after = await describeCg();
    }
    assert.deepEqual([after.groupState, after.members.length], ['Empty', 0]);
    assert.ok(Date.now() - silentSince >= 1500, 'not before the session timeout');
  });
});

test('KIP-848 range assignor gives contiguous ranges', async () => {
  await withGroupBroker(async (b, c) => {
    await b.broker.createTopic('r', 5, {});
    await cgHeartbeat(c, 'rg', 'a', 0, { topics: ['r'], owned: [], assignor: 'range' });
    await cgHeartbeat(c, 'rg', 'b', 0, { topics: ['r'], owned: [], assignor: 'range' });
    const d = await c.send(69, 0, { groupIds: ['rg'], includeAuthorizedOperations: false });
    const targets = d.groups[0].members.map((m: { memberId: string; targetAssignment: { topicPartitions: Owned } }) => [m.memberId, m.targetAssignment.topicPartitions.flatMap((t) => t.partitions)]).sort();
    assert.deepEqual(targets, [['a', [0, 1, 2]], ['b', [3, 4]]]);
  });
});

const assigned = (r: { assignment: { topicPartitions: Owned } | null }, names: Map<string, string>) =>
  (r.assignment?.topicPartitions ?? []).flatMap((t) => t.partitions.map((p) => `${names.get(t.topicId)}-${p}`)).sort();

test('KIP-848: a regex subscription takes the topics it matches whole, internal ones left out; topics created and partitions added later are assigned at the next heartbeat', async () => {
  await withGroupBroker(async (b, c) => {
    const names = new Map<string, string>();
    const create = async (name: string, partitions: number) => names.set((await b.broker.createTopic(name, partitions, {})).id, name);
    await create('orders-eu', 2);
    await create('orders-us', 1);
    await create('my-orders-eu', 1); // matches only a search, not the whole name
    await create('refunds', 1);
    // a name and a regex together, as librdkafka sends them: the union
    const a = await cgHeartbeat(c, 'rx', 'a', 0, { topics: ['refunds'], regex: 'orders-.*|__.*', owned: [] });
    assert.deepEqual([a.errorCode, a.memberEpoch, assigned(a, names)], [0, 1, ['orders-eu-0', 'orders-eu-1', 'orders-us-0', 'refunds-0']]);
    const described = (await c.send(69, 0, { groupIds: ['rx'], includeAuthorizedOperations: false })).groups[0].members[0];
    assert.deepEqual([described.subscribedTopicNames, described.subscribedTopicRegex], [['refunds'], 'orders-.*|__.*']);
    const owned = (r: typeof a): Owned => r.assignment!.topicPartitions;

    // a matching topic created, and partitions added to one subscribed by name: a new epoch assigns them
    const steady = await cgHeartbeat(c, 'rx', 'a', 1, { owned: owned(a) });
    assert.deepEqual([steady.memberEpoch, assigned(steady, names)], [1, assigned(a, names)]);
    await create('orders-apac', 1);
    await b.broker.logs.createPartitions('refunds', 2);
    const grown = await cgHeartbeat(c, 'rx', 'a', 1, { owned: owned(steady) });
    assert.deepEqual([grown.memberEpoch, assigned(grown, names)], [2, ['orders-apac-0', 'orders-eu-0', 'orders-eu-1', 'orders-us-0', 'refunds-0', 'refunds-1']]);

    // the regex changed, then cleared (''): what it matched is revoked, the names stay
    const narrowed = await cgHeartbeat(c, 'rx', 'a', 2, { regex: 'orders-eu', owned: owned(grown) });
    assert.deepEqual([narrowed.memberEpoch, assigned(narrowed, names)], [2, ['orders-eu-0', 'orders-eu-1', 'refunds-0', 'refunds-1']]);
    const cleared = await cgHeartbeat(c, 'rx', 'a', 2, { regex: '', owned: owned(narrowed) });
    assert.deepEqual(assigned(cleared, names), ['refunds-0', 'refunds-1']);
    const settled = await cgHeartbeat(c, 'rx', 'a', 2, { owned: owned(cleared) });
    assert.deepEqual([settled.memberEpoch, assigned(settled, names)], [4, ['refunds-0', 'refunds-1']]);

    // a regex that does not compile: INVALID_REGULAR_EXPRESSION, and nothing joins
    const bad = await cgHeartbeat(c, 'rx', 'b', 0, { regex: 'orders-(', owned: [] });
    assert.equal(bad.errorCode, 128);
    assert.equal((await c.send(69, 0, { groupIds: ['rx'], includeAuthorizedOperations: false })).groups[0].members.length, 1);
    // joining with neither names nor a regex is refused
    assert.equal((await cgHeartbeat(c, 'rx', 'b', 0, { owned: [] })).errorCode, ErrorCode.INVALID_REQUEST);
  });
});

test('KIP-848: a member that does not give up partitions within its rebalance timeout is removed, and the others get them', async () => {
  await withGroupBroker(async (b, c) => {
    const topic = await b.broker.createTopic('slow', 4, {});
    const owned = (ps: number[]): Owned => [{ topicId: topic.id, partitions: ps }];
    const a = await cgHeartbeat(c, 'stuck', 'a', 0, { topics: ['slow'], owned: [], rebalanceTimeoutMs: 1000 });
    assert.deepEqual(partitionsOf(a), [0, 1, 2, 3]);
    await cgHeartbeat(c, 'stuck', 'b', 0, { topics: ['slow'], owned: [] });
    // a is told to give up two, and goes on heartbeating with all four: b gets none of them meanwhile
    const toldAt = Date.now();
    assert.equal(partitionsOf(await cgHeartbeat(c, 'stuck', 'a', 1, { owned: owned([0, 1, 2, 3]) })).length, 2);
    let aEpoch = 1;
    let answer = await cgHeartbeat(c, 'stuck', 'a', aEpoch, { owned: owned([0, 1, 2, 3]) });
    let b2: Awaited<ReturnType<typeof cgHeartbeat>> | null = null;
    while (answer.errorCode === 0 && Date.now() - toldAt < 10_000) {
      const bAnswer = await cgHeartbeat(c, 'stuck', 'b', 2, { owned: [] });
      if (partitionsOf(bAnswer).length > 0) {
        // the timeout removed a between its heartbeat and b's: a must be gone now
        b2 = bAnswer;
        answer = await cgHeartbeat(c, 'stuck', 'a', aEpoch, { owned: owned([0, 1, 2, 3]) });
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
      answer = await cgHeartbeat(c, 'stuck', 'a', aEpoch, { owned: owned([0, 1, 2, 3]) });
    }
    assert.equal(answer.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    assert.ok(Date.now() - toldAt >= 1000, 'not before the rebalance timeout');
    // b takes everything at the next epoch; a joins again as a new member
    b2 ??= await cgHeartbeat(c, 'stuck', 'b', 2, { owned: [] });
    assert.deepEqual([b2.memberEpoch, partitionsOf(b2)], [3, [0, 1, 2, 3]]);
    aEpoch = (await cgHeartbeat(c, 'stuck', 'a', 0, { topics: ['slow'], owned: [] })).memberEpoch;
    assert.equal(aEpoch, 4);
  });
});

test('KIP-848 static membership: a static member away (epoch -2) keeps its partitions, its replacement takes them over without a rebalance; the instance id is not shared', async () => {
  await withGroupBroker(async (b, c) => {
    const topic = await b.broker.createTopic('st', 4, {});
    const owned = (ps: number[]): Owned => [{ topicId: topic.id, partitions: ps }];
    const epochOf = async () => (await c.send(69, 0, { groupIds: ['static'], includeAuthorizedOperations: false })).groups[0];
    const a = await cgHeartbeat(c, 'static', 'a1', 0, { topics: ['st'], owned: [], instance: 'host-a' });
    await cgHeartbeat(c, 'static', 'b', 0, { topics: ['st'], owned: [] });
    const aHalf = partitionsOf(await cgHeartbeat(c, 'static', 'a1', a.memberEpoch, { owned: owned(partitionsOf(a)) }));
    const settledA = await cgHeartbeat(c, 'static', 'a1', 1, { owned: owned(aHalf) });
    const b2 = await cgHeartbeat(c, 'static', 'b', 2, { owned: [] });
    const bHalf = partitionsOf(b2);
    assert.deepEqual([settledA.memberEpoch, b2.memberEpoch, [...aHalf, ...bHalf].sort()], [2, 2, [0, 1, 2, 3]]);

    // a restarts: it leaves with -2, and b is not given its partitions
    assert.equal((await cgHeartbeat(c, 'static', 'a1', -2, { instance: 'host-a' })).memberEpoch, -2);
    const bWhileAway = await cgHeartbeat(c, 'static', 'b', 2, { owned: owned(bHalf) });
    assert.deepEqual([bWhileAway.memberEpoch, partitionsOf(bWhileAway)], [2, bHalf]);
    assert.deepEqual([(await epochOf()).groupEpoch, (await epochOf()).groupState], [2, 'Stable']);
    // back with a new member id and the same instance id: a's partitions at once, the group epoch unchanged
    const a2 = await cgHeartbeat(c, 'static', 'a2', 0, { topics: ['st'], owned: [], instance: 'host-a' });
    assert.deepEqual([a2.errorCode, a2.memberEpoch, partitionsOf(a2)], [0, 2, aHalf]);
    assert.deepEqual((await epochOf()).members.map((m: { memberId: string; instanceId: string | null }) => [m.memberId, m.instanceId]).sort(), [['a2', 'host-a'], ['b', null]]);
    // while a2 is in the group, nobody else may use its instance id
    assert.equal((await cgHeartbeat(c, 'static', 'a3', 0, { topics: ['st'], owned: [], instance: 'host-a' })).errorCode, 111, 'UNRELEASED_INSTANCE_ID');

    // away for longer than its session: the member is removed and b takes everything at a new epoch
    assert.equal((await cgHeartbeat(c, 'static', 'a2', -2, { instance: 'host-a' })).memberEpoch, -2);
    const awaySince = Date.now();
    let bAll = await cgHeartbeat(c, 'static', 'b', 2, { owned: owned(bHalf) });
    while (partitionsOf(bAll).length < 4 && Date.now() - awaySince < 15_000) {
      await new Promise((r) => setTimeout(r, 100));
      bAll = await cgHeartbeat(c, 'static', 'b', bAll.memberEpoch, { owned: owned(partitionsOf(bAll)) });
    }
    assert.deepEqual([bAll.memberEpoch, partitionsOf(bAll)], [3, [0, 1, 2, 3]]);
    assert.ok(Date.now() - awaySince >= 1000, 'not before the session timeout');
  });
});

test('a KIP-848 group takes no classic member while it has members, nor loses the offsets of topics they subscribe to; emptied, it becomes a classic group with its offsets', async () => {
  await withGroupBroker(async (b, c) => {
    const topic = await b.broker.createTopic('t', 2, {});
    const a = await cgHeartbeat(c, 'moving', 'a', 0, { topics: ['t'], owned: [] });
    const commit = (generationIdOrMemberEpoch: number, memberId: string, committedOffset: number) =>
      c.send(Api.OFFSET_COMMIT, 9, { groupId: 'moving', generationIdOrMemberEpoch, memberId, groupInstanceId: null, topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset, committedLeaderEpoch: -1, committedMetadata: null }] }] })
        .then((r) => r.topics[0].partitions[0].errorCode);
    assert.equal(await commit(a.memberEpoch, 'a', 7), 0);
    assert.equal((await join(c, 'moving', '')).errorCode, GroupError.GROUP_ID_NOT_FOUND);
    // OffsetDelete refuses the topic its KIP-848 member subscribes to
    const offsetDelete = await c.send(Api.OFFSET_DELETE, 0, { groupId: 'moving', topics: [{ name: 't', partitions: [{ partitionIndex: 0 }] }] });
    assert.equal(offsetDelete.topics[0].partitions[0].errorCode, 86, 'GROUP_SUBSCRIBED_TO_TOPIC');
    await cgHeartbeat(c, 'moving', 'a', -1, { owned: [{ topicId: topic.id, partitions: partitionsOf(a) }] });
    // empty now: a classic member joins, syncs and commits; the offset the KIP-848 member committed is still there
    const j = await joinNew(c, 'moving', { topics: ['t'] });
    assert.equal(j.errorCode, 0);
    assert.equal((await sync(c, 'moving', j.generationId, j.memberId)).errorCode, 0);
    const fetched = await c.send(Api.OFFSET_FETCH, 7, { groupId: 'moving', topics: [{ name: 't', partitionIndexes: [0] }], requireStable: false });
    assert.equal(fetched.topics[0].partitions[0].committedOffset, 7);
    assert.equal(await commit(j.generationId, j.memberId, 9), 0);
    const d = (await c.send(Api.DESCRIBE, 5, { groups: ['moving'], includeAuthorizedOperations: false })).groups[0];
    assert.deepEqual([d.groupState, d.protocolData, d.members.length], ['Stable', 'range', 1]);
  });
});

/** The KIP-848 records in `__consumer_offsets`, by kind, as a start reads them (later records for a key win). */
async function consumerRecordsIn(dir: string): Promise<Map<string, unknown>> {
  const logs = await openLogs(dir);
  try {
    const live = new Map<string, unknown>();
    for await (const raw of new InternalTopic(logs, OFFSETS_TOPIC, groupsConfig.offsetsTopicPartitions).readAll()) {
      const r = decodeStoredRecord(raw);
      if (!r || r.kind === 'offset' || r.kind === 'group') continue;
      const key = 'memberId' in r ? `${r.kind} ${r.memberId}` : r.kind;
      if (r.value === null) live.delete(key);
      else live.set(key, r.value);
    }
    return live;
  } finally {
    await logs.close();
  }
}

test('a KIP-848 group outlives a broker restart in Kafka\'s records: members carry on at their epochs, a revocation and a static member\'s absence go on, steady heartbeats write nothing, and a deleted group is gone', () =>
  withTempDir(async (dir) => {
    let topicId = '';
    const owned = (ps: number[]): Owned => [{ topicId, partitions: ps }];
    const describe = async (c: KafkaClient) => (await c.send(69, 0, { groupIds: ['kept'], includeAuthorizedOperations: false })).groups[0];
    let aKeeps: number[] = [];
    await withGroupBroker(async (b, c) => {
      topicId = (await b.broker.createTopic('t', 4, {})).id;
      const a = await cgHeartbeat(c, 'kept', 'a', 0, { topics: ['t'], owned: [], instance: 'host-a', assignor: 'range' });
      assert.deepEqual([a.memberEpoch, partitionsOf(a)], [1, [0, 1, 2, 3]]);
      const b1 = await cgHeartbeat(c, 'kept', 'b', 0, { topics: null, regex: 't|u', owned: [] });
      assert.deepEqual([b1.memberEpoch, partitionsOf(b1)], [2, []]);
      // a is told to give up half, and the broker stops before it has
      aKeeps = partitionsOf(await cgHeartbeat(c, 'kept', 'a', 1, { owned: owned([0, 1, 2, 3]) }));
      assert.deepEqual(aKeeps, [0, 1]);
    }, dir);
    const records = await consumerRecordsIn(dir);
    assert.deepEqual([...records.keys()].sort(), [
      'consumer-current a', 'consumer-current b', 'consumer-epoch', 'consumer-member a', 'consumer-member b', 'consumer-target a', 'consumer-target b', 'consumer-target-epoch',
    ]);
    assert.deepEqual(records.get('consumer-epoch'), { epoch: 2 });
    assert.deepEqual(records.get('consumer-current a'), { memberEpoch: 1, previousMemberEpoch: 0, state: 1, assigned: owned([0, 1]), pendingRevocation: owned([2, 3]) });
    assert.deepEqual(records.get('consumer-target b'), owned([2, 3]));
    assert.deepEqual(records.get('consumer-member b'), {
      instanceId: null, rackId: null, clientId: 'sluice-cli', clientHost: '/127.0.0.1', subscribedTopicNames: [], subscribedTopicRegex: 't|u', rebalanceTimeoutMs: 5000, serverAssignor: 'range',
    });

    await withGroupBroker(async (b, c) => {
      const before = await describe(c);
      assert.deepEqual([before.groupState, before.groupEpoch, before.assignmentEpoch, before.assignorName], ['Reconciling', 2, 2, 'range']);
      assert.deepEqual(before.members.map((m: { memberId: string; memberEpoch: number; subscribedTopicRegex: string | null }) => [m.memberId, m.memberEpoch, m.subscribedTopicRegex]).sort(), [['a', 1, null], ['b', 2, 't|u']]);
      // b may not have a's partitions before a gives them up; then each gets its half at epoch 2, with no rebalance
      assert.deepEqual(partitionsOf(await cgHeartbeat(c, 'kept', 'b', 2, { owned: [] })), []);
      const a2 = await cgHeartbeat(c, 'kept', 'a', 1, { owned: owned(aKeeps) });
      assert.deepEqual([a2.errorCode, a2.memberEpoch, partitionsOf(a2)], [0, 2, [0, 1]]);
      const b2 = await cgHeartbeat(c, 'kept', 'b', 2, { owned: [] });
      assert.deepEqual([b2.errorCode, b2.memberEpoch, partitionsOf(b2)], [0, 2, [2, 3]]);
      assert.deepEqual([(await describe(c)).groupState, (await describe(c)).groupEpoch], ['Stable', 2]);
      // steady heartbeats change nothing, and write nothing
      const offsetsTopic = b.broker.logs.topics.get(OFFSETS_TOPIC)!;
      const written = () => offsetsTopic.partitions.reduce((n, p) => n + p.logEndOffset, 0);
      const end = written();
      for (let i = 0; i < 5; i++) {
        await cgHeartbeat(c, 'kept', 'a', 2, { owned: owned([0, 1]) });
        await cgHeartbeat(c, 'kept', 'b', 2, { owned: owned([2, 3]) });
      }
      assert.equal(written(), end);
      // a restarts as a static member does: away with -2, and the broker restarts meanwhile
      assert.equal((await cgHeartbeat(c, 'kept', 'a', -2, { instance: 'host-a' })).memberEpoch, -2);
    }, dir);

    await withGroupBroker(async (_b, c) => {
      const a3 = await cgHeartbeat(c, 'kept', 'a-again', 0, { topics: ['t'], owned: [], instance: 'host-a' });
      assert.deepEqual([a3.errorCode, a3.memberEpoch, partitionsOf(a3)], [0, 2, [0, 1]], 'the replacement takes its partitions over without a rebalance');
      // an unknown member after the restart is still unknown; the others leave and the group empties
      assert.equal((await cgHeartbeat(c, 'kept', 'ghost', 2)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
      await cgHeartbeat(c, 'kept', 'a-again', -1);
      await cgHeartbeat(c, 'kept', 'b', -1);
    }, dir);
    assert.deepEqual([...(await consumerRecordsIn(dir)).keys()].sort(), ['consumer-epoch', 'consumer-target-epoch'], 'the members that left are deleted');

    await withGroupBroker(async (_b, c) => {
      const listed = await c.send(Api.LIST, 5, { statesFilter: [], typesFilter: [] });
      assert.deepEqual(listed.groups.map((g: { groupId: string; groupState: string; groupType: string }) => [g.groupId, g.groupState, g.groupType]), [['kept', 'Empty', 'consumer']]);
      const deleted = await c.send(Api.DELETE_GROUPS, 2, { groupsNames: ['kept'] });
      assert.equal(deleted.results[0].errorCode, 0);
    }, dir);
    assert.equal((await consumerRecordsIn(dir)).size, 0, 'a deleted group leaves no record');
    await withGroupBroker(async (_b, c) => {
      assert.deepEqual((await c.send(Api.LIST, 5, { statesFilter: [], typesFilter: [] })).groups, []);
    }, dir);
  }));

test('a KIP-848 member that leaves while its removal cannot be written is removed in the records once the disk takes them, with nothing else to write them: a restart does not bring it back', () =>
  withTempDir(async (dir) => {
    const disk = fullDisk();
    await withClient(async (c, b) => {
      await b.broker.createTopic('t', 1, {});
      assert.equal((await cgHeartbeat(c, 'lonely', 'only', 0, { topics: ['t'], owned: [] })).errorCode, 0);
      disk.setFull(true);
      assert.equal((await cgHeartbeat(c, 'lonely', 'only', -1)).errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
      disk.setFull(false);
      // no member is left to heartbeat: the coordinator writes the removal again itself, within a second or so
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    }, { groups: groupsConfig, dataDir: dir, fileSystem: disk.fs });
    assert.deepEqual([...(await consumerRecordsIn(dir)).keys()].filter((k) => k.startsWith('consumer-member')), []);
    await withGroupBroker(async (_b, c) => {
      const g = (await c.send(69, 0, { groupIds: ['lonely'], includeAuthorizedOperations: false })).groups[0];
      assert.deepEqual(g.members, []);
    }, dir);
  }));

test('a KIP-848 heartbeat whose changes cannot be written gets COORDINATOR_NOT_AVAILABLE; the member\'s retry writes them, and a restart finds them', () =>
  withTempDir(async (dir) => {
    const disk = fullDisk();
    await withClient(async (c, b) => {
      const topic = await b.broker.createTopic('t', 2, {});
      const a = await cgHeartbeat(c, 'full', 'a', 0, { topics: ['t'], owned: [] });
      assert.deepEqual([a.errorCode, a.memberEpoch], [0, 1]);
      disk.setFull(true);
      const refused = await cgHeartbeat(c, 'full', 'b', 0, { topics: ['t'], owned: [] });
      assert.deepEqual([refused.errorCode, refused.memberId, refused.assignment], [ErrorCode.COORDINATOR_NOT_AVAILABLE, null, null]);
      disk.setFull(false);
      const b1 = await cgHeartbeat(c, 'full', 'b', 0, { topics: ['t'], owned: [] });
      assert.deepEqual([b1.errorCode, b1.memberEpoch], [0, 3]);
      await cgHeartbeat(c, 'full', 'a', 1, { owned: [{ topicId: topic.id, partitions: [0, 1] }] });
    }, { groups: groupsConfig, dataDir: dir, fileSystem: disk.fs });
    const records = await consumerRecordsIn(dir);
    assert.deepEqual(records.get('consumer-epoch'), { epoch: 3 });
    assert.deepEqual([...records.keys()].filter((k) => k.startsWith('consumer-member')).sort(), ['consumer-member a', 'consumer-member b']);
    await withGroupBroker(async (_b, c) => {
      const g = (await c.send(69, 0, { groupIds: ['full'], includeAuthorizedOperations: false })).groups[0];
      assert.deepEqual([g.groupEpoch, g.members.map((m: { memberId: string }) => m.memberId).sort()], [3, ['a', 'b']]);
    }, dir);
  }));
