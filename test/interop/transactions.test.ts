// Transactions with real clients: librdkafka (python3-confluent-kafka) commit and abort as read_committed and
// read_uncommitted consumers see them, a consume-transform-produce loop that stays exactly-once across a
// crash of the processing client, a compacted topic written by transactions as compaction stamps and removes
// markers and empties a producer's last batch, and kafkajs transactions (sendOffsets, abort, zombie fencing, a
// broker restart in the middle of a transaction).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { startBroker } from '../../src/index.js';
import { Attributes, validateBatches } from '../../src/protocol/record-batch.js';
import { decodeRecordBatches } from '../../src/protocol/records.js';
import { withBroker } from '../helpers/broker.js';
import { tempDir } from '../helpers/temp-dir.js';
import { kafkajsRead } from './kafkajs-read.js';
import { python, pythonConsume, pythonProduce } from './python-clients.js';

test('librdkafka transactions: committed ones are visible to read_committed, aborted ones only to read_uncommitted', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('txn', 1, {});
    const txns = [
      { values: ['a1', 'a2', 'a3'], partition: 0, outcome: 'commit' },
      { values: ['b1', 'b2'], partition: 0, outcome: 'abort' },
      { values: ['c1'], partition: 0, outcome: 'commit' },
    ];
    assert.deepEqual(await python('confluent-transactions', [bootstrap, 'txn', 'tx-librdkafka'], txns), [{ done: true }]);
    const committed = await pythonConsume('confluent', bootstrap, 'txn', 1, 4, 'read_committed');
    assert.deepEqual(committed.map((m) => [m.offset, m.value]), [[0, 'a1'], [1, 'a2'], [2, 'a3'], [7, 'c1']], 'markers at 3, 6 and 8');
    const everything = await pythonConsume('confluent', bootstrap, 'txn', 1, 6);
    assert.deepEqual(everything.map((m) => m.value), ['a1', 'a2', 'a3', 'b1', 'b2', 'c1']);
    const log = broker.logs.getLog('txn', 0)!;
    assert.deepEqual([log.highWatermark, log.lastStableOffset], [9, 9]);
    assert.deepEqual(log.transactions.abortedBetween(0, 9).map((a) => [a.firstOffset, a.lastOffset]), [[4, 6]]);
  });
});

test('librdkafka (read_committed) and kafkajs read a compacted topic written by transactions as compaction stamps COMMIT and ABORT markers with a delete horizon, removes them, and keeps a producer\'s last batch as its header', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('txn-compacted', 1, { 'cleanup.policy': 'compact', 'segment.bytes': '256', 'min.cleanable.dirty.ratio': '0', 'delete.retention.ms': '3000' });
    const run = (txns: { keys: string[]; values: string[]; outcome: string }[]) =>
      python('confluent-transactions', [bootstrap, 'txn-compacted', 'tx-compacted'], txns.map((t) => ({ ...t, partition: 0 })));
    const fillers = (round: number) => Array.from({ length: 6 }, (_, i) => ({ keys: [`f${round}-${i}`], values: ['f'.repeat(100)], outcome: 'commit' }));
    assert.deepEqual(await run([
      { keys: ['k1', 'k2'], values: ['old1', 'old2'], outcome: 'commit' }, // 0-1, marker 2
      { keys: ['k1'], values: ['aborted'], outcome: 'abort' }, // 3, marker 4
      { keys: ['k1', 'k2'], values: ['new1', 'new2'], outcome: 'commit' }, // 5-6, marker 7
      ...fillers(0),
    ]), [{ done: true }]);
    const log = broker.logs.getLog('txn-compacted', 0)!;
    const marker = async (offset: number) => {
      const { records } = await log.read(offset, 1 << 20);
      const info = validateBatches(records, 1 << 20).batches[0]!;
      if (info.baseOffset !== offset) return 'gone';
      return (info.attributes & Attributes.DELETE_HORIZON) !== 0 ? 'stamped' : 'plain';
    };
    // long values by their first letter
    const short = (value: string | null) => (value !== null && value.length > 20 ? value[0]! : value);
    const committed = async (count = 2 + 6 * 2) => {
      const got = await pythonConsume('confluent', bootstrap, 'txn-compacted', 1, count, 'read_committed');
      return got.sort((a, b) => a.offset - b.offset).map((m) => short(m.value));
    };
    // the pass that removed the records of the first transaction gave its marker a delete horizon; the aborted
    // record went too, and its ABORT marker waits for a pass that meets no batch of its transaction: the next one
    await broker.logs.runRetention();
    assert.deepEqual([await marker(2), await marker(4), await marker(7)], ['stamped', 'plain', 'plain']);
    assert.equal(log.transactions.abortedBetween(0, log.highWatermark).length, 1);
    assert.deepEqual(await run(fillers(1)), [{ done: true }]);
    await broker.logs.runRetention();
    assert.deepEqual([await marker(2), await marker(4), await marker(7)], ['stamped', 'stamped', 'plain']);
    assert.deepEqual(log.transactions.abortedBetween(0, log.highWatermark), [], 'the aborted transaction is forgotten');
    const horizon = validateBatches((await log.read(4, 1 << 20)).records, 1 << 20).batches[0]!.baseTimestamp;
    // the same producer's records after its aborted transaction are read, with or without the ABORT marker
    const expected = ['new1', 'new2', ...Array<string>(12).fill('f')];
    assert.deepEqual(await committed(), expected);
    assert.deepEqual((await kafkajsRead(bootstrap, 'txn-compacted', expected.length)).map((m) => short(m.value)), expected, 'kafkajs');
    await new Promise((r) => setTimeout(r, Math.max(0, horizon - Date.now() + 10)));
    await broker.logs.runRetention();
    assert.deepEqual([await marker(2), await marker(4), await marker(7)], ['gone', 'gone', 'plain']);
    assert.deepEqual(await committed(), expected);
    assert.deepEqual((await kafkajsRead(bootstrap, 'txn-compacted', expected.length)).map((m) => short(m.value)), expected, 'kafkajs');

    // the producer's last batch superseded by plain records: compaction keeps it as its header alone, as Kafka's
    // cleaner does (its sequence outlives its records), and the clients pass over it
    for (const [key, value] of [['f1-5', 'plain'], ...Array.from({ length: 6 }, (_, i) => [`g${i}`, 'g'.repeat(100)])] as const) {
      assert.deepEqual(await pythonProduce('confluent', bootstrap, 'txn-compacted', [{ key, value, headers: [], timestamp: Date.now(), partition: 0 }]), { errors: [], unflushed: 0 });
    }
    await broker.logs.runRetention();
    const empty: number[] = [];
    for (let offset = log.logStartOffset; offset < log.highWatermark; ) {
      for (const b of decodeRecordBatches((await log.read(offset, 1 << 20)).records)) {
        if (b.info.recordsCount === 0) empty.push(b.info.producerId);
        offset = b.info.baseOffset + b.info.lastOffsetDelta + 1;
      }
    }
    assert.equal(empty.length, 1);
    assert.ok(empty[0]! >= 0, 'the transactional producer\'s');
    const after = ['new1', 'new2', ...Array<string>(11).fill('f'), 'plain', ...Array<string>(6).fill('g')];
    assert.deepEqual(await committed(after.length), after);
    assert.deepEqual((await kafkajsRead(bootstrap, 'txn-compacted', after.length)).map((m) => short(m.value)), after, 'kafkajs');
  });
});

test('librdkafka consume-transform-produce with sendOffsetsToTransaction: exactly once across a crash of the processor', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('in', 2, {});
    await broker.createTopic('out', 1, {});
    const input = Array.from({ length: 400 }, (_, i) => ({ key: null, value: `v-${i}`, headers: [], timestamp: 1_700_000_000_000 + i, partition: i % 2 }));
    assert.deepEqual(await pythonProduce('confluent', bootstrap, 'in', input), { errors: [], unflushed: 0 });
    const [crash] = await python('confluent-process', [bootstrap, 'in', 'out', 'etl', 'etl-tx', '400', '150'], [], 3);
    assert.ok((crash as { crashed_after: number }).crashed_after >= 150, 'the first run died mid-transaction');
    const [rest] = await python('confluent-process', [bootstrap, 'in', 'out', 'etl', 'etl-tx', '400']);
    assert.ok((rest as { processed: number }).processed < 400, 'the second run resumed from the committed offsets');
    const out = broker.logs.getLog('out', 0)!;
    assert.equal(out.lastStableOffset, out.highWatermark, 'nothing left open');
    const committed = await pythonConsume('confluent', bootstrap, 'out', 1, 400, 'read_committed');
    assert.equal(committed.length, 400);
    assert.deepEqual(committed.map((m) => m.value).sort(), input.map((m) => `out-${m.value}`).sort(), 'each input once in the committed output');
    const uncommitted = await pythonConsume('confluent', bootstrap, 'out', 1, 401);
    assert.ok(uncommitted.length > 400, `the crashed run's output is in the log (${uncommitted.length - 400} records) but aborted`);
    const offsets = broker.groups.fetchOffsets('etl', [{ name: 'in', partitions: [0, 1] }]);
    assert.deepEqual(offsets.map((o) => o.offset), [200, 200], 'the group committed exactly what was processed');
  });
});

test('kafkajs transactions: sendOffsets commits with the transaction, abort hides records, a new instance fences the old', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('kjs-txn', 1, {});
    await broker.createTopic('kjs-src', 1, {});
    const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ transactionalId: 'kjs-tx', idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const first = await producer.transaction();
    await first.send({ topic: 'kjs-txn', messages: [{ value: 'one' }, { value: 'two' }] });
    await first.sendOffsets({ consumerGroupId: 'kjs-group', topics: [{ topic: 'kjs-src', partitions: [{ partition: 0, offset: '5' }] }] });
    await first.commit();
    const aborted = await producer.transaction();
    await aborted.send({ topic: 'kjs-txn', messages: [{ value: 'never' }] });
    await aborted.abort();

    const zombie = await producer.transaction();
    await zombie.send({ topic: 'kjs-txn', messages: [{ value: 'zombie' }] });
    const successor = kafka.producer({ transactionalId: 'kjs-tx', idempotent: true, maxInFlightRequests: 1 });
    await successor.connect();
    const next = await successor.transaction(); // kafkajs initialises the transactional id here, fencing the first producer
    await assert.rejects(zombie.send({ topic: 'kjs-txn', messages: [{ value: 'zombie-2' }] }), /fenced|epoch/i);
    await assert.rejects(zombie.commit(), /fenced|epoch/i);
    await next.send({ topic: 'kjs-txn', messages: [{ value: 'three' }] });
    await next.commit();
    await Promise.all([producer.disconnect().catch(() => undefined), successor.disconnect()]);

    const committed = await pythonConsume('confluent', bootstrap, 'kjs-txn', 1, 3, 'read_committed');
    assert.deepEqual(committed.map((m) => m.value), ['one', 'two', 'three']);
    const offsets = broker.groups.fetchOffsets('kjs-group', [{ name: 'kjs-src', partitions: [0] }]);
    assert.equal(offsets[0]!.offset, 5);

    // kafkajs' own consumer reads committed only by default
    const consumer = kafka.consumer({ groupId: 'kjs-reader', maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'kjs-txn', fromBeginning: true });
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kafkajs consumer saw only ${JSON.stringify(seen)}`)), 30_000);
      consumer.run({ eachMessage: async ({ message }) => {
        seen.push(message.value!.toString());
        if (seen.length === 3) {
          clearTimeout(timer);
          resolve();
        }
      } }).catch(reject);
    });
    await consumer.disconnect();
    assert.deepEqual(seen, ['one', 'two', 'three']);
  });
});

test('kafkajs: a broker restart in the middle of a transaction, then commit', async () => {
  const { dir, cleanup } = await tempDir();
  let running = await startBroker({ dataDir: dir });
  const port = running.port;
  try {
    await running.broker.createTopic('restart-txn', 1, {});
    const kafka = new Kafka({ brokers: [running.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100 } });
    const producer = kafka.producer({ transactionalId: 'restart-tx', idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const txn = await producer.transaction();
    await txn.send({ topic: 'restart-txn', messages: [{ value: 'before-1' }, { value: 'before-2' }] });
    await running.close();
    running = await startBroker({ dataDir: dir, port });
    const log = running.broker.logs.getLog('restart-txn', 0)!;
    assert.deepEqual([log.highWatermark, log.lastStableOffset], [2, 0], 'still open after the restart');
    await txn.send({ topic: 'restart-txn', messages: [{ value: 'after' }] });
    await txn.commit();
    await producer.disconnect();
    const committed = await pythonConsume('confluent', running.bootstrap, 'restart-txn', 1, 3, 'read_committed');
    assert.deepEqual(committed.map((m) => m.value), ['before-1', 'before-2', 'after']);
  } finally {
    await running.close();
    await cleanup();
  }
});
