// How a connection reads requests: frames split anywhere across reads, and large ones read into memory that
// later requests reuse once their appends are settled.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KafkaClient } from '../../src/admin/kafka-client.js';
import { POOLED_MIN_BYTES } from '../../src/broker/request-buffers.js';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import { withClient } from '../helpers/broker.js';
import { prng } from '../helpers/prng.js';

const API = { PRODUCE: 0, FETCH: 1, METADATA: 3, API_VERSIONS: 18 } as const;

function produceBody(topic: string, records: Buffer, acks: number) {
  return { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] };
}

function fetchBody(topic: string, offset: number) {
  return {
    replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 64 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 64 << 20 }] }],
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
    const buffers = b.broker.requestBuffers;
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
