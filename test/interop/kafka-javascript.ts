// Confluent's Node client, @confluentinc/kafka-javascript: the newest librdkafka (Debian's, which kcat and the Python
// client use, is 2.0), through its KafkaJS-style API. It is installed apart, in test/interop/kafka-javascript/ (see
// its package.json), so the project's own install and build do not need it: the types below are the part of its
// API the tests use. Its tests run the broker in a child process (withCliBroker): its admin calls hold libuv's
// threads while they wait for answers, which starves the file operations of a broker embedded in the same process.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

// tests run from dist/; the client is installed in the source tree
const PACKAGE_JSON = fileURLToPath(new URL('../../../test/interop/kafka-javascript/package.json', import.meta.url));

export interface KjsMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | Buffer[]>;
  timestamp: string;
  offset: string;
}

export interface KjsTopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

export interface KjsConsumer {
  connect(): Promise<void>;
  subscribe(subscription: { topics: (string | RegExp)[] }): Promise<void>;
  run(handlers: { eachMessage: (payload: { topic: string; partition: number; message: KjsMessage }) => Promise<void> }): Promise<void>;
  commitOffsets(offsets: KjsTopicPartitionOffset[]): Promise<void>;
  assignment(): { topic: string; partition: number }[];
  pause(topics: { topic: string }[]): void;
  disconnect(): Promise<void>;
}

export interface KjsProducerMessage {
  key?: string | null;
  value: string | null;
  partition?: number;
  timestamp?: string;
  headers?: Record<string, string>;
}

export interface KjsTransaction {
  send(record: { topic: string; messages: KjsProducerMessage[] }): Promise<unknown>;
  sendOffsets(offsets: { consumer: KjsConsumer; topics: { topic: string; partitions: { partition: number; offset: string }[] }[] }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export interface KjsProducer {
  connect(): Promise<void>;
  send(record: { topic: string; messages: KjsProducerMessage[] }): Promise<{ topicName: string; partition: number; errorCode: number; baseOffset?: string }[]>;
  transaction(): Promise<KjsTransaction>;
  disconnect(): Promise<void>;
}

export interface KjsAdmin {
  connect(): Promise<void>;
  createTopics(options: { topics: { topic: string; numPartitions: number; configEntries?: { name: string; value: string }[] }[] }): Promise<boolean>;
  deleteTopics(options: { topics: string[] }): Promise<void>;
  listTopics(): Promise<string[]>;
  fetchTopicOffsets(topic: string): Promise<{ partition: number; offset: string; low: string; high: string }[]>;
  fetchTopicOffsetsByTimestamp(topic: string, timestamp: number): Promise<{ partition: number; offset: string }[]>;
  deleteTopicRecords(options: { topic: string; partitions: { partition: number; offset: string }[] }): Promise<unknown>;
  fetchOffsets(options: { groupId: string; topics: string[] }): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
  fetchTopicMetadata(options: { topics: string[]; includeAuthorizedOperations?: boolean }): Promise<{ name: string; partitions: { partitionId: number; leader: number }[]; authorizedOperations?: number[] }[]>;
  listGroups(options?: { matchConsumerGroupStates?: number[] }): Promise<{ groups: { groupId: string; protocolType: string; state: number }[]; errors: unknown[] }>;
  describeGroups(groups: string[], options?: { includeAuthorizedOperations?: boolean }): Promise<{ groups: KjsGroupDescription[] }>;
  deleteGroups(groups: string[]): Promise<{ groupId: string; errorCode: number | null }[]>;
  disconnect(): Promise<void>;
}

export interface KjsGroupDescription {
  groupId: string;
  state: number;
  protocolType: string;
  protocol: string;
  members: { clientId: string; assignment: { topicPartitions: { topic: string; partition: number }[] } }[];
  authorizedOperations?: number[];
}

/** The client's own (non-KafkaJS) admin API, for what its KafkaJS one lacks. */
export interface KjsNativeAdmin {
  createPartitions(topic: string, total: number, timeoutMs: number, callback: (err: Error | null) => void): void;
  disconnect(): void;
}

export interface KjsKafka {
  producer(config: Record<string, unknown>): KjsProducer;
  consumer(config: Record<string, unknown>): KjsConsumer;
  admin(config?: Record<string, unknown>): KjsAdmin;
}

interface KafkaJavascript {
  librdkafkaVersion: string;
  AdminClient: { create(config: Record<string, unknown>): KjsNativeAdmin };
  KafkaJS: {
    Kafka: new (config: Record<string, unknown>) => KjsKafka;
    CompressionTypes: Record<'None' | 'GZIP' | 'SNAPPY' | 'LZ4' | 'ZSTD', string>;
    logLevel: Record<'NOTHING' | 'ERROR' | 'WARN' | 'INFO' | 'DEBUG', number>;
    ConsumerGroupStates: Record<'STABLE' | 'DEAD' | 'EMPTY', number>;
    AclOperationTypes: Record<'READ' | 'WRITE' | 'CREATE' | 'DELETE' | 'ALTER' | 'DESCRIBE' | 'CLUSTER_ACTION' | 'DESCRIBE_CONFIGS' | 'ALTER_CONFIGS' | 'IDEMPOTENT_WRITE', number>;
  };
}

/** The client; one missing, or built for another Node version, fails the test that needs it, with what to run. */
export function kafkaJavascript(): KafkaJavascript {
  try {
    return createRequire(PACKAGE_JSON)('@confluentinc/kafka-javascript') as KafkaJavascript;
  } catch (err) {
    throw new Error(
      `@confluentinc/kafka-javascript could not be loaded: run scripts/test-all.sh, or in test/interop/kafka-javascript \`CKJS_LINKING=dynamic npm ci\`, with the Node that runs the tests (${(err as Error).message})`,
    );
  }
}

/** A client of the broker at `bootstrap` that logs nothing (errors reach the tests as rejections). */
export function kjsKafka(bootstrap: string): KjsKafka {
  const { KafkaJS } = kafkaJavascript();
  return new KafkaJS.Kafka({ kafkaJS: { brokers: [bootstrap], logLevel: KafkaJS.logLevel.NOTHING } });
}
