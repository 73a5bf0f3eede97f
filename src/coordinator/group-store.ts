import { validateBatches } from '../protocol/record-batch.js';
import { buildRecordBatch, decodeRecordBatches, type NewRecord } from '../protocol/records.js';
import { murmur2 } from '../protocol/murmur2.js';
import type { LogManager, TopicState } from '../storage/log-manager.js';
import type { CommittedOffset, Member } from './group.js';

export const OFFSETS_TOPIC = '__consumer_offsets';

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
 * Keeps group metadata and committed offsets in the compacted internal topic `__consumer_offsets`, on the
 * storage engine like any topic: a group's records go to partition murmur2(group) mod N. Keys and values
 * are JSON: key ["o", group, topic, partition] or ["g", group]; a null value deletes.
 */
export class GroupStore {
  private topic: TopicState | null = null;

  constructor(
    private readonly logs: LogManager,
    private readonly partitions: number,
  ) {}

  private async ensureTopic(): Promise<TopicState> {
    this.topic ??= this.logs.topics.get(OFFSETS_TOPIC) ?? null;
    if (!this.topic) {
      this.topic = await this.logs.createTopic(OFFSETS_TOPIC, this.partitions, { 'cleanup.policy': 'compact', 'segment.bytes': String(100 * 1024 * 1024) });
    }
    return this.topic;
  }

  /** Appends records of one group durably (acks=all semantics). */
  async write(group: string, records: StoredRecord[]): Promise<void> {
    if (records.length === 0) return;
    const topic = await this.ensureTopic();
    const log = topic.partitions[(murmur2(Buffer.from(group)) & 0x7fffffff) % topic.partitions.length]!;
    const batch = buildRecordBatch(records.map(encode));
    await log.append(batch, validateBatches(batch, 1 << 30)).durable;
  }

  /** Every record of the topic, oldest first, as stored (later records for a key win). */
  async *readAll(): AsyncGenerator<StoredRecord> {
    const topic = this.logs.topics.get(OFFSETS_TOPIC);
    if (!topic) return;
    this.topic = topic;
    for (const log of topic.partitions) {
      let offset = log.logStartOffset;
      while (offset < log.highWatermark) {
        const { records } = await log.read(offset, 4 << 20);
        if (records.length === 0) break;
        for (const b of decodeRecordBatches(records)) {
          for (const r of b.records) {
            const decoded = r.key ? decode(r.key, r.value) : null;
            if (decoded) yield decoded;
          }
          offset = b.info.baseOffset + b.info.lastOffsetDelta + 1;
        }
      }
    }
  }
}

function encode(r: StoredRecord): NewRecord {
  const key = r.kind === 'offset' ? ['o', r.group, r.topic, r.partition] : ['g', r.group];
  return { key: JSON.stringify(key), value: r.value === null ? null : JSON.stringify(r.value) };
}

function decode(key: Buffer, value: Buffer | null): StoredRecord | null {
  try {
    const k = JSON.parse(key.toString('utf8'));
    const v = value === null ? null : JSON.parse(value.toString('utf8'));
    if (k[0] === 'o') return { kind: 'offset', group: k[1], topic: k[2], partition: k[3], value: v };
    if (k[0] === 'g') return { kind: 'group', group: k[1], value: v };
  } catch {
    // not one of ours: skip
  }
  return null;
}
