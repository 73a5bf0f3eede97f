// Produce v0-2 and Fetch v0-3, which carry the message formats before record batches (magic 0 and 1), at the
// protocol level: what is stored, what each version reads back, and the errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { Compression } from '../../src/protocol/compression.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { Attributes } from '../../src/protocol/record-batch.js';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import { withClient } from '../helpers/broker.js';
import { messageSet, readMessageSet } from '../helpers/message-sets.js';
import { until } from '../helpers/until.js';

const BASE = 1_700_000_000_000;

async function produce(c: KafkaClient, version: number, topic: string, records: Buffer, acks = -1) {
  const r = await c.send(0, version, { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
  return r.responses[0].partitionResponses[0] as { errorCode: number; baseOffset: number; logAppendTimeMs: number; errorMessage: string | null };
}

function fetchBody(topic: string, offset: number, partitionMaxBytes = 1 << 20, maxWaitMs = 0, minBytes = 0, maxBytes = 1 << 20) {
  return {
    replicaId: -1, maxWaitMs, minBytes, maxBytes, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes }] }], forgottenTopicsData: [], rackId: '',
  };
}

async function fetchOld(c: KafkaClient, version: number, topic: string, offset: number, partitionMaxBytes?: number) {
  const r = await c.send(1, version, fetchBody(topic, offset, partitionMaxBytes));
  const p = r.responses[0].partitions[0];
  return { errorCode: p.errorCode as number, highWatermark: p.highWatermark as number, messages: readMessageSet(p.records ?? Buffer.alloc(0)) };
}

test('Produce v0-2 store message sets as record batches; Fetch v0-3 read every record back in their version\'s format, v4 as batches', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    const before = Date.now();
    const first = await produce(c, 0, 't', messageSet([{ key: 'a', value: 'A' }, { key: null, value: 'B' }], 0, Compression.GZIP));
    assert.deepEqual([first.errorCode, first.baseOffset], [0, 0]);
    assert.equal((await produce(c, 1, 't', messageSet([{ key: 'c', value: '' }], 0))).baseOffset, 2);
    const timed = [{ key: 'd', value: 'D', timestamp: BASE + 7 }, { key: 'e', value: null, timestamp: BASE + 3 }];
    assert.equal((await produce(c, 2, 't', messageSet(timed, 1, Compression.SNAPPY))).baseOffset, 3);
    const modern = buildRecordBatch([{ key: 'f', value: 'F', timestamp: BASE + 9, headers: [{ key: 'h', value: 'x' }] }], { compression: Compression.ZSTD });
    assert.equal((await produce(c, 9, 't', modern)).baseOffset, 5);
    const after = Date.now();

    const keysAndValues = [['a', 'A'], [null, 'B'], ['c', ''], ['d', 'D'], ['e', null], ['f', 'F']];
    for (const version of [0, 1]) {
      const read = await fetchOld(c, version, 't', 0);
      assert.equal(read.highWatermark, 6);
      assert.deepEqual(read.messages.map((m) => [m.offset, m.magic, m.attributes, m.timestamp, m.key, m.value]), keysAndValues.map(([k, v], i) => [i, 0, 0, null, k, v]), `v${version}`);
    }
    for (const version of [2, 3]) {
      const { messages } = await fetchOld(c, version, 't', 1);
      assert.deepEqual(messages.map((m) => [m.offset, m.magic, m.key, m.value]), keysAndValues.slice(1).map(([k, v], i) => [i + 1, 1, k, v]), `v${version}`);
      // magic 0 messages have no timestamp: stored with their append time, as LogAppendTime (attributes bit 3)
      for (const m of messages.slice(0, 2)) {
        assert.equal(m.attributes, 0x08);
        assert.ok(m.timestamp! >= before && m.timestamp! <= after, `append time ${m.timestamp}`);
      }
      assert.deepEqual(messages.slice(2).map((m) => [m.attributes, m.timestamp]), [[0, BASE + 7], [0, BASE + 3], [0, BASE + 9]]);
    }
    const r = await c.send(1, 4, fetchBody('t', 0));
    const batches = decodeRecordBatches(r.responses[0].partitions[0].records);
    assert.deepEqual(batches.map((x) => [x.info.baseOffset, x.info.recordsCount, x.info.attributes & Attributes.COMPRESSION_MASK, (x.info.attributes & Attributes.TIMESTAMP_LOG_APPEND) !== 0]), [
      [0, 2, Compression.GZIP, true], [2, 1, Compression.NONE, true], [3, 2, Compression.SNAPPY, false], [5, 1, Compression.ZSTD, false],
    ]);
    assert.deepEqual(batches[2]!.records.map((x) => x.timestamp), [BASE + 7, BASE + 3]);
  });
});

test('an old fetch gets whole messages within partition_max_bytes, the first always, and max_bytes bounds v3', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    // 3 messages of 100-byte values in one gzip wrapper: 12 + 14 + 1 + 100 bytes each as magic 0
    const value = (n: number) => String(n).repeat(100);
    await produce(c, 1, 't', messageSet([0, 1, 2].map((n) => ({ key: `${n}`, value: value(n) })), 0, Compression.GZIP));
    const offsets = async (version: number, partitionMaxBytes: number) => (await fetchOld(c, version, 't', 0, partitionMaxBytes)).messages.map((m) => m.offset);
    assert.deepEqual(await offsets(0, 254), [0, 1]);
    assert.deepEqual(await offsets(0, 253), [0]);
    assert.deepEqual(await offsets(0, 10), [0], 'a first message larger than the limit comes whole');
    const r = await c.send(1, 3, fetchBody('t', 0, 1 << 20, 0, 0, 150));
    assert.deepEqual(readMessageSet(r.responses[0].partitions[0].records).map((m) => m.offset), [0]);
  });
});

test('bad message sets are refused with the right code and nothing is stored; a message set in Produce v3+ is not a batch', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    const set = messageSet([{ key: 'k', value: 'v' }], 1);
    const flipped = Buffer.from(set);
    flipped[set.length - 1] ^= 0xff;
    assert.equal((await produce(c, 2, 't', flipped)).errorCode, ErrorCode.CORRUPT_MESSAGE);
    assert.equal((await produce(c, 2, 't', set.subarray(0, 20))).errorCode, ErrorCode.CORRUPT_MESSAGE);
    assert.equal((await produce(c, 2, 't', messageSet([{ key: 'k', value: 'v' }], 1, Compression.ZSTD))).errorCode, ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    assert.equal((await produce(c, 2, 't', set, 2)).errorCode, ErrorCode.INVALID_REQUIRED_ACKS);
    assert.equal((await produce(c, 3, 't', set)).errorCode, ErrorCode.CORRUPT_MESSAGE);
    assert.equal(b.broker.logs.getLog('t', 0)!.logEndOffset, 0);
  });
});

test('a compacted topic refuses an old message without a key, naming it', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('compacted', 1, { 'cleanup.policy': 'compact' });
    const refused = await produce(c, 2, 'compacted', messageSet([{ key: 'k', value: 'v' }, { key: null, value: 'v' }], 1, Compression.GZIP));
    assert.equal(refused.errorCode, ErrorCode.INVALID_RECORD);
    assert.equal(b.broker.logs.getLog('compacted', 0)!.logEndOffset, 0);
  });
});

test('an old fetch at a transaction marker, which it cannot be shown, waits for the next append instead of answering at once', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    const { producerId, producerEpoch } = await c.send(22, 1, { transactionalId: 'tx', transactionTimeoutMs: 60_000 });
    await c.send(24, 1, { v3AndBelowTransactionalId: 'tx', v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: 't', partitions: [0] }] });
    const txn = buildRecordBatch([{ value: 'in the transaction' }], { producerId, producerEpoch, baseSequence: 0, transactional: true });
    const r = await c.send(0, 9, { transactionalId: 'tx', acks: -1, timeoutMs: 5000, topicData: [{ name: 't', partitionData: [{ index: 0, records: txn }] }] });
    assert.equal(r.responses[0].partitionResponses[0].errorCode, 0);
    assert.equal((await c.send(26, 1, { transactionalId: 'tx', producerId, producerEpoch, committed: true })).errorCode, 0);
    await until(() => b.broker.logs.getLog('t', 0)!.highWatermark === 2, 'the commit marker at offset 1');

    assert.deepEqual((await fetchOld(c, 2, 't', 0)).messages.map((m) => [m.offset, m.value]), [[0, 'in the transaction']]);
    let answered = false;
    const parked = c.send(1, 2, fetchBody('t', 1, 1 << 20, 30_000, 1)).then((res) => {
      answered = true;
      return res;
    });
    await until(() => [...b.broker.connections].some((conn) => conn.inFlight > 0), 'the fetch to arrive');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(answered, false, 'the marker alone is nothing to answer with');
    const other = await KafkaClient.connectTo(b.bootstrap);
    try {
      assert.equal((await produce(other, 1, 't', messageSet([{ key: null, value: 'after' }], 0))).baseOffset, 2);
    } finally {
      other.close();
    }
    const res = await parked;
    assert.deepEqual(readMessageSet(res.responses[0].partitions[0].records).map((m) => [m.offset, m.value]), [[2, 'after']]);
  });
});

test('max.message.bytes applies to each old message, as in Kafka, not to the set: a larger set of smaller messages is stored', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, { 'max.message.bytes': '10000' });
    const messages = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: String(i).repeat(4000) }));
    const stored = await produce(c, 1, 't', messageSet(messages, 0));
    assert.deepEqual([stored.errorCode, stored.baseOffset], [0, 0]);
    const { messages: read } = await fetchOld(c, 1, 't', 0);
    assert.deepEqual(read.map((m) => [m.offset, m.key, m.value]), messages.map((m, i) => [i, m.key, m.value]));
    const tooLarge = await produce(c, 1, 't', messageSet([{ key: 'k', value: 'x' }, { key: 'big', value: 'x'.repeat(12_000) }], 0));
    assert.equal(tooLarge.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
    assert.equal(b.broker.logs.getLog('t', 0)!.logEndOffset, 5);
  });
});
