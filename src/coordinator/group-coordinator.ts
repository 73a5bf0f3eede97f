import { randomUUID } from 'node:crypto';
import type { Clock } from '../io/clock.js';
import { ErrorCode } from '../protocol/errors.js';
import { decodeConsumerProtocolSubscription, encodeConsumerProtocolAssignment, encodeConsumerProtocolSubscription } from '../protocol/messages.generated.js';
import { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';
import type { LogManager } from '../storage/log-manager.js';
import { Group, offsetKey, type GroupState, type JoinResult, type Member, type SyncResult } from './group.js';
import { GroupStore, type StoredGroup, type StoredRecord } from './group-store.js';
import { ConsumerGroupLedger } from './consumer-group-ledger.js';
import { ConsumerGroupError, ConsumerGroupProtocol, type ConsumerGroupState, type HeartbeatRequest, type HeartbeatResponse, type TopicLookup } from './consumer-groups.js';
import { isInternalTopic } from './internal-topic.js';

/** Kafka error codes specific to groups, not in the shared table. */
export const GroupError = {
  INCONSISTENT_GROUP_PROTOCOL: 23,
  GROUP_AUTHORIZATION_FAILED: 30,
  MEMBER_ID_REQUIRED: 79,
  FENCED_INSTANCE_ID: 82,
  NON_EMPTY_GROUP: 68,
  GROUP_ID_NOT_FOUND: 69,
  GROUP_SUBSCRIBED_TO_TOPIC: 86,
  UNSTABLE_OFFSET_COMMIT: 88,
  GROUP_MAX_SIZE_REACHED: 81,
} as const;

export interface GroupCoordinatorConfig {
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** Wait before the first rebalance of an empty group, so several members can join together. */
  initialRebalanceDelayMs: number;
  offsetsRetentionMs: number;
  offsetsTopicPartitions: number;
  maxMetadataBytes: number;
  /** KIP-848 consumer groups: session timeout and the heartbeat interval told to members. */
  consumerSessionTimeoutMs: number;
  consumerHeartbeatIntervalMs: number;
}

export const DEFAULT_GROUP_CONFIG: GroupCoordinatorConfig = {
  minSessionTimeoutMs: 6000,
  maxSessionTimeoutMs: 1_800_000,
  initialRebalanceDelayMs: 0,
  offsetsRetentionMs: 7 * 24 * 3600 * 1000,
  offsetsTopicPartitions: 10,
  maxMetadataBytes: 4096,
  consumerSessionTimeoutMs: 45_000,
  consumerHeartbeatIntervalMs: 5_000,
};

export interface JoinRequest {
  groupId: string;
  memberId: string;
  groupInstanceId: string | null;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
  clientId: string;
  clientHost: string;
  /** JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED with its id. */
  requireKnownMemberId: boolean;
}

export interface MemberRef {
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface OffsetToCommit {
  topic: string;
  partition: number;
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
}

export interface GroupDescription {
  groupId: string;
  state: GroupState;
  protocolType: string;
  protocolName: string;
  members: { memberId: string; groupInstanceId: string | null; clientId: string; clientHost: string; metadata: Buffer; assignment: Buffer }[];
}

const SWEEP_MS = 100;
/** How soon a KIP-848 group whose records could not be written is written again, when nothing else changes it. */
const UNWRITTEN_RETRY_MS = 1_000;
const RETENTION_SWEEP_MS = 60_000;

function subscriptionTopics(metadata: Buffer): string[] {
  const r = new Reader(metadata);
  const version = r.int16();
  return decodeConsumerProtocolSubscription(r, Math.min(version, 3)).topics;
}

/**
 * The classic group coordinator (JoinGroup / SyncGroup / Heartbeat / LeaveGroup, offsets). It relays the
 * leader's assignment as given, so every client-side assignor works. One sweep timer drives session
 * timeouts, rebalance deadlines and offset retention for all groups. Group metadata and offsets are
 * written to `__consumer_offsets` and rebuilt from it by load(), and so are KIP-848 groups (ConsumerGroupLedger).
 */
export class GroupCoordinator {
  readonly groups = new Map<string, Group>();
  private readonly store: GroupStore;
  private readonly topicExists: (name: string) => boolean;
  private readonly consumerProtocol: ConsumerGroupProtocol;
  private readonly consumerLedger: ConsumerGroupLedger;
  private stopSweep: (() => void) | null = null;
  private lastRetentionSweepMs = 0;
  /** KIP-848 groups with records not yet written (a failed write), and when each was last tried. */
  private readonly unwrittenGroups = new Map<string, number>();

  constructor(
    logs: LogManager,
    private readonly clock: Clock,
    readonly config: GroupCoordinatorConfig = DEFAULT_GROUP_CONFIG,
    private readonly onError: (err: unknown, what: string) => void = () => undefined,
  ) {
    this.store = new GroupStore(logs, config.offsetsTopicPartitions);
    this.topicExists = (name) => logs.topics.has(name);
    const topics: TopicLookup = {
      byName: (name) => {
        const t = logs.topics.get(name);
        return t && { id: t.id, partitions: t.partitions.length };
      },
      byId: (id) => {
        for (const t of logs.topics.values()) if (t.id === id) return { name: t.name, partitions: t.partitions.length };
        return undefined;
      },
      names: () => [...logs.topics.keys()].filter((name) => !isInternalTopic(name)),
    };
    this.consumerProtocol = new ConsumerGroupProtocol(topics, () => this.clock.now());
    this.consumerLedger = new ConsumerGroupLedger(topics);
  }

  /**
   * ConsumerGroupHeartbeat (KIP-848). A group with classic members cannot take consumer-protocol members. What the
   * heartbeat changed is written before it is answered, as Kafka does: a member never acts on an assignment that a
   * restart would forget.
   */
  async consumerHeartbeat(groupId: string, req: HeartbeatRequest): Promise<HeartbeatResponse & { heartbeatIntervalMs: number }> {
    const heartbeatIntervalMs = this.config.consumerHeartbeatIntervalMs;
    if (!groupId) return { errorCode: ErrorCode.INVALID_GROUP_ID, errorMessage: 'group id must not be empty', memberId: null, memberEpoch: 0, assignment: null, heartbeatIntervalMs };
    const group = this.groupOrCreate(groupId);
    if (group.type === 'classic') {
      if (group.members.size > 0) {
        return { errorCode: GroupError.GROUP_ID_NOT_FOUND, errorMessage: `group ${groupId} is a classic group with members`, memberId: null, memberEpoch: 0, assignment: null, heartbeatIntervalMs };
      }
      group.type = 'consumer';
    }
    const res = this.consumerProtocol.heartbeat(group.consumer, req);
    group.state = group.isEmpty ? 'Empty' : 'Stable';
    if (group.isEmpty) group.emptySinceMs = this.clock.now();
    try {
      await this.persistConsumerGroup(group, res.memberId ?? req.memberId);
    } catch (err) {
      this.onError(err, `writing consumer group ${groupId}`);
      // the member retries; its epoch before this heartbeat's stays accepted (a bump it never saw)
      return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'the group\'s state could not be written', memberId: null, memberEpoch: 0, assignment: null, heartbeatIntervalMs };
    }
    return { ...res, heartbeatIntervalMs };
  }

  /**
   * Writes what changed in a KIP-848 group: the records of `memberId`, or of every member (see ConsumerGroupLedger).
   * Records whose write fails are written again at the group's next change.
   */
  private async persistConsumerGroup(group: Group, memberId: string | null): Promise<void> {
    const records = this.consumerLedger.changes(group.id, group.consumer, memberId);
    try {
      await this.store.write(group.id, records);
    } catch (err) {
      this.consumerLedger.unwritten(group.id, records);
      this.unwrittenGroups.set(group.id, this.clock.now());
      throw err;
    }
  }

  /**
   * Writes again, once a second, the groups whose records could not be written and that nothing has changed since
   * (a member that left while the disk was full does not come back: its removal is written once the disk takes it).
   */
  private retryUnwritten(now: number): void {
    for (const [id, triedAt] of this.unwrittenGroups) {
      if (now - triedAt < UNWRITTEN_RETRY_MS) continue;
      const group = this.groups.get(id);
      if (!group || group.type !== 'consumer') {
        this.unwrittenGroups.delete(id);
        continue;
      }
      this.unwrittenGroups.set(id, Number.POSITIVE_INFINITY); // one try at a time
      this.persistConsumerGroup(group, null).then(
        () => {
          if (this.unwrittenGroups.get(id) === Number.POSITIVE_INFINITY) this.unwrittenGroups.delete(id);
        },
        (err: unknown) => this.onError(err, `writing consumer group ${id} again`),
      );
    }
  }

  /** ConsumerGroupDescribe: the KIP-848 view of a group, or null when it is not a consumer group. */
  describeConsumerGroup(groupId: string): { state: string; group: ConsumerGroupState } | null {
    const group = this.groups.get(groupId);
    if (!group || group.type !== 'consumer') return null;
    return { state: capitalize(this.consumerProtocol.stateOf(group.consumer)), group: group.consumer };
  }

  /** Rebuilds groups and offsets from `__consumer_offsets` and starts the sweep timer. */
  async load(): Promise<void> {
    const now = this.clock.now();
    for await (const rec of this.store.readAll()) this.apply(rec, now);
    for (const id of this.consumerLedger.replayedGroups()) {
      const group = this.groupOrCreate(id);
      this.consumerLedger.restoreInto(id, group.consumer);
      this.consumerProtocol.restore(group.consumer);
      if (group.members.size === 0) group.type = 'consumer';
      group.state = group.isEmpty ? 'Empty' : 'Stable';
    }
    for (const g of this.groups.values()) if (g.isEmpty && g.offsets.size === 0 && g.generationId === 0 && g.consumer.groupEpoch === 0) this.groups.delete(g.id);
    // records of the JSON form earlier versions wrote, in Kafka's form from now on
    await this.store.rewriteJsonRecords().catch((err) => this.onError(err, 'rewriting JSON records of __consumer_offsets in Kafka\'s form'));
    // a deletion whose offsets' removal a crash cut short
    await this.forgetDeletedTopics().catch((err) => this.onError(err, 'deleting the offsets of deleted topics'));
    this.stopSweep = this.clock.every(SWEEP_MS, () => this.sweep());
  }

  private apply(rec: StoredRecord, now: number): void {
    if (rec.kind !== 'offset' && rec.kind !== 'group') {
      this.consumerLedger.replay(rec);
      return;
    }
    const group = this.groupOrCreate(rec.group);
    if (rec.kind === 'offset') {
      const key = offsetKey(rec.topic, rec.partition);
      if (rec.value === null) group.offsets.delete(key);
      else group.offsets.set(key, { ...rec.value, topic: rec.topic, partition: rec.partition });
      return;
    }
    group.members.clear();
    group.staticMembers.clear();
    if (rec.value === null) {
      group.state = 'Empty';
      group.generationId = 0;
      return;
    }
    const v = rec.value;
    group.generationId = v.generationId;
    group.protocolType = v.protocolType;
    group.protocolName = v.protocolName;
    group.leaderId = v.leaderId;
    for (const m of v.members) {
      group.members.set(m.memberId, {
        memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost,
        sessionTimeoutMs: m.sessionTimeoutMs, rebalanceTimeoutMs: m.rebalanceTimeoutMs, protocolType: v.protocolType ?? '',
        protocols: [{ name: v.protocolName ?? '', metadata: Buffer.from(m.metadata, 'base64') }],
        assignment: Buffer.from(m.assignment, 'base64'), lastSeenMs: now, awaitingJoin: null, awaitingSync: null,
      });
      if (m.groupInstanceId) group.staticMembers.set(m.groupInstanceId, m.memberId);
    }
    group.state = group.members.size > 0 ? 'Stable' : 'Empty';
    if (group.isEmpty) group.emptySinceMs = now;
  }

  close(): void {
    this.stopSweep?.();
    for (const g of this.groups.values()) {
      for (const m of g.members.values()) {
        m.awaitingJoin?.(this.joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, m.memberId));
        m.awaitingSync?.(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
        m.awaitingJoin = m.awaitingSync = null;
      }
    }
  }

  private groupOrCreate(id: string): Group {
    let g = this.groups.get(id);
    if (!g) {
      g = new Group(id);
      g.emptySinceMs = this.clock.now();
      this.groups.set(id, g);
    }
    return g;
  }

  private joinError(errorCode: number, memberId = ''): JoinResult {
    return { errorCode, generationId: -1, protocolType: null, protocolName: null, leader: '', memberId, members: [] };
  }

  /** JoinGroup. Resolves when the rebalance the member takes part in completes (or at once with an error). */
  join(req: JoinRequest): Promise<JoinResult> {
    if (!req.groupId) return Promise.resolve(this.joinError(ErrorCode.INVALID_GROUP_ID));
    if (req.sessionTimeoutMs < this.config.minSessionTimeoutMs || req.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      return Promise.resolve(this.joinError(ErrorCode.INVALID_SESSION_TIMEOUT, req.memberId));
    }
    const group = this.groupOrCreate(req.groupId);
    if (group.type === 'consumer') {
      // a KIP-848 group with members takes no classic ones; an empty one becomes a classic group, offsets and all, as
      // Kafka converts it (a group moved back to the classic protocol, or a tool that joins it to move its offsets)
      if (group.consumer.members.size > 0) return Promise.resolve(this.joinError(GroupError.GROUP_ID_NOT_FOUND, req.memberId));
      group.type = 'classic';
      group.consumer.clear();
      // its records deleted before the classic group's own are written (same partition, in order)
      this.persistConsumerGroup(group, null).catch((err: unknown) => this.onError(err, `deleting the consumer group records of ${group.id}`));
    }
    if (group.state === 'Dead') return Promise.resolve(this.joinError(ErrorCode.COORDINATOR_NOT_AVAILABLE, req.memberId));
    if (!group.supportsProtocols(req.protocolType, req.protocols)) {
      return Promise.resolve(this.joinError(GroupError.INCONSISTENT_GROUP_PROTOCOL, req.memberId));
    }
    const now = this.clock.now();
    if (req.memberId === '') {
      const newId = `${req.clientId || 'member'}-${randomUUID()}`;
      if (req.groupInstanceId) {
        const existing = group.staticMembers.get(req.groupInstanceId);
        if (existing && group.members.has(existing)) return this.replaceStaticMember(group, existing, newId, req);
        return this.addMemberAndRebalance(group, newId, req);
      }
      if (req.requireKnownMemberId) {
        group.pendingMembers.set(newId, now + req.sessionTimeoutMs);
        return Promise.resolve(this.joinError(GroupError.MEMBER_ID_REQUIRED, newId));
      }
      return this.addMemberAndRebalance(group, newId, req);
    }
    if (group.pendingMembers.has(req.memberId)) {
      group.pendingMembers.delete(req.memberId);
      return this.addMemberAndRebalance(group, req.memberId, req);
    }
    const member = group.members.get(req.memberId);
    if (!member) return Promise.resolve(this.joinError(ErrorCode.UNKNOWN_MEMBER_ID, req.memberId));
    if (req.groupInstanceId && group.staticMembers.get(req.groupInstanceId) !== req.memberId) {
      return Promise.resolve(this.joinError(GroupError.FENCED_INSTANCE_ID, req.memberId));
    }
    member.lastSeenMs = now;
    const changed = !sameProtocols(member.protocols, req.protocols);
    member.protocols = req.protocols;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    // nothing changed and no rebalance is due: the member (which may have lost its join response) gets the
    // current generation again; a rejoining leader of a Stable group triggers a rebalance, as in Kafka
    const current = !changed && (group.state === 'CompletingRebalance' || (group.state === 'Stable' && member.memberId !== group.leaderId));
    if (current) return Promise.resolve(this.joinResultFor(group, member));
    return new Promise((resolve) => {
      member.awaitingJoin?.(this.joinError(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
      member.awaitingJoin = resolve;
      if (group.state === 'PreparingRebalance') this.maybeCompleteJoin(group);
      else this.prepareRebalance(group);
    });
  }

  private addMemberAndRebalance(group: Group, memberId: string, req: JoinRequest): Promise<JoinResult> {
    return new Promise((resolve) => {
      const member: Member = {
        memberId, groupInstanceId: req.groupInstanceId, clientId: req.clientId, clientHost: req.clientHost,
        sessionTimeoutMs: req.sessionTimeoutMs, rebalanceTimeoutMs: req.rebalanceTimeoutMs, protocolType: req.protocolType,
        protocols: req.protocols, assignment: Buffer.alloc(0), lastSeenMs: this.clock.now(), awaitingJoin: resolve, awaitingSync: null,
      };
      if (group.isEmpty) group.protocolType = req.protocolType;
      group.members.set(memberId, member);
      if (req.groupInstanceId) group.staticMembers.set(req.groupInstanceId, memberId);
      const initial = group.state === 'Empty' && group.members.size === 1;
      if (group.state === 'PreparingRebalance') this.maybeCompleteJoin(group);
      else this.prepareRebalance(group, initial ? this.config.initialRebalanceDelayMs : 0);
    });
  }

  /** A static member restarted with a new member id: it takes the old one's place without a rebalance. */
  private replaceStaticMember(group: Group, oldId: string, newId: string, req: JoinRequest): Promise<JoinResult> {
    const old = group.members.get(oldId)!;
    old.awaitingJoin?.(this.joinError(GroupError.FENCED_INSTANCE_ID, oldId));
    old.awaitingSync?.(syncError(GroupError.FENCED_INSTANCE_ID));
    group.members.delete(oldId);
    const member: Member = {
      ...old, memberId: newId, clientId: req.clientId, clientHost: req.clientHost, sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs, lastSeenMs: this.clock.now(), awaitingJoin: null, awaitingSync: null,
    };
    const changed = !sameProtocols(old.protocols, req.protocols);
    member.protocols = req.protocols;
    group.members.set(newId, member);
    group.staticMembers.set(req.groupInstanceId!, newId);
    if (group.leaderId === oldId) group.leaderId = newId;
    if (group.state === 'Stable' && !changed) {
      void this.persistGroup(group);
      return Promise.resolve(this.joinResultFor(group, member));
    }
    return new Promise((resolve) => {
      member.awaitingJoin = resolve;
      if (group.state === 'PreparingRebalance') this.maybeCompleteJoin(group);
      else this.prepareRebalance(group);
    });
  }

  private joinResultFor(group: Group, member: Member): JoinResult {
    const isLeader = member.memberId === group.leaderId;
    return {
      errorCode: 0,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      memberId: member.memberId,
      members: isLeader ? [...group.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: group.metadataOf(m) })) : [],
    };
  }

  /**
   * Starts (or continues) a rebalance: members waiting in SyncGroup are told to rejoin; the join phase ends
   * when every member has rejoined (not before `delayMs`, the initial delay of a new group) or at the
   * largest rebalance timeout, whichever comes first.
   */
  private prepareRebalance(group: Group, delayMs = 0): void {
    for (const m of group.members.values()) {
      if (m.awaitingSync) {
        m.awaitingSync(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
        m.awaitingSync = null;
      }
    }
    if (group.state !== 'PreparingRebalance') {
      const now = this.clock.now();
      group.state = 'PreparingRebalance';
      group.rebalanceDeadlineMs = now + Math.max(delayMs, ...[...group.members.values()].map((m) => m.rebalanceTimeoutMs));
      group.joinNotBeforeMs = now + delayMs;
    }
    this.maybeCompleteJoin(group);
  }

  private maybeCompleteJoin(group: Group): void {
    if (group.state !== 'PreparingRebalance') return;
    const now = this.clock.now();
    if (now >= group.rebalanceDeadlineMs || (group.allMembersJoined() && now >= group.joinNotBeforeMs)) this.completeJoin(group);
  }

  /** Ends the join phase: members that did not rejoin are dropped, a new generation starts, joins are answered. */
  private completeJoin(group: Group): void {
    for (const m of [...group.members.values()]) {
      if (!m.awaitingJoin) this.removeMember(group, m);
    }
    group.pendingMembers.clear();
    group.generationId++;
    if (group.isEmpty) {
      group.state = 'Empty';
      group.protocolName = null;
      group.leaderId = null;
      group.emptySinceMs = this.clock.now();
      void this.persistGroup(group);
      return;
    }
    group.protocolName = group.selectProtocol();
    if (!group.leaderId || !group.members.has(group.leaderId)) group.leaderId = group.members.keys().next().value!;
    group.state = 'CompletingRebalance';
    for (const m of group.members.values()) {
      const resolve = m.awaitingJoin!;
      m.awaitingJoin = null;
      m.lastSeenMs = this.clock.now();
      resolve(this.joinResultFor(group, m));
    }
  }

  private removeMember(group: Group, m: Member): void {
    group.members.delete(m.memberId);
    if (m.groupInstanceId && group.staticMembers.get(m.groupInstanceId) === m.memberId) group.staticMembers.delete(m.groupInstanceId);
    if (group.leaderId === m.memberId) group.leaderId = null;
  }

  /**
   * Checks that a request comes from a current member (and the current holder of its static instance id).
   * `rebalancingError` is returned while the group completes a rebalance, before the generation is checked:
   * a commit sent just before the member saw the new generation is retriable, not illegal.
   */
  private validateMember(group: Group | undefined, ref: MemberRef, rebalancingError: number | null = null): number {
    if (!group || group.state === 'Dead') return ErrorCode.UNKNOWN_MEMBER_ID;
    if (ref.groupInstanceId) {
      const current = group.staticMembers.get(ref.groupInstanceId);
      if (current !== undefined && current !== ref.memberId) return GroupError.FENCED_INSTANCE_ID;
    }
    const member = group.members.get(ref.memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    member.lastSeenMs = this.clock.now();
    if (rebalancingError !== null && group.state === 'CompletingRebalance') return rebalancingError;
    if (ref.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    return ErrorCode.NONE;
  }

  sync(ref: MemberRef, protocolType: string | null, protocolName: string | null, assignments: { memberId: string; assignment: Buffer }[]): Promise<SyncResult> {
    const group = this.groups.get(ref.groupId);
    const error = this.validateMember(group, ref);
    if (error !== ErrorCode.NONE) return Promise.resolve(syncError(error));
    const g = group!;
    if ((protocolType !== null && protocolType !== g.protocolType) || (protocolName !== null && protocolName !== g.protocolName)) {
      return Promise.resolve(syncError(GroupError.INCONSISTENT_GROUP_PROTOCOL));
    }
    const member = g.members.get(ref.memberId)!;
    if (g.state === 'PreparingRebalance') return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    if (g.state === 'Stable') return Promise.resolve(this.syncResultFor(g, member));
    return new Promise((resolve) => {
      member.awaitingSync = resolve;
      if (ref.memberId !== g.leaderId) return;
      const given = new Map(assignments.map((a) => [a.memberId, a.assignment]));
      for (const m of g.members.values()) m.assignment = given.get(m.memberId) ?? Buffer.alloc(0);
      const generation = g.generationId;
      this.persistGroup(g).then(
        () => {
          if (g.state !== 'CompletingRebalance' || g.generationId !== generation) return;
          g.state = 'Stable';
          for (const m of g.members.values()) {
            if (!m.awaitingSync) continue;
            const reply = m.awaitingSync;
            m.awaitingSync = null;
            reply(this.syncResultFor(g, m));
          }
        },
        (err) => {
          this.onError(err, `storing group ${g.id}`);
          for (const m of g.members.values()) {
            m.awaitingSync?.(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
            m.awaitingSync = null;
          }
          this.prepareRebalance(g);
        },
      );
    });
  }

  private syncResultFor(group: Group, member: Member): SyncResult {
    return { errorCode: 0, protocolType: group.protocolType, protocolName: group.protocolName, assignment: member.assignment };
  }

  heartbeat(ref: MemberRef): number {
    const group = this.groups.get(ref.groupId);
    const error = this.validateMember(group, ref);
    if (error !== ErrorCode.NONE) return error;
    return group!.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  /** LeaveGroup: removes the members (by member id, or by instance id for static members) and rebalances. */
  leave(groupId: string, leaving: { memberId: string; groupInstanceId: string | null }[]): { errorCode: number; members: { memberId: string; groupInstanceId: string | null; errorCode: number }[] } {
    const group = this.groups.get(groupId);
    if (!group) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, members: leaving.map((l) => ({ ...l, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })) };
    const results = leaving.map((l) => {
      let memberId = l.memberId;
      if (l.groupInstanceId) {
        const current = group.staticMembers.get(l.groupInstanceId);
        if (!current) return { ...l, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
        if (memberId && memberId !== current) return { ...l, errorCode: GroupError.FENCED_INSTANCE_ID };
        memberId = current;
      }
      const member = group.members.get(memberId);
      if (!member) {
        if (group.pendingMembers.delete(memberId)) return { ...l, errorCode: 0 };
        return { ...l, errorCode: ErrorCode.UNKNOWN_MEMBER_ID };
      }
      member.awaitingJoin?.(this.joinError(ErrorCode.UNKNOWN_MEMBER_ID, memberId));
      member.awaitingSync?.(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      this.removeMember(group, member);
      return { ...l, errorCode: 0 };
    });
    if (results.some((r) => r.errorCode === 0)) this.membershipChanged(group);
    const topError = leaving.length === 1 ? results[0]!.errorCode : 0;
    return { errorCode: topError, members: results };
  }

  /** Members left or expired: the rest rebalance (an emptied group becomes Empty at once). */
  private membershipChanged(group: Group): void {
    if (group.state === 'Empty' || group.state === 'Dead') return;
    this.prepareRebalance(group);
    if (group.isEmpty) this.completeJoin(group);
  }

  /** One pass over all groups: session expiry, rebalance deadlines, pending member expiry, offset retention. */
  private sweep(): void {
    const now = this.clock.now();
    for (const group of this.groups.values()) {
      for (const [id, deadline] of group.pendingMembers) if (deadline <= now) group.pendingMembers.delete(id);
      let expired = false;
      for (const m of [...group.members.values()]) {
        if (m.awaitingJoin) continue;
        if (now - m.lastSeenMs > m.sessionTimeoutMs) {
          m.awaitingSync?.(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
          this.removeMember(group, m);
          expired = true;
        }
      }
      if (expired) this.membershipChanged(group);
      this.maybeCompleteJoin(group);
      if (group.type === 'consumer' && this.consumerProtocol.expire(group.consumer, this.config.consumerSessionTimeoutMs)) {
        this.persistConsumerGroup(group, null).catch((err: unknown) => this.onError(err, `writing consumer group ${group.id}`));
        if (group.isEmpty) {
          group.state = 'Empty';
          group.emptySinceMs = now;
        }
      }
    }
    this.retryUnwritten(now);
    if (now - this.lastRetentionSweepMs >= RETENTION_SWEEP_MS) {
      this.lastRetentionSweepMs = now;
      void this.expireOffsets(now);
    }
  }

  /** Offsets of groups that have been Empty longer than the retention are deleted (tombstones). */
  async expireOffsets(now: number): Promise<number> {
    let n = 0;
    for (const group of this.groups.values()) {
      if (!group.isEmpty || now - group.emptySinceMs < this.config.offsetsRetentionMs) continue;
      const expired = [...group.offsets.values()].filter((o) => now - o.commitTimestampMs >= this.config.offsetsRetentionMs);
      if (expired.length === 0) continue;
      try {
        await this.store.write(group.id, expired.map((o) => ({ kind: 'offset' as const, group: group.id, topic: o.topic, partition: o.partition, value: null })));
        for (const o of expired) group.offsets.delete(offsetKey(o.topic, o.partition));
        n += expired.length;
      } catch (err) {
        this.onError(err, `expiring offsets of ${group.id}`);
      }
    }
    return n;
  }

  private persistGroup(group: Group): Promise<void> {
    const value: StoredGroup = {
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      generationId: group.generationId,
      leaderId: group.leaderId,
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost,
        sessionTimeoutMs: m.sessionTimeoutMs, rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        metadata: group.metadataOf(m).toString('base64'), assignment: m.assignment.toString('base64'),
      })),
    };
    return this.store.write(group.id, [{ kind: 'group', group: group.id, value }]);
  }

  /**
   * OffsetCommit. Members commit with their generation; a client outside any group commits with generation
   * -1 and no member id, which only an Empty group accepts. Returns an error code per offset.
   */
  async commitOffsets(ref: MemberRef, offsets: OffsetToCommit[], topicExists: (topic: string, partition: number) => boolean): Promise<number[]> {
    if (!ref.groupId) return offsets.map(() => ErrorCode.INVALID_GROUP_ID);
    const groupError = this.committerError(ref, false);
    if (groupError !== ErrorCode.NONE) return offsets.map(() => groupError);
    const errors = offsets.map((o) => {
      if ((o.metadata?.length ?? 0) > this.config.maxMetadataBytes) return ErrorCode.OFFSET_METADATA_TOO_LARGE;
      return topicExists(o.topic, o.partition) ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    });
    try {
      await this.storeOffsets(ref.groupId, offsets.filter((_, i) => errors[i] === ErrorCode.NONE));
    } catch (err) {
      this.onError(err, `committing offsets of ${ref.groupId}`);
      return errors.map((e) => (e === ErrorCode.NONE ? ErrorCode.COORDINATOR_NOT_AVAILABLE : e));
    }
    return errors;
  }

  /**
   * Whether `ref` may commit offsets for its group now: the group error, or NONE. `transactional`: a
   * TxnOffsetCommit without member id and generation is not checked against the group (KIP-447 only fences
   * producers that name their member).
   */
  committerError(ref: MemberRef, transactional: boolean): number {
    const group = this.groups.get(ref.groupId);
    if (ref.generationId < 0 && ref.memberId === '') {
      return !transactional && group && !group.isEmpty ? ErrorCode.UNKNOWN_MEMBER_ID : ErrorCode.NONE;
    }
    if (group?.type === 'consumer') {
      const member = group.consumer.members.get(ref.memberId);
      if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
      // a commit sent just before the member saw its epoch bump still counts
      if (ref.generationId !== member.memberEpoch && ref.generationId !== member.previousEpoch) return ConsumerGroupError.STALE_MEMBER_EPOCH;
      return ErrorCode.NONE;
    }
    return this.validateMember(group, ref, ErrorCode.REBALANCE_IN_PROGRESS);
  }

  /** Makes `offsets` the group's committed offsets, durably (OffsetCommit, and a committed transaction's offsets). */
  async storeOffsets(groupId: string, offsets: OffsetToCommit[]): Promise<void> {
    const now = this.clock.now();
    const committed = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata ?? '', commitTimestampMs: now }));
    await this.store.write(groupId, committed.map(({ topic, partition, ...value }) => ({ kind: 'offset', group: groupId, topic, partition, value })));
    const group = this.groupOrCreate(groupId);
    for (const o of committed) group.offsets.set(offsetKey(o.topic, o.partition), o);
  }

  /** OffsetFetch: the committed offset per partition, -1 (no error) for partitions never committed. */
  fetchOffsets(groupId: string, topics: { name: string; partitions: number[] }[] | null): { topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string }[] {
    const group = this.groups.get(groupId);
    if (topics === null) return group ? [...group.offsets.values()].map((o) => ({ ...o })) : [];
    return topics.flatMap((t) =>
      t.partitions.map((p) => {
        const o = group?.offsets.get(offsetKey(t.name, p));
        return o ? { topic: t.name, partition: p, offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata } : { topic: t.name, partition: p, offset: -1, leaderEpoch: -1, metadata: '' };
      }),
    );
  }

  describe(groupId: string): GroupDescription {
    const group = this.groups.get(groupId);
    if (!group) return { groupId, state: 'Dead', protocolType: '', protocolName: '', members: [] };
    if (group.type === 'consumer') return this.describeAsClassic(group.id, group.consumer);
    return {
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocolName: group.state === 'Stable' || group.state === 'CompletingRebalance' ? group.protocolName ?? '' : '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost,
        metadata: group.metadataOf(m), assignment: group.state === 'Stable' ? m.assignment : Buffer.alloc(0),
      })),
    };
  }

  /**
   * A KIP-848 group as DescribeGroups shows it, as Kafka does for tools that know only the classic protocol: its
   * state, its assignor as the protocol, and each member's subscription and current partitions in the classic
   * consumer protocol's encoding (version 0 of each).
   */
  private describeAsClassic(groupId: string, group: ConsumerGroupState): GroupDescription {
    const encoded = (encode: (w: Writer) => void) => {
      const w = new Writer(64);
      w.int16(0);
      encode(w);
      return w.toBuffer();
    };
    return {
      groupId,
      state: capitalize(this.consumerProtocol.stateOf(group)) as GroupState,
      protocolType: 'consumer',
      protocolName: group.members.size > 0 ? group.assignorName : '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId, groupInstanceId: m.instanceId, clientId: m.clientId, clientHost: m.clientHost,
        metadata: encoded((w) => encodeConsumerProtocolSubscription(w, 0, { topics: [...(group.subscriptions.get(m.memberId) ?? m.subscribed)], userData: null })),
        assignment: encoded((w) => encodeConsumerProtocolAssignment(w, 0, { assignedPartitions: [...m.owned].map(([topic, partitions]) => ({ topic, partitions })), userData: null })),
      })),
    };
  }

  list(states: string[], types: string[]): { groupId: string; protocolType: string; state: GroupState; type: 'classic' | 'consumer' }[] {
    const wantState = new Set(states.map((s) => s.toLowerCase()));
    const wantType = new Set(types);
    return [...this.groups.values()]
      .filter((g) => g.state !== 'Dead')
      .filter((g) => wantState.size === 0 || wantState.has((g.type === 'consumer' ? this.consumerProtocol.stateOf(g.consumer) : g.state).toLowerCase()))
      .filter((g) => wantType.size === 0 || wantType.has(g.type))
      .map((g) => ({ groupId: g.id, protocolType: g.type === 'consumer' ? 'consumer' : g.protocolType ?? '', state: g.type === 'consumer' ? capitalize(this.consumerProtocol.stateOf(g.consumer)) as GroupState : g.state, type: g.type }));
  }

  /**
   * Deletes, durably, every group's committed offsets of topics that no longer exist, as Kafka does when a topic
   * is deleted: a topic made again under the same name starts with no committed offsets, instead of its consumers
   * resuming at the old topic's positions among the new one's records. Returns how many were deleted.
   */
  async forgetDeletedTopics(): Promise<number> {
    const removals: Promise<number>[] = [];
    for (const group of this.groups.values()) {
      const gone = [...group.offsets.values()].filter((o) => !this.topicExists(o.topic));
      if (gone.length === 0) continue;
      const tombstones = gone.map((o) => ({ kind: 'offset' as const, group: group.id, topic: o.topic, partition: o.partition, value: null }));
      removals.push(
        this.store.write(group.id, tombstones).then(() => {
          // an offset committed meanwhile (the topic made again) was written after the tombstone, and stays
          for (const o of gone) if (group.offsets.get(offsetKey(o.topic, o.partition)) === o) group.offsets.delete(offsetKey(o.topic, o.partition));
          return gone.length;
        }),
      );
    }
    return (await Promise.all(removals)).reduce((sum, n) => sum + n, 0);
  }

  /** DeleteGroups: only Empty groups; their offsets and metadata are deleted durably. */
  async deleteGroup(groupId: string): Promise<number> {
    const group = this.groups.get(groupId);
    if (!group || group.state === 'Dead') return GroupError.GROUP_ID_NOT_FOUND;
    if (!group.isEmpty) return GroupError.NON_EMPTY_GROUP;
    const records: StoredRecord[] = [...group.offsets.values()].map((o) => ({ kind: 'offset' as const, group: groupId, topic: o.topic, partition: o.partition, value: null }));
    records.push({ kind: 'group', group: groupId, value: null });
    group.consumer.clear();
    const consumerRecords = this.consumerLedger.changes(groupId, group.consumer, null);
    try {
      await this.store.write(groupId, [...records, ...consumerRecords]);
    } catch (err) {
      this.consumerLedger.unwritten(groupId, consumerRecords);
      throw err;
    }
    this.consumerLedger.forget(groupId);
    group.state = 'Dead';
    this.groups.delete(groupId);
    return ErrorCode.NONE;
  }

  /** OffsetDelete: refuses topics the group's members subscribe to. Returns an error per partition. */
  async deleteOffsets(groupId: string, partitions: { topic: string; partition: number }[]): Promise<{ groupError: number; errors: number[] }> {
    const group = this.groups.get(groupId);
    if (!group || group.state === 'Dead') return { groupError: GroupError.GROUP_ID_NOT_FOUND, errors: [] };
    const subscribed = group.isEmpty
      ? new Set<string>()
      : group.type === 'consumer' ? new Set([...group.consumer.subscriptions.values()].flat()) : group.subscribedTopics(subscriptionTopics);
    const errors = partitions.map((p) => (subscribed.has(p.topic) ? GroupError.GROUP_SUBSCRIBED_TO_TOPIC : ErrorCode.NONE) as number);
    const toDelete = partitions.filter((_, i) => errors[i] === ErrorCode.NONE && group.offsets.has(offsetKey(partitions[i]!.topic, partitions[i]!.partition)));
    await this.store.write(groupId, toDelete.map((p) => ({ kind: 'offset' as const, group: groupId, topic: p.topic, partition: p.partition, value: null })));
    for (const p of toDelete) group.offsets.delete(offsetKey(p.topic, p.partition));
    return { groupError: ErrorCode.NONE, errors };
  }
}

const capitalize = (s: string) => s[0]!.toUpperCase() + s.slice(1);

function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) };
}

function sameProtocols(a: { name: string; metadata: Buffer }[], b: { name: string; metadata: Buffer }[]): boolean {
  return a.length === b.length && a.every((p, i) => p.name === b[i]!.name && p.metadata.equals(b[i]!.metadata));
}
