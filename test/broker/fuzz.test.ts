// Hostile input: random and mutated frames from many connections while a well-behaved client works alongside.
// Invariants: the broker never crashes, the good client's every request succeeds with the right data, and
// every batch stored anywhere is whole and CRC-valid.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { writeRequestHeader } from '../../src/protocol/headers.js';
import { API_SCHEMAS } from '../../src/protocol/messages.generated.js';
import { batchCrcValid, batchSizeAt } from '../../src/protocol/record-batch.js';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import { Writer } from '../../src/protocol/writer.js';
import { withBroker } from '../helpers/broker.js';
import { prng } from '../helpers/prng.js';
import { messageSet } from '../helpers/message-sets.js';
import { Compression } from '../../src/protocol/compression.js';

const SEED = Number(process.env.SLUICE_FUZZ_SEED ?? 20261124);
const ROUNDS = 600;

function encodeRequest(apiKey: number, version: number, body: unknown): Buffer {
  const schema = API_SCHEMAS[apiKey]!;
  const w = new Writer();
  writeRequestHeader(w, { apiKey, apiVersion: version, correlationId: 1, clientId: 'fuzz' }, schema.flexibleMin >= 0 && version >= schema.flexibleMin);
  schema.encodeRequest(w, version, body);
  return w.toBuffer();
}

function frame(body: Buffer, claimedLength = body.length): Buffer {
  const head = Buffer.alloc(4);
  head.writeInt32BE(claimedLength);
  return Buffer.concat([head, body]);
}

/** Valid requests to mutate: produce (several versions, the old message formats too), metadata, fetch (old and new), list offsets, create topics. */
function seeds(rnd: () => number): Buffer[] {
  const batch = buildRecordBatch([{ key: 'k', value: 'v'.repeat(Math.floor(rnd() * 50)) }, { value: null, headers: [{ key: 'h', value: 'x' }] }]);
  const produce = (v: number, records = batch) => encodeRequest(0, v, { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [{ name: 'fuzzed', partitionData: [{ index: 0, records }] }] });
  // the old message formats, converted at the edge: plain and compressed sets of magic 0 and 1
  const oldMessages = [{ key: 'k', value: 'v'.repeat(Math.floor(rnd() * 50)) }, { key: null, value: null, timestamp: 1_700_000_000_000 }];
  const fetch = (v: number) => encodeRequest(1, v, { replicaId: -1, maxWaitMs: 10, minBytes: 0, maxBytes: 1000, topics: [{ topic: 'fuzzed', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1000 }] }] });
  return [
    produce(3), produce(7), produce(9), produce(11),
    produce(0, messageSet(oldMessages, 0)), produce(1, messageSet(oldMessages, 0, Compression.GZIP)),
    produce(2, messageSet(oldMessages, 1, Compression.SNAPPY)), produce(2, messageSet(oldMessages, 1, Compression.LZ4)),
    fetch(0), fetch(3),
    encodeRequest(3, 1, { topics: [{ name: 'fuzzed' }] }),
    encodeRequest(3, 12, { topics: [{ name: 'fuzzed', topicId: '0'.repeat(32) }], allowAutoTopicCreation: true }),
    encodeRequest(1, 12, { maxWaitMs: 10, minBytes: 0, maxBytes: 1000, sessionId: 0, sessionEpoch: -1, topics: [{ topic: 'fuzzed', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1000 }] }], forgottenTopicsData: [], rackId: '' }),
    encodeRequest(2, 6, { replicaId: -1, topics: [{ name: 'fuzzed', partitions: [{ partitionIndex: 0, timestamp: -1 }] }] }),
    encodeRequest(19, 5, { topics: [{ name: 'fz', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 100 }),
    encodeRequest(18, 3, { clientSoftwareName: 'fuzz', clientSoftwareVersion: '1' }),
  ];
}

function mutate(rnd: () => number, valid: Buffer): Buffer {
  const out = Buffer.from(valid);
  const kind = Math.floor(rnd() * 6);
  switch (kind) {
    case 0: // flip a few bytes
      for (let i = 0; i < 1 + rnd() * 4; i++) out[Math.floor(rnd() * out.length)] = Math.floor(rnd() * 256);
      return out;
    case 1: // truncate
      return out.subarray(0, Math.floor(rnd() * out.length));
    case 2: // random api key / version in a valid header
      out.writeInt16BE(Math.floor(rnd() * 100) - 5, 0);
      out.writeInt16BE(Math.floor(rnd() * 30) - 2, 2);
      return out;
    case 3: // bad varint run in the body
      return Buffer.concat([out.subarray(0, 12), Buffer.alloc(10, 0xff), out.subarray(12)]);
    case 4: // huge lengths inside the body
      out.writeInt32BE(0x7fffffff, Math.min(out.length - 4, 14 + Math.floor(rnd() * Math.max(1, out.length - 18))));
      return out;
    default: // random bytes
      return Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)));
  }
}

/** Sends one hostile frame on a fresh connection; resolves when the broker answers or closes (or after 250 ms). */
function hit(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve();
    };
    const timer = setTimeout(done, 250);
    s.on('connect', () => s.write(bytes));
    s.on('data', done);
    s.on('close', done);
    s.on('error', done);
  });
}

test(`fuzzed frames never crash the broker, never disturb a good client, never store a corrupt batch (seed ${SEED})`, async () => {
  const rnd = prng(SEED);
  await withBroker(async (b) => {
    await b.broker.createTopic('good', 1, {});
    const good = await KafkaClient.connectTo(b.bootstrap);
    let goodSent = 0;
    let stop = false;
    const goodLoop = (async () => {
      while (!stop) {
        const res = await good.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 'good', partitionData: [{ index: 0, records: buildRecordBatch([{ value: `good-${goodSent}` }]) }] }] });
        assert.equal(res.responses[0].partitionResponses[0].errorCode, 0);
        assert.equal(res.responses[0].partitionResponses[0].baseOffset, goodSent);
        goodSent++;
      }
    })();
    try {
      const pool = seeds(rnd);
      const port = b.broker.port;
      for (let round = 0; round < ROUNDS; round += 8) {
        const hits: Promise<void>[] = [];
        for (let k = 0; k < 8; k++) {
          const body = mutate(rnd, pool[Math.floor(rnd() * pool.length)]!);
          const r = rnd();
          const bytes = r < 0.1 ? frame(body, 0x7ffffff0) : r < 0.2 ? frame(body, body.length + 50) : r < 0.25 ? frame(body, -1) : frame(body);
          hits.push(hit(port, bytes));
        }
        await Promise.all(hits);
      }
    } finally {
      stop = true;
      await goodLoop;
    }
    assert.ok(goodSent > 10, `the good client made ${goodSent} appends`);

    // the good client's data is intact and in order
    const fetched = await good.send(1, 11, { replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 24, isolationLevel: 0, sessionId: 0, sessionEpoch: -1, topics: [{ topic: 'good', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 24 }] }], forgottenTopicsData: [], rackId: '' });
    const values = decodeRecordBatches(fetched.responses[0].partitions[0].records).flatMap((x) => x.records.map((r) => r.value!.toString()));
    assert.deepEqual(values, Array.from({ length: goodSent }, (_, i) => `good-${i}`));
    good.close();

    // every stored batch in every partition is whole and CRC-valid
    for (const topic of b.broker.logs.topics.values()) {
      for (const log of topic.partitions) {
        let offset = log.logStartOffset;
        while (offset < log.highWatermark) {
          const { records } = await log.read(offset, 1 << 20);
          let at = 0;
          while (at < records.length) {
            const size = batchSizeAt(records, at);
            assert.ok(size > 0 && at + size <= records.length, `${topic.name}: whole batch`);
            assert.ok(batchCrcValid(records, at, size), `${topic.name}: CRC`);
            at += size;
          }
          const batches = decodeRecordBatches(records);
          const last = batches[batches.length - 1]!.info;
          offset = last.baseOffset + last.lastOffsetDelta + 1;
        }
      }
    }
  }, { maxRequestBytes: 1 << 20 });
});
