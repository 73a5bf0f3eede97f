// @platformatic/kafka: admin create/delete, produce with acks=all, and its fetch API (newest Fetch version,
// topic ids) to read everything back; its DescribeProducers API on what kafkajs producers wrote; describeLogDirs.
import assert from 'node:assert/strict';
import { statfs } from 'node:fs/promises';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { Admin, Connection, Consumer, ProduceAcks, Producer, describeProducersV0, stringDeserializers, stringSerializers, type BrokerLogDirDescription } from '@platformatic/kafka';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { Kafka, logLevel } from 'kafkajs';
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

test('@platformatic/kafka DescribeProducers: the idempotent and transactional producers of a partition, their sequences and open transactions (kafkajs producing)', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('ledger', 2, {});
    const kafka = new Kafka({ clientId: 'interop', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const idempotent = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const transactional = kafka.producer({ transactionalId: 'ledger-tx', idempotent: true, maxInFlightRequests: 1 });
    const [host, port] = bootstrap.split(':');
    const connection = new Connection('interop');
    await Promise.all([idempotent.connect(), transactional.connect(), connection.connect(host!, Number(port))]);
    try {
      const before = Date.now();
      for (let i = 0; i < 2; i++) await idempotent.send({ topic: 'ledger', messages: [{ partition: 0, value: `a${i}` }, { partition: 0, value: `b${i}` }] });
      const txn = await transactional.transaction();
      await txn.send({ topic: 'ledger', messages: [{ partition: 0, value: 't0' }, { partition: 0, value: 't1' }, { partition: 0, value: 't2' }] });
      const describe = async () => {
        const res = await describeProducersV0.api.async(connection, [{ name: 'ledger', partitionIndexes: [0, 1] }]);
        assert.deepEqual(res.topics[0]!.partitions.map((p) => [p.partitionIndex, p.errorCode]), [[0, 0], [1, 0]]);
        assert.deepEqual(res.topics[0]!.partitions[1]!.activeProducers, [], 'nothing was produced to partition 1');
        const producers = res.topics[0]!.partitions[0]!.activeProducers;
        for (const p of producers) assert.ok(Number(p.lastTimestamp) >= before && Number(p.lastTimestamp) <= Date.now(), `last timestamp ${p.lastTimestamp}`);
        return producers.map((p) => [Number(p.producerId), p.producerEpoch, p.lastSequence, Number(p.currentTxnStartOffset)]).sort((a, b) => a[0]! - b[0]!);
      };
      const ids = [...broker.logs.getLog('ledger', 0)!.producers.describe().map((p) => p.producerId)].sort((a, b) => a - b);
      assert.equal(ids.length, 2);
      const [idempotentId, transactionalId] = ids;
      // the idempotent producer's two batches of two records took offsets 0-3 (sequences 0-3); the open transaction began at 4
      assert.deepEqual(await describe(), [[idempotentId, 0, 3, -1], [transactionalId, 0, 2, 4]]);
      await txn.commit();
      // the commit marker ends the transaction; the producer keeps its sequence
      assert.deepEqual(await describe(), [[idempotentId, 0, 3, -1], [transactionalId, 0, 2, -1]]);
      await assert.rejects(describeProducersV0.api.async(connection, [{ name: 'missing', partitionIndexes: [0] }]), (err: Error & { response?: { topics: { partitions: { errorCode: number }[] }[] } }) => {
        assert.equal(err.response!.topics[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        return true;
      });
    } finally {
      await Promise.all([idempotent.disconnect(), transactional.disconnect(), connection.close()]);
    }
  });
});

test('@platformatic/kafka describeLogDirs: the data directory, each partition\'s size in bytes, the disk\'s total and usable bytes', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    const base = { clientId: 'interop', bootstrapBrokers: [bootstrap] };
    const admin = new Admin(base);
    const producer = new Producer({ ...base, serializers: stringSerializers, acks: ProduceAcks.ALL });
    try {
      await admin.createTopics({ topics: ['sizes'], partitions: 2, replicas: 1 });
      await producer.send({ messages: Array.from({ length: 50 }, (_, i) => ({ topic: 'sizes', partition: 0, value: `value ${i}`.padEnd(200, '.') })) });
      const stored = broker.logs.getLog('sizes', 0)!.sizeBytes;
      assert.ok(stored > 50 * 200, `${stored} bytes stored`);
      const logDirs = async (topics: { name: string; partitions: number[] }[]) => (await admin.describeLogDirs({ topics })) as BrokerLogDirDescription[];
      const [all] = await logDirs([{ name: 'sizes', partitions: [0, 1] }]);
      const dir = all!.results[0]!;
      assert.equal(all!.results.length, 1);
      assert.equal(dir.logDir, resolve(broker.config.dataDir));
      const sizes = dir.topics.find((t) => t.name === 'sizes')!.partitions.map((p) => [p.partitionIndex, Number(p.partitionSize)]);
      assert.deepEqual(sizes.sort(), [[0, stored], [1, 0]]);
      const disk = await statfs(broker.config.dataDir);
      assert.equal(Number(dir.totalBytes), disk.blocks * disk.bsize);
      assert.ok(Number(dir.usableBytes) > 0 && Number(dir.usableBytes) <= Number(dir.totalBytes));
      // only the listed partitions that exist
      const [listed] = await logDirs([{ name: 'sizes', partitions: [1, 7] }, { name: 'missing', partitions: [0] }]);
      assert.deepEqual(listed!.results[0]!.topics.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex)]), [['sizes', [1]]]);
      // no topics listed (null): every partition (the client always lists them; asked with our client)
      const c = await KafkaClient.connectTo(bootstrap);
      try {
        const every = await c.send(35, 4, { topics: null });
        assert.deepEqual(every.results[0].topics.map((t: { name: string; partitions: { partitionIndex: number; partitionSize: number }[] }) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.partitionSize])]), [['sizes', [[0, stored], [1, 0]]]]);
      } finally {
        c.close();
      }
    } finally {
      await Promise.all([admin.close(), producer.close()]);
    }
  });
});
