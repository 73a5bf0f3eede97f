// @platformatic/kafka: admin create/delete, produce with acks=all, and its fetch API (newest Fetch version,
// topic ids) to read everything back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admin, Consumer, ProduceAcks, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { withBroker } from '../helpers/broker.js';
import { assertSameMessages, makeMessages, type ConsumedMessage } from './dataset.js';

test('@platformatic/kafka: create, produce 10,000 with acks=all, fetch back exactly, delete', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    const base = { clientId: 'interop', bootstrapBrokers: [bootstrap] };
    const admin = new Admin(base);
    const producer = new Producer({ ...base, serializers: stringSerializers, acks: ProduceAcks.ALL });
    const consumer = new Consumer({ ...base, groupId: 'unused', deserializers: stringDeserializers });
    try {
      await admin.createTopics({ topics: ['payments'], partitions: 6, replicas: 1 });
      assert.equal(broker.logs.topics.get('payments')?.partitions.length, 6);
      const messages = makeMessages(10_000, 6);
      for (let i = 0; i < messages.length; i += 1000) {
        await producer.send({
          messages: messages.slice(i, i + 1000).map((m) => ({
            topic: 'payments', key: m.key ?? undefined, value: m.value ?? undefined, partition: m.partition,
            timestamp: BigInt(m.timestamp), headers: Object.fromEntries(m.headers),
          })),
        });
      }
      const topicId = (await consumer.metadata({ topics: ['payments'] })).topics.get('payments')!.id;
      const consumed: ConsumedMessage[] = [];
      for (let partition = 0; partition < 6; partition++) {
        let next = 0n;
        const end = BigInt(messages.filter((m) => m.partition === partition).length);
        while (next < end) {
          const res = (await consumer.fetch({
            node: broker.config.nodeId,
            maxWaitTime: 100,
            topics: [{ topicId, partitions: [{ partition, fetchOffset: next, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
          })) as unknown as FetchResult;
          const p = res.responses[0]!.partitions[0]!;
          assert.equal(p.errorCode, 0);
          for (const batch of p.records ?? []) {
            for (const r of batch.records) {
              const offset = batch.firstOffset + BigInt(r.offsetDelta);
              if (offset < next) continue;
              consumed.push({
                partition, offset: Number(offset),
                key: decodeNullable(r.key),
                value: decodeNullable(r.value),
                headers: r.headers.map(([k, v]: [Buffer, Buffer]) => [k.toString(), v.toString()] as [string, string]),
                timestamp: Number(batch.firstTimestamp + r.timestampDelta),
              });
            }
          }
          next = BigInt(consumed.filter((m) => m.partition === partition).length);
        }
      }
      assertSameMessages(messages, consumed);
      await admin.deleteTopics({ topics: ['payments'] });
      assert.equal(broker.logs.topics.has('payments'), false);
    } finally {
      await consumer.close();
      await producer.close();
      await admin.close();
    }
  });
});

/** The part of platformatic's fetch result this test reads. */
interface FetchResult {
  responses: {
    partitions: {
      errorCode: number;
      records?: { firstOffset: bigint; firstTimestamp: bigint; records: { offsetDelta: number; timestampDelta: bigint; key: Buffer | null; value: Buffer | null; headers: [Buffer, Buffer][] }[] }[];
    }[];
  }[];
}

function decodeNullable(b: Buffer | null | undefined): string | null {
  return b === null || b === undefined ? null : b.toString();
}
