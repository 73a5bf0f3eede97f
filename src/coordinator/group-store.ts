import type { LogManager } from '../storage/log-manager.js';
import { InternalTopic, OFFSETS_TOPIC } from './internal-topic.js';
import type { CommittedOffset, Member } from './group.js';

/** What a group's durable record holds: enough to resume a Stable group and its static members after a restart. */
export interface StoredGroup {
  protocolType: string | null;
  protocolName: string | null;
  generationId: number;
  leaderId: string | null;
  members: (Pick<Member, 'memberId' | 'groupInstanceId' | 'clientId' | 'clientHost' | 'sessionTimeoutMs' | 'rebalanceTimeoutMs'> & {
    /** The member's protocol metadata and assignment, base64. */
    metadata: string;
    assignment: string;
  })[];
}

export type StoredRecord =
  | { kind: 'offset'; group: string; topic: string; partition: number; value: CommittedOffset | null }
  | { kind: 'group'; group: string; value: StoredGroup | null };

/**
 * Keeps group metadata and committed offsets in the compacted internal topic `__consumer_offsets`: key
 * ["o", group, topic, partition] or ["g", group]; a null value deletes.
 */
export class GroupStore {
  private readonly topic: InternalTopic;

  constructor(logs: LogManager, partitions: number) {
    this.topic = new InternalTopic(logs, OFFSETS_TOPIC, partitions);
  }

  /** Appends records of one group durably (acks=all semantics). */
  write(group: string, records: StoredRecord[]): Promise<void> {
    return this.topic.write(group, records.map((r) => ({ key: r.kind === 'offset' ? ['o', r.group, r.topic, r.partition] : ['g', r.group], value: r.value })));
  }

  /** Every record of the topic, oldest first, as stored (later records for a key win). */
  async *readAll(): AsyncGenerator<StoredRecord> {
    for await (const { key: k, value: v } of this.topic.readAll()) {
      if (k[0] === 'o') yield { kind: 'offset', group: k[1] as string, topic: k[2] as string, partition: k[3] as number, value: v as CommittedOffset | null };
      else if (k[0] === 'g') yield { kind: 'group', group: k[1] as string, value: v as StoredGroup | null };
    }
  }
}
