// librdkafka through python3-confluent-kafka: admin, produce (acks=all), consume, offsets by time, limits; and
// with kafka-python and kafkajs, a compacted log whose tombstones carry a delete horizon.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Attributes, validateBatches } from '../../src/protocol/record-batch.js';
import { withBroker } from '../helpers/broker.js';
import { assertSameMessages, makeMessages, type TestMessage } from './dataset.js';
import { kafkajsRead } from './kafkajs-read.js';
import { python, pythonConsume, pythonProduce } from './python-clients.js';

test('confluent-kafka: create, produce 10,000 with acks=all, consume back exactly, offsets by time, delete', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await python('confluent-admin', [bootstrap, 'events', 'create', '6']);
    assert.equal(broker.logs.topics.get('events')?.partitions.length, 6);
    const messages = makeMessages(10_000, 6);
    const report = await pythonProduce('confluent', bootstrap, 'events', messages);
    assert.deepEqual(report, { errors: [], unflushed: 0 });
    const consumed = await pythonConsume('confluent', bootstrap, 'events', 6, messages.length);
    assertSameMessages(messages, consumed);

    // message i went to partition i % 6 at offset floor(i / 6); ask for the first at or after message 600's time
    const [offsets] = (await python('confluent-offsets-for-times', [bootstrap, 'events', '6', String(messages[600]!.timestamp)])) as [number, number][][];
    assert.deepEqual(offsets, [[0, 100], [1, 100], [2, 100], [3, 100], [4, 100], [5, 100]]);

    await python('confluent-admin', [bootstrap, 'events', 'delete']);
    assert.equal(broker.logs.topics.has('events'), false);
  });
});

test('confluent-kafka: a ~1 MB message round-trips and one over max.message.bytes is refused', async () => {
  await withBroker(async ({ bootstrap }) => {
    const big = { key: 'big', value: 'b'.repeat(1_000_000), headers: [] as [string, string][], timestamp: 1_700_000_000_000, partition: 0 };
    const ok = await pythonProduce('confluent', bootstrap, 'large', [big]);
    assert.deepEqual(ok, { errors: [], unflushed: 0 });
    const [got] = await pythonConsume('confluent', bootstrap, 'large', 1, 1);
    assert.equal(got!.value, big.value);

    const tooBig = { ...big, value: 'c'.repeat(1_100_000) };
    const refused = await pythonProduce('confluent', bootstrap, 'large', [tooBig]);
    assert.equal(refused.errors.length, 1);
    assert.match(refused.errors[0]!, /Broker: Message size too large/);
  });
});

test('confluent-kafka: topic configs Kafka tools set are taken and described with their source; remote storage is refused with the reason', async () => {
  await withBroker(async ({ bootstrap }) => {
    const configs = { 'retention.ms': '60000', 'flush.messages': '1', preallocate: 'true', 'message.timestamp.after.max.ms': '3600000' };
    const [described] = (await python('confluent-configs', [bootstrap, 'described', JSON.stringify(configs)])) as { topic: Record<string, unknown[]>; broker: Record<string, unknown[]> }[];
    const TOPIC = 1, STATIC = 4, DEFAULT = 5; // DescribeConfigs sources
    const pick = (entries: Record<string, unknown[]>, names: string[]) => names.map((n) => [n, ...entries[n]!]);
    assert.deepEqual(pick(described!.topic, ['retention.ms', 'flush.messages', 'preallocate', 'message.timestamp.after.max.ms', 'segment.ms', 'flush.ms']), [
      ['retention.ms', '60000', TOPIC, false, false],
      ['flush.messages', '1', TOPIC, false, false],
      ['preallocate', 'true', TOPIC, false, false],
      ['message.timestamp.after.max.ms', '3600000', TOPIC, false, false],
      ['segment.ms', '3600000', STATIC, false, false],
      ['flush.ms', '1000', DEFAULT, true, false],
    ]);
    assert.deepEqual(pick(described!.broker, ['log.roll.ms', 'log.retention.ms', 'log.flush.interval.messages']), [
      // not read-only: changeable at run time as dynamic broker configs
      ['log.roll.ms', '3600000', STATIC, false, false],
      ['log.retention.ms', '604800000', DEFAULT, true, false],
      ['log.flush.interval.messages', '9223372036854775807', DEFAULT, true, false],
    ]);
    const [refused] = (await python('confluent-configs', [bootstrap, 'tiered', JSON.stringify({ 'remote.storage.enable': 'true' })])) as { error: string }[];
    assert.match(refused!.error, /INVALID_CONFIG|Configuration is invalid/);
    assert.match(refused!.error, /tiered storage is not available/);
  }, { logDefaults: { segmentMs: 3_600_000 } });
});

test('confluent-kafka: AlterConfigs on broker 1 sets topic defaults, the compaction I/O bound and the connection limits at run time; a read-only broker setting is refused', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('defaulted', 1, {});
    const [set] = await python('confluent-alter-broker', [bootstrap, '1', JSON.stringify({ 'log.retention.ms': '3600000', 'log.cleanup.policy': 'compact' })]);
    assert.deepEqual(set, { 'log.retention.ms': ['3600000', 2], 'log.cleanup.policy': ['compact', 2] });
    assert.deepEqual([broker.logs.getLog('defaulted', 0)!.config.retentionMs, broker.logs.getLog('defaulted', 0)!.config.cleanupPolicy], [3_600_000, 'compact']);
    const [refused] = (await python('confluent-alter-broker', [bootstrap, '1', JSON.stringify({ 'num.partitions': '3' })])) as { error: string }[];
    assert.match(refused!.error, /num\.partitions cannot be changed while the broker runs/);
    // compaction's I/O bound, a double, as Kafka's dynamic log cleaner config
    const [bounded] = await python('confluent-alter-broker', [bootstrap, '1', JSON.stringify({ 'log.cleaner.io.max.bytes.per.second': '10485760' })]);
    assert.deepEqual(bounded, { 'log.cleaner.io.max.bytes.per.second': ['1.048576E7', 2] });
    assert.equal(broker.logs.cleaner.ioBytesPerSecond, 10_485_760);
    // the connection limits, beside a topic default, in one AlterConfigs (which replaces all of broker 1's)
    const [limited] = await python('confluent-alter-broker', [bootstrap, '1', JSON.stringify({ 'max.connections': '500', 'max.connections.per.ip.overrides': '10.0.0.7:5', 'log.retention.ms': '7200000' })]);
    assert.deepEqual(limited, { 'max.connections': ['500', 2], 'max.connections.per.ip.overrides': ['10.0.0.7:5', 2], 'log.retention.ms': ['7200000', 2] });
    assert.deepEqual(broker.dynamicSettings.connectionLimits, { maxConnections: 500, maxConnectionsPerIp: 2 ** 31 - 1, maxConnectionsPerIpOverrides: { '10.0.0.7': 5 } });
    assert.equal(broker.logs.cleaner.ioBytesPerSecond, broker.config.compactionIoBytesPerSecond, 'the compaction bound no longer set');
  });
});

test('confluent-kafka, kafka-python and kafkajs read a compacted log whose tombstones carry a delete horizon (KIP-534), with every record timestamp as produced', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('compacted', 1, { 'cleanup.policy': 'compact', 'segment.bytes': '8192', 'min.cleanable.dirty.ratio': '0' });
    // keys 0-99, then tombstones for keys 0-9, then keys 100-199 so that the tombstones' segments close; the
    // timestamps are years old, as a mirrored topic's may be
    const at = (i: number) => 1_500_000_000_000 + i;
    const messages: TestMessage[] = [
      ...Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: `v${i}`.padEnd(30, '.'), headers: [] as [string, string][], timestamp: at(i), partition: 0 })),
      ...Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: null, headers: [] as [string, string][], timestamp: at(100 + i), partition: 0 })),
      ...Array.from({ length: 100 }, (_, i) => ({ key: `k${100 + i}`, value: `v${100 + i}`.padEnd(30, '.'), headers: [] as [string, string][], timestamp: at(110 + i), partition: 0 })),
    ];
    // three producers, so three batches at least: the first two fill the first segment, the third rolls it
    for (const part of [messages.slice(0, 100), messages.slice(100, 110), messages.slice(110)]) {
      assert.deepEqual(await pythonProduce('confluent', bootstrap, 'compacted', part), { errors: [], unflushed: 0 });
    }
    const log = broker.logs.getLog('compacted', 0)!;
    await broker.logs.runRetention();
    assert.ok(log.activeSegment.baseOffset >= 110, `the tombstones' segments are closed (active from ${log.activeSegment.baseOffset})`);
    // the superseded records went; the tombstones stay, their batches stamped with a horizon a day from now
    let stamped = 0;
    for (let offset = 100; offset < 110; ) {
      const { records } = await log.read(offset, 1 << 20);
      const info = validateBatches(records, 1 << 20).batches[0]!;
      if ((info.attributes & Attributes.DELETE_HORIZON) !== 0) stamped++;
      assert.ok(info.baseTimestamp > Date.now() + 86_400_000 - 60_000, `horizon ${info.baseTimestamp}`);
      offset = info.baseOffset + info.lastOffsetDelta + 1;
    }
    assert.ok(stamped > 0);
    const expected = messages.map((m, offset) => ({ ...m, offset })).filter((m) => m.offset >= 10);
    for (const client of ['confluent', 'kp'] as const) {
      const consumed = await pythonConsume(client, bootstrap, 'compacted', 1, expected.length);
      assert.deepEqual(consumed.sort((a, b) => a.offset - b.offset), expected, client);
    }
    const read = await kafkajsRead(bootstrap, 'compacted', expected.length);
    assert.deepEqual(read, expected.map((m) => ({ offset: m.offset, key: m.key, value: m.value, timestamp: m.timestamp })), 'kafkajs');
  });
});
