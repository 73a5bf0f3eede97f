import type { TopicAssignment } from './consumer-group-assignors.js';
import { encodeConsumerKey, encodeConsumerValue, MemberState, type ConsumerGroupRecord, type StoredConsumerMember, type StoredCurrentAssignment, type TopicPartitions } from './consumer-group-records.js';
import { splitOwned, type ConsumerGroupState, type TopicLookup } from './consumer-groups.js';

/** What was last written of a group: its epoch and members then, and each record's value by key. */
interface Written {
  groupEpoch: number;
  members: Set<string>;
  records: Map<string, { record: ConsumerGroupRecord; value: Buffer | null }>;
}

/** A group as its records left it, while a start reads them. */
interface Replayed {
  epoch: number;
  assignmentEpoch: number;
  members: Map<string, StoredConsumerMember>;
  targets: Map<string, TopicPartitions[]>;
  currents: Map<string, StoredCurrentAssignment>;
}

/** A written value's stand-in after its write failed: it differs from every value, so the next write makes it again. */
const UNKNOWN = Buffer.alloc(0);

/**
 * Keeps KIP-848 groups in `__consumer_offsets` as Kafka's records (see consumer-group-records.ts): after each change
 * it names the records that differ from what was last written, and at a start it rebuilds the groups from them.
 * A heartbeat that changed only its own member compares that member's records alone; after a rebalance, or a change
 * of members, every member's are compared, and a member gone gets tombstones.
 */
export class ConsumerGroupLedger {
  private readonly written = new Map<string, Written>();
  private readonly replayed = new Map<string, Replayed>();

  constructor(private readonly topics: TopicLookup) {}

  /**
   * The records of the group that changed since they were last asked for: of `memberId` alone while the group's epoch
   * and members are as last written, else of every member. They count as written at once, so that a change made
   * while they are being written is compared against them; if the write fails, `unwritten` takes them back.
   */
  changes(groupId: string, state: ConsumerGroupState, memberId: string | null): ConsumerGroupRecord[] {
    const w = this.writtenOf(groupId);
    const everyone =
      memberId === null || w.groupEpoch !== state.groupEpoch || w.members.size !== state.members.size || w.members.has(memberId) !== state.members.has(memberId);
    const current = this.recordsOf(groupId, state, everyone ? state.members.keys() : [memberId!]);
    const changed: ConsumerGroupRecord[] = [];
    const made = new Set<string>();
    for (const record of current) {
      const key = encodeConsumerKey(record).toString('latin1');
      const value = encodeConsumerValue(record);
      made.add(key);
      const before = w.records.get(key);
      if (before?.value && value?.equals(before.value)) continue;
      w.records.set(key, { record, value });
      changed.push(record);
    }
    if (everyone) {
      for (const [key, { record }] of w.records) {
        if (made.has(key)) continue;
        w.records.delete(key);
        changed.push({ ...record, value: null } as ConsumerGroupRecord);
      }
      w.groupEpoch = state.groupEpoch;
      w.members = new Set(state.members.keys());
    }
    if (w.records.size === 0) this.written.delete(groupId);
    return changed;
  }

  /** Records whose write failed: the next change writes them again (a value) or leaves them to be deleted again (a tombstone). */
  unwritten(groupId: string, records: ConsumerGroupRecord[]): void {
    const w = this.writtenOf(groupId);
    w.groupEpoch = Number.NaN; // every member compared next time
    for (const record of records) w.records.set(encodeConsumerKey(record).toString('latin1'), { record, value: UNKNOWN });
  }

  private writtenOf(groupId: string): Written {
    let w = this.written.get(groupId);
    if (!w) this.written.set(groupId, (w = { groupEpoch: 0, members: new Set(), records: new Map() }));
    return w;
  }

  /** A group deleted: nothing of it is written any more. */
  forget(groupId: string): void {
    this.written.delete(groupId);
  }

  private recordsOf(groupId: string, state: ConsumerGroupState, memberIds: Iterable<string>): ConsumerGroupRecord[] {
    if (state.groupEpoch === 0) return [];
    const records: ConsumerGroupRecord[] = [
      { kind: 'consumer-epoch', group: groupId, value: { epoch: state.groupEpoch } },
      { kind: 'consumer-target-epoch', group: groupId, value: { assignmentEpoch: state.assignmentEpoch } },
    ];
    for (const memberId of memberIds) {
      const m = state.members.get(memberId);
      if (!m) continue;
      const target = state.target.get(memberId) ?? new Map<string, number[]>();
      const { kept: assigned, revoked: pending } = splitOwned(m.owned, target);
      let awaited = false;
      for (const [topic, partitions] of target) if (partitions.some((p) => !assigned.get(topic)?.includes(p))) awaited = true;
      const memberState = pending.size > 0 ? MemberState.UNREVOKED_PARTITIONS : awaited && m.memberEpoch >= 0 ? MemberState.UNRELEASED_PARTITIONS : MemberState.STABLE;
      records.push(
        {
          kind: 'consumer-member', group: groupId, memberId,
          value: {
            instanceId: m.instanceId, rackId: m.rackId, clientId: m.clientId, clientHost: m.clientHost, subscribedTopicNames: m.subscribed,
            subscribedTopicRegex: m.regex, rebalanceTimeoutMs: m.rebalanceTimeoutMs, serverAssignor: state.assignorName,
          },
        },
        { kind: 'consumer-target', group: groupId, memberId, value: this.byId(target) },
        {
          kind: 'consumer-current', group: groupId, memberId,
          value: { memberEpoch: m.memberEpoch, previousMemberEpoch: m.previousEpoch, state: memberState, assigned: this.byId(assigned), pendingRevocation: this.byId(pending) },
        },
      );
    }
    return records;
  }

  private byId(assignment: TopicAssignment): TopicPartitions[] {
    const out: TopicPartitions[] = [];
    for (const [topic, partitions] of assignment) {
      const topicId = this.topics.byName(topic)?.id;
      if (topicId !== undefined) out.push({ topicId, partitions });
    }
    return out;
  }

  private byName(topics: TopicPartitions[]): TopicAssignment {
    const out: TopicAssignment = new Map();
    for (const t of topics) {
      const name = this.topics.byId(t.topicId)?.name;
      if (name !== undefined && t.partitions.length > 0) out.set(name, [...(out.get(name) ?? []), ...t.partitions].sort((a, b) => a - b));
    }
    return out;
  }

  /** A record read at a start, in the order written (later records for a key win). */
  replay(record: ConsumerGroupRecord): void {
    const key = encodeConsumerKey(record).toString('latin1');
    const w = this.writtenOf(record.group);
    if (record.value === null) w.records.delete(key);
    else w.records.set(key, { record, value: encodeConsumerValue(record) });
    let g = this.replayed.get(record.group);
    if (!g) this.replayed.set(record.group, (g = { epoch: 0, assignmentEpoch: 0, members: new Map(), targets: new Map(), currents: new Map() }));
    switch (record.kind) {
      case 'consumer-epoch':
        g.epoch = record.value?.epoch ?? 0;
        break;
      case 'consumer-target-epoch':
        g.assignmentEpoch = record.value?.assignmentEpoch ?? 0;
        break;
      case 'consumer-member':
        setOrDelete(g.members, record.memberId, record.value);
        break;
      case 'consumer-target':
        setOrDelete(g.targets, record.memberId, record.value);
        break;
      case 'consumer-current':
        setOrDelete(g.currents, record.memberId, record.value);
        break;
    }
  }

  /**
   * The ids of the groups the records read hold (those with a group epoch), each filled into its state with
   * `restoreInto`; the rest of what was read is let go.
   */
  replayedGroups(): string[] {
    const ids = [...this.replayed].filter(([, g]) => g.epoch > 0).map(([id]) => id);
    for (const [id, g] of this.replayed) if (g.epoch === 0) this.replayed.delete(id);
    for (const [id, w] of this.written) {
      const g = this.replayed.get(id);
      w.groupEpoch = g?.epoch ?? 0;
      w.members = new Set(g && g.epoch > 0 ? g.members.keys() : []);
    }
    return ids;
  }

  /**
   * Fills a group's state from its records: epochs, assignor, members with their subscriptions, targets and what
   * each holds (the partitions it was assigned and those it must still give up). Timers and derived state are the
   * protocol's to start (ConsumerGroupProtocol.restore).
   */
  restoreInto(groupId: string, state: ConsumerGroupState): void {
    const g = this.replayed.get(groupId);
    this.replayed.delete(groupId);
    if (!g) return;
    state.groupEpoch = g.epoch;
    state.assignmentEpoch = g.assignmentEpoch;
    for (const [memberId, m] of g.members) {
      const current = g.currents.get(memberId);
      if (m.serverAssignor) state.assignorName = m.serverAssignor;
      state.members.set(memberId, {
        memberId, instanceId: m.instanceId, rackId: m.rackId, clientId: m.clientId, clientHost: m.clientHost,
        memberEpoch: current?.memberEpoch ?? 0, previousEpoch: current?.previousMemberEpoch ?? 0, rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        subscribed: m.subscribedTopicNames, regex: m.subscribedTopicRegex, pattern: null,
        owned: this.byName([...(current?.assigned ?? []), ...(current?.pendingRevocation ?? [])]), lastSeenMs: 0, revokingSinceMs: null,
      });
      const target = g.targets.get(memberId);
      if (target) state.target.set(memberId, this.byName(target));
    }
  }
}

function setOrDelete<V>(map: Map<string, V>, key: string, value: V | null): void {
  if (value === null) map.delete(key);
  else map.set(key, value);
}
