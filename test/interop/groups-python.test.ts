// Consumer groups with librdkafka (python3-confluent-kafka) and kafka-python: share, take-over, resume;
// eager and cooperative rebalancing; static membership across a restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withBroker } from '../helpers/broker.js';
import { produceNumbered, pythonMember, shareTakeOverResume } from './group-scenario.js';
import { Admin } from '../../src/admin/admin.js';
import { until } from '../helpers/until.js';

const fastGroups = { groups: { minSessionTimeoutMs: 1000 } };

test('confluent-kafka group (eager range): 20,000 messages each consumed exactly once; share, take over, resume', async () => {
  await withBroker((b) => shareTakeOverResume(b.bootstrap, pythonMember('confluent-group'), 'rdk-eager', { total: 20_000 }), fastGroups);
});

test('confluent-kafka group (cooperative-sticky, incremental rebalances): share, take over, resume', async () => {
  await withBroker(
    (b) => shareTakeOverResume(b.bootstrap, (bs, o) => pythonMember('confluent-group')(bs, { ...o, strategy: 'cooperative-sticky' }), 'rdk-coop'),
    fastGroups,
  );
});

test('kafka-python group (range): share, take over, resume', async () => {
  await withBroker((b) => shareTakeOverResume(b.bootstrap, pythonMember('kp-group'), 'kp'), fastGroups);
});

test('kafka-python group speaking Kafka 1.0 (the group APIs\' older versions): share, take over, resume', async () => {
  await withBroker((b) => shareTakeOverResume(b.bootstrap, pythonMember('kp-group', '1.0'), 'kp10'), fastGroups);
});

// 0.9 is the first version with broker-side groups: JoinGroup v0, OffsetCommit v2, and Fetch v1 with 0.8's messages
test('kafka-python group speaking Kafka 0.9 (the first groups, the old message format): share, take over, resume', async () => {
  await withBroker((b) => shareTakeOverResume(b.bootstrap, pythonMember('kp-group', '0.9'), 'kp09'), fastGroups);
});

test('a static member (group.instance.id) restarted within its session keeps its partitions without a rebalance', async () => {
  await withBroker(async (b) => {
    const admin = await Admin.connect(b.bootstrap);
    await admin.createTopic('static', 4, {});
    admin.close();
    const start = pythonMember('confluent-group');
    const common = { group: 'static-g', topic: 'static', idleMs: 2500, sessionMs: 20_000 };
    const one = start(b.bootstrap, { ...common, name: 'one', maxMessages: 1e9, instanceId: 'instance-1' });
    const two = start(b.bootstrap, { ...common, name: 'two', maxMessages: 1e9, instanceId: 'instance-2' });
    // produce only once both hold their share: produced earlier, the first member could consume under a one-member
    // generation, and a rebalance slower than its idle time could make it exit before reading its new partitions,
    // leaving old messages for the restarted member (the likeliest reading of a failure under a full test run's load)
    const holdsShare = (m: typeof one) => m.assignments.at(-1)?.length === 2;
    await until(() => holdsShare(one) && holdsShare(two), 'both members to hold two partitions each', 60_000);
    const first = await produceNumbered(b.bootstrap, 'static', 0, 400, 4);
    await Promise.all([one.done, two.done]);
    assert.deepEqual([...one.consumed, ...two.consumed].map((m) => m.value).sort(), first.sort(), 'the first members consumed every message once');
    const generation = b.broker.groups.groups.get('static-g')!.generationId;
    const before = one.assignments[one.assignments.length - 1]!;
    // both closed without leaving (static members do not send LeaveGroup): the group stays Stable with them
    assert.equal(b.broker.groups.describe('static-g').state, 'Stable');
    const added = await produceNumbered(b.bootstrap, 'static', 400, 40, 4);
    const again = start(b.bootstrap, { ...common, name: 'one-again', maxMessages: 1e9, instanceId: 'instance-1' });
    await again.done;
    assert.equal(b.broker.groups.groups.get('static-g')!.generationId, generation, 'no rebalance happened');
    assert.deepEqual(again.assignments[0], before, 'same partitions as before the restart');
    assert.deepEqual([...new Set(again.consumed.map((m) => m.partition))].sort(), before);
    const own = added.filter((_, i) => before.includes((400 + i) % 4));
    assert.deepEqual(again.consumed.map((m) => m.value).sort(), own.sort(), 'only the new messages of its own partitions');
  }, fastGroups);
});
