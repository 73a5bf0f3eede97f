// Sluice through @platformatic/kafka, a second Node Kafka client beside kafkajs: kafkajs's own work per message
// and per fetch is most of the latency measured through it, so the report shows both. Same topics and
// settings as the kafkajs driver: durable is acks=all on a flush.policy=fsync topic, relaxed acks=1 on
// flush.policy=none.
import { Admin, Consumer, MessagesStreamModes, ProduceAcks, Producer, type MessagesStream } from '@platformatic/kafka';
import type { Driver, RunTarget } from './driver.js';

export async function platformaticDriver(t: RunTarget): Promise<Driver> {
  const base = { clientId: 'bench', bootstrapBrokers: [`127.0.0.1:${t.port}`] };
  const acks = t.durable ? ProduceAcks.ALL : ProduceAcks.LEADER;
  let producer: Producer | null = null;
  let consumer: Consumer | null = null;
  let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = null;
  return {
    async prepare() {
      const admin = new Admin(base);
      try {
        if (!(await admin.listTopics()).includes(t.name)) {
          await admin.createTopics({ topics: [t.name], partitions: t.queues, replicas: 1, configs: [{ name: 'flush.policy', value: t.durable ? 'fsync' : 'none' }] });
        }
      } finally {
        await admin.close();
      }
    },
    async send(index, payloads) {
      producer ??= new Producer(base);
      // acks is a per-send option: the constructor's is not applied to sends
      await producer.send({ acks, messages: payloads.map((value) => ({ topic: t.name, value, partition: index })) });
    },
    async consume(_indices, onMessages) {
      // one group per run, as with kafkajs; offsets committed every 5 s. Fetches of at most 1 MiB: this client walks
      // a response's list of socket reads from its start for every field it decodes, so its work per message grows
      // with the response. Draining 5 M messages of 100 B, it took 50-56 k msgs/s with fetches of 64 MiB (as the
      // kafkajs driver asks for), 157 k with its default of 10 MiB, and 269-286 k with 0.25-4 MiB.
      consumer = new Consumer({ ...base, groupId: `${t.name}-readers`, maxWaitTime: 100, minBytes: 1, maxBytes: 1 << 20, autocommit: 5000 });
      stream = await consumer.consume({ topics: [t.name], mode: MessagesStreamModes.EARLIEST });
      stream.on('data', (message) => onMessages([message.value]));
    },
    async close() {
      await stream?.close();
      await consumer?.close();
      await producer?.close();
    },
  };
}
