import { ErrorCode, KafkaError, errorName } from '../protocol/errors.js';
import { decodeConsumerProtocolAssignment } from '../protocol/messages.generated.js';
import { Reader } from '../protocol/reader.js';
import { buildRecordBatch, decodeRecordBatches, type KafkaRecord, type NewRecord } from '../protocol/records.js';
import { KafkaClient, type ClientTls } from './kafka-client.js';
import { authenticate, type SaslLogin } from './sasl-client.js';
import { partitionForKey } from '../protocol/murmur2.js';
import type { AclBinding, AclFilter } from '../protocol/acl.js';
import { SCRAM_MECHANISM_CODES, saltedPassword, type ScramMechanism } from '../broker/sasl-credentials.js';
import { randomBytes } from 'node:crypto';
import type { DescribeComponent, QuotaEntityPart } from '../broker/client-quotas.js';

const Api = {
  OFFSET_COMMIT: [8, 7],
  OFFSET_FETCH: [9, 7],
  DESCRIBE_GROUPS: [15, 5],
  LIST_GROUPS: [16, 4],
  DELETE_GROUPS: [42, 2],
  PRODUCE: [0, 9],
  FETCH: [1, 12],
  LIST_OFFSETS: [2, 7],
  METADATA: [3, 12],
  CREATE_TOPICS: [19, 7],
  CREATE_PARTITIONS: [37, 3],
  DELETE_TOPICS: [20, 5],
  DESCRIBE_CONFIGS: [32, 4],
  INCREMENTAL_ALTER_CONFIGS: [44, 1],
  DESCRIBE_PRODUCERS: [61, 0],
  DESCRIBE_TRANSACTIONS: [65, 0],
  LIST_TRANSACTIONS: [66, 1],
  DESCRIBE_ACLS: [29, 3],
  CREATE_ACLS: [30, 3],
  DELETE_ACLS: [31, 3],
  DESCRIBE_USER_SCRAM_CREDENTIALS: [50, 0],
  ALTER_USER_SCRAM_CREDENTIALS: [51, 0],
  DESCRIBE_CLIENT_QUOTAS: [48, 1],
  ALTER_CLIENT_QUOTAS: [49, 1],
} as const;

const TOPIC_RESOURCE = 2;

export interface TopicDescription {
  name: string;
  id: string;
  partitions: { partition: number; leader: number; logStartOffset: number; highWatermark: number }[];
  configs: { name: string; value: string; isDefault: boolean }[];
}

/** A producer a partition holds state for (DescribeProducers). */
export interface ProducerDescription {
  partition: number;
  producerId: number;
  producerEpoch: number;
  lastSequence: number;
  lastTimestampMs: number;
  /** Where its open transaction begins in the partition, or -1. */
  transactionStartOffset: number;
}

export interface TransactionDescription {
  transactionalId: string;
  state: string;
  producerId: number;
  producerEpoch: number;
  timeoutMs: number;
  /** When the open transaction began (epoch ms), or -1. */
  startMs: number;
  partitions: { topic: string; partition: number }[];
}

export interface GroupPartitionLag {
  topic: string;
  partition: number;
  committed: number;
  logEnd: number;
  /** logEnd - committed; from the log start when nothing was committed. */
  lag: number;
  owner: string | null;
}

export interface GroupDescription {
  group: string;
  state: string;
  protocol: string;
  members: { memberId: string; clientId: string; clientHost: string; partitions: { topic: string; partition: number }[] }[];
  offsets: GroupPartitionLag[];
}

/** Where `reset-offsets` moves a group: earliest, latest, the first offset at a time, or an exact offset. */
export type ResetSpec = { to: 'earliest' } | { to: 'latest' } | { to: 'timestamp'; timestampMs: number } | { to: 'offset'; offset: number };

function decodeAssignment(data: Buffer): { topic: string; partition: number }[] {
  if (data.length < 2) return [];
  const r = new Reader(data);
  const version = r.int16();
  const a = decodeConsumerProtocolAssignment(r, Math.min(version, 3));
  return a.assignedPartitions.flatMap((t) => t.partitions.map((partition) => ({ topic: t.topic, partition })));
}

function check(errorCode: number, errorMessage: string | null | undefined, what: string): void {
  if (errorCode !== 0) {
    const name = errorName(errorCode);
    throw new KafkaError(errorCode, `${what}: ${name}${errorMessage ? ` (${errorMessage})` : ''}`);
  }
}

/**
 * Operator actions over one connection to a Sluice (or any Kafka) broker, for the CLI: topics, and simple
 * line-oriented produce and consume. It speaks fixed, widely supported API versions.
 */
export class Admin {
  private constructor(readonly client: KafkaClient) {}

  /** Connects to `bootstrap` (over TLS if `tls` is given), and authenticates as `login` says where the broker requires SASL. */
  static async connect(bootstrap: string, login: SaslLogin | null = null, tls: ClientTls | null = null): Promise<Admin> {
    const client = await KafkaClient.connectTo(bootstrap, 'sluice-cli', tls);
    try {
      if (login !== null) await authenticate(client, login);
    } catch (err) {
      client.close();
      throw err;
    }
    return new Admin(client);
  }

  close(): void {
    this.client.close();
  }

  private send<T = any>(api: readonly [number, number], body: unknown): Promise<T> {
    return this.client.send<T>(api[0], api[1], body);
  }

  async listTopics(): Promise<string[]> {
    const res = await this.send(Api.METADATA, { topics: null, allowAutoTopicCreation: false });
    return res.topics.map((t: { name: string }) => t.name).sort();
  }

  /** The topic's partition count; `autoCreate` lets the broker create it (as a producer's metadata request does). */
  async partitionCount(topic: string, autoCreate = false): Promise<number> {
    const res = await this.send(Api.METADATA, { topics: [{ name: topic, topicId: '0'.repeat(32) }], allowAutoTopicCreation: autoCreate });
    const t = res.topics[0];
    check(t.errorCode, null, `topic ${topic}`);
    return t.partitions.length;
  }

  async createTopic(name: string, partitions: number, configs: Record<string, string>): Promise<void> {
    const res = await this.send(Api.CREATE_TOPICS, {
      topics: [{ name, numPartitions: partitions, replicationFactor: -1, assignments: [], configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })) }],
      timeoutMs: 30_000,
      validateOnly: false,
    });
    check(res.topics[0].errorCode, res.topics[0].errorMessage, `create ${name}`);
  }

  async deleteTopic(name: string): Promise<void> {
    const res = await this.send(Api.DELETE_TOPICS, { topicNames: [name], timeoutMs: 30_000 });
    check(res.responses[0].errorCode, res.responses[0].errorMessage, `delete ${name}`);
  }

  /** Grows a topic to `total` partitions (a topic cannot shrink). */
  async createPartitions(name: string, total: number): Promise<void> {
    const res = await this.send(Api.CREATE_PARTITIONS, { topics: [{ name, count: total, assignments: null }], timeoutMs: 30_000, validateOnly: false });
    check(res.results[0].errorCode, res.results[0].errorMessage, `grow ${name}`);
  }

  async alterTopic(name: string, set: Record<string, string>, remove: string[]): Promise<void> {
    const configs = [
      ...Object.entries(set).map(([n, value]) => ({ name: n, configOperation: 0, value })),
      ...remove.map((n) => ({ name: n, configOperation: 1, value: null })),
    ];
    const res = await this.send(Api.INCREMENTAL_ALTER_CONFIGS, { resources: [{ resourceType: TOPIC_RESOURCE, resourceName: name, configs }], validateOnly: false });
    check(res.responses[0].errorCode, res.responses[0].errorMessage, `alter ${name}`);
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    const meta = await this.send(Api.METADATA, { topics: [{ name, topicId: '0'.repeat(32) }], allowAutoTopicCreation: false });
    const t = meta.topics[0];
    check(t.errorCode, null, `describe ${name}`);
    const [earliest, latest] = await Promise.all([-2, -1].map((ts) => this.listOffsets(name, t.partitions.map((p: { partitionIndex: number }) => p.partitionIndex), ts)));
    const cfg = await this.send(Api.DESCRIBE_CONFIGS, { resources: [{ resourceType: TOPIC_RESOURCE, resourceName: name, configurationKeys: null }], includeSynonyms: false, includeDocumentation: false });
    check(cfg.results[0].errorCode, cfg.results[0].errorMessage, `configs of ${name}`);
    return {
      name,
      id: t.topicId,
      partitions: t.partitions
        .map((p: { partitionIndex: number; leaderId: number }) => ({
          partition: p.partitionIndex, leader: p.leaderId, logStartOffset: earliest!.get(p.partitionIndex)!, highWatermark: latest!.get(p.partitionIndex)!,
        }))
        .sort((a: { partition: number }, b: { partition: number }) => a.partition - b.partition),
      configs: cfg.results[0].configs.map((c: { name: string; value: string; configSource: number }) => ({ name: c.name, value: c.value, isDefault: c.configSource === 5 })),
    };
  }

  /** Transactional ids, optionally only those in the given states or open for at least `minDurationMs`. */
  async listTransactions(states: string[] = [], minDurationMs = -1): Promise<{ transactionalId: string; producerId: number; state: string }[]> {
    const res = await this.send(Api.LIST_TRANSACTIONS, { stateFilters: states, producerIdFilters: [], durationFilter: minDurationMs });
    check(res.errorCode, null, 'list transactions');
    if (res.unknownStateFilters.length > 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, `unknown transaction states: ${res.unknownStateFilters.join(', ')}`);
    return res.transactionStates
      .map((t: { transactionalId: string; producerId: number; transactionState: string }) => ({ transactionalId: t.transactionalId, producerId: t.producerId, state: t.transactionState }))
      .sort((a: { transactionalId: string }, b: { transactionalId: string }) => a.transactionalId.localeCompare(b.transactionalId));
  }

  async describeTransaction(transactionalId: string): Promise<TransactionDescription> {
    const t = (await this.send(Api.DESCRIBE_TRANSACTIONS, { transactionalIds: [transactionalId] })).transactionStates[0];
    check(t.errorCode, null, `describe transaction ${transactionalId}`);
    return {
      transactionalId, state: t.transactionState, producerId: t.producerId, producerEpoch: t.producerEpoch, timeoutMs: t.transactionTimeoutMs, startMs: t.transactionStartTimeMs,
      partitions: t.topics.flatMap((tp: { topic: string; partitions: number[] }) => tp.partitions.map((partition) => ({ topic: tp.topic, partition }))),
    };
  }

  /** The producers each listed partition of `topic` holds state for, by partition then producer id. */
  async describeProducers(topic: string, partitions: number[]): Promise<ProducerDescription[]> {
    const res = await this.send(Api.DESCRIBE_PRODUCERS, { topics: [{ name: topic, partitionIndexes: partitions }] });
    const out: ProducerDescription[] = [];
    for (const p of res.topics[0].partitions) {
      check(p.errorCode, p.errorMessage, `producers of ${topic}-${p.partitionIndex}`);
      for (const s of p.activeProducers) {
        out.push({
          partition: p.partitionIndex, producerId: s.producerId, producerEpoch: s.producerEpoch, lastSequence: s.lastSequence,
          lastTimestampMs: s.lastTimestamp, transactionStartOffset: s.currentTxnStartOffset,
        });
      }
    }
    return out.sort((a, b) => a.partition - b.partition || a.producerId - b.producerId);
  }

  async listGroups(): Promise<{ group: string; state: string; protocolType: string }[]> {
    const res = await this.send(Api.LIST_GROUPS, { statesFilter: [] });
    check(res.errorCode, null, 'list groups');
    return res.groups.map((g: { groupId: string; groupState: string; protocolType: string }) => ({ group: g.groupId, state: g.groupState, protocolType: g.protocolType })).sort((a: { group: string }, b: { group: string }) => a.group.localeCompare(b.group));
  }

  /** A group's state and members, and per partition its committed offset, log end offset and lag. */
  async describeGroup(group: string): Promise<GroupDescription> {
    const d = (await this.send(Api.DESCRIBE_GROUPS, { groups: [group], includeAuthorizedOperations: false })).groups[0];
    check(d.errorCode, null, `describe group ${group}`);
    const members = d.members.map((m: { memberId: string; clientId: string; clientHost: string; memberAssignment: Buffer }) => ({
      memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost, partitions: d.protocolType === 'consumer' ? decodeAssignment(m.memberAssignment) : [],
    }));
    const owner = new Map<string, string>();
    for (const m of members) for (const p of m.partitions) owner.set(`${p.topic}:${p.partition}`, m.memberId);
    const fetched = await this.send(Api.OFFSET_FETCH, { groupId: group, topics: null, requireStable: false });
    check(fetched.errorCode, null, `offsets of ${group}`);
    const offsets: GroupPartitionLag[] = [];
    const wanted = new Map<string, Map<number, number>>();
    for (const t of fetched.topics) for (const p of t.partitions) wanted.set(t.name, (wanted.get(t.name) ?? new Map()).set(p.partitionIndex, p.committedOffset));
    // assigned partitions with nothing committed yet show too
    for (const m of members) {
      for (const { topic, partition } of m.partitions) if (!wanted.get(topic)?.has(partition)) wanted.set(topic, (wanted.get(topic) ?? new Map()).set(partition, -1));
    }
    for (const [topic, parts] of [...wanted].sort(([a], [b]) => a.localeCompare(b))) {
      const ends = await this.listOffsets(topic, [...parts.keys()], -1).catch(() => new Map<number, number>());
      const starts = await this.listOffsets(topic, [...parts.keys()], -2).catch(() => new Map<number, number>());
      for (const [partition, committed] of [...parts].sort(([a], [b]) => a - b)) {
        const logEnd = ends.get(partition) ?? -1;
        const from = committed >= 0 ? committed : starts.get(partition) ?? 0;
        offsets.push({ topic, partition, committed, logEnd, lag: logEnd >= 0 ? Math.max(0, logEnd - from) : -1, owner: owner.get(`${topic}:${partition}`) ?? null });
      }
    }
    return { group, state: d.groupState, protocol: d.protocolData, members, offsets };
  }

  /**
   * Moves a group's committed offsets for a topic (all partitions, or the given ones). Like Kafka's tool, it
   * refuses while the group has active members.
   */
  async resetOffsets(group: string, topic: string, spec: ResetSpec, partitions?: number[]): Promise<Map<number, number>> {
    const d = (await this.send(Api.DESCRIBE_GROUPS, { groups: [group], includeAuthorizedOperations: false })).groups[0];
    if (d.groupState !== 'Empty' && d.groupState !== 'Dead') {
      throw new KafkaError(ErrorCode.REBALANCE_IN_PROGRESS, `group ${group} is ${d.groupState} with ${d.members.length} member(s): stop its consumers before resetting offsets`);
    }
    const parts = partitions ?? [...Array(await this.partitionCount(topic)).keys()];
    let targets: Map<number, number>;
    if (spec.to === 'offset') {
      const [starts, ends] = await Promise.all([this.listOffsets(topic, parts, -2), this.listOffsets(topic, parts, -1)]);
      targets = new Map(parts.map((p) => [p, Math.min(Math.max(spec.offset, starts.get(p)!), ends.get(p)!)]));
    } else if (spec.to === 'timestamp') {
      const [at, ends] = await Promise.all([this.listOffsets(topic, parts, spec.timestampMs), this.listOffsets(topic, parts, -1)]);
      targets = new Map(parts.map((p) => [p, at.get(p)! >= 0 ? at.get(p)! : ends.get(p)!]));
    } else {
      targets = await this.listOffsets(topic, parts, spec.to === 'earliest' ? -2 : -1);
    }
    const res = await this.send(Api.OFFSET_COMMIT, {
      groupId: group, generationIdOrMemberEpoch: -1, memberId: '', groupInstanceId: null,
      topics: [{ name: topic, partitions: [...targets].map(([partitionIndex, committedOffset]) => ({ partitionIndex, committedOffset, committedLeaderEpoch: -1, committedMetadata: null })) }],
    });
    for (const p of res.topics[0].partitions) check(p.errorCode, null, `reset ${group} on ${topic}-${p.partitionIndex}`);
    return targets;
  }

  /** The ACLs the filter selects. */
  async describeAcls(f: AclFilter): Promise<AclBinding[]> {
    const res = await this.send(Api.DESCRIBE_ACLS, filterFields(f));
    check(res.errorCode, res.errorMessage, 'list ACLs');
    return res.resources.flatMap((r: { resourceType: number; resourceName: string; patternType: number; acls: { principal: string; host: string; operation: number; permissionType: number }[] }) =>
      r.acls.map((a) => ({ resourceType: r.resourceType, resourceName: r.resourceName, patternType: r.patternType, principal: a.principal, host: a.host, operation: a.operation, permission: a.permissionType })));
  }

  async createAcls(bindings: AclBinding[]): Promise<void> {
    const res = await this.send(Api.CREATE_ACLS, {
      creations: bindings.map((b) => ({
        resourceType: b.resourceType, resourceName: b.resourceName, resourcePatternType: b.patternType, principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permission,
      })),
    });
    res.results.forEach((r: { errorCode: number; errorMessage: string | null }) => check(r.errorCode, r.errorMessage, 'add ACLs'));
  }

  /** Removes the ACLs the filters select; returns what was removed. */
  async deleteAcls(filters: AclFilter[]): Promise<AclBinding[]> {
    const res = await this.send(Api.DELETE_ACLS, { filters: filters.map(filterFields) });
    const removed: AclBinding[] = [];
    for (const f of res.filterResults) {
      check(f.errorCode, f.errorMessage, 'remove ACLs');
      for (const m of f.matchingAcls) {
        removed.push({ resourceType: m.resourceType, resourceName: m.resourceName, patternType: m.patternType, principal: m.principal, host: m.host, operation: m.operation, permission: m.permissionType });
      }
    }
    return removed;
  }

  /** The users with SCRAM credentials, each with its mechanisms and their iterations. */
  async describeUsers(): Promise<{ user: string; credentials: { mechanism: ScramMechanism; iterations: number }[] }[]> {
    const res = await this.send(Api.DESCRIBE_USER_SCRAM_CREDENTIALS, { users: null });
    check(res.errorCode, res.errorMessage, 'list users');
    return res.results.map((r: { user: string; credentialInfos: { mechanism: number; iterations: number }[] }) => ({
      user: r.user,
      credentials: r.credentialInfos.map((c) => ({ mechanism: MECHANISM_NAMES.get(c.mechanism) ?? (`mechanism ${c.mechanism}` as ScramMechanism), iterations: c.iterations })),
    }));
  }

  /** Sets `user`'s password for each mechanism: salted and hashed here, so the broker never sees it. */
  async setUserPassword(user: string, password: string, mechanisms: readonly ScramMechanism[], iterations: number): Promise<void> {
    const upsertions = await Promise.all(mechanisms.map(async (mechanism) => {
      const salt = randomBytes(24);
      return { name: user, mechanism: SCRAM_MECHANISM_CODES[mechanism], iterations, salt, saltedPassword: await saltedPassword(password, mechanism, salt, iterations) };
    }));
    const res = await this.send(Api.ALTER_USER_SCRAM_CREDENTIALS, { deletions: [], upsertions });
    for (const r of res.results) check(r.errorCode, r.errorMessage, `set user ${user}`);
  }

  async deleteUserCredentials(user: string, mechanisms: readonly ScramMechanism[]): Promise<void> {
    const res = await this.send(Api.ALTER_USER_SCRAM_CREDENTIALS, { deletions: mechanisms.map((m) => ({ name: user, mechanism: SCRAM_MECHANISM_CODES[m] })), upsertions: [] });
    for (const r of res.results) check(r.errorCode, r.errorMessage, `delete user ${user}`);
  }

  /** The client quotas of the entities the filter matches (no component: all of them). */
  async describeClientQuotas(components: DescribeComponent[], strict = false): Promise<{ entity: QuotaEntityPart[]; values: Record<string, number> }[]> {
    const res = await this.send(Api.DESCRIBE_CLIENT_QUOTAS, { components, strict });
    check(res.errorCode, res.errorMessage, 'list client quotas');
    return res.entries.map((e: { entity: QuotaEntityPart[]; values: { key: string; value: number }[] }) => ({
      entity: e.entity, values: Object.fromEntries(e.values.map((v) => [v.key, v.value])),
    }));
  }

  /** Sets an entity's quotas (a number) or removes them (null). */
  async alterClientQuotas(entity: QuotaEntityPart[], changes: Record<string, number | null>): Promise<void> {
    const ops = Object.entries(changes).map(([key, value]) => ({ key, value: value ?? 0, remove: value === null }));
    const res = await this.send(Api.ALTER_CLIENT_QUOTAS, { entries: [{ entity, ops }], validateOnly: false });
    for (const e of res.entries) check(e.errorCode, e.errorMessage, 'change client quotas');
  }

  async deleteGroup(group: string): Promise<void> {
    const res = await this.send(Api.DELETE_GROUPS, { groupsNames: [group] });
    check(res.results[0].errorCode, null, `delete group ${group}`);
  }

  /** Offsets for a timestamp (-1 latest, -2 earliest) per partition. */
  async listOffsets(topic: string, partitions: number[], timestamp: number): Promise<Map<number, number>> {
    const res = await this.send(Api.LIST_OFFSETS, {
      replicaId: -1, isolationLevel: 0, topics: [{ name: topic, partitions: partitions.map((p) => ({ partitionIndex: p, currentLeaderEpoch: -1, timestamp })) }],
    });
    const out = new Map<number, number>();
    for (const p of res.topics[0].partitions) {
      check(p.errorCode, null, `offsets of ${topic}-${p.partitionIndex}`);
      out.set(p.partitionIndex, p.offset);
    }
    return out;
  }

  /** Produces records (one batch per partition); returns the base offset per partition. */
  async produce(topic: string, records: (NewRecord & { partition?: number })[], acks: -1 | 0 | 1 = -1, compression = 0): Promise<Map<number, number>> {
    const count = await this.partitionCount(topic, true);
    const byPartition = new Map<number, NewRecord[]>();
    let roundRobin = 0;
    for (const r of records) {
      const key = r.key === null || r.key === undefined ? null : Buffer.from(r.key);
      const p = r.partition ?? (key ? partitionForKey(key, count) : roundRobin++ % count);
      if (p < 0 || p >= count) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${topic} has no partition ${p}`);
      byPartition.set(p, [...(byPartition.get(p) ?? []), r]);
    }
    const res = await this.send(Api.PRODUCE, {
      transactionalId: null, acks, timeoutMs: 30_000,
      topicData: [{ name: topic, partitionData: [...byPartition].map(([index, recs]) => ({ index, records: buildRecordBatch(recs, { compression }) })) }],
    });
    const out = new Map<number, number>();
    if (acks === 0) return out;
    for (const p of res.responses[0].partitionResponses) {
      check(p.errorCode, p.errorMessage, `produce to ${topic}-${p.index}`);
      out.set(p.index, p.baseOffset);
    }
    return out;
  }

  /** One fetch of a partition from `offset`: the records at or after it (long poll up to `maxWaitMs`). */
  async fetch(topic: string, partition: number, offset: number, maxWaitMs: number, maxBytes = 1 << 20): Promise<{ records: KafkaRecord[]; highWatermark: number }> {
    const res = await this.send(Api.FETCH, {
      replicaId: -1, maxWaitMs, minBytes: 1, maxBytes, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1, partitionMaxBytes: maxBytes }] }],
      forgottenTopicsData: [], rackId: '',
    });
    const p = res.responses[0].partitions[0];
    check(p.errorCode, null, `fetch ${topic}-${partition} at ${offset}`);
    const records = decodeRecordBatches(p.records ?? Buffer.alloc(0)).flatMap((b) => b.records).filter((r) => r.offset >= offset);
    return { records, highWatermark: p.highWatermark };
  }
}

/** An ACL filter as DescribeAcls and DeleteAcls carry it. */
const filterFields = (f: AclFilter) => ({
  resourceTypeFilter: f.resourceType, resourceNameFilter: f.resourceName, patternTypeFilter: f.patternType, principalFilter: f.principal, hostFilter: f.host,
  operation: f.operation, permissionType: f.permission,
});

const MECHANISM_NAMES = new Map((Object.entries(SCRAM_MECHANISM_CODES) as [ScramMechanism, number][]).map(([name, code]) => [code, name]));
