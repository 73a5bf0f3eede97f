// Sluice through kafkajs (with TCP_NODELAY, as the other clients use): one topic with a partition per queue. Durable: acks=all on a flush.policy=fsync topic;
// relaxed: acks=1 on a flush.policy=none topic.
import { connect } from 'node:net';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import type { Driver, RunTarget } from './driver.js';

export async function kafkaDriver(t: RunTarget): Promise<Driver> {
  // kafkajs leaves Nagle's algorithm on; with it, a small request can wait for a delayed ACK (40 ms or more)
  const kafka = new Kafka({
    brokers: [`127.0.0.1:${t.port}`], logLevel: logLevel.NOTHING, clientId: 'bench',
    socketFactory: ({ host, port, onConnect }) => connect({ host, port, noDelay: true }, onConnect),
  });
  let producer: Promise<Producer> | null = null;
  let consumer: Consumer | null = null;
  return {
    async prepare() {
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: t.name, numPartitions: t.queues, configEntries: [{ name: 'flush.policy', value: t.durable ? 'fsync' : 'none' }] }] });
      await admin.disconnect();
    },
    async send(index, payloads) {
      producer ??= (async () => {
        const p = kafka.producer({ allowAutoTopicCreation: false });
        await p.connect();
        return p;
      })();
      await (await producer).send({ topic: t.name, acks: t.durable ? -1 : 1, messages: payloads.map((value) => ({ value, partition: index })) });
    },
    async consume(_indices, onMessages) {
      // one group per run: several consumer processes of a run share the partitions, as a consumer group does
      consumer = kafka.consumer({ groupId: `${t.name}-readers`, maxBytesPerPartition: 16 << 20, maxBytes: 64 << 20, maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topic: t.name, fromBeginning: true });
      // consuming starts once the group has assigned partitions and the first fetch went out, not when run() returns
      const c = consumer;
      const fetching = new Promise<void>((resolve) => {
        const off = c.on(c.events.FETCH_START, () => {
          off();
          resolve();
        });
      });
      // offsets are committed every 5 s (kafkajs commits after every batch by default, a durable write each time)
      await consumer.run({ autoCommitInterval: 5000, eachBatch: async ({ batch }) => onMessages(batch.messages.map((m) => m.value!)) });
      await fetching;
    },
    async close() {
      if (producer) await (await producer).disconnect();
      await consumer?.disconnect();
    },
  };
}
