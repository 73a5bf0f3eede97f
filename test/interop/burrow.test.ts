// Burrow (Debian's burrow 1.2.1) monitoring a group's lag on Sluice: the offsets it decodes from __consumer_offsets
// and the log end offsets it asks for, at Burrow's default Kafka version (0.8.2: Fetch v0, so it reads that topic
// through the old message format) and at 2.0.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { withBroker } from '../helpers/broker.js';
import { until, within } from '../helpers/until.js';
import { burrowUntil, withBurrow } from './burrow.js';

const CLUSTERS = [{ name: 'default' }, { name: 'kafka2', kafkaVersion: '2.0.0' }];

interface BurrowPartition {
  topic: string;
  partition: number;
  end: { offset: number };
  current_lag: number;
}

const lagPath = (cluster: string) => `/v3/kafka/${cluster}/consumer/ledger/lag`;
const endsAndLags = (partitions: BurrowPartition[]) =>
  partitions.map((p) => [p.topic, p.partition, p.end.offset, p.current_lag]).sort((a, b) => (a[1] as number) - (b[1] as number));

test('Burrow reads a group\'s committed offsets from __consumer_offsets and reports its lag per partition, at Kafka 0.8.2 and 2.0', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('payments', 3, {});
    const kafka = new Kafka({ clientId: 'ledger-app', brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const admin = kafka.admin();
    await admin.connect();
    try {
      const send = (partition: number, count: number) =>
        producer.send({ topic: 'payments', acks: -1, messages: Array.from({ length: count }, (_, i) => ({ partition, value: `p${partition}-${i}` })) });
      await send(0, 40);
      await send(1, 30);
      await send(2, 20);
      // a real member consumes everything, commits where it chooses and leaves: offsets and group metadata records
      const consumer = kafka.consumer({ groupId: 'ledger', heartbeatInterval: 300 });
      await consumer.connect();
      await consumer.subscribe({ topic: 'payments', fromBeginning: true });
      let consumed = 0;
      await consumer.run({ autoCommit: false, eachMessage: async () => void consumed++ });
      await until(() => consumed === 90, 'the group to consume the 90 messages', 30_000);
      await within(consumer.commitOffsets([{ topic: 'payments', partition: 0, offset: '25' }, { topic: 'payments', partition: 1, offset: '30' }, { topic: 'payments', partition: 2, offset: '5' }]), 'the commit', 30_000);
      await within(consumer.disconnect(), 'the consumer\'s leave', 30_000);

      await withBurrow(bootstrap, CLUSTERS, async (burrow) => {
        for (const { name } of CLUSTERS) {
          const status = await burrowUntil(burrow, lagPath(name), (b) => (b.status?.partition_count === 3 && b.status.totallag === 30 ? b.status : undefined));
          assert.deepEqual(endsAndLags(status.partitions), [['payments', 0, 25, 15], ['payments', 1, 30, 0], ['payments', 2, 5, 15]], name);
          assert.deepEqual((await burrow.get(`/v3/kafka/${name}/consumer`)).consumers, ['ledger'], name);
          assert.deepEqual((await burrow.get(`/v3/kafka/${name}/topic/payments`)).offsets, [40, 30, 20], name);
        }

        // the log grows and the group moves on: Burrow follows both
        await send(1, 10);
        await within(admin.setOffsets({ groupId: 'ledger', topic: 'payments', partitions: [{ partition: 1, offset: '35' }] }), 'kafkajs\' setOffsets', 60_000);
        for (const { name } of CLUSTERS) {
          const status = await burrowUntil(burrow, lagPath(name), (b) => (b.status?.totallag === 35 ? b.status : undefined));
          assert.deepEqual(endsAndLags(status.partitions), [['payments', 0, 25, 15], ['payments', 1, 35, 5], ['payments', 2, 5, 15]], name);
          assert.deepEqual((await burrow.get(`/v3/kafka/${name}/topic/payments`)).offsets, [40, 40, 20], name);
        }

        // Every record Burrow read decoded, except the group metadata values, whose version 3 (written by Kafka since
        // 2.3, as by Sluice) is newer than Burrow 1.2.1 knows: it logs them and goes on, as it does against Kafka.
        const failures = burrow.logs().filter((l) => l.msg === 'failed to decode');
        assert.ok(failures.length > 0, 'the group metadata records were read');
        assert.deepEqual([...new Set(failures.map((f) => `${f.message_type} ${f.reason} ${f.version}`))], ['metadata value version 3']);
      });
    } finally {
      await admin.disconnect();
      await producer.disconnect();
    }
  });
});
