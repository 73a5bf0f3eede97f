import { CompressionTypes, Kafka, logLevel, type SASLOptions } from 'kafkajs';
import type { TestMessage } from './dataset.js';

/** Produces `messages` with kafkajs as record batches with headers, gzip, 100 to a request, acks=all, each to its partition. */
export async function kafkajsWriteGzip(bootstrap: string, topic: string, messages: TestMessage[]): Promise<void> {
  const producer = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 100) {
      await producer.send({
        topic, acks: -1, compression: CompressionTypes.GZIP,
        messages: messages.slice(i, i + 100).map((m) => ({ key: m.key, value: m.value, timestamp: String(m.timestamp), headers: Object.fromEntries(m.headers), partition: m.partition })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * Sends `count` messages `v0`, `v1`, ... to `topic` one at a time, `intervalMs` apart, logged in with `sasl` and
 * re-authenticating (KIP-368) once less than a second of a session is left: a run that outlasts its sessions.
 */
export async function kafkajsSendSpaced(bootstrap: string, sasl: SASLOptions, topic: string, count: number, intervalMs: number): Promise<void> {
  const producer = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, reauthenticationThreshold: 1_000, sasl }).producer();
  await producer.connect();
  try {
    for (let i = 0; i < count; i++) {
      await producer.send({ topic, messages: [{ value: `v${i}` }] });
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  } finally {
    await producer.disconnect();
  }
}
