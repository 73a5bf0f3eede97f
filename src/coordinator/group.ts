import { ConsumerGroupState } from './consumer-groups.js';

/** Classic consumer group states, named as Kafka names them in DescribeGroups and ListGroups. */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
  assignment: Buffer;
  lastSeenMs: number;
  /** Set while the member's JoinGroup waits for the rebalance to complete. */
  awaitingJoin: ((r: JoinResult) => void) | null;
  /** Set while the member's SyncGroup waits for the leader's assignment. */
  awaitingSync: ((r: SyncResult) => void) | null;
}

export interface CommittedOffset {
  offset: number;
  leaderEpoch: number;
  metadata: string;
  commitTimestampMs: number;
}

export const offsetKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * One consumer group's membership and committed offsets. The GroupCoordinator drives its transitions;
 * this class holds state and answers questions about it.
 */
export class Group {
  /** `classic` (JoinGroup/SyncGroup) or `consumer` (KIP-848 ConsumerGroupHeartbeat); an empty group can switch. */
  type: 'classic' | 'consumer' = 'classic';
  readonly consumer = new ConsumerGroupState();
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, by the time they expire. */
  readonly pendingMembers = new Map<string, number>();
  /** group.instance.id → member id of static members. */
  readonly staticMembers = new Map<string, string>();
  readonly offsets = new Map<string, CommittedOffset & { topic: string; partition: number }>();
  /** The join phase of a rebalance ends by this time at the latest... */
  rebalanceDeadlineMs = 0;
  /** ...and not before this one (the initial delay of a new group). */
  joinNotBeforeMs = 0;
  /** When the group last became Empty (for offset retention). */
  emptySinceMs = 0;

  constructor(readonly id: string) {}

  get isEmpty(): boolean {
    return this.members.size === 0 && this.consumer.members.size === 0;
  }

  allMembersJoined(): boolean {
    if (this.pendingMembers.size > 0) return false;
    for (const m of this.members.values()) if (!m.awaitingJoin) return false;
    return true;
  }

  /** Protocols every member supports, picked by vote of each member's first preference among them. */
  selectProtocol(): string {
    const members = [...this.members.values()];
    const common = members[0]!.protocols.map((p) => p.name).filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
    const votes = new Map<string, number>();
    for (const m of members) {
      const choice = m.protocols.find((p) => common.includes(p.name))!.name;
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    let best = common[0]!;
    for (const name of common) if ((votes.get(name) ?? 0) > (votes.get(best) ?? 0)) best = name;
    return best;
  }

  /** Whether a joining member's protocols fit the group's (same type, at least one protocol in common). */
  supportsProtocols(protocolType: string, protocols: { name: string }[]): boolean {
    if (this.isEmpty) return protocolType.length > 0 && protocols.length > 0;
    if (protocolType !== this.protocolType) return false;
    return protocols.some((p) => [...this.members.values()].every((m) => m.protocols.some((q) => q.name === p.name)));
  }

  metadataOf(member: Member): Buffer {
    return member.protocols.find((p) => p.name === this.protocolName)?.metadata ?? Buffer.alloc(0);
  }

  /** Topics the members subscribe to, from the consumer protocol's subscription (for OffsetDelete and describe). */
  subscribedTopics(decodeSubscription: (metadata: Buffer) => string[]): Set<string> {
    const topics = new Set<string>();
    if (this.protocolType !== 'consumer') return topics;
    for (const m of this.members.values()) {
      try {
        for (const t of decodeSubscription(this.metadataOf(m))) topics.add(t);
      } catch {
        // a client's own protocol metadata we cannot read: nothing to report
      }
    }
    return topics;
  }
}
