// The systems compared: which server each starts, which client drives it, and what its durable and relaxed
// settings are. Peers use their documented durable settings; nothing is tuned down.
import type { SystemId } from './drivers/driver.js';
import type { ServerKind } from './servers.js';

export interface Plan {
  id: string;
  label: string;
  /** 'rdkafka' runs librdkafka's rdkafka_performance; otherwise the Node driver of that system. */
  client: SystemId | 'rdkafka';
  server: (durable: boolean) => ServerKind;
  durableSetting: string;
  /** Null when the system has no non-durable equivalent worth measuring (quorum queues, streams). */
  relaxedSetting: string | null;
  /** Queue counts it can hold in the many-topics workload without the run becoming a test of something else. */
  maxQueues: number;
  /**
   * Whether its durable setting has the data synced to disk before it acknowledges. Counted with strace (fsync,
   * fdatasync) in 8 s of 5,000 msgs/s: Sluice 4,775, RabbitMQ classic 3,302 and quorum 4,737, Redis 6,294; a
   * RabbitMQ stream 6 and NATS JetStream none, for 40,000 acknowledged messages.
   */
  syncsBeforeAck: boolean;
}

/**
 * The latency case that measures Sluice as the peers that acknowledge before syncing promise: written to the OS
 * (flush.policy=none), synced in the background.
 */
export const UNSYNCED_LATENCY_CASE = '5000 msgs/s, acked before any fsync';

export const PLANS: Plan[] = [
  {
    id: 'sluice-librdkafka', label: 'Sluice (librdkafka)', client: 'rdkafka', server: () => 'sluice',
    durableSetting: 'acks=all, topic flush.policy=fsync (group-committed fdatasync before the ack)', relaxedSetting: 'acks=1, topic flush.policy=none', maxQueues: 10_000, syncsBeforeAck: true,
  },
  {
    id: 'sluice-kafkajs', label: 'Sluice (kafkajs)', client: 'sluice', server: () => 'sluice',
    durableSetting: 'acks=all, topic flush.policy=fsync', relaxedSetting: 'acks=1, topic flush.policy=none', maxQueues: 10_000, syncsBeforeAck: true,
  },
  {
    id: 'sluice-platformatic', label: 'Sluice (@platformatic/kafka)', client: 'sluice-platformatic', server: () => 'sluice',
    durableSetting: 'acks=all, topic flush.policy=fsync', relaxedSetting: 'acks=1, topic flush.policy=none', maxQueues: 10_000, syncsBeforeAck: true,
  },
  {
    id: 'rabbitmq-classic', label: 'RabbitMQ classic queue (amqplib)', client: 'rabbitmq-classic', server: () => 'rabbitmq',
    durableSetting: 'durable queue, persistent messages, publisher confirms', relaxedSetting: 'non-durable queue, transient messages, no confirms', maxQueues: 10_000, syncsBeforeAck: true,
  },
  {
    id: 'rabbitmq-quorum', label: 'RabbitMQ quorum queue (amqplib)', client: 'rabbitmq-quorum', server: () => 'rabbitmq',
    durableSetting: 'quorum queue (1 node), publisher confirms', relaxedSetting: null, maxQueues: 100, syncsBeforeAck: true,
  },
  {
    id: 'rabbitmq-stream', label: 'RabbitMQ stream (amqplib)', client: 'rabbitmq-stream', server: () => 'rabbitmq',
    durableSetting: 'stream queue over AMQP 0-9-1, publisher confirms (sent before any fsync)', relaxedSetting: null, maxQueues: 100, syncsBeforeAck: false,
  },
  {
    id: 'nats-jetstream', label: 'NATS JetStream (nats.js)', client: 'nats-jetstream', server: () => 'nats',
    durableSetting: 'file storage, each publish acked (nats-server 2.9 has no per-write fsync setting; its file store syncs on its own interval)', relaxedSetting: 'memory storage, each publish acked', maxQueues: 10_000, syncsBeforeAck: false,
  },
  {
    id: 'redis-streams', label: 'Redis Streams (ioredis)', client: 'redis-streams', server: (durable) => (durable ? 'redis-always' : 'redis-everysec'),
    durableSetting: 'AOF, appendfsync always, pipelined XADD', relaxedSetting: 'AOF, appendfsync everysec, pipelined XADD', maxQueues: 10_000, syncsBeforeAck: true,
  },
];
