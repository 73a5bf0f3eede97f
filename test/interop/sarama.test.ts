// sarama, the Go Kafka client (Debian's 1.22), a protocol implementation of its own. Told which Kafka version to
// speak, it picks its request versions: from 0.11 (the first with record batches) to 2.2 (the newest it knows) it
// produces idempotently with acks=all and every codec that version has, and consumes back exactly. Then admin, a
// consumer group, and the answer to an older version's message format.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { withBroker } from '../helpers/broker.js';
import { assertSameMessages, makeMessages, type ConsumedMessage, type TestMessage } from './dataset.js';
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

/** A member run by clients.go's `group` command, at the newest version sarama speaks. */
const saramaMember: StartMember = (bootstrap, o) =>
  processMember('sarama group', o, sarama.spawn('group', bootstrap, '2.2.0', [o.topic, o.group, String(o.maxMessages), String(o.idleMs)]));

// sarama commits what it marked every 100 ms here and when its session ends, and goes on handing out a partition's
// messages until it sees a rebalance: at-least-once across a rebalance, as the scenario checks. At any version it
// speaks JoinGroup v1 and OffsetCommit v1, which Kafka 4 no longer serves.
test('sarama consumer group: share, take over, resume; the group then empty, its offsets committed at the end of each partition', async () => {
  await withBroker(
    async (b) => {
      await shareTakeOverResume(b.bootstrap, saramaMember, 'sarama-g', { exactlyOnce: false });
      const [group] = await sarama.run('group-state', b.bootstrap, '2.2.0', ['sarama-g', 'sarama-g-topic', '6']);
      // 3,600 messages round-robin over 6 partitions
      assert.deepEqual(group, { listed: 'consumer', state: 'Empty', protocolType: 'consumer', protocol: '', members: 0, committed: [600, 600, 600, 600, 600, 600] });
    },
    { groups: { minSessionTimeoutMs: 1000 } },
  );
});

test('sarama at Kafka 0.10 writes the old message format: every message gets UNSUPPORTED_VERSION, and nothing is stored', async () => {
  await withBroker(async ({ bootstrap }) => {
    assert.deepEqual(await adminCall(bootstrap, '2.2.0', 'create', 'old', '1'), { ok: true });
    // no headers: sarama refuses those itself below 0.11
    const messages = makeMessages(3, 1).map((m) => ({ ...m, headers: [] }));
    assert.deepEqual(await saramaProduce(sarama, bootstrap, '0.10.2.0', 'old', messages, 'none', false), {
      errors: Array(3).fill('kafka server: The version of API is not supported.'),
      offsets: [-1, -1, -1],
    });
    assert.deepEqual((await topicState(bootstrap, 'old')).offsets, [[0, 0]]);
  });
});
