// Large produced records are prepared in the records thread: the event loop serves every other request meanwhile,
// a partition's appends keep their requests' order, and the thread's refusals and failures reach the producer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { recordsThreadWaiting, RECORDS_THREAD_MIN_BYTES, stopRecordsThread } from '../../src/broker/records-work.js';
import { preparationBytes, preparationFor } from '../../src/broker/produced-records.js';
import { Compression } from '../../src/protocol/compression.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { batchesToMessageSet, conversionBytes } from '../../src/protocol/message-sets.js';
import { Batch } from '../../src/protocol/record-batch.js';
import { buildRecordBatch, decodeRecordBatches, firstRecordAtTime, type NewRecord } from '../../src/protocol/records.js';
import { DEFAULT_LOG_CONFIG } from '../../src/storage/log-config.js';
import { withClient } from '../helpers/broker.js';
import { batchWithPayload, zstdRleFrame } from '../helpers/compressed-payloads.js';
import { messageSet, readMessageSet } from '../helpers/message-sets.js';
import { until } from '../helpers/until.js';

type PartitionAnswer = { errorCode: number; baseOffset: number; errorMessage: string | null; recordErrors: { batchIndex: number; batchIndexErrorMessage: string }[] };

function produceBody(topic: string, partitions: { index: number; records: Buffer }[], acks = -1) {
  return { transactionalId: null, acks, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: partitions }] };
}

async function produce(c: KafkaClient, topic: string, records: Buffer, version = 9): Promise<PartitionAnswer> {
  return (await c.send(0, version, produceBody(topic, [{ index: 0, records }]))).responses[0].partitionResponses[0];
}

/** `count` keyed records of `valueBytes` each: 20,000 of 100 B make 2.3 MB of records, gzip takes them to 30 KB. */
function keyedRecords(count: number, valueBytes = 100, first = 0): NewRecord[] {
  const value = Buffer.alloc(valueBytes, 'v');
  return Array.from({ length: count }, (_, i) => ({ key: `k${first + i}`, value }));
}

async function fetchAll(c: KafkaClient, topic: string, partition = 0) {
  const body = {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 64 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, fetchOffset: 0, partitionMaxBytes: 64 << 20 }] }], forgottenTopicsData: [], rackId: '',
  };
  return decodeRecordBatches((await c.send(1, 12, body)).responses[0].partitions[0].records).flatMap((batch) => batch.records);
}

/**
 * `request`'s answer, once it is shown to wait on the records thread while another connection is answered: the test
 * shares the broker's event loop, so that the wait for the thread ends at all shows the loop is free.
 */
async function servedMeanwhile<T>(bootstrap: string, request: Promise<T>, what: string): Promise<T> {
  let answered = false;
  const answer = request.then((r) => {
    answered = true;
    return r;
  });
  await until(() => recordsThreadWaiting() > 0, `${what} to wait on the thread`);
  const other = await KafkaClient.connectTo(bootstrap);
  try {
    assert.equal((await other.send(18, 3, { clientSoftwareName: 'probe', clientSoftwareVersion: '1' })).errorCode, 0);
    assert.equal(answered, false, `another connection answered while the thread did ${what}`);
  } finally {
    other.close();
  }
  return answer;
}

test('what is prepared in the thread: records whose decoding, re-encoding or conversion comes to 64 KiB or more', () => {
  const preparation = (version: number, config: Partial<typeof DEFAULT_LOG_CONFIG>) => preparationFor(version, { ...DEFAULT_LOG_CONFIG, ...config }, Date.now());
  const gzip = buildRecordBatch(keyedRecords(20_000), { compression: Compression.GZIP });
  const plain = buildRecordBatch(keyedRecords(1_000));
  const keep = preparation(9, {});
  const compacted = preparation(9, { cleanupPolicy: 'compact' });
  const lz4Topic = preparation(9, { compressionType: 'lz4' });
  const gzipTopic = preparation(9, { compressionType: 'gzip' });
  // stored as sent, nothing decoded: whatever its size
  assert.equal(preparationBytes(gzip, keep), 0);
  assert.equal(preparationBytes(plain, compacted), 0, 'uncompressed records are walked in place');
  // decoded to check keys, or to re-encode: what gzip's trailer states
  const decoded = gzip.readUInt32LE(gzip.length - 4);
  assert.ok(decoded > 2_000_000, `${decoded}`);
  assert.equal(preparationBytes(gzip, compacted), decoded);
  assert.equal(preparationBytes(gzip, lz4Topic), decoded);
  assert.equal(preparationBytes(gzip, gzipTopic), 0, 'already in the topic\'s codec');
  assert.equal(preparationBytes(plain, lz4Topic), plain.length, 'compressed: its own size');
  assert.equal(preparationBytes(Buffer.concat([plain, gzip]), lz4Topic), plain.length + decoded);
  // a gzip stream that states little counts 16 times its size; a Zstandard frame without its size, what its blocks bound
  const liar = Buffer.from(gzip);
  liar.writeUInt32LE(10, liar.length - 4);
  assert.equal(preparationBytes(liar, compacted), (gzip.length - Batch.HEADER_BYTES) * 16);
  assert.equal(preparationBytes(batchWithPayload(Compression.ZSTD, zstdRleFrame(8, 0)), lz4Topic), 8 * (128 << 10));
  // stating more than the cap, or not parsing: refused before decoding, so its own size
  const snappyLie = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x01, 0x00]);
  assert.equal(preparationBytes(batchWithPayload(Compression.SNAPPY, snappyLie), compacted), snappyLie.length);
  assert.equal(preparationBytes(gzip.subarray(0, 40), compacted), 0, 'a cut header: refused where it is read');
  // an old message set: every message's bytes, and what its wrappers decompress to
  const oldPlain = messageSet([{ key: 'a', value: 'x'.repeat(1000) }, { key: 'b', value: null }], 1);
  assert.equal(preparationBytes(oldPlain, preparation(2, {})), oldPlain.length - 2 * 12);
  const oldWrapped = messageSet(keyedRecords(2_000).map((r) => ({ key: r.key as string, value: 'v'.repeat(100) })), 0, Compression.SNAPPY);
  const inner = messageSet(keyedRecords(2_000).map((r) => ({ key: r.key as string, value: 'v'.repeat(100) })), 0);
  assert.equal(preparationBytes(oldWrapped, preparation(0, {})), oldWrapped.length - 12 + inner.length);
  assert.ok(inner.length > RECORDS_THREAD_MIN_BYTES);
});

/** A Zstandard frame in a batch: 4.4 KB that decodes to 137.5 MiB of zeros, past the cap, stated nowhere. */
const bomb = batchWithPayload(Compression.ZSTD, zstdRleFrame(1100, 0));

test('while one request\'s records are prepared in the thread, other connections are answered', async () => {
  await withClient(async (heavy, b) => {
    // eight partitions of it to a topic that re-encodes: the thread decodes each until the cap, one after the other
    await b.broker.createTopic('recoded', 8, { 'compression.type': 'lz4' });
    await b.broker.createTopic('plain', 1, {});
    const partitions = Array.from({ length: 8 }, (_, index) => ({ index, records: bomb }));
    let answered = false;
    const slow = heavy.send(0, 9, produceBody('recoded', partitions)).then((r) => {
      answered = true;
      return r;
    });
    const last = b.broker.logs.getLog('recoded', 7)!;
    // the test shares the broker's event loop: that this wait ends at all shows the loop is free
    await until(() => b.broker.appendOrder.waiting(last), 'the last partition waits on the thread');
    const other = await KafkaClient.connectTo(b.bootstrap);
    try {
      const versions = await other.send(18, 3, { clientSoftwareName: 'probe', clientSoftwareVersion: '1' });
      assert.equal(versions.errorCode, 0);
      const fine = await produce(other, 'plain', buildRecordBatch([{ value: 'small' }]));
      assert.deepEqual([fine.errorCode, fine.baseOffset], [0, 0]);
      assert.equal(answered, false, 'a request and an append on another connection were answered while the thread worked');
      const slowAnswer = await slow;
      for (const p of slowAnswer.responses[0].partitionResponses as PartitionAnswer[]) {
        assert.equal(p.errorCode, ErrorCode.INVALID_RECORD);
        assert.match(p.errorMessage!, /decompresses to more than 134217728 bytes/);
      }
      assert.equal(b.broker.appendOrder.waiting(last), false);
    } finally {
      other.close();
    }
  });
});

test('pipelined batches, some prepared in the thread and some not, are appended in the order sent, with an idempotent producer\'s sequences or without', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('keyed', 1, { 'cleanup.policy': 'compact' });
    await b.broker.createTopic('plain', 1, { 'cleanup.policy': 'compact' });
    const { producerId } = await c.send(22, 4, { transactionalId: null, transactionTimeoutMs: 60000, producerId: -1, producerEpoch: -1 });
    // large gzip batches (decoded in the thread to check their keys) between small ones (checked on the event loop)
    const sizes = [20_000, 3, 5, 20_000, 20_000, 1, 20_000, 2];
    for (const [topic, idempotent] of [['keyed', true], ['plain', false]] as const) {
      let sequence = 0;
      const sent = sizes.map((n) => {
        const producer = idempotent ? { producerId, producerEpoch: 0, baseSequence: sequence } : {};
        const records = buildRecordBatch(keyedRecords(n, 100, sequence), { compression: Compression.GZIP, ...producer });
        sequence += n;
        return records;
      });
      const preparation = preparationFor(9, b.broker.logs.getLog(topic, 0)!.config, Date.now());
      assert.deepEqual(sent.map((records) => preparationBytes(records, preparation) >= RECORDS_THREAD_MIN_BYTES), sizes.map((n) => n > 5));
      const answers = await Promise.all(sent.map((records) => produce(c, topic, records)));
      let offset = 0;
      assert.deepEqual(answers.map((a) => [a.errorCode, a.baseOffset]), sizes.map((n) => [0, (offset += n) - n]), topic);
      const stored = await fetchAll(c, topic);
      assert.equal(stored.length, sequence);
      assert.deepEqual(stored.map((r) => [r.offset, r.key!.toString()]), Array.from({ length: sequence }, (_, i) => [i, `k${i}`]), topic);
    }
  });
});

test('the thread\'s refusals reach the producer as the event loop\'s would: the code, the record it names, nothing stored', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('keyed', 1, { 'cleanup.policy': 'compact' });
    await b.broker.createTopic('recoded', 1, { 'compression.type': 'zstd' });
    await b.broker.createTopic('small', 1, { 'compression.type': 'uncompressed', 'max.message.bytes': '100000' });
    const records = keyedRecords(20_000);
    records[15_000] = { key: null, value: Buffer.from('no key') };
    const keyless = await produce(c, 'keyed', buildRecordBatch(records, { compression: Compression.GZIP }));
    assert.equal(keyless.errorCode, ErrorCode.INVALID_RECORD);
    assert.deepEqual(keyless.recordErrors.map((e) => e.batchIndex), [15_000]);
    assert.match(keyless.recordErrors[0]!.batchIndexErrorMessage, /key/);
    // a gzip stream cut short: its trailer states 2.3 MB, so it is decoded in the thread, and found corrupt there
    const whole = buildRecordBatch(keyedRecords(20_000), { compression: Compression.GZIP });
    const cut = batchWithPayload(Compression.GZIP, Buffer.concat([whole.subarray(61, 61 + 20_000), whole.subarray(whole.length - 8)]));
    const corrupt = await produce(c, 'recoded', cut);
    assert.equal(corrupt.errorCode, ErrorCode.CORRUPT_MESSAGE);
    assert.match(corrupt.errorMessage!, /cannot decompress codec 1/);
    // decompressed for an uncompressed topic, the batch exceeds its max.message.bytes: refused after re-encoding
    const tooLarge = await produce(c, 'small', whole);
    assert.equal(tooLarge.errorCode, ErrorCode.MESSAGE_TOO_LARGE);
    for (const topic of ['keyed', 'recoded', 'small']) assert.equal(b.broker.logs.getLog(topic, 0)!.logEndOffset, 0, topic);
    // and what the thread accepts is stored as the topic asks: re-encoded in zstd, every record as sent
    const accepted = await produce(c, 'recoded', whole);
    assert.deepEqual([accepted.errorCode, accepted.baseOffset], [0, 0]);
    const stored = await fetchAll(c, 'recoded');
    assert.equal(stored.length, 20_000);
    assert.deepEqual([stored[0]!.key!.toString(), stored[19_999]!.key!.toString(), stored[19_999]!.value!.length], ['k0', 'k19999', 100]);
  });
});

test('an old client\'s large message set is converted in the thread: stored in order, read back by an old fetch', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('old', 1, {});
    const messages = Array.from({ length: 3_000 }, (_, i) => ({ key: `k${i}`, value: `value-${i}-`.padEnd(100, 'x') }));
    const big = messageSet(messages, 1, Compression.GZIP);
    assert.ok(preparationBytes(big, preparationFor(2, DEFAULT_LOG_CONFIG, Date.now())) >= RECORDS_THREAD_MIN_BYTES);
    const answers = await Promise.all([
      produce(c, 'old', big, 2),
      produce(c, 'old', messageSet([{ key: 'after', value: 'small' }], 1), 2),
    ]);
    assert.deepEqual(answers.map((a) => [a.errorCode, a.baseOffset]), [[0, 0], [0, 3_000]]);
    const body = {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 8 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'old', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 8 << 20 }] }], forgottenTopicsData: [], rackId: '',
    };
    const read = readMessageSet((await c.send(1, 2, body)).responses[0].partitions[0].records);
    assert.deepEqual(read.map((m) => [m.offset, m.key, m.value]), [...messages, { key: 'after', value: 'small' }].map((m, i) => [i, m.key, m.value]));
  });
});

test('an old fetch of a large compressed batch is converted in the thread, while other connections are answered, into the message set the event loop makes', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('packed', 1, {});
    // 300,000 records of 11 B in one zstd batch: 9.9 MB of messages once converted
    const count = 300_000;
    const records = Array.from({ length: count }, (_, i) => ({ key: null, value: `v${String(i).padStart(10, '0')}` }));
    const batch = buildRecordBatch(records, { compression: Compression.ZSTD });
    assert.equal((await produce(c, 'packed', batch)).errorCode, 0);
    const stored = (await b.broker.logs.getLog('packed', 0)!.read(0, 1 << 20)).records;
    assert.ok(conversionBytes(stored, 0) >= RECORDS_THREAD_MIN_BYTES);
    const body = (partitionMaxBytes: number) => ({
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 64 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'packed', partitions: [{ partition: 0, fetchOffset: 5, partitionMaxBytes }] }], forgottenTopicsData: [], rackId: '',
    });
    const old = await servedMeanwhile(b.bootstrap, c.send(1, 2, body(64 << 20)), 'the conversion');
    const set: Buffer = old.responses[0].partitions[0].records;
    assert.deepEqual(set, batchesToMessageSet(stored, 5, 1, 64 << 20, true), 'as the event loop converts it');
    const messages = readMessageSet(set);
    assert.equal(messages.length, count - 5);
    assert.deepEqual([messages[0]!.offset, messages[0]!.value, messages.at(-1)!.offset, messages.at(-1)!.value], [5, 'v0000000005', count - 1, `v${String(count - 1).padStart(10, '0')}`]);
  });
});

test('ListOffsets by time looks into a large compressed batch in the thread, while other connections are answered, and finds the record the event loop finds', async () => {
  await withClient(async (c, b) => {
    // four partitions, each one zstd batch of 300,000 records one millisecond apart
    await b.broker.createTopic('timed', 4, { 'max.message.bytes': String(8 << 20) });
    const base = Date.now() - 3_600_000;
    const count = 300_000;
    const batch = buildRecordBatch(Array.from({ length: count }, (_, i) => ({ value: `t${i}`, timestamp: base + i })), { compression: Compression.ZSTD });
    for (let index = 0; index < 4; index++) {
      const answer = (await c.send(0, 9, produceBody('timed', [{ index, records: batch }]))).responses[0].partitionResponses[0];
      assert.equal(answer.errorCode, 0);
    }
    const stored = (await b.broker.logs.getLog('timed', 0)!.read(0, 8 << 20)).records;
    const targets = [base + 299_990, base + 250_000, base + 123_457, base + count];
    const request = { replicaId: -1, isolationLevel: 0, topics: [{ name: 'timed', partitions: targets.map((timestamp, partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp })) }] };
    const found = await servedMeanwhile(b.bootstrap, c.send(2, 7, request), 'the search');
    const partitions = found.topics[0].partitions as { offset: number; timestamp: number }[];
    assert.deepEqual(partitions.map((p) => [p.offset, p.timestamp]), [[299_990, base + 299_990], [250_000, base + 250_000], [123_457, base + 123_457], [-1, -1]]);
    assert.deepEqual(firstRecordAtTime(stored, 0, base + 123_457), { offset: 123_457, timestamp: base + 123_457 }, 'as the event loop finds it');
  });
});

test('a records thread that fails refuses what waits on it (UNKNOWN_SERVER_ERROR, nothing stored); the next request starts another', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('recoded', 9, { 'compression.type': 'lz4' });
    const log = b.broker.logs.getLog('recoded', 8)!;
    // the last partition's records wait in the thread behind eight bombs
    const partitions = Array.from({ length: 9 }, (_, index) => ({ index, records: index < 8 ? bomb : buildRecordBatch(keyedRecords(20_000), { compression: Compression.GZIP }) }));
    const lost = c.send(0, 9, produceBody('recoded', partitions));
    const behind = c.send(0, 9, produceBody('recoded', [{ index: 8, records: buildRecordBatch([{ value: 'queued behind it' }]) }]));
    await until(() => b.broker.appendOrder.waiting(log), 'the append waits on the thread');
    await stopRecordsThread();
    const refused: PartitionAnswer[] = (await lost).responses[0].partitionResponses;
    assert.deepEqual(refused.map((p) => p.errorCode), Array(9).fill(ErrorCode.UNKNOWN_SERVER_ERROR));
    assert.match(refused[8]!.errorMessage!, /records thread was stopped/);
    const queued: PartitionAnswer = (await behind).responses[0].partitionResponses[0];
    assert.deepEqual([queued.errorCode, queued.baseOffset], [0, 0], 'the append queued behind them goes ahead');
    const again = await produce(c, 'recoded', buildRecordBatch(keyedRecords(20_000), { compression: Compression.GZIP }));
    assert.deepEqual([again.errorCode, again.baseOffset], [0, 0]);
    assert.equal(b.broker.logs.getLog('recoded', 0)!.logEndOffset, 20_000);
    assert.equal(log.logEndOffset, 1);
  });
});
