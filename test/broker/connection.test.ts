// How a connection reads requests and what memory they use: frames split anywhere across reads, large produce
// requests read into memory that later requests reuse once their appends are settled, and fetch reads into
// memory reused once their responses are written.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { POOLED_MIN_BYTES } from '../../src/broker/buffer-pool.js';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import { withClient } from '../helpers/broker.js';
import { holdWrites } from '../helpers/held-writes.js';
import { until } from '../helpers/until.js';
import { prng } from '../helpers/prng.js';

const API = { PRODUCE: 0, FETCH: 1, METADATA: 3, API_VERSIONS: 18 } as const;

function produceBody(topic: string, records: Buffer, acks: number) {
  return { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] };
}

function fetchBody(topic: string, offset: number, maxBytes = 64 << 20) {
  return {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: maxBytes }] }],
    forgottenTopicsData: [], rackId: '',
  };
}

/** A value of `size` bytes that names its record: a byte copied from another request shows up in the comparison. */
function value(label: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let at = 0; at < size; at += label.length + 1) out.write(`${label};`, at);
  return out;
}

async function readAll(c: KafkaClient, topic: string): Promise<string[]> {
  const values: string[] = [];
  for (;;) {
    const res = await c.send(API.FETCH, 11, fetchBody(topic, values.length));
    const batches = decodeRecordBatches(res.responses[0].partitions[0].records);
    if (batches.length === 0) return values;
    for (const b of batches) for (const r of b.records) values.push(r.value!.toString('latin1'));
  }
}

/** Sends the requests `send` makes as one byte stream, cut into pieces that arrive one at a time. */
async function sendInPieces(c: KafkaClient, seed: number, send: () => Promise<unknown>[]): Promise<unknown[]> {
  const socket = c.socket;
  const write = socket.write.bind(socket);
  const stream: Buffer[] = [];
  socket.write = ((bytes: Buffer) => stream.push(bytes) > 0) as typeof socket.write;
  const answers = send();
  socket.write = write;
  const all = Buffer.concat(stream);
  const random = prng(seed);
  for (let at = 0; at < all.length; ) {
    // mostly a few bytes (cuts inside size prefixes and headers), sometimes tens of kilobytes
    const size = random() < 0.7 ? 1 + Math.floor(random() * 6) : 1 + Math.floor(random() * 70_000);
    write(all.subarray(at, at + size));
    at += size;
    await new Promise((r) => setTimeout(r, 1));
  }
  return Promise.all(answers);
}

test('requests cut anywhere across reads, small and large, are each answered in order', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    const large = [value('large-a', 100_000), value('large-b', POOLED_MIN_BYTES + 3)];
    const answers = await sendInPieces(c, 7, () => [
      c.send(API.METADATA, 9, { topics: null, allowAutoTopicCreation: false }),
      c.send(API.PRODUCE, 9, produceBody('t', buildRecordBatch([{ value: large[0]! }]), -1)),
      c.send(API.API_VERSIONS, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' }),
      c.send(API.PRODUCE, 9, produceBody('t', buildRecordBatch([{ value: 'small' }]), -1)),
      c.send(API.PRODUCE, 9, produceBody('t', buildRecordBatch([{ value: large[1]! }]), 1)),
    ]);
    const [metadata, first, versions, second, third] = answers as any[];
    assert.equal(metadata.brokers.length, 1);
    assert.equal(versions.errorCode, 0);
    assert.deepEqual(
      [first, second, third].map((r) => [r.responses[0].partitionResponses[0].errorCode, r.responses[0].partitionResponses[0].baseOffset]),
      [[0, 0], [0, 1], [0, 2]],
    );
    assert.deepEqual(await readAll(c, 't'), [large[0]!.toString('latin1'), 'small', large[1]!.toString('latin1')]);
  });
});

test('the memory of large produce requests is reused by later ones only once their appends are settled', async () => {
  await withClient(async (c, b) => {
    const buffers = b.broker.bufferPool;
    for (const policy of ['fsync', 'none']) {
      const topic = `t-${policy}`;
      await b.broker.createTopic(topic, 1, { 'flush.policy': policy });
      const sent: string[] = [];
      // pipelined on one connection, in waves: acks=0 is not answered at all, acks=1 before its append is
      // durable; each request's bytes must stay as they are until its append's writes are over
      for (let wave = 0; wave < 3; wave++) {
        const answers: Promise<unknown>[] = [];
        for (let i = 0; i < 20; i++) {
          const v = value(`${policy}-${wave}-${i}`, POOLED_MIN_BYTES + (i % 5) * 9_000);
          sent.push(v.toString('latin1'));
          const acks = [0, 1, -1][i % 3]!;
          const answer = c.send(API.PRODUCE, 9, produceBody(topic, buildRecordBatch([{ value: v }]), acks));
          if (acks !== 0) answers.push(answer);
          else answer.catch(() => undefined); // never answered; rejected when the client closes
        }
        await Promise.all(answers);
      }
      // the acks=0 ones are visible once durable; read until all are
      let read: string[] = [];
      for (let tries = 0; tries < 200 && read.length < sent.length; tries++) {
        read = await readAll(c, topic);
        if (read.length < sent.length) await new Promise((r) => setTimeout(r, 10));
      }
      assert.deepEqual(read, sent);
    }
    assert.ok(buffers.buffersMade < 60, `${buffers.buffersMade} buffers made for 120 large requests: memory was not reused`);
    assert.ok(buffers.keptFreeBytes > 0);
  });
});

test('fetch reads into pooled memory, reused by later fetches only once the response is written', async () => {
  await withClient(async (c, b) => {
    const pool = b.broker.bufferPool;
    await b.broker.createTopic('f', 1, {});
    const sent: string[] = [];
    for (let i = 0; i < 40; i++) {
      const v = value(`fetched-${i}`, 50_000);
      sent.push(v.toString('latin1'));
      await c.send(API.PRODUCE, 9, produceBody('f', buildRecordBatch([{ value: v }]), -1));
    }
    const check = (res: any, offset: number) => {
      const values = decodeRecordBatches(res.responses[0].partitions[0].records).flatMap((batch) => batch.records.map((r) => r.value!.toString('latin1')));
      assert.ok(values.length >= 10, `the fetch from ${offset} returned ${values.length} records`);
      assert.deepEqual(values, sent.slice(offset, offset + values.length), `the fetch from ${offset}`);
    };
    // this client reads nothing for a while: tens of megabytes of responses wait behind its socket, views of
    // what their fetches read ...
    c.socket.pause();
    const waiting = Array.from({ length: 30 }, (_, i) => c.send(API.FETCH, 11, fetchBody('f', i % 20, 1 << 20)));
    await new Promise((r) => setTimeout(r, 300));
    // ... while another client's fetches read, one after another
    const other = await KafkaClient.connectTo(b.bootstrap);
    try {
      const madeBefore = pool.buffersMade;
      for (let i = 0; i < 10; i++) check(await other.send(API.FETCH, 11, fetchBody('f', 20 - i, 1 << 20)), 20 - i);
      assert.ok(pool.buffersMade - madeBefore < 10, `${pool.buffersMade - madeBefore} buffers made for 10 fetches one after another: memory was not reused`);
    } finally {
      other.close();
    }
    c.socket.resume();
    (await Promise.all(waiting)).forEach((res, i) => check(res, i % 20));
  });
});

test('past queued.max.request.bytes, no connection reads further requests until answers free room', async () => {
  await withClient(async (a, b) => {
    await b.broker.createTopic('t', 1, {});
    const appended: string[] = [];
    const open = holdWrites(b.broker.logs.topics.get('t')!.partitions[0]!, (records) => {
      appended.push(decodeRecordBatches(records)[0]!.records[0]!.value!.toString('latin1').split(';')[0]!);
    });
    const sent = ['a0', 'a1', 'a2', 'a3'];
    const answersA = sent.map((label) => a.send(API.PRODUCE, 9, produceBody('t', buildRecordBatch([{ value: value(label, 40_000) }]), 1)));
    await until(() => b.broker.queuedRequests.full, 'the unanswered requests to reach the limit');
    // time for reads the limit should have stopped
    await new Promise((r) => setTimeout(r, 200));
    // two 40 KB requests reach the 64 KiB limit: the rest stay in the socket, not in the broker's memory
    assert.ok(appended.length >= 1 && appended.length <= 2, `${appended.length} of 4 requests read`);
    assert.ok(b.broker.queuedRequests.bytes >= 64 * 1024);
    const seenBeforeB = appended.length;
    const c = await KafkaClient.connectTo(b.bootstrap);
    try {
      // another connection's first read is taken, and then it waits for room too
      const metadata = await c.send(API.METADATA, 9, { topics: null, allowAutoTopicCreation: false });
      assert.equal(metadata.brokers.length, 1);
      const answerC = c.send(API.PRODUCE, 9, produceBody('t', buildRecordBatch([{ value: value('c0', 40_000) }]), 1));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(appended.length, seenBeforeB);
      open();
      const answers = await Promise.all([...answersA, answerC]);
      assert.deepEqual(answers.map((r: any) => r.responses[0].partitionResponses[0].errorCode), [0, 0, 0, 0, 0]);
      assert.deepEqual(appended.slice(0, 4), sent);
      assert.deepEqual(appended.sort(), [...sent, 'c0'].sort());
      assert.equal(b.broker.queuedRequests.bytes, 0);
    } finally {
      c.close();
    }
  }, { queuedMaxRequestBytes: 64 * 1024 });
});

test('a connection closed with requests unanswered gives their bytes back to queued.max.request.bytes', async () => {
  await withClient(async (a, b) => {
    await b.broker.createTopic('t', 1, {});
    const open = holdWrites(b.broker.logs.topics.get('t')!.partitions[0]!);
    for (let i = 0; i < 3; i++) a.send(API.PRODUCE, 9, produceBody('t', buildRecordBatch([{ value: value(`a${i}`, 40_000) }]), 1)).catch(() => undefined);
    await until(() => b.broker.queuedRequests.bytes >= 120_000, 'three requests read');
    // an unknown API key closes the connection while its three produce requests still wait for their writes
    a.sendRawBody(999, 0, false, Buffer.alloc(0)).catch(() => undefined);
    await a.closed();
    await until(() => b.broker.connections.size === 0, 'the connection to close');
    assert.equal(b.broker.queuedRequests.bytes, 0);
    open();
  }, { queuedMaxRequestBytes: 1 << 20 });
});

test('a long-poll fetch stops counting toward queued.max.request.bytes once decoded, so it holds no one back while it waits', async () => {
  await withClient(async (a, b) => {
    await b.broker.createTopic('many', 300, {});
    const partitions = Array.from({ length: 300 }, (_, partition) => ({ partition, fetchOffset: 0, partitionMaxBytes: 1 << 20 }));
    let answered = false;
    const parked = a.send(API.FETCH, 11, { ...fetchBody('many', 0), maxWaitMs: 60_000, minBytes: 1, topics: [{ topic: 'many', partitions }] });
    // a failure is reported where the answer is awaited below, not as an unhandled rejection here
    parked.then(() => (answered = true), () => undefined);
    // the request is several KB, over the 4 KiB limit: counted until answered, it would stop every connection's reads
    await until(() => b.broker.queuedRequests.bytes === 0 && b.broker.connections.size === 1, 'the parked fetch to stop counting');
    assert.equal(answered, false);
    const c = await KafkaClient.connectTo(b.bootstrap);
    try {
      const metadata = await c.send(API.METADATA, 9, { topics: null, allowAutoTopicCreation: false });
      assert.equal(metadata.brokers.length, 1);
      const records = buildRecordBatch([{ value: 'wakes it' }]);
      const produced = await c.send(API.PRODUCE, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'many', partitionData: [{ index: 7, records }] }] });
      assert.equal(produced.responses[0].partitionResponses[0].errorCode, 0);
      const fetched = await parked;
      const found = fetched.responses[0].partitions.filter((p: any) => p.records.length > 0);
      assert.deepEqual(found.map((p: any) => [p.partitionIndex, decodeRecordBatches(p.records)[0]!.records[0]!.value!.toString()]), [[7, 'wakes it']]);
      assert.equal(b.broker.queuedRequests.bytes, 0);
    } finally {
      c.close();
    }
  }, { queuedMaxRequestBytes: 4 * 1024 });
});

test('fetch responses waiting for slow consumers hold what fetch memory allows, each still a whole first batch', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('m', 1, {});
    const sent: string[] = [];
    for (let i = 0; i < 40; i++) {
      const v = value(`m-${i}`, 200_000);
      sent.push(v.toString('latin1'));
      await c.send(API.PRODUCE, 9, produceBody('m', buildRecordBatch([{ value: v }]), -1));
    }
    // eight consumers ask for everything from offsets 0..7 and do not read their answers
    const slow = await Promise.all(Array.from({ length: 8 }, () => KafkaClient.connectTo(b.bootstrap)));
    const answers = slow.map((s, i) => {
      s.socket.pause();
      return s.send(API.FETCH, 11, fetchBody('m', i, 64 << 20));
    });
    await new Promise((r) => setTimeout(r, 300));
    // 2 MiB for all: the first takes it, each later one its 1 MiB floor (before: 7.2-8 MB each, 60 MB in all)
    assert.ok(b.broker.fetchMemory.bytes <= 12 << 20, `${b.broker.fetchMemory.bytes} bytes held for eight fetches`);
    answers[7]!.catch(() => undefined); // never read: rejected as its client closes
    slow[7]!.close();
    for (const s of slow.slice(0, 7)) s.socket.resume();
    const responses = await Promise.all(answers.slice(0, 7));
    let total = 0;
    responses.forEach((res: any, i) => {
      const records = res.responses[0].partitions[0].records as Buffer;
      total += records.length;
      const values = decodeRecordBatches(records).flatMap((batch) => batch.records.map((r) => r.value!.toString('latin1')));
      assert.ok(values.length >= 1 && values.length <= 10, `fetch ${i} returned ${values.length} records`);
      assert.deepEqual(values, sent.slice(i, i + values.length));
    });
    // none read more than the 2 MiB bound (an answer the kernel took whole no longer counts, so later ones may get
    // all of it again); before, each returned everything asked, 7.2-8 MB
    assert.ok(total <= 7 * (2 << 20), `${total} bytes returned to seven fetches`);
    // what the closed consumer's answer held goes back too, once its socket is found closed
    await until(() => b.broker.fetchMemory.bytes === 0, 'the closed consumer\'s answer to give its memory back');
    for (const s of slow) s.close();
  }, { fetchMemoryBytes: 2 << 20 });
});
