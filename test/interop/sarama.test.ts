// sarama, the Go Kafka client (Debian's 1.22), a protocol implementation of its own. Told which Kafka version to
// speak, it picks its request versions: from 0.11 (the first with record batches) to 2.2 (the newest it knows) it
// produces idempotently with acks=all and every codec that version has, and consumes back exactly. Then admin, a
// consumer group, and the versions before 0.11, which speak the old message formats.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { withBroker } from '../helpers/broker.js';
import { assertSameMessages, makeMessages, withoutHeaders, type ConsumedMessage, type TestMessage } from './dataset.js';
import { processMember, shareTakeOverResume, type StartMember } from './group-scenario.js';
import { buildSarama, saramaProduce, SARAMA_VERSIONS, type Sarama } from './sarama-clients.js';

let sarama: Sarama;
before(async () => {
  sarama = await buildSarama();
});
after(() => sarama?.remove());

/** Each message's offset when every partition starts empty: its place among the messages of its partition. */
function expectedOffsets(messages: TestMessage[]): number[] {
  const next = new Map<number, number>();
  return messages.map((m) => {
    const offset = next.get(m.partition) ?? 0;
    next.set(m.partition, offset + 1);
    return offset;
  });
}

interface TopicState {
  exists: boolean;
  partitions?: number;
  /** [log start offset, high watermark] per partition. */
  offsets?: [number, number][];
  configs?: Record<string, string>;
}

const topicState = async (bootstrap: string, topic: string, version = '2.2.0') => (await sarama.run('topic-state', bootstrap, version, [topic]))[0] as TopicState;
const adminCall = async (bootstrap: string, version: string, ...args: string[]) => (await sarama.run('admin', bootstrap, version, args))[0] as { ok?: true; error?: string };

test('sarama at Kafka 0.11, 1.0, 2.0 and 2.2: idempotent acks=all produce with every codec the version has, each acknowledged at its offset, consumed back exactly', async () => {
  await withBroker(async ({ bootstrap }) => {
    // timestamps of now: a producer's state outlives a retention pass only while its newest record is younger than
    // producer.id.expiration.ms, and this test may take longer than the pass's interval
    const messages = makeMessages(1000, 3, Date.now());
    const offsets = expectedOffsets(messages);
    for (const version of SARAMA_VERSIONS) {
      // zstd needs Produce v7 and Fetch v10, which sarama sends from 2.1 on
      const codecs = version.startsWith('2.2') ? ['none', 'gzip', 'snappy', 'lz4', 'zstd'] : ['none', 'gzip', 'snappy', 'lz4'];
      for (const codec of codecs) {
        const topic = `sarama-${version}-${codec}`;
        assert.deepEqual(await sarama.run('admin', bootstrap, version, ['create', topic, '3']), [{ ok: true }]);
        assert.deepEqual(await saramaProduce(sarama, bootstrap, version, topic, messages, codec), { errors: [], offsets }, `${topic}: acknowledged`);
        const consumed = (await sarama.run('consume', bootstrap, version, [topic, '3'])) as ConsumedMessage[];
        assertSameMessages(messages, consumed);
      }
      // by time, on the last topic: each partition's first offset at or after the timestamp, -1 past the last
      const topic = `sarama-${version}-${codecs.at(-1)}`;
      for (const at of [messages[0]!.timestamp, messages[500]!.timestamp, messages.at(-1)!.timestamp + 1]) {
        const want = [0, 1, 2].map((p) => messages.filter((m) => m.partition === p).findIndex((m) => m.timestamp >= at));
        assert.deepEqual(await sarama.run('offsets-for-time', bootstrap, version, [topic, '3', String(at)]), [want], `${topic} at ${at}`);
      }
    }
  });
});

for (const version of ['1.0.0', '2.2.0']) {
  test(`sarama admin at Kafka ${version}: create with configs, describe, alter (unnamed configs back to their defaults), add partitions, delete records, delete; errors by name`, async () => {
    await withBroker(async ({ bootstrap }) => {
      assert.deepEqual(await adminCall(bootstrap, version, 'create', 'adm', '3', JSON.stringify({ 'retention.ms': '3600000', 'segment.bytes': '1048576' })), { ok: true });
      let state = await topicState(bootstrap, 'adm', version);
      assert.equal(state.partitions, 3);
      assert.deepEqual(state.offsets, [[0, 0], [0, 0], [0, 0]]);
      assert.equal(state.configs!['retention.ms'], '3600000');
      assert.equal(state.configs!['segment.bytes'], '1048576');
      assert.equal(state.configs!['cleanup.policy'], 'delete');
      assert.deepEqual(await adminCall(bootstrap, version, 'create', 'adm', '3'), { error: 'kafka server: Topic with this name already exists. - topic adm already exists' });

      // AlterConfigs replaces the topic's whole set: segment.bytes, not named, goes back to its default
      assert.deepEqual(await adminCall(bootstrap, version, 'alter', 'adm', JSON.stringify({ 'retention.ms': '7200000' })), { ok: true });
      state = await topicState(bootstrap, 'adm', version);
      assert.equal(state.configs!['retention.ms'], '7200000');
      assert.equal(state.configs!['segment.bytes'], '1073741824');
      // sarama gives the broker's message alone where there is one
      assert.deepEqual(await adminCall(bootstrap, version, 'alter', 'adm', JSON.stringify({ 'retention.ms': 'soon' })), {
        error: 'invalid value "soon" for retention.ms: expected an integer from -1 to 9223372036854775807',
      });
      assert.equal((await topicState(bootstrap, 'adm', version)).configs!['retention.ms'], '7200000');

      assert.deepEqual(await adminCall(bootstrap, version, 'create-partitions', 'adm', '5'), { ok: true });
      const messages = makeMessages(10, 1);
      assert.deepEqual(await saramaProduce(sarama, bootstrap, version, 'adm', messages, 'none'), { errors: [], offsets: expectedOffsets(messages) });
      assert.deepEqual(await adminCall(bootstrap, version, 'delete-records', 'adm', '0', '4'), { ok: true });
      state = await topicState(bootstrap, 'adm', version);
      assert.deepEqual(state.offsets, [[4, 10], [0, 0], [0, 0], [0, 0], [0, 0]]);
      const rest = (await sarama.run('consume', bootstrap, version, ['adm', '5'])) as ConsumedMessage[];
      assert.deepEqual(rest.map((m) => [m.offset, m.value]), messages.slice(4).map((m, i) => [i + 4, m.value]));

      assert.deepEqual(await adminCall(bootstrap, version, 'delete', 'adm'), { ok: true });
      assert.deepEqual(await topicState(bootstrap, 'adm', version), { exists: false });
      assert.deepEqual(await adminCall(bootstrap, version, 'delete', 'adm'), { error: 'kafka server: Request was for a topic or partition that does not exist on this broker.' });
    });
  });
}

/** A member run by clients.go's `group` command, speaking `version`. */
const saramaMember = (version: string): StartMember => (bootstrap, o) =>
  processMember('sarama group', o, sarama.spawn('group', bootstrap, version, [o.topic, o.group, String(o.maxMessages), String(o.idleMs)]));

// sarama commits what it marked every 100 ms here and when its session ends, and goes on handing out a partition's
// messages until it sees a rebalance: at-least-once across a rebalance, as the scenario checks. At any version it
// speaks JoinGroup v1 and OffsetCommit v1, which Kafka 4 no longer serves.
// 0.10.2 is the oldest version sarama's groups speak: there they fetch with v3, 0.10's message format.
for (const version of ['2.2.0', '0.10.2.0']) {
  test(`sarama consumer group at Kafka ${version}: share, take over, resume; the group then empty, its offsets committed at the end of each partition`, async () => {
    await withBroker(
      async (b) => {
        await shareTakeOverResume(b.bootstrap, saramaMember(version), 'sarama-g', { exactlyOnce: false });
        const [group] = await sarama.run('group-state', b.bootstrap, '2.2.0', ['sarama-g', 'sarama-g-topic', '6']);
        // 3,600 messages round-robin over 6 partitions
        assert.deepEqual(group, { listed: 'consumer', state: 'Empty', protocolType: 'consumer', protocol: '', members: 0, committed: [600, 600, 600, 600, 600, 600] });
      },
      { groups: { minSessionTimeoutMs: 1000 } },
    );
  });
}

// Before 0.11 sarama speaks the old message formats: Produce v0 and Fetch v0 with 0.8's messages (its default
// version, 0.8.2), Produce v2 and Fetch v2-3 with 0.10's, which carry timestamps. lz4 needs 0.10; headers need 0.11.
const OLD_VERSIONS = { '0.8.2.0': ['none', 'gzip', 'snappy'], '0.9.0.0': ['none', 'gzip', 'snappy'], '0.10.2.0': ['none', 'gzip', 'snappy', 'lz4'] };

test('sarama at Kafka 0.8.2 (its default), 0.9 and 0.10: old message formats produced with each codec and consumed back exactly, and read as batches by 2.2', async () => {
  await withBroker(async ({ bootstrap }) => {
    const messages = withoutHeaders(makeMessages(1000, 3));
    const offsets = expectedOffsets(messages);
    for (const [version, codecs] of Object.entries(OLD_VERSIONS)) {
      const timed = version.startsWith('0.10');
      for (const codec of codecs) {
        const topic = `old-${version}-${codec}`;
        assert.deepEqual(await adminCall(bootstrap, '2.2.0', 'create', topic, '3'), { ok: true });
        const before = Date.now();
        assert.deepEqual(await saramaProduce(sarama, bootstrap, version, topic, messages, codec, false), { errors: [], offsets }, `${topic}: acknowledged`);
        const after = Date.now();
        assertSameMessages(messages, (await sarama.run('consume', bootstrap, version, [topic, '3'])) as ConsumedMessage[], { checkTimestamps: timed });
        const modern = (await sarama.run('consume', bootstrap, '2.2.0', [topic, '3'])) as ConsumedMessage[];
        assertSameMessages(messages, modern, { checkTimestamps: timed });
        // 0.8's messages have no timestamp: each has the time the broker appended it
        if (!timed) assert.ok(modern.every((m) => m.timestamp >= before && m.timestamp <= after), `${topic}: append times`);
      }
    }
    const topic = 'old-0.10.2.0-lz4';
    for (const at of [messages[0]!.timestamp, messages[500]!.timestamp, messages.at(-1)!.timestamp + 1]) {
      const want = [0, 1, 2].map((p) => messages.filter((m) => m.partition === p).findIndex((m) => m.timestamp >= at));
      assert.deepEqual(await sarama.run('offsets-for-time', bootstrap, '0.10.2.0', [topic, '3', String(at)]), [want], `${topic} at ${at}`);
    }
  });
});

test('records produced by sarama 2.2 (zstd, headers, idempotent) are read by sarama at 0.8.2 and 0.10 without their headers', async () => {
  await withBroker(async ({ bootstrap }) => {
    const messages = makeMessages(600, 3, Date.now());
    assert.deepEqual(await adminCall(bootstrap, '2.2.0', 'create', 'new', '3'), { ok: true });
    assert.deepEqual(await saramaProduce(sarama, bootstrap, '2.2.0', 'new', messages, 'zstd'), { errors: [], offsets: expectedOffsets(messages) });
    assertSameMessages(withoutHeaders(messages), (await sarama.run('consume', bootstrap, '0.8.2.0', ['new', '3'])) as ConsumedMessage[], { checkTimestamps: false });
    assertSameMessages(withoutHeaders(messages), (await sarama.run('consume', bootstrap, '0.10.2.0', ['new', '3'])) as ConsumedMessage[]);
  });
});
