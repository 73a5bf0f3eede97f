import { Kafka, logLevel, type SASLOptions } from 'kafkajs';

let readers = 0;

/**
 * Every record of partition 0 of `topic` as kafkajs reads it, from the start (a new group each time), once `count`
 * have come; logged in with `sasl` if given.
 */
export async function kafkajsRead(bootstrap: string, topic: string, count: number, sasl?: SASLOptions): Promise<{ offset: number; key: string | null; value: string | null; timestamp: number }[]> {
  const consumer = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, sasl }).consumer({ groupId: `read-${topic}-${++readers}`, maxWaitTimeInMs: 100 });
  const out: { offset: number; key: string | null; value: string | null; timestamp: number }[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            out.push({ offset: Number(message.offset), key: message.key?.toString() ?? null, value: message.value?.toString() ?? null, timestamp: Number(message.timestamp) });
            if (out.length === count) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}
