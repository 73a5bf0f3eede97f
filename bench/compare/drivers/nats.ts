// NATS JetStream through nats.js: one stream with a subject per index. Durable: file storage (the server runs with
// `sync_interval: always` where supported); relaxed: memory storage. Publishes are JetStream publishes, each
// awaited for its ack; consumers are ordered consumers (no per-message acks).
import { StorageType, connect, type NatsConnection } from 'nats';
import type { Driver, RunTarget } from './driver.js';

export async function natsDriver(t: RunTarget): Promise<Driver> {
  const nc: NatsConnection = await connect({ servers: `127.0.0.1:${t.port}`, maxReconnectAttempts: 0 });
  const js = nc.jetstream();
  const stops: (() => void)[] = [];
  return {
    async prepare() {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: t.name, subjects: [`${t.name}.*`], storage: t.durable ? StorageType.File : StorageType.Memory, num_replicas: 1 });
    },
    async send(index, payloads) {
      const subject = `${t.name}.${index}`;
      await Promise.all(payloads.map((p) => js.publish(subject, p)));
    },
    async consume(indices, onMessages) {
      const filterSubjects = indices.length === t.queues ? `${t.name}.*` : `${t.name}.${indices[0]}`;
      if (indices.length !== 1 && indices.length !== t.queues) throw new Error('a NATS consumer reads one subject or all of them');
      const consumer = await js.consumers.get(t.name, { filterSubjects });
      const messages = await consumer.consume({ max_messages: 2000 });
      stops.push(() => void messages.stop());
      void (async () => {
        for await (const m of messages) onMessages([Buffer.from(m.data)]);
      })();
    },
    async close() {
      for (const s of stops) s();
      await nc.drain().catch(() => undefined);
    },
  };
}
