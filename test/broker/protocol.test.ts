// The broker's answers to well-formed and ill-formed requests, at the protocol level (our own client).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { Compression } from '../../src/protocol/compression.js';
import { Batch } from '../../src/protocol/record-batch.js';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import { withBroker, withClient } from '../helpers/broker.js';
import { capturedLogger } from '../helpers/captured-logger.js';
import { holdWrites } from '../helpers/held-writes.js';
import { until } from '../helpers/until.js';
import { batchWithPayload, zstdRleFrame } from '../helpers/compressed-payloads.js';
import { prng } from '../helpers/prng.js';

const API = { PRODUCE: 0, FETCH: 1, LIST_OFFSETS: 2, METADATA: 3, API_VERSIONS: 18, CREATE_TOPICS: 19 } as const;

function produceBody(topic: string, partition: number, records: Buffer, acks = -1) {
  return { transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] };
}

function fetchBody(topic: string, partition: number, offset: number, maxWaitMs = 0, minBytes = 0) {
  return {
    replicaId: -1, maxWaitMs, minBytes, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [], rackId: '',
  };
}

test('ApiVersions advertises each handler range, Produce and Fetch from v0', async () => {
  await withClient(async (c) => {
    for (const v of [0, 1, 2, 3, 4]) {
      const res = await c.send(API.API_VERSIONS, v, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
      assert.equal(res.errorCode, 0);
      const byKey = new Map(res.apiKeys.map((k: { apiKey: number; minVersion: number; maxVersion: number }) => [k.apiKey, [k.minVersion, k.maxVersion]]));
      assert.deepEqual(byKey.get(0), [0, 11]);
      assert.deepEqual(byKey.get(1), [0, 17]);
      assert.deepEqual(byKey.get(18), [0, 4]);
    }
  });
});

test('an ApiVersions version we do not know gets a v0 answer with UNSUPPORTED_VERSION and the key list', async () => {
  await withClient(async (c) => {
    const r = await c.sendRawBody(API.API_VERSIONS, 99, true, Buffer.from([0x00]));
    assert.equal(r.int16(), ErrorCode.UNSUPPORTED_VERSION);
    const n = r.int32();
    const keys: number[] = [];
    for (let i = 0; i < n; i++) {
      keys.push(r.int16());
      r.int16();
      r.int16();
    }
    assert.equal(r.remaining, 0);
    assert.ok(keys.includes(0) && keys.includes(1) && keys.includes(18));
  });
});

test('unknown API keys, unsupported versions and oversized frames close only that connection', async () => {
  await withBroker(async (b) => {
    const good = await KafkaClient.connectTo(b.bootstrap);
    try {
      for (const bad of [
        (c: KafkaClient) => c.sendRawBody(999, 0, false, Buffer.alloc(0)),
        (c: KafkaClient) => c.sendRawBody(API.METADATA, 99, false, Buffer.alloc(4)),
        (c: KafkaClient) => c.sendRawBody(API.FETCH, 18, true, Buffer.alloc(32)),
        (c: KafkaClient) => {
          const frame = Buffer.alloc(8);
          frame.writeInt32BE(2048, 0); // larger than maxRequestBytes
          c.sendRaw(frame);
          return new Promise(() => undefined);
        },
        (c: KafkaClient) => {
          const frame = Buffer.alloc(4);
          frame.writeInt32BE(-5, 0);
          c.sendRaw(frame);
          return new Promise(() => undefined);
        },
      ]) {
        const c = await KafkaClient.connectTo(b.bootstrap);
        const closed = c.closed();
        void bad(c).catch(() => undefined);
        await closed;
        const res = await good.send(API.METADATA, 1, { topics: [] });
        assert.equal(res.brokers.length, 1);
      }
    } finally {
      good.close();
    }
  }, { maxRequestBytes: 1024 });
});

test('a TLS handshake, an HTTP request or an AMQP header sent to the port closes that connection, and the log says what it looks like', async () => {
  const { logger, lines } = capturedLogger();
  await withBroker(async (b) => {
    const sent = [
      Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), // a TLS ClientHello's start
      Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'),
      Buffer.from([...Buffer.from('AMQP'), 0, 0, 9, 1]),
      Buffer.from([0x7f, 0xff, 0xff, 0xff]), // nothing known: the size alone
    ];
    for (const bytes of sent) {
      const c = await KafkaClient.connectTo(b.bootstrap);
      const closed = c.closed();
      c.sendRaw(bytes);
      await closed;
    }
  }, { logger });
  const reasons = lines.filter((l) => l.msg === 'closing connection: bad request').map((l) => l.reason);
  assert.deepEqual(reasons, [
    'request size 369295618 is outside 0..104857600 (socket.request.max.bytes); its bytes look like a TLS handshake: this listener speaks plaintext Kafka (TLS is not supported)',
    'request size 1195725856 is outside 0..104857600 (socket.request.max.bytes); its bytes look like an HTTP request: this listener speaks Kafka',
    'request size 1095586128 is outside 0..104857600 (socket.request.max.bytes); its bytes look like an AMQP protocol header: this listener speaks Kafka',
    'request size 2147483647 is outside 0..104857600 (socket.request.max.bytes)',
  ]);
});

test('a request whose body is cut short closes the connection', async () => {
  await withClient(async (c) => {
    const closed = c.closed();
    void c.sendRawBody(API.METADATA, 1, false, Buffer.from([0, 0, 0, 5, 0])).catch(() => undefined);
    await closed;
  });
});

test('bad acks get INVALID_REQUIRED_ACKS', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    const batch = buildRecordBatch([{ value: 'x' }]);
    const acks = await c.send(API.PRODUCE, 7, produceBody('t', 0, batch, 2));
    assert.equal(acks.responses[0].partitionResponses[0].errorCode, ErrorCode.INVALID_REQUIRED_ACKS);
    assert.equal(b.broker.logs.getLog('t', 0)!.logEndOffset, 0);
  });
});

test('corrupt batches are refused with the right code and nothing is stored', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    const cases: [string, (buf: Buffer) => Buffer, number][] = [
      ['flipped payload byte', (buf) => (buf[buf.length - 1]! ^= 0xff, buf), ErrorCode.CORRUPT_MESSAGE],
      ['length past the end', (buf) => (buf.writeInt32BE(buf.length + 100, Batch.LENGTH), buf), ErrorCode.CORRUPT_MESSAGE],
      ['magic 1', (buf) => (buf.writeInt8(1, Batch.MAGIC), buf), ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT],
      ['truncated header', (buf) => buf.subarray(0, 30), ErrorCode.CORRUPT_MESSAGE],
    ];
    for (const [name, corrupt, code] of cases) {
      const res = await c.send(API.PRODUCE, 9, produceBody('t', 0, corrupt(buildRecordBatch([{ value: 'a' }, { value: 'b' }]))));
      assert.equal(res.responses[0].partitionResponses[0].errorCode, code, name);
    }
    assert.equal(b.broker.logs.getLog('t', 0)!.logEndOffset, 0);
  });
});

test('a batch whose records do not match its header gets INVALID_RECORD naming the record', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    const batch = buildRecordBatch([{ value: 'a' }, { value: 'b' }, { value: 'c' }]);
    const two = buildRecordBatch([{ value: 'a' }, { value: 'b' }]);
    // a 2-record payload under a header that says 3 records: the walk finds the bytes end after record 1
    const forged = Buffer.concat([batch.subarray(0, Batch.HEADER_BYTES), two.subarray(Batch.HEADER_BYTES)]);
    forged.writeInt32BE(forged.length - Batch.LOG_OVERHEAD, Batch.LENGTH);
    const { crc32c } = await import('@node-rs/crc32');
    forged.writeUInt32BE(crc32c(forged.subarray(Batch.ATTRIBUTES)), Batch.CRC);
    const res = await c.send(API.PRODUCE, 9, produceBody('t', 0, forged));
    const p = res.responses[0].partitionResponses[0];
    assert.equal(p.errorCode, ErrorCode.INVALID_RECORD);
    assert.deepEqual(p.recordErrors.map((e: { batchIndex: number }) => e.batchIndex), [2]);
    assert.equal(b.broker.logs.getLog('t', 0)!.logEndOffset, 0);
  });
});

test('a compacted topic refuses a record without a key (INVALID_RECORD naming it), compressed or not; other topics take it', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('compacted', 1, { 'cleanup.policy': 'compact' });
    await b.broker.createTopic('both', 1, { 'cleanup.policy': 'compact,delete' });
    await b.broker.createTopic('plain', 1, {});
    const produce = async (topic: string, batch: Buffer) => (await c.send(API.PRODUCE, 9, produceBody(topic, 0, batch))).responses[0].partitionResponses[0];
    const records = [{ key: 'a', value: '1' }, { key: 'b', value: null }, { value: 'keyless' }];
    for (const compression of [Compression.NONE, Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD]) {
      for (const topic of ['compacted', 'both']) {
        const refused = await produce(topic, buildRecordBatch(records, { compression }));
        assert.equal(refused.errorCode, ErrorCode.INVALID_RECORD, `${topic}, codec ${compression}`);
        assert.deepEqual(refused.recordErrors.map((e: { batchIndex: number }) => e.batchIndex), [2]);
        assert.match(refused.errorMessage, /record 2 has no key/);
        // a key and a tombstone (a key with no value) are what compaction works with
        assert.equal((await produce(topic, buildRecordBatch(records.slice(0, 2), { compression }))).errorCode, 0);
      }
      assert.equal((await produce('plain', buildRecordBatch(records, { compression }))).errorCode, 0);
    }
    assert.equal(b.broker.logs.getLog('compacted', 0)!.logEndOffset, 10);
    assert.equal(b.broker.logs.getLog('both', 0)!.logEndOffset, 10);
    assert.equal(b.broker.logs.getLog('plain', 0)!.logEndOffset, 15);
  });
});

test('timestamp bounds (message.timestamp.before/after.max.ms, difference.max.ms as the fallback) refuse a record outside them with INVALID_TIMESTAMP naming it', async () => {
  await withClient(async (c, b) => {
    const hour = 3_600_000;
    await b.broker.createTopic('bounded', 1, { 'message.timestamp.before.max.ms': String(hour), 'message.timestamp.after.max.ms': String(hour) });
    await b.broker.createTopic('legacy', 1, { 'message.timestamp.difference.max.ms': String(hour) });
    // a bound of its own wins over the fallback; the other side falls back
    await b.broker.createTopic('mixed', 1, { 'message.timestamp.difference.max.ms': String(hour), 'message.timestamp.after.max.ms': String(24 * hour) });
    await b.broker.createTopic('append-time', 1, { 'message.timestamp.difference.max.ms': '1', 'message.timestamp.type': 'LogAppendTime' });
    await b.broker.createTopic('open', 1, {});
    const produce = async (topic: string, batch: Buffer) => (await c.send(API.PRODUCE, 9, produceBody(topic, 0, batch))).responses[0].partitionResponses[0];
    const now = Date.now();
    const withTimes = (...offsets: number[]) => offsets.map((ms, i) => ({ key: `k${i}`, value: `v${i}`, timestamp: now + ms }));
    for (const compression of [Compression.NONE, Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD]) {
      for (const topic of ['bounded', 'legacy', 'mixed']) {
        const past = await produce(topic, buildRecordBatch(withTimes(0, -60_000, -2 * hour), { compression }));
        assert.equal(past.errorCode, ErrorCode.INVALID_TIMESTAMP, `${topic}, codec ${compression}`);
        assert.deepEqual(past.recordErrors.map((e: { batchIndex: number }) => e.batchIndex), [2]);
        assert.match(past.errorMessage, /record 2 has timestamp/);
        assert.equal((await produce(topic, buildRecordBatch(withTimes(-30 * 60_000, 30 * 60_000), { compression }))).errorCode, 0, topic);
      }
      const future = withTimes(2 * hour);
      for (const [topic, code] of [['bounded', ErrorCode.INVALID_TIMESTAMP], ['legacy', ErrorCode.INVALID_TIMESTAMP], ['mixed', 0], ['append-time', 0], ['open', 0]] as const) {
        assert.equal((await produce(topic, buildRecordBatch(future, { compression }))).errorCode, code, `${topic}, codec ${compression}`);
      }
      assert.equal((await produce('append-time', buildRecordBatch(withTimes(-10 * hour), { compression }))).errorCode, 0);
    }
    assert.equal(b.broker.logs.getLog('bounded', 0)!.logEndOffset, 10);
    assert.equal(b.broker.logs.getLog('legacy', 0)!.logEndOffset, 10);
    assert.equal(b.broker.logs.getLog('mixed', 0)!.logEndOffset, 15);
    assert.equal(b.broker.logs.getLog('append-time', 0)!.logEndOffset, 10);
  });
});

test('compressed batches that decompress past the cap: refused where their size is stated or they must be decoded, stored as sent otherwise', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    await b.broker.createTopic('lz4', 1, { 'compression.type': 'lz4' });
    const errorOf = async (topic: string, batch: Buffer) => (await c.send(API.PRODUCE, 9, produceBody(topic, 0, batch))).responses[0].partitionResponses[0];
    // six bytes of snappy stating 256 MiB
    const snappyLie = batchWithPayload(Compression.SNAPPY, Buffer.from([0x80, 0x80, 0x80, 0x80, 0x01, 0x00]));
    const refused = await errorOf('t', snappyLie);
    assert.equal(refused.errorCode, ErrorCode.INVALID_RECORD);
    assert.match(refused.errorMessage, /decompresses to more than 134217728 bytes/);
    // 4.4 KB of zstd that decodes to 137.5 MiB, stated nowhere: a topic that recompresses must decode it, and stops at the cap
    const zstdBomb = batchWithPayload(Compression.ZSTD, zstdRleFrame(1100, 0));
    assert.equal((await errorOf('lz4', zstdBomb)).errorCode, ErrorCode.INVALID_RECORD);
    assert.equal(b.broker.logs.getLog('lz4', 0)!.logEndOffset, 0);
    // a topic that keeps the producer's codec stores it without decoding, as Kafka would, and serves it back as sent
    assert.equal((await errorOf('t', zstdBomb)).errorCode, 0);
    const fetched = await c.send(API.FETCH, 12, fetchBody('t', 0, 0));
    const records: Buffer = fetched.responses[0].partitions[0].records;
    assert.deepEqual(records.subarray(Batch.HEADER_BYTES), zstdBomb.subarray(Batch.HEADER_BYTES));
    assert.equal((await errorOf('lz4', buildRecordBatch([{ value: 'fine' }], { compression: Compression.ZSTD }))).errorCode, 0);
    assert.equal(b.broker.logs.getLog('lz4', 0)!.logEndOffset, 1);
  });
});

test('max.message.bytes refuses a larger batch with MESSAGE_TOO_LARGE', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('small', 1, { 'max.message.bytes': '200' });
    const res = await c.send(API.PRODUCE, 9, produceBody('small', 0, buildRecordBatch([{ value: 'x'.repeat(300) }])));
    assert.equal(res.responses[0].partitionResponses[0].errorCode, ErrorCode.MESSAGE_TOO_LARGE);
    const ok = await c.send(API.PRODUCE, 9, produceBody('small', 0, buildRecordBatch([{ value: 'x'.repeat(10) }])));
    assert.equal(ok.responses[0].partitionResponses[0].errorCode, 0);
  });
});

test('records larger than segment.bytes are refused with RECORD_LIST_TOO_LARGE (18), whatever max.message.bytes allows', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('segmented', 1, { 'segment.bytes': '16384', 'max.message.bytes': '1048576' });
    const res = await c.send(API.PRODUCE, 9, produceBody('segmented', 0, buildRecordBatch([{ value: 'x'.repeat(17_000) }])));
    assert.equal(res.responses[0].partitionResponses[0].errorCode, ErrorCode.RECORD_LIST_TOO_LARGE);
    assert.match(res.responses[0].partitionResponses[0].errorMessage, /exceed its segment.bytes of 16384/);
    // nothing of it was stored; records that fit are
    const ok = await c.send(API.PRODUCE, 9, produceBody('segmented', 0, buildRecordBatch([{ value: 'x'.repeat(16_000) }])));
    assert.equal(ok.responses[0].partitionResponses[0].errorCode, 0);
    assert.equal(ok.responses[0].partitionResponses[0].baseOffset, 0);
    assert.equal(b.broker.logs.getLog('segmented', 0)!.logEndOffset, 1);
  });
});

test('segment.bytes is checked against records as the topic stores them: after its compression.type re-encodes them, as in Kafka', async () => {
  await withClient(async (c, b) => {
    const produce = async (topic: string, batch: Buffer) => (await c.send(API.PRODUCE, 9, produceBody(topic, 0, batch))).responses[0].partitionResponses[0];
    // 17,000 bytes sent uncompressed to a zstd topic are stored in a few dozen: they fit 16 KiB segments
    await b.broker.createTopic('zstd-segmented', 1, { 'segment.bytes': '16384', 'compression.type': 'zstd' });
    const compressible = buildRecordBatch([{ value: 'x'.repeat(17_000) }]);
    assert.ok(compressible.length > 16_384);
    assert.equal((await produce('zstd-segmented', compressible)).errorCode, 0);
    const log = b.broker.logs.getLog('zstd-segmented', 0)!;
    assert.equal(log.logEndOffset, 1);
    assert.ok(log.sizeBytes < 200, `${log.sizeBytes} bytes stored`);
    // random bytes do not compress: re-encoded, a batch that fits as sent grows past segment.bytes (zstd's framing)
    const random = prng(18);
    const incompressible = buildRecordBatch([{ value: Buffer.from(Array.from({ length: 16_000 }, () => Math.floor(random() * 256))) }]);
    await b.broker.createTopic('zstd-exact', 1, { 'segment.bytes': String(incompressible.length), 'compression.type': 'zstd' });
    const refused = await produce('zstd-exact', incompressible);
    assert.equal(refused.errorCode, ErrorCode.RECORD_LIST_TOO_LARGE);
    assert.match(refused.errorMessage, new RegExp(`exceed its segment.bytes of ${incompressible.length}`));
    assert.equal(b.broker.logs.getLog('zstd-exact', 0)!.logEndOffset, 0);
  });
});

test('acks=0 gets no response, and later responses on the connection stay in order', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    const order: number[] = [];
    const sends: Promise<unknown>[] = [];
    // an acks=0 produce has no response: its promise never settles, and the next responses must still come
    void c.send(API.PRODUCE, 9, produceBody('t', 0, buildRecordBatch([{ value: 'zero' }]), 0)).catch(() => undefined);
    for (let i = 0; i < 20; i++) {
      sends.push(c.send(API.METADATA, 9, { topics: null, allowAutoTopicCreation: false }).then(() => order.push(i)));
    }
    await Promise.all(sends);
    assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => i));
    // the acks=0 append becomes visible once durable: wait for it with a long poll
    const fetched = await c.send(API.FETCH, 11, fetchBody('t', 0, 0, 60_000, 1));
    const records = decodeRecordBatches(fetched.responses[0].partitions[0].records).flatMap((x) => x.records);
    assert.deepEqual(records.map((r) => r.value!.toString()), ['zero']);
  });
});

test('acks=0: a failed partition closes that connection (nothing else), as Kafka does, since no response can say so', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    void c.send(API.PRODUCE, 9, produceBody('t', 0, buildRecordBatch([{ value: 'kept' }]), 0)).catch(() => undefined);
    // acks=0 is not answered, but a later request on the same connection is, after it: the append is written by then
    await c.send(API.METADATA, 9, { topics: null, allowAutoTopicCreation: false });
    const other = await KafkaClient.connectTo(b.bootstrap);
    try {
      const corrupt = buildRecordBatch([{ value: 'lost' }]);
      corrupt[corrupt.length - 1]! ^= 0xff; // the CRC no longer matches
      void c.send(API.PRODUCE, 9, produceBody('t', 0, corrupt, 0)).catch(() => undefined);
      const timer = new Promise((_, reject) => setTimeout(() => reject(new Error('the connection stayed open')), 10_000).unref());
      await Promise.race([c.closed(), timer]);
      // visible once durable: a long poll waits for it
      const fetched = await other.send(API.FETCH, 11, fetchBody('t', 0, 0, 60_000, 1));
      const records = decodeRecordBatches(fetched.responses[0].partitions[0].records).flatMap((x) => x.records);
      assert.deepEqual(records.map((r) => r.value!.toString()), ['kept']);
      const after = await other.send(API.LIST_OFFSETS, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }] });
      assert.equal(after.topics[0].partitions[0].offset, 1);
    } finally {
      other.close();
    }
  });
});

test('acks=0 requests hold their place among a connection\'s unanswered requests until their appends are written', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    let appended = 0;
    const open = holdWrites(b.broker.logs.topics.get('t')!.partitions[0]!, () => appended++);
    for (let i = 0; i < 20; i++) void c.send(API.PRODUCE, 9, produceBody('t', 0, buildRecordBatch([{ value: `v${i}` }]), 0)).catch(() => undefined);
    const answered = c.send(API.METADATA, 9, { topics: null, allowAutoTopicCreation: false });
    await until(() => appended >= 4, 'four requests read');
    // time for reads the limit should have stopped
    await new Promise((r) => setTimeout(r, 200));
    // four unanswered requests (the limit) stop the reading: before, all 20 were taken in and held in memory
    assert.equal(appended, 4);
    open();
    await answered;
    assert.equal(appended, 20);
    const values: string[] = [];
    while (values.length < 20) {
      // visible once durable: long polls until all of them are
      const fetched = await c.send(API.FETCH, 11, fetchBody('t', 0, values.length, 60_000, 1));
      for (const batch of decodeRecordBatches(fetched.responses[0].partitions[0].records)) values.push(...batch.records.map((r) => r.value!.toString()));
    }
    assert.deepEqual(values, Array.from({ length: 20 }, (_, i) => `v${i}`));
  }, { maxInFlightPerConnection: 4 });
});

test('Fetch: OFFSET_OUT_OF_RANGE with the log bounds, and a long poll woken by an append', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    await c.send(API.PRODUCE, 9, produceBody('t', 0, buildRecordBatch([{ value: 'a' }, { value: 'b' }])));
    const oor = await c.send(API.FETCH, 11, fetchBody('t', 0, 5));
    assert.equal(oor.responses[0].partitions[0].errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
    assert.equal(oor.responses[0].partitions[0].highWatermark, 2);
    assert.equal(oor.responses[0].partitions[0].logStartOffset, 0);

    const other = await KafkaClient.connectTo(b.bootstrap);
    try {
      // waits (up to an hour) for data at offset 2; only the append below can answer it
      const waiting = other.send(API.FETCH, 11, fetchBody('t', 0, 2, 3_600_000, 1));
      await new Promise((r) => setTimeout(r, 50));
      await c.send(API.PRODUCE, 9, produceBody('t', 0, buildRecordBatch([{ value: 'c' }])));
      const res = await waiting;
      const records = decodeRecordBatches(res.responses[0].partitions[0].records).flatMap((x) => x.records);
      assert.deepEqual(records.map((r) => [r.offset, r.value!.toString()]), [[2, 'c']]);
    } finally {
      other.close();
    }
  });
});

test('Fetch by topic id (v13+) and UNKNOWN_TOPIC_ID for an id that does not exist', async () => {
  await withClient(async (c, b) => {
    const topic = await b.broker.createTopic('t', 1, {});
    await c.send(API.PRODUCE, 9, produceBody('t', 0, buildRecordBatch([{ value: 'a' }])));
    const body = fetchBody('t', 0, 0);
    const byId = { ...body, topics: [{ topicId: topic.id, partitions: body.topics[0]!.partitions }] };
    const res = await c.send(API.FETCH, 13, byId);
    assert.equal(decodeRecordBatches(res.responses[0].partitions[0].records)[0]!.records[0]!.value!.toString(), 'a');
    const missing = await c.send(API.FETCH, 13, { ...byId, topics: [{ topicId: 'ab'.repeat(16), partitions: body.topics[0]!.partitions }] });
    assert.equal(missing.responses[0].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_ID);
  });
});

test('ListOffsets: earliest, latest, max timestamp, and by timestamp inside a batch', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 1, {});
    const batch = buildRecordBatch([{ value: 'a', timestamp: 1000 }, { value: 'b', timestamp: 3000 }, { value: 'c', timestamp: 2000 }]);
    await c.send(API.PRODUCE, 9, produceBody('t', 0, batch));
    const ask = async (timestamp: number) => {
      const res = await c.send(API.LIST_OFFSETS, 7, { replicaId: -1, isolationLevel: 0, topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp }] }] });
      const p = res.topics[0].partitions[0];
      return [p.offset, p.timestamp];
    };
    assert.deepEqual(await ask(-2), [0, -1]);
    assert.deepEqual(await ask(-1), [3, -1]);
    assert.deepEqual(await ask(-3), [1, 3000]);
    assert.deepEqual(await ask(1500), [1, 3000]);
    assert.deepEqual(await ask(1000), [0, 1000]);
    assert.deepEqual(await ask(5000), [-1, -1]);
  });
});

test('CreateTopics validates names, configs, counts and replication factor', async () => {
  await withClient(async (c) => {
    const create = (name: string, numPartitions: number, replicationFactor: number, configs: { name: string; value: string }[] = []) =>
      c.send(API.CREATE_TOPICS, 4, { topics: [{ name, numPartitions, replicationFactor, assignments: [], configs }], timeoutMs: 1000, validateOnly: false })
        .then((r) => r.topics[0].errorCode);
    assert.equal(await create('ok', 3, 1), 0);
    assert.equal(await create('ok', 3, 1), ErrorCode.TOPIC_ALREADY_EXISTS);
    assert.equal(await create('bad name', 1, 1), ErrorCode.INVALID_TOPIC_EXCEPTION);
    assert.equal(await create('x'.repeat(250), 1, 1), ErrorCode.INVALID_TOPIC_EXCEPTION);
    assert.equal(await create('zero', 0, 1), ErrorCode.INVALID_PARTITIONS);
    assert.equal(await create('rf3', 1, 3), ErrorCode.INVALID_REPLICATION_FACTOR);
    assert.equal(await create('cfg', 1, 1, [{ name: 'retention.ms', value: 'soon' }]), ErrorCode.INVALID_CONFIG);
    assert.equal(await create('cfg2', 1, 1, [{ name: 'no.such.config', value: '1' }]), ErrorCode.INVALID_CONFIG);
    assert.equal(await create('cfg3', 1, 1, [{ name: 'cleanup.policy', value: 'compact' }, { name: 'flush.policy', value: 'none' }]), 0);
  });
});

test('auto-creation on Metadata follows the broker setting and allow_auto_topic_creation', async () => {
  await withClient(async (c, b) => {
    const res = await c.send(API.METADATA, 9, { topics: [{ name: 'auto' }], allowAutoTopicCreation: true });
    assert.equal(res.topics[0].errorCode, 0);
    assert.equal(res.topics[0].partitions.length, 4);
    const no = await c.send(API.METADATA, 9, { topics: [{ name: 'manual' }], allowAutoTopicCreation: false });
    assert.equal(no.topics[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(b.broker.logs.topics.has('manual'), false);
  }, { defaultPartitions: 4 });
  await withClient(async (c) => {
    const res = await c.send(API.METADATA, 9, { topics: [{ name: 'auto' }], allowAutoTopicCreation: true });
    assert.equal(res.topics[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  }, { autoCreateTopics: false });
});

test('shutdown answers a parked long-poll fetch and closes cleanly', async () => {
  await withBroker(async (b) => {
    await b.broker.createTopic('t', 1, {});
    const c = await KafkaClient.connectTo(b.bootstrap);
    const parked = c.send(API.FETCH, 11, fetchBody('t', 0, 0, 3_600_000, 1));
    const deadline = Date.now() + 10_000;
    while (![...b.broker.connections].some((conn) => conn.inFlight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await b.broker.close();
    const res = await parked;
    assert.equal(res.responses[0].partitions[0].errorCode, 0);
    assert.equal(res.responses[0].partitions[0].records.length, 0);
    c.close();
  });
});

test('a request waiting behind a parked fetch when shutdown begins is answered, with the address the broker listened on', async () => {
  // one request in flight per connection: the Metadata request waits until the fetch is answered, which shutdown does
  await withBroker(async (b) => {
    await b.broker.createTopic('t', 1, {});
    const c = await KafkaClient.connectTo(b.bootstrap);
    try {
      const parked = c.send(API.FETCH, 11, fetchBody('t', 0, 0, 3_600_000, 1));
      const metadata = c.send(API.METADATA, 9, { topics: null, allowAutoTopicCreation: false });
      await until(() => [...b.broker.connections].some((conn) => conn.inFlight > 0), 'the fetch to park');
      await b.broker.close();
      assert.equal((await parked).responses[0].partitions[0].errorCode, 0);
      const res = await metadata;
      assert.deepEqual(res.brokers.map((x: { nodeId: number; host: string; port: number }) => [x.nodeId, x.host, x.port]), [[1, '127.0.0.1', b.port]]);
    } finally {
      c.close();
    }
  }, { maxInFlightPerConnection: 1 });
});

test('a compaction pass that rewrites segments says so in the log: what it removed, read and wrote, and how long it took', async () => {
  const { logger, lines } = capturedLogger();
  await withClient(async (c, b) => {
    await b.broker.createTopic('keyed', 1, { 'cleanup.policy': 'compact', 'segment.bytes': '1024', 'min.cleanable.dirty.ratio': '0' });
    for (let i = 0; i < 30; i++) {
      const res = await c.send(API.PRODUCE, 9, produceBody('keyed', 0, buildRecordBatch([{ key: `k${i % 3}`, value: `v${i}`.padEnd(100, '.') }])));
      assert.equal(res.responses[0].partitionResponses[0].errorCode, 0);
    }
    const log = b.broker.logs.getLog('keyed', 0)!;
    const closedEnd = log.activeSegment.baseOffset;
    await b.broker.logs.runRetention();
    const compacted = lines.filter((l) => l.msg === 'compacted');
    assert.equal(compacted.length, 1);
    const { topic, partition, recordsRemoved, rounds, bytesRead, bytesWritten, ms } = compacted[0]!;
    // every closed record but the latest of each of the three keys
    assert.deepEqual({ topic, partition, recordsRemoved, rounds }, { topic: 'keyed', partition: 0, recordsRemoved: closedEnd - 3, rounds: 1 });
    const kept = log.closedSegments().reduce((sum, s) => sum + s.size, 0);
    assert.equal(bytesWritten, kept);
    assert.ok((bytesRead as number) > kept && typeof ms === 'number');
    await b.broker.logs.runRetention();
    assert.equal(lines.filter((l) => l.msg === 'compacted').length, 1, 'a pass with nothing to do says nothing');
  }, { logger });
});

test('LogAppendTime topics stamp the append time into the batch; CreateTime keeps the client time', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('lat', 1, { 'message.timestamp.type': 'LogAppendTime' });
    await b.broker.createTopic('ct', 1, {});
    const before = Date.now();
    const res = await c.send(API.PRODUCE, 9, produceBody('lat', 0, buildRecordBatch([{ value: 'a', timestamp: 1000 }])));
    const p = res.responses[0].partitionResponses[0];
    assert.ok(p.logAppendTimeMs >= before && p.logAppendTimeMs <= Date.now(), `log append time ${p.logAppendTimeMs}`);
    await c.send(API.PRODUCE, 9, produceBody('ct', 0, buildRecordBatch([{ value: 'a', timestamp: 1000 }])));
    const read = async (topic: string) => {
      const f = await c.send(API.FETCH, 11, fetchBody(topic, 0, 0));
      return decodeRecordBatches(f.responses[0].partitions[0].records)[0]!.records[0]!.timestamp;
    };
    assert.equal(await read('lat'), p.logAppendTimeMs);
    assert.equal(await read('ct'), 1000);
  });
});

test('Fetch honours partition_max_bytes and max_bytes in whole batches, and always returns the first batch', async () => {
  await withClient(async (c, b) => {
    await b.broker.createTopic('t', 2, {});
    for (let i = 0; i < 10; i++) {
      for (const p of [0, 1]) await c.send(API.PRODUCE, 9, produceBody('t', p, buildRecordBatch([{ value: 'x'.repeat(1000) }])));
    }
    const fetch = (partitionMaxBytes: number, maxBytes: number) =>
      c.send(API.FETCH, 11, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic: 't', partitions: [0, 1].map((partition) => ({ partition, fetchOffset: 0, partitionMaxBytes })) }], forgottenTopicsData: [], rackId: '',
      }).then((r) => r.responses[0].partitions.map((p: { records: Buffer }) => decodeRecordBatches(p.records).length));
    const batchBytes = buildRecordBatch([{ value: 'x'.repeat(1000) }]).length;
    assert.deepEqual(await fetch(batchBytes * 3, 1 << 20), [3, 3]);
    assert.deepEqual(await fetch(10, 1 << 20), [1, 1], 'a batch larger than the limit still comes, alone');
    assert.deepEqual(await fetch(1 << 20, batchBytes * 4), [4, 0], 'max_bytes spans partitions');
  });
});

test('topic configs: compression.type recompresses what producers send, min.insync.replicas above 1 refuses acks=all, Long.MAX durations are kept', async () => {
  await withClient(async (c, b) => {
    const create = (name: string, configs: Record<string, string>) =>
      c.send(API.CREATE_TOPICS, 4, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })) }], timeoutMs: 1000, validateOnly: false })
        .then((r) => r.topics[0].errorCode);
    assert.equal(await create('to-zstd', { 'compression.type': 'zstd' }), 0);
    assert.equal(await create('to-plain', { 'compression.type': 'uncompressed' }), 0);
    assert.equal(await create('isr2', { 'min.insync.replicas': '2' }), 0);
    assert.equal(await create('forever', { 'retention.ms': '9223372036854775807', 'segment.ms': '9223372036854775807' }), 0);
    assert.equal(await create('bad-codec', { 'compression.type': 'brotli' }), ErrorCode.INVALID_CONFIG);
    assert.equal(await create('bad-isr', { 'min.insync.replicas': '0' }), ErrorCode.INVALID_CONFIG);
    assert.equal(await create('too-long', { 'retention.ms': '9223372036854775808' }), ErrorCode.INVALID_CONFIG);

    const records = [
      { key: 'k1', value: 'one', timestamp: 1000, headers: [{ key: 'h', value: 'x' }] },
      { key: null, value: 'two', timestamp: 1005 },
      { key: 'k3', value: null, timestamp: 999 },
    ];
    const fetchBatches = async (topic: string) => decodeRecordBatches((await c.send(API.FETCH, 11, fetchBody(topic, 0, 0))).responses[0].partitions[0].records);
    const plain = (batch: ReturnType<typeof decodeRecordBatches>[number]) =>
      batch.records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.toString() ?? null, r.headers.map((h) => `${h.key}=${h.value}`)]);
    const expected = [[0, 1000, 'k1', 'one', ['h=x']], [1, 1005, null, 'two', []], [2, 999, 'k3', null, []]];
    for (const [topic, sentCodec, storedCodec] of [['to-zstd', 0, 4], ['to-plain', 1, 0]] as const) {
      const res = await c.send(API.PRODUCE, 9, produceBody(topic, 0, buildRecordBatch(records, { compression: sentCodec, producerId: 7, producerEpoch: 0, baseSequence: 0 })));
      assert.equal(res.responses[0].partitionResponses[0].errorCode, 0, topic);
      const [batch] = await fetchBatches(topic);
      assert.equal(batch!.info.attributes & 7, storedCodec, `${topic} stores codec ${storedCodec}`);
      assert.deepEqual([batch!.info.producerId, batch!.info.producerEpoch, batch!.info.baseSequence, batch!.info.maxTimestamp], [7, 0, 0, 1005]);
      assert.deepEqual(plain(batch!), expected, topic);
    }

    const isr = async (acks: number) => (await c.send(API.PRODUCE, 9, produceBody('isr2', 0, buildRecordBatch([{ value: 'a' }]), acks))).responses[0].partitionResponses[0];
    const refused = await isr(-1);
    assert.equal(refused.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS);
    assert.match(refused.errorMessage, /min\.insync\.replicas of 2/);
    assert.equal((await isr(1)).errorCode, 0);
    assert.equal(b.broker.logs.getLog('isr2', 0)!.logEndOffset, 1, 'only the acks=1 append was written');

    const described = await c.send(32, 4, { resources: [{ resourceType: 2, resourceName: 'forever', configurationKeys: ['retention.ms', 'segment.ms', 'min.insync.replicas'] }], includeSynonyms: false, includeDocumentation: false });
    const values = Object.fromEntries(described.results[0].configs.map((e: { name: string; value: string }) => [e.name, e.value]));
    assert.deepEqual(values, { 'retention.ms': '9223372036854775807', 'segment.ms': '9223372036854775807', 'min.insync.replicas': '1' });
  });
});

test('compression.gzip.level and compression.zstd.level set how the broker recompresses; compression.lz4.level and remote storage are refused, not ignored', async () => {
  await withClient(async (c) => {
    const create = (name: string, configs: Record<string, string>) =>
      c.send(API.CREATE_TOPICS, 4, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })) }], timeoutMs: 1000, validateOnly: false })
        .then((r) => r.topics[0]);
    for (const [name, type, levelKey, level] of [['gzip-1', 'gzip', 'compression.gzip.level', '1'], ['gzip-9', 'gzip', 'compression.gzip.level', '9'], ['gzip-default', 'gzip', null, null], ['zstd-1', 'zstd', 'compression.zstd.level', '1'], ['zstd-19', 'zstd', 'compression.zstd.level', '19']] as const) {
      assert.equal((await create(name, { 'compression.type': type, ...(levelKey ? { [levelKey]: level } : {}) })).errorCode, 0, name);
    }
    for (const [key, value] of [['compression.gzip.level', '0'], ['compression.gzip.level', '10'], ['compression.zstd.level', '23']]) {
      assert.equal((await create('bad-level', { [key!]: value! })).errorCode, ErrorCode.INVALID_CONFIG, `${key}=${value}`);
    }
    const lz4 = await create('lz4-level', { 'compression.type': 'lz4', 'compression.lz4.level': '9' });
    assert.equal(lz4.errorCode, ErrorCode.INVALID_CONFIG);
    assert.match(lz4.errorMessage, /compression\.lz4\.level is not supported/);
    const tiered = await create('tiered', { 'remote.storage.enable': 'true' });
    assert.equal(tiered.errorCode, ErrorCode.INVALID_CONFIG);
    assert.match(tiered.errorMessage, /tiered storage is not available/);

    // 64 KiB of words: compressible, and better at higher levels
    const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
    let seed = 7;
    const text = Array.from({ length: 11_000 }, () => words[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % words.length]).join(' ');
    const sent = buildRecordBatch([{ key: 'k', value: text }]);
    const stored = async (topic: string) => {
      assert.equal((await c.send(API.PRODUCE, 9, produceBody(topic, 0, sent))).responses[0].partitionResponses[0].errorCode, 0, topic);
      const records: Buffer = (await c.send(API.FETCH, 12, fetchBody(topic, 0, 0))).responses[0].partitions[0].records;
      const [batch] = decodeRecordBatches(records);
      assert.equal(batch!.records[0]!.value!.toString(), text, topic);
      return records.subarray(Batch.HEADER_BYTES);
    };
    // a gzip member's XFL byte (offset 8) records the level class: 4 for the fastest, 2 for the best, 0 otherwise
    assert.deepEqual([(await stored('gzip-1'))[8], (await stored('gzip-9'))[8], (await stored('gzip-default'))[8]], [4, 2, 0]);
    const zstd1 = (await stored('zstd-1')).length;
    const zstd19 = (await stored('zstd-19')).length;
    assert.ok(zstd19 < zstd1, `zstd level 19 stored ${zstd19} bytes, level 1 ${zstd1}`);
  });
});
