// Idempotent produce at the protocol level: producer ids, duplicates, sequence gaps, epochs, and producer
// state rebuilt from the log after a restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { Batch, writeInt64 } from '../../src/protocol/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import { startBroker } from '../../src/index.js';
import { withClient } from '../helpers/broker.js';
import { withTempDir } from '../helpers/temp-dir.js';

/** Produces an idempotent batch of `values` to t-0 and returns the partition's answer. */
async function produceAnswer(c: KafkaClient, producerId: number, producerEpoch: number, baseSequence: number, values: string[]) {
  const records = buildRecordBatch(values.map((value) => ({ value })), { producerId, producerEpoch, baseSequence });
  const r = await c.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 't', partitionData: [{ index: 0, records }] }] });
  return r.responses[0].partitionResponses[0] as { errorCode: number; baseOffset: number; logStartOffset: number };
}

async function produce(c: KafkaClient, producerId: number, producerEpoch: number, baseSequence: number, values: string[]): Promise<[number, number]> {
  const { errorCode, baseOffset } = await produceAnswer(c, producerId, producerEpoch, baseSequence, values);
  return [errorCode, baseOffset];
}

test('idempotent produce: duplicates answered with the original offset, gaps and old epochs refused, state survives a restart', () =>
  withTempDir(async (dir) => {
    let pid = -1;
    {
      const b = await startBroker({ dataDir: dir });
      const c = await KafkaClient.connectTo(b.bootstrap);
      try {
        await b.broker.createTopic('t', 1, {});
        const ids = await Promise.all([0, 1, 2].map(() => c.send(22, 4, { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1 })));
        assert.deepEqual(ids.map((r) => [r.errorCode, r.producerEpoch]), [[0, 0], [0, 0], [0, 0]]);
        assert.equal(new Set(ids.map((r) => r.producerId)).size, 3, 'distinct producer ids');
        pid = ids[0].producerId;
        assert.deepEqual(await produce(c, pid, 0, 0, ['a', 'b']), [0, 0]);
        assert.deepEqual(await produce(c, pid, 0, 2, ['c']), [0, 2]);
        assert.deepEqual(await produce(c, pid, 0, 0, ['a', 'b']), [0, 0], 'a retried batch gets its original offset');
        assert.deepEqual(await produce(c, pid, 0, 5, ['x']), [ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, -1]);
        assert.deepEqual(await produce(c, ids[1].producerId, 0, 3, ['y']), [ErrorCode.UNKNOWN_PRODUCER_ID, -1]);
        assert.equal(b.broker.logs.getLog('t', 0)!.logEndOffset, 3, 'nothing appended twice or out of order');
        assert.deepEqual(await produce(c, pid, 1, 0, ['d']), [0, 3], 'a new epoch starts at sequence 0');
        assert.deepEqual(await produce(c, pid, 0, 3, ['e']), [ErrorCode.INVALID_PRODUCER_EPOCH, -1]);
        // the refusals carry the log start offset, as Kafka's do: on UNKNOWN_PRODUCER_ID a client compares it with its
        // last acknowledged offset (the Java client does), to tell records deleted by retention from records lost
        await b.broker.logs.getLog('t', 0)!.deleteRecordsBefore(2);
        const refusal = async (producerId: number, baseSequence: number) => {
          const { errorCode, logStartOffset } = await produceAnswer(c, producerId, 0, baseSequence, ['z']);
          return [errorCode, logStartOffset];
        };
        assert.deepEqual(await refusal(ids[2].producerId, 7), [ErrorCode.UNKNOWN_PRODUCER_ID, 2]);
        assert.deepEqual(await refusal(pid, 9), [ErrorCode.INVALID_PRODUCER_EPOCH, 2]);
      } finally {
        c.close();
        await b.close();
      }
    }
    const b = await startBroker({ dataDir: dir });
    const c = await KafkaClient.connectTo(b.bootstrap);
    try {
      assert.deepEqual(await produce(c, pid, 1, 0, ['d']), [0, 3], 'the duplicate is recognised from state rebuilt from the log');
      assert.deepEqual(await produce(c, pid, 1, 1, ['f']), [0, 4]);
      const next = await c.send(22, 4, { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1 });
      assert.ok(next.producerId > pid + 2, `producer ids are not reused after a restart (${next.producerId} after ${pid})`);
    } finally {
      c.close();
      await b.close();
    }
  }));

test('producer state expires after producer.id.expiration.ms without a batch, counted from its records\' newest timestamp even where a batch states -1 (sarama did until 2025); a timestamp search finds those records', () =>
  withClient(
    async (c, b) => {
      await b.broker.createTopic('t', 1, {});
      const ids = await Promise.all([0, 1].map(() => c.send(22, 4, { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1 })));
      const [fresh, stale] = ids.map((r) => r.producerId as number);
      const now = Date.now();
      const send = async (producerId: number, baseSequence: number, timestamp: number) => {
        const batch = buildRecordBatch([{ value: `${producerId}-${baseSequence}`, timestamp }], { producerId, producerEpoch: 0, baseSequence });
        writeInt64(batch, Batch.MAX_TIMESTAMP, -1);
        batch.writeUInt32BE(crc32c(batch.subarray(Batch.ATTRIBUTES)), Batch.CRC);
        const r = await c.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 't', partitionData: [{ index: 0, records: batch }] }] });
        const p = r.responses[0].partitionResponses[0];
        return [p.errorCode, p.baseOffset];
      };
      assert.deepEqual(await send(fresh, 0, now), [0, 0]);
      assert.deepEqual(await send(stale, 0, now - 120_000), [0, 1]);
      await b.broker.logs.runRetention();
      assert.deepEqual(await send(fresh, 1, now), [0, 2], 'a producer whose records are a moment old is kept');
      assert.deepEqual(await send(stale, 1, now - 120_000), [ErrorCode.UNKNOWN_PRODUCER_ID, -1], 'one silent for longer than the expiration is gone');
      const byTime = await c.send(2, 5, { replicaId: -1, isolationLevel: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: now }] }] });
      assert.deepEqual([byTime.topics[0].partitions[0].offset, byTime.topics[0].partitions[0].timestamp], [0, now]);
    },
    { logDefaults: { producerIdExpirationMs: 60_000 } },
  ));
