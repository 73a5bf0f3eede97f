// Transactions at the protocol level: the error codes clients depend on, the last stable offset and aborted
// transaction list of read_committed fetches, offsets committed by a transaction, timeouts, and state that
// survives a restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { buildControlBatch, buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import { withClient } from '../helpers/broker.js';
import { withTempDir } from '../helpers/temp-dir.js';

const READ_COMMITTED = 1;

async function produceRaw(c: KafkaClient, transactionalId: string | null, topic: string, records: Buffer): Promise<number[]> {
  const r = await c.send(0, 9, { transactionalId, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] });
  const p = r.responses[0].partitionResponses[0];
  return [p.errorCode, p.baseOffset];
}

function txnBatch(producerId: number, producerEpoch: number, baseSequence: number, values: string[]): Buffer {
  return buildRecordBatch(values.map((value) => ({ value })), { producerId, producerEpoch, baseSequence, transactional: true });
}

async function fetch(c: KafkaClient, topic: string, offset: number, isolationLevel: number) {
  const r = await c.send(1, 11, {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  });
  const p = r.responses[0].partitions[0];
  const batches = decodeRecordBatches(p.records ?? Buffer.alloc(0));
  return {
    errorCode: p.errorCode as number, highWatermark: p.highWatermark as number, lastStableOffset: p.lastStableOffset as number,
    aborted: (p.abortedTransactions ?? null) as { producerId: number; firstOffset: number }[] | null,
    offsets: batches.filter((b) => (b.info.attributes & 0x20) === 0).flatMap((b) => b.records.map((r) => r.offset)),
  };
}

const init = (c: KafkaClient, transactionalId: string, timeoutMs = 60_000, version = 4, producerId = -1, producerEpoch = -1) =>
  c.send(22, version, { transactionalId, transactionTimeoutMs: timeoutMs, producerId, producerEpoch });
const addPartitions = (c: KafkaClient, transactionalId: string, producerId: number, producerEpoch: number, topic: string, version = 3) =>
  c.send(24, version, { v3AndBelowTransactionalId: transactionalId, v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: producerEpoch, v3AndBelowTopics: [{ name: topic, partitions: [0] }] })
    .then((r) => r.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode as number);
const endTxn = (c: KafkaClient, transactionalId: string, producerId: number, producerEpoch: number, committed: boolean, version = 3) =>
  c.send(26, version, { transactionalId, producerId, producerEpoch, committed }).then((r) => r.errorCode as number);
const describe = (c: KafkaClient, id: string) => c.send(65, 0, { transactionalIds: [id] }).then((r) => r.transactionStates[0]);

test('transaction API errors: unknown ids, fenced epochs, invalid states, unverified and control produce', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    assert.equal((await init(c, 'tx', 16 * 60 * 1000)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    assert.equal(await addPartitions(c, 'nobody', 5, 0, 't'), ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    const first = await init(c, 'tx');
    assert.deepEqual([first.errorCode, first.producerEpoch], [0, 0]);
    const { producerId } = first;
    assert.equal(await endTxn(c, 'tx', producerId, 0, true), ErrorCode.INVALID_TXN_STATE, 'commit with nothing in the transaction');
    assert.deepEqual(await produceRaw(c, 'tx', 't', txnBatch(producerId, 0, 0, ['x'])), [ErrorCode.INVALID_TXN_STATE, -1], 'produce before AddPartitionsToTxn');
    assert.equal(await addPartitions(c, 'tx', producerId, 0, 'missing'), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(await addPartitions(c, 'tx', producerId, 0, 't'), 0);
    assert.deepEqual(await produceRaw(c, 'tx', 't', txnBatch(producerId, 0, 0, ['a', 'b'])), [0, 0]);
    assert.deepEqual(await produceRaw(c, null, 't', buildControlBatch(true, producerId, 0)), [ErrorCode.INVALID_RECORD, -1], 'clients may not write markers');

    // a second instance with the same transactional id fences the first and aborts its transaction
    const second = await init(c, 'tx');
    assert.deepEqual([second.errorCode, second.producerId, second.producerEpoch], [0, producerId, 1]);
    assert.equal(await addPartitions(c, 'tx', producerId, 0, 't'), ErrorCode.PRODUCER_FENCED);
    assert.equal(await addPartitions(c, 'tx', producerId, 0, 't', 1), ErrorCode.INVALID_PRODUCER_EPOCH, 'v0-1 clients do not know PRODUCER_FENCED');
    assert.equal(await endTxn(c, 'tx', producerId, 0, true), ErrorCode.PRODUCER_FENCED);
    assert.deepEqual(await produceRaw(c, 'tx', 't', txnBatch(producerId, 0, 1, ['zombie'])), [ErrorCode.INVALID_PRODUCER_EPOCH, -1]);
    assert.equal((await init(c, 'tx', 60_000, 4, producerId, 0)).errorCode, ErrorCode.PRODUCER_FENCED, 'the fenced instance cannot re-initialise with its old epoch');
    const log = b.broker.logs.getLog('t', 0)!;
    assert.equal(log.logEndOffset, 3, 'two records and the ABORT marker');
    assert.equal(log.lastStableOffset, 3);
    assert.equal((await describe(c, 'tx')).transactionState, 'Empty', 'the new instance starts with no transaction');
    assert.equal(await endTxn(c, 'tx', producerId, 1, false), 0, 'aborting nothing is answered with success');
    assert.equal(await endTxn(c, 'tx', producerId, 1, true), ErrorCode.INVALID_TXN_STATE);
    const listed = await c.send(66, 1, { stateFilters: ['Empty', 'Bogus'], producerIdFilters: [], durationFilter: -1 });
    assert.deepEqual(listed.unknownStateFilters, ['Bogus']);
    assert.deepEqual(listed.transactionStates.map((t: { transactionalId: string }) => t.transactionalId), ['tx']);
    assert.equal((await describe(c, 'nope')).errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
  });
});

test('read_committed stops at the last stable offset and lists aborted transactions; offsets commit with the transaction', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    const a = await init(c, 'a');
    const z = await init(c, 'z');
    await addPartitions(c, 'a', a.producerId, 0, 't');
    await addPartitions(c, 'z', z.producerId, 0, 't');
    assert.deepEqual(await produceRaw(c, 'a', 't', txnBatch(a.producerId, 0, 0, ['a0', 'a1'])), [0, 0]);
    assert.deepEqual(await produceRaw(c, 'z', 't', txnBatch(z.producerId, 0, 0, ['z0'])), [0, 2]);
    assert.deepEqual(await produceRaw(c, null, 't', buildRecordBatch([{ value: 'plain' }])), [0, 3]);
    let f = await fetch(c, 't', 0, READ_COMMITTED);
    assert.deepEqual([f.highWatermark, f.lastStableOffset, f.offsets], [4, 0, []], 'nothing is stable while a begins at 0');
    assert.deepEqual((await fetch(c, 't', 0, 0)).offsets, [0, 1, 2, 3], 'read_uncommitted sees everything');

    // a consumer's offsets go with a's transaction
    assert.equal((await c.send(25, 2, { transactionalId: 'a', producerId: a.producerId, producerEpoch: 0, groupId: 'g' })).errorCode, 0);
    const tc = await c.send(28, 3, {
      transactionalId: 'a', groupId: 'g', producerId: a.producerId, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: null,
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: -1, committedMetadata: 'm' }] }],
    });
    assert.equal(tc.topics[0].partitions[0].errorCode, 0);
    const fetchOffsets = (requireStable: boolean) =>
      c.send(9, 7, { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0] }], requireStable }).then((r) => r.topics[0]?.partitions[0]);
    assert.equal((await fetchOffsets(false))?.committedOffset ?? -1, -1, 'not committed before the transaction is');

    assert.equal(await endTxn(c, 'z', z.producerId, 0, false), 0);
    assert.equal(await endTxn(c, 'a', a.producerId, 0, true), 0);
    f = await fetch(c, 't', 0, READ_COMMITTED);
    assert.deepEqual([f.highWatermark, f.lastStableOffset], [6, 6]);
    assert.deepEqual(f.aborted, [{ producerId: z.producerId, firstOffset: 2 }], 'the consumer is told to drop z');
    assert.deepEqual(f.offsets, [0, 1, 2, 3], 'whole batches: the client filters the aborted one');
    assert.deepEqual((await fetch(c, 't', 4, READ_COMMITTED)).aborted, [{ producerId: z.producerId, firstOffset: 2 }], 'z ends at offset 4');
    assert.deepEqual((await fetch(c, 't', 5, READ_COMMITTED)).aborted, [], 'past the abort marker, nothing to filter');
    const committed = await fetchOffsets(true);
    assert.deepEqual([committed.errorCode, committed.committedOffset, committed.metadata], [0, 42, 'm']);
    const listed = await c.send(2, 5, { replicaId: -1, isolationLevel: READ_COMMITTED, topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }] });
    assert.equal(listed.topics[0].partitions[0].offset, 6);
  });
});

test('ListOffsets by timestamp under read_committed does not answer with a record of an open transaction', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    assert.deepEqual(await produceRaw(c, null, 't', buildRecordBatch([{ value: 'plain', timestamp: 1000 }])), [0, 0]);
    const p = await init(c, 'ts', 60_000);
    await addPartitions(c, 'ts', p.producerId, 0, 't');
    const txn = buildRecordBatch([{ value: 'open', timestamp: 5000 }], { producerId: p.producerId, producerEpoch: 0, baseSequence: 0, transactional: true });
    assert.deepEqual(await produceRaw(c, 'ts', 't', txn), [0, 1]);
    const ask = async (timestamp: number, isolationLevel: number) => {
      const r = await c.send(2, 7, { replicaId: -1, isolationLevel, topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }] });
      return [r.topics[0].partitions[0].offset, r.topics[0].partitions[0].timestamp];
    };
    for (const ts of [2000, -3]) {
      assert.deepEqual(await ask(ts, 0), [1, 5000], `read_uncommitted sees the open transaction's record (${ts})`);
      assert.deepEqual(await ask(ts, READ_COMMITTED), [-1, -1], `read_committed does not yet (${ts})`);
    }
    assert.deepEqual(await ask(500, READ_COMMITTED), [0, 1000]);
    assert.equal(await endTxn(c, 'ts', p.producerId, 0, true), 0);
    const deadline = Date.now() + 5000;
    while (b.broker.logs.getLog('t', 0)!.lastStableOffset < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(await ask(2000, READ_COMMITTED), [1, 5000], 'committed: now visible');
  });
});

test('an open transaction keeps its offsets unstable, then a timeout aborts it and fences the producer', async () => {
  await withClient(
    async (c, b) => {
      await b.broker.createTopic('t', 1, {});
      const p = await init(c, 'slow', 400);
      await addPartitions(c, 'slow', p.producerId, 0, 't');
      await produceRaw(c, 'slow', 't', txnBatch(p.producerId, 0, 0, ['late']));
      await c.send(25, 2, { transactionalId: 'slow', producerId: p.producerId, producerEpoch: 0, groupId: 'g' });
      await c.send(28, 3, {
        transactionalId: 'slow', groupId: 'g', producerId: p.producerId, producerEpoch: 0, generationId: -1, memberId: '', groupInstanceId: null,
        topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: '' }] }],
      });
      const stable = await c.send(9, 7, { groupId: 'g', topics: null, requireStable: true });
      assert.equal(stable.topics.length, 0, 'nothing committed yet for the group');
      const running = await c.send(66, 1, { stateFilters: [], producerIdFilters: [p.producerId], durationFilter: 0 });
      assert.deepEqual(running.transactionStates.map((t: { transactionState: string }) => t.transactionState), ['Ongoing']);
      const deadline = Date.now() + 10_000;
      while ((await describe(c, 'slow')).transactionState !== 'CompleteAbort' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const d = await describe(c, 'slow');
      assert.deepEqual([d.transactionState, d.producerEpoch], ['CompleteAbort', 1], 'aborted with a bumped epoch');
      assert.equal(await endTxn(c, 'slow', p.producerId, 0, true), ErrorCode.PRODUCER_FENCED);
      const log = b.broker.logs.getLog('t', 0)!;
      assert.deepEqual([log.highWatermark, log.lastStableOffset], [2, 2]);
      assert.equal((await c.send(9, 7, { groupId: 'g', topics: null, requireStable: true })).topics.length, 0, 'the aborted offsets never count');
      // the timed-out producer recovers with its own id and epoch (KIP-360) and gets the bumped epoch
      const again = await init(c, 'slow', 400, 4, p.producerId, 0);
      assert.deepEqual([again.errorCode, again.producerId, again.producerEpoch], [0, p.producerId, 1]);
    },
    { transactions: { abortCheckMs: 50 } },
  );
});

test('transactions survive a restart: an open one stays open (LSO held), a prepared one completes', () =>
  withTempDir(async (dir) => {
    let pid = -1;
    await withClient(async (c, b) => {
      await b.broker.createTopic('t', 1, {});
      pid = (await init(c, 'r')).producerId;
      await addPartitions(c, 'r', pid, 0, 't');
      await produceRaw(c, 'r', 't', txnBatch(pid, 0, 0, ['x', 'y']));
      await produceRaw(c, null, 't', buildRecordBatch([{ value: 'plain' }]));
      // 'p' decides to commit, but its partition refuses the marker (as a failing disk would): it stays PrepareCommit
      await b.broker.createTopic('u', 1, {});
      const p = (await init(c, 'p')).producerId;
      await addPartitions(c, 'p', p, 0, 'u');
      await produceRaw(c, 'p', 'u', txnBatch(p, 0, 0, ['decided']));
      b.broker.logs.getLog('u', 0)!.closed = true;
      assert.equal(await endTxn(c, 'p', p, 0, true), 0, 'the outcome is durable, so the client is done');
      assert.equal((await describe(c, 'p')).transactionState, 'PrepareCommit');
    }, { dataDir: dir });
    await withClient(async (c, b) => {
      assert.equal((await describe(c, 'p')).transactionState, 'CompleteCommit', 'the prepared commit was finished at start');
      const u = b.broker.logs.getLog('u', 0)!;
      assert.deepEqual([u.highWatermark, u.lastStableOffset], [2, 2]);
      assert.deepEqual((await fetch(c, 'u', 0, READ_COMMITTED)).offsets, [0]);
      const log = b.broker.logs.getLog('t', 0)!;
      assert.deepEqual([log.highWatermark, log.lastStableOffset], [3, 0], 'the open transaction still holds the LSO');
      assert.equal((await describe(c, 'r')).transactionState, 'Ongoing');
      assert.deepEqual(await produceRaw(c, 'r', 't', txnBatch(pid, 0, 2, ['z'])), [0, 3], 'the producer carries on after the restart');
      assert.equal(await endTxn(c, 'r', pid, 0, true), 0);
      assert.deepEqual([log.highWatermark, log.lastStableOffset], [5, 5]);
      assert.deepEqual((await fetch(c, 't', 0, READ_COMMITTED)).offsets, [0, 1, 2, 3]);
    }, { dataDir: dir });
    await withClient(async (c, b) => {
      const log = b.broker.logs.getLog('t', 0)!;
      assert.deepEqual([log.highWatermark, log.lastStableOffset, log.transactions.openCount], [5, 5, 0], 'the marker is found again after a clean restart');
      assert.equal((await describe(c, 'r')).transactionState, 'CompleteCommit');
      assert.equal((await init(c, 'r')).producerEpoch, 1, 'the transactional id keeps its producer id, with a bumped epoch');
    }, { dataDir: dir });
  }));

test('a topic deleted and made again while a transaction is open takes its marker only where the transaction wrote to the new topic; also after a restart', () =>
  withTempDir(async (dir) => {
    const remake = async (c: KafkaClient, b: { broker: { createTopic: (name: string, partitions: number, overrides: Record<string, string>) => Promise<unknown> } }) => {
      const del = await c.send(20, 6, { topics: [{ name: 't', topicId: '0'.repeat(32) }], timeoutMs: 1000 });
      assert.equal(del.responses[0].errorCode, 0);
      await b.broker.createTopic('t', 1, {});
    };
    let pid = -1;
    await withClient(async (c, b) => {
      await b.broker.createTopic('t', 1, {});
      pid = (await init(c, 'm')).producerId;
      assert.equal(await addPartitions(c, 'm', pid, 0, 't'), 0);
      assert.deepEqual(await produceRaw(c, 'm', 't', txnBatch(pid, 0, 0, ['old'])), [0, 0]);
      await remake(c, b);
    }, { dataDir: dir });
    await withClient(async (c, b) => {
      assert.equal(await endTxn(c, 'm', pid, 0, true), 0);
      const log = b.broker.logs.getLog('t', 0)!;
      // before, the old topic's COMMIT marker went to the new partition, taking offset 0 there
      assert.deepEqual([log.logEndOffset, log.lastStableOffset], [0, 0], 'the topic id the transaction added its partition for was kept across the restart');

      // the partition is known by name, as in Kafka: a write to the new topic under it belongs to the transaction
      assert.equal(await addPartitions(c, 'm', pid, 0, 't'), 0);
      assert.deepEqual(await produceRaw(c, 'm', 't', txnBatch(pid, 0, 0, ['before'])), [0, 0]);
      await remake(c, b);
      assert.deepEqual(await produceRaw(c, 'm', 't', txnBatch(pid, 0, 0, ['after'])), [0, 0]);
      const made = b.broker.logs.getLog('t', 0)!;
      assert.deepEqual([made.highWatermark, made.lastStableOffset], [1, 0]);
      assert.equal(await endTxn(c, 'm', pid, 0, true), 0);
      // without its marker the transaction would hold the new partition's last stable offset at 0 for ever
      assert.deepEqual([made.highWatermark, made.lastStableOffset], [2, 2]);
      assert.deepEqual((await fetch(c, 't', 0, READ_COMMITTED)).offsets, [0]);
    }, { dataDir: dir });
  }));
