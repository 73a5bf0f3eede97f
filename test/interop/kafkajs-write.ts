import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
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
