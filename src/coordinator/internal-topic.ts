import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { validateBatches } from '../protocol/record-batch.js';
import { buildRecordBatch, decodeRecordBatches } from '../protocol/records.js';
import { murmur2 } from '../protocol/murmur2.js';
import type { LogManager, TopicState } from '../storage/log-manager.js';
import { LOG_PASS_READ_BYTES } from '../storage/partition-log.js';

export const OFFSETS_TOPIC = '__consumer_offsets';
export const TRANSACTION_STATE_TOPIC = '__transaction_state';

/** Whether `name` is a topic the coordinators keep their state in (Kafka's internal topics). */
export function isInternalTopic(name: string): boolean {
  return name === OFFSETS_TOPIC || name === TRANSACTION_STATE_TOPIC;
}

/**
 * Refuses a client's change to an internal topic's records or partitions (INVALID_TOPIC_EXCEPTION, as Kafka
 * does): records the coordinators did not write could corrupt the groups' or transactions' state at the next
 * start, and more partitions would move entities to partitions their older records are not in.
 */
export function refuseInternalTopicChange(name: string, change: string): void {
  if (isInternalTopic(name)) throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `cannot ${change} internal topic ${name}`);
}

/** A keyed record of an internal topic; a null value deletes the key (tombstone). */
export interface InternalRecord {
  key: Buffer;
  value: Buffer | null;
}

/** A record whose key and value are JSON (the form `__transaction_state` keeps, and `__consumer_offsets` kept). */
export interface JsonRecord {
  key: unknown[];
  value: unknown;
}

export function jsonRecord(key: unknown[], value: unknown): InternalRecord {
  return { key: Buffer.from(JSON.stringify(key)), value: value === null ? null : Buffer.from(JSON.stringify(value)) };
}

/** The JSON record `record` holds, or null when it is not one. */
export function parseJsonRecord(record: InternalRecord): JsonRecord | null {
  try {
    const key: unknown = JSON.parse(record.key.toString('utf8'));
    if (!Array.isArray(key)) return null;
    return { key, value: record.value === null ? null : JSON.parse(record.value.toString('utf8')) };
  } catch {
    return null;
  }
}

/**
 * A compacted internal topic (`__consumer_offsets`, `__transaction_state`) holding a coordinator's state as keyed
 * records, on the storage engine like any topic. Records about one entity (a group, a transactional id)
 * go to partition murmur2(entity) mod N, so they stay in order; writes are always fsync'd before they count.
 */
export class InternalTopic {
  /**
   * The topic once found or created, shared by every write: the first writes come together (the members of a new
   * group, offset commits), and each making the topic itself either failed on it already existing or took it while
   * its partitions were still being created.
   */
  private topic: Promise<TopicState> | null = null;

  constructor(
    private readonly logs: LogManager,
    readonly name: string,
    private readonly partitions: number,
  ) {}

  private ensureTopic(): Promise<TopicState> {
    this.topic ??= this.findOrCreate().catch((err: unknown) => {
      this.topic = null; // the next write tries again
      throw err;
    });
    return this.topic;
  }

  private async findOrCreate(): Promise<TopicState> {
    const found = this.logs.topics.get(this.name);
    if (found) {
      await found.created;
      if (found.partitions.length > 0) return found;
    }
    return this.logs.createTopic(this.name, this.partitions, {
      'cleanup.policy': 'compact',
      'flush.policy': 'fsync',
      'segment.bytes': String(100 * 1024 * 1024),
    });
  }

  /** Appends records about `entity` durably, in one batch: all of them or none. */
  async write(entity: string, records: InternalRecord[]): Promise<void> {
    if (records.length === 0) return;
    const topic = await this.ensureTopic();
    const log = topic.partitions[(murmur2(Buffer.from(entity)) & 0x7fffffff) % topic.partitions.length]!;
    const batch = buildRecordBatch(records);
    await log.append(batch, validateBatches(batch, 1 << 30)).durable;
  }

  /** Every keyed record of the topic, oldest first per partition (later records for a key win). */
  async *readAll(): AsyncGenerator<InternalRecord> {
    const topic = this.logs.topics.get(this.name);
    if (!topic) return;
    this.topic = Promise.resolve(topic);
    for (const log of topic.partitions) {
      let offset = log.logStartOffset;
      while (offset < log.highWatermark) {
        const { records } = await log.read(offset, LOG_PASS_READ_BYTES);
        if (records.length === 0) break;
        for (const b of decodeRecordBatches(records)) {
          for (const r of b.records) if (r.key) yield { key: r.key, value: r.value };
          offset = b.info.baseOffset + b.info.lastOffsetDelta + 1;
        }
      }
    }
  }
}
