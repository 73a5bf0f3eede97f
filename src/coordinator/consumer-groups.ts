import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../protocol/errors.js';
import { ASSIGNORS, type TopicAssignment } from './consumer-group-assignors.js';

/** Kafka error codes of the consumer group protocol (KIP-848). */
export const ConsumerGroupError = {
  FENCED_MEMBER_EPOCH: 110,
  UNRELEASED_INSTANCE_ID: 111,
  UNSUPPORTED_ASSIGNOR: 112,
  STALE_MEMBER_EPOCH: 113,
  GROUP_ID_NOT_FOUND: 69,
  INVALID_REQUEST: 42,
  INVALID_REGULAR_EXPRESSION: 128,
} as const;

const LEAVE_EPOCH = -1;
const STATIC_LEAVE_EPOCH = -2;

export interface ConsumerMember {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  memberEpoch: number;
  /** The epoch before the last bump: a heartbeat that crossed the bump in flight is still accepted. */
  previousEpoch: number;
  rebalanceTimeoutMs: number;
  /** The topic names the member subscribed to. */
  subscribed: string[];
  /** The regular expression it subscribed to besides (as sent, null for none), and its compiled form. */
  regex: string | null;
  pattern: RegExp | null;
  /** What the member holds (what it was last given, corrected by what it reports). */
  owned: TopicAssignment;
  lastSeenMs: number;
  /** When the member was first told to give partitions up and has not yet: it must by then, its rebalance timeout later. */
  revokingSinceMs: number | null;
  /**
   * Which topics its regex may match: those its client may DESCRIBE, as its last heartbeat's connection was allowed
   * (not kept in the group's records: a member restored at a start matches every topic until it heartbeats again).
   */
  mayDescribe?: (topic: string) => boolean;
}

/** The KIP-848 part of a group: epochs, members, and the server-side target assignment. */
export class ConsumerGroupState {
  groupEpoch = 0;
  assignmentEpoch = 0;
  assignorName = 'uniform';
  readonly members = new Map<string, ConsumerMember>();
  target = new Map<string, TopicAssignment>();
  /**
   * What the target assignment was computed from, besides the members' own subscriptions: each subscribed topic's id
   * and partition count, and what the members' regexes matched. A heartbeat that finds it changed (a topic created
   * that a name or regex subscribes to, partitions added, a topic deleted) bumps the group epoch, as a change of
   * membership does.
   */
  subscribedTopics: { name: string; id: string | undefined; partitions: number }[] = [];
  regexMatches = '';
  /** Each member's subscription as the target was computed from it: its names and what its regex matched. */
  subscriptions = new Map<string, readonly string[]>();

  /** Back to a group that never had a consumer-protocol member (it became a classic group). */
  clear(): void {
    this.groupEpoch = 0;
    this.assignmentEpoch = 0;
    this.assignorName = 'uniform';
    this.members.clear();
    this.target = new Map();
    this.subscribedTopics = [];
    this.regexMatches = '';
    this.subscriptions = new Map();
  }
}

export interface TopicLookup {
  byName(name: string): { id: string; partitions: number } | undefined;
  byId(id: string): { name: string; partitions: number } | undefined;
  /** The names of the topics a regex subscription may match (internal topics left out). */
  names(): Iterable<string>;
}

export interface HeartbeatRequest {
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[] | null;
  /** v1: null when unchanged, '' for none. */
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  ownedTopicPartitions: { topicId: string; partitions: number[] }[] | null;
  clientId: string;
  clientHost: string;
  /** v0 lets the coordinator pick the member id; v1 clients bring their own. */
  serverGeneratesMemberId: boolean;
  /** Which topics the member's client may DESCRIBE, where ACLs decide it: its regex matches no other. */
  mayDescribe?: (topic: string) => boolean;
}

export interface HeartbeatResponse {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  assignment: { topicPartitions: { topicId: string; partitions: number[] }[] } | null;
}

const fail = (errorCode: number, errorMessage: string, memberId: string | null = null, memberEpoch = 0): HeartbeatResponse => ({ errorCode, errorMessage, memberId, memberEpoch, assignment: null });

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
}

/**
 * A subscription's regular expression, matched against whole topic names as Kafka's are (JavaScript's syntax
 * where it differs from RE2's, which Kafka uses): null for '' (none), undefined for one that does not compile.
 */
function compileRegex(regex: string): RegExp | null | undefined {
  if (regex === '') return null;
  try {
    return new RegExp(`^(?:${regex})$`);
  } catch {
    return undefined;
  }
}

/** What a member holds split by its target: the partitions it keeps, and those it must give up (topics with none left out). */
export function splitOwned(owned: TopicAssignment, target: TopicAssignment): { kept: TopicAssignment; revoked: TopicAssignment } {
  const kept: TopicAssignment = new Map();
  const revoked: TopicAssignment = new Map();
  for (const [topic, partitions] of owned) {
    const inTarget = partitions.filter((p) => target.get(topic)?.includes(p));
    if (inTarget.length > 0) kept.set(topic, inTarget);
    if (inTarget.length < partitions.length) revoked.set(topic, partitions.filter((p) => !inTarget.includes(p)));
  }
  return { kept, revoked };
}

const regexMatchesText = (matched: Map<string, string[]>) => [...matched].map(([memberId, topics]) => `${memberId}=${topics.join(',')}`).join('\n');

/**
 * The consumer group protocol of KIP-848: members heartbeat their subscription; the coordinator bumps the
 * group epoch when membership or subscriptions change, computes the target assignment with a server-side
 * assignor (uniform or range), and hands each member its share in steps that never give a partition to two
 * members at once: a member first gives up what it should no longer hold (keeping its epoch), then receives
 * its target minus the partitions another member has not yet released, with the new epoch.
 */
export class ConsumerGroupProtocol {
  constructor(
    private readonly topics: TopicLookup,
    private readonly now: () => number,
  ) {}

  heartbeat(group: ConsumerGroupState, req: HeartbeatRequest): HeartbeatResponse {
    if (req.serverAssignor && !ASSIGNORS[req.serverAssignor]) {
      return fail(ConsumerGroupError.UNSUPPORTED_ASSIGNOR, `unknown server assignor ${req.serverAssignor}; use ${Object.keys(ASSIGNORS).join(' or ')}`);
    }
    let member = group.members.get(req.memberId);
    if (req.memberEpoch === STATIC_LEAVE_EPOCH && member?.instanceId) {
      // a static member away for a while (a restart): its partitions wait for it until its session times out, and
      // the next member with its instance id takes them over without a rebalance
      member.memberEpoch = STATIC_LEAVE_EPOCH;
      member.owned = new Map();
      return { errorCode: 0, errorMessage: null, memberId: req.memberId, memberEpoch: req.memberEpoch, assignment: null };
    }
    if (req.memberEpoch === LEAVE_EPOCH || req.memberEpoch === STATIC_LEAVE_EPOCH) {
      if (group.members.delete(req.memberId)) this.bump(group);
      return { errorCode: 0, errorMessage: null, memberId: req.memberId, memberEpoch: req.memberEpoch, assignment: null };
    }
    const pattern = req.subscribedTopicRegex === null ? null : compileRegex(req.subscribedTopicRegex);
    if (pattern === undefined) return fail(ConsumerGroupError.INVALID_REGULAR_EXPRESSION, `subscribed topic regex ${req.subscribedTopicRegex} is not a valid regular expression`, req.memberId || null);
    let changed = false;
    if (req.memberEpoch === 0) {
      if (!req.subscribedTopicNames && req.subscribedTopicRegex === null) return fail(ConsumerGroupError.INVALID_REQUEST, 'a joining member must send its subscribed topic names or regex');
      const memberId = req.memberId || (req.serverGeneratesMemberId ? randomUUID() : '');
      if (!memberId) return fail(ConsumerGroupError.INVALID_REQUEST, 'member id must be set by the client');
      const previous = req.instanceId ? [...group.members.values()].find((o) => o.instanceId === req.instanceId && o.memberId !== memberId) : undefined;
      if (previous && previous.memberEpoch !== STATIC_LEAVE_EPOCH) {
        return fail(ConsumerGroupError.UNRELEASED_INSTANCE_ID, `instance id ${req.instanceId} is still in use by member ${previous.memberId}`);
      }
      member = {
        memberId, instanceId: req.instanceId, rackId: req.rackId, clientId: req.clientId, clientHost: req.clientHost,
        memberEpoch: 0, previousEpoch: 0, rebalanceTimeoutMs: req.rebalanceTimeoutMs, subscribed: req.subscribedTopicNames ?? [],
        regex: req.subscribedTopicRegex || null, pattern, owned: new Map(), lastSeenMs: this.now(), revokingSinceMs: null, mayDescribe: req.mayDescribe,
      };
      group.members.set(memberId, member);
      if (req.serverAssignor) group.assignorName = req.serverAssignor;
      changed = true;
      if (previous) {
        // the static member's replacement: its target, and a rebalance only if it subscribes to something else
        group.members.delete(previous.memberId);
        const target = group.target.get(previous.memberId);
        group.target.delete(previous.memberId);
        if (target) group.target.set(memberId, target);
        changed = !sameList(member.subscribed, previous.subscribed) || member.regex !== previous.regex;
      }
    } else {
      if (!member) return fail(ErrorCode.UNKNOWN_MEMBER_ID, `member ${req.memberId} is not in the group`);
      if (req.memberEpoch !== member.memberEpoch && req.memberEpoch !== member.previousEpoch) {
        return fail(ConsumerGroupError.FENCED_MEMBER_EPOCH, `member epoch ${req.memberEpoch} is not the current ${member.memberEpoch}`, member.memberId);
      }
      member.lastSeenMs = this.now();
      member.mayDescribe = req.mayDescribe;
      if (req.rebalanceTimeoutMs >= 0) member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
      if (req.subscribedTopicNames && !sameList(req.subscribedTopicNames, member.subscribed)) {
        member.subscribed = req.subscribedTopicNames;
        changed = true;
      }
      if (req.subscribedTopicRegex !== null && (req.subscribedTopicRegex || null) !== member.regex) {
        member.regex = req.subscribedTopicRegex || null;
        member.pattern = pattern;
        changed = true;
      }
      if (req.ownedTopicPartitions) member.owned = this.toNames(req.ownedTopicPartitions);
    }
    // topics created, grown or deleted since the target was computed count as a change of subscription
    if (changed || this.topicsChanged(group)) this.bump(group);
    return this.reconcile(group, member);
  }

  /** Membership or subscriptions changed: new group epoch and a new target assignment. */
  bump(group: ConsumerGroupState): void {
    this.noteSubscriptions(group);
    group.groupEpoch++;
    const assignor = ASSIGNORS[group.assignorName] ?? ASSIGNORS.uniform!;
    group.target = assignor(
      [...group.members.values()].map((m) => ({ memberId: m.memberId, subscribed: group.subscriptions.get(m.memberId)!, current: group.target.get(m.memberId) ?? new Map() })),
      (topic) => this.topics.byName(topic)?.partitions ?? 0,
    );
    group.assignmentEpoch = group.groupEpoch;
  }

  /** Notes what a target is computed from: each member's subscription, and the topics it takes in (see subscribedTopics). */
  private noteSubscriptions(group: ConsumerGroupState): void {
    const matched = this.regexMatched(group);
    const subscriptions = new Map<string, readonly string[]>();
    for (const m of group.members.values()) {
      const more = matched.get(m.memberId);
      subscriptions.set(m.memberId, more ? [...new Set([...m.subscribed, ...more])] : m.subscribed);
    }
    group.subscribedTopics = [...new Set([...subscriptions.values()].flat())].map((name) => {
      const topic = this.topics.byName(name);
      return { name, id: topic?.id, partitions: topic?.partitions ?? 0 };
    });
    group.regexMatches = regexMatchesText(matched);
    group.subscriptions = subscriptions;
  }

  /**
   * A group rebuilt from its records at a start: its members' regexes compiled, their session and revocation timers
   * started now (as Kafka starts them when a coordinator loads a group), and what its target was computed from noted,
   * so that only topics changed from now on bump its epoch.
   */
  restore(group: ConsumerGroupState): void {
    const now = this.now();
    for (const m of group.members.values()) {
      m.pattern = m.regex === null ? null : (compileRegex(m.regex) ?? null);
      m.lastSeenMs = now;
      const { revoked } = splitOwned(m.owned, group.target.get(m.memberId) ?? new Map());
      m.revokingSinceMs = revoked.size > 0 ? now : null;
    }
    this.noteSubscriptions(group);
  }

  /** The topics each regex member's regex matches now. */
  private regexMatched(group: ConsumerGroupState): Map<string, string[]> {
    const matched = new Map<string, string[]>();
    let names: string[] | null = null;
    for (const m of group.members.values()) {
      const pattern = m.pattern;
      if (!pattern) continue;
      names ??= [...this.topics.names()];
      const mayDescribe = m.mayDescribe ?? (() => true);
      matched.set(m.memberId, names.filter((name) => pattern.test(name) && mayDescribe(name)));
    }
    return matched;
  }

  /** Whether a subscribed topic was created, grown, deleted or re-created, or a regex matches other topics, since the last bump. */
  private topicsChanged(group: ConsumerGroupState): boolean {
    for (const t of group.subscribedTopics) {
      const now = this.topics.byName(t.name);
      if (now?.id !== t.id || (now?.partitions ?? 0) !== t.partitions) return true;
    }
    return regexMatchesText(this.regexMatched(group)) !== group.regexMatches;
  }

  private reconcile(group: ConsumerGroupState, member: ConsumerMember): HeartbeatResponse {
    const target = group.target.get(member.memberId) ?? new Map<string, number[]>();
    const { kept: keep, revoked } = splitOwned(member.owned, target);
    if (revoked.size > 0) {
      // give up first: the partitions stay counted as the member's until its heartbeat reports them gone,
      // and only then does it get the new epoch and anything new
      member.revokingSinceMs ??= this.now();
      return this.answer(member, keep);
    }
    member.revokingSinceMs = null;
    const heldByOthers = new Set<string>();
    for (const other of group.members.values()) {
      if (other === member) continue;
      for (const [t, ps] of other.owned) for (const p of ps) heldByOthers.add(`${t}\u0000${p}`);
    }
    const given = new Map<string, number[]>();
    for (const [t, ps] of target) {
      const free = ps.filter((p) => !heldByOthers.has(`${t}\u0000${p}`));
      if (free.length > 0) given.set(t, free);
    }
    member.owned = given;
    if (member.memberEpoch !== group.groupEpoch) {
      member.previousEpoch = member.memberEpoch;
      member.memberEpoch = group.groupEpoch;
    }
    return this.answer(member, given);
  }

  private answer(member: ConsumerMember, assignment: TopicAssignment): HeartbeatResponse {
    const topicPartitions = [...assignment]
      .map(([name, partitions]) => ({ topicId: this.topics.byName(name)?.id, partitions }))
      .filter((t): t is { topicId: string; partitions: number[] } => t.topicId !== undefined);
    return { errorCode: 0, errorMessage: null, memberId: member.memberId, memberEpoch: member.memberEpoch, assignment: { topicPartitions } };
  }

  private toNames(owned: { topicId: string; partitions: number[] }[]): TopicAssignment {
    const out = new Map<string, number[]>();
    for (const t of owned) {
      const name = this.topics.byId(t.topicId)?.name;
      if (name && t.partitions.length > 0) out.set(name, [...t.partitions].sort((a, b) => a - b));
    }
    return out;
  }

  /**
   * Removes members silent for longer than the session timeout, and members that have not given up the partitions
   * they were told to within their rebalance timeout (they would keep them from the others for ever; the next
   * heartbeat of such a member gets UNKNOWN_MEMBER_ID, and it joins again, as with Kafka). Returns whether any left.
   */
  expire(group: ConsumerGroupState, sessionTimeoutMs: number): boolean {
    const now = this.now();
    let removed = false;
    for (const m of [...group.members.values()]) {
      const revokeTimedOut = m.revokingSinceMs !== null && m.rebalanceTimeoutMs >= 0 && now - m.revokingSinceMs > m.rebalanceTimeoutMs;
      if (now - m.lastSeenMs > sessionTimeoutMs || revokeTimedOut) {
        group.members.delete(m.memberId);
        removed = true;
      }
    }
    if (removed) this.bump(group);
    return removed;
  }

  /** KIP-848 group state names: empty, assigning, reconciling, stable. */
  stateOf(group: ConsumerGroupState): string {
    if (group.members.size === 0) return 'empty';
    if (group.assignmentEpoch < group.groupEpoch) return 'assigning';
    for (const m of group.members.values()) if (m.memberEpoch !== group.assignmentEpoch && m.memberEpoch !== STATIC_LEAVE_EPOCH) return 'reconciling';
    return 'stable';
  }
}
