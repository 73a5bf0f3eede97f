import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { buildRecordBatch, decodeRecordBatches, type KafkaRecord, type NewRecord } from '../protocol/records.js';
import { KafkaClient } from './kafka-client.js';
import { partitionForKey } from '../protocol/murmur2.js';

const Api = {
  PRODUCE: [0, 9],
  FETCH: [1, 12],
  LIST_OFFSETS: [2, 7],
  METADATA: [3, 12],
  CREATE_TOPICS: [19, 7],
  DELETE_TOPICS: [20, 5],
  DESCRIBE_CONFIGS: [32, 4],
  INCREMENTAL_ALTER_CONFIGS: [44, 1],
} as const;

const TOPIC_RESOURCE = 2;

export interface TopicDescription {
  name: string;
  id: string;
  partitions: { partition: number; leader: number; logStartOffset: number; highWatermark: number }[];
  configs: { name: string; value: string; isDefault: boolean }[];
}

function check(errorCode: number, errorMessage: string | null | undefined, what: string): void {
  if (errorCode !== 0) {
    const name = Object.entries(ErrorCode).find(([, c]) => c === errorCode)?.[0] ?? `error ${errorCode}`;
    throw new KafkaError(errorCode, `${what}: ${name}${errorMessage ? ` (${errorMessage})` : ''}`);
  }
}

/**
 * Operator actions over one connection to a Sluice (or any Kafka) broker, for the CLI: topics, and simple
 * line-oriented produce and consume. It speaks fixed, widely supported API versions.
 */
export class Admin {
  private constructor(readonly client: KafkaClient) {}

  static async connect(bootstrap: string): Promise<Admin> {
    return new Admin(await KafkaClient.connectTo(bootstrap, 'sluice-cli'));
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
