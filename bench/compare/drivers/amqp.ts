// RabbitMQ through amqplib (AMQP 0-9-1, TCP_NODELAY on), one queue per index. Durable: a durable queue of the given type
// (classic, quorum, or stream), persistent messages, publisher confirms awaited per batch. Relaxed (classic
// only): a non-durable queue, transient messages, no confirms (the socket's back-pressure paces the publisher).
import amqp from 'amqplib';
import type { Driver, RunTarget } from './driver.js';

type QueueType = 'classic' | 'quorum' | 'stream';

export async function amqpDriver(t: RunTarget, type: QueueType): Promise<Driver> {
  const connection = await amqp.connect(`amqp://guest:guest@127.0.0.1:${t.port}`, { noDelay: true });
  const confirms = t.durable || type !== 'classic';
  const channel = confirms ? await connection.createConfirmChannel() : await connection.createChannel();
  const queue = (i: number) => `${t.name}-${i}`;
  const consumeChannels: amqp.Channel[] = [];
  return {
    async prepare() {
      const durable = t.durable || type !== 'classic';
      for (let i = 0; i < t.queues; i++) await channel.assertQueue(queue(i), { durable, arguments: type === 'classic' ? {} : { 'x-queue-type': type } });
    },
    async send(index, payloads) {
      // with confirms, each message's own confirmation settles it (waitForConfirms would wait for every later batch too)
      const confirmed: Promise<void>[] = [];
      for (const p of payloads) {
        let ok: boolean;
        if (confirms) {
          let settle!: (err: unknown) => void;
          confirmed.push(new Promise<void>((res, rej) => (settle = (err) => (err ? rej(err) : res()))));
          ok = (channel as amqp.ConfirmChannel).sendToQueue(queue(index), p, { persistent: true }, settle);
        } else {
          ok = channel.sendToQueue(queue(index), p, { persistent: false });
        }
        if (!ok) await new Promise((r) => channel.once('drain', r));
      }
      await Promise.all(confirmed);
    },
    async consume(indices, onMessages) {
      const ch = await connection.createChannel();
      consumeChannels.push(ch);
      await ch.prefetch(2000);
      for (const i of indices) {
        let unacked = 0;
        await ch.consume(
          queue(i),
          (msg) => {
            if (!msg) return;
            onMessages([msg.content]);
            if (++unacked >= 500) {
              ch.ack(msg, true);
              unacked = 0;
            }
          },
          { noAck: false, arguments: type === 'stream' ? { 'x-stream-offset': 'first' } : {} },
        );
      }
    },
    async close() {
      for (const ch of consumeChannels) await ch.close().catch(() => undefined);
      await channel.close().catch(() => undefined);
      await connection.close().catch(() => undefined);
    },
  };
}
