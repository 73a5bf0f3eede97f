/** Which broker and client a benchmark run drives, and with which durability. */
export interface RunTarget {
  system: SystemId;
  port: number;
  /** Durable settings (acks after fsync or the system's equivalent) or relaxed ones. */
  durable: boolean;
  /** Name of this run's topic / queue prefix / stream. */
  name: string;
  /** Number of partitions / queues / subjects. */
  queues: number;
}

/** A system and the Node client that drives it: 'sluice' is Sluice through kafkajs. */
export const SYSTEM_IDS = ['sluice', 'sluice-platformatic', 'rabbitmq-classic', 'rabbitmq-quorum', 'rabbitmq-stream', 'nats-jetstream', 'redis-streams'] as const;
export type SystemId = (typeof SYSTEM_IDS)[number];

/**
 * One client library talking to one system, the same operations for every system: queue `i` is partition i of
 * one topic (Sluice), queue `name-i` (RabbitMQ), subject `name.i` of one stream (NATS) or stream key `name-i` (Redis).
 */
export interface Driver {
  /** Creates the run's queues (a no-op when they exist). */
  prepare(): Promise<void>;
  /** Sends to queue `index`; resolves once the broker has accepted them under the run's durability setting. */
  send(index: number, payloads: Buffer[]): Promise<void>;
  /** Delivers messages of `indices` (all queues when it lists them all) from the beginning, until close(). */
  consume(indices: number[], onMessages: (payloads: Buffer[]) => void): Promise<void>;
  close(): Promise<void>;
}
