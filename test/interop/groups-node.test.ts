// Consumer groups with the Node clients kafkajs, @platformatic/kafka and @confluentinc/kafka-javascript: share, take
// over, resume.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Consumer, stringDeserializers } from '@platformatic/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { withBroker } from '../helpers/broker.js';
import { restartableBroker, withCliBroker } from '../helpers/cli-broker.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { kafkaJavascript, kjsKafka } from './kafka-javascript.js';
import { until } from '../helpers/until.js';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { shareTakeOverResume, type MemberOptions, type MemberRun, type StartMember } from './group-scenario.js';

const fastGroups = { groups: { minSessionTimeoutMs: 1000 } };

/** Retries an operation while the group completes a rebalance (REBALANCE_IN_PROGRESS is retriable). */
async function retryRebalancing<T>(op: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await op();
    } catch (err) {
      if (i > 100 || !/rebalanc/i.test(String((err as Error).message) + JSON.stringify(err))) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** How long a member waits for its first message: the scenario produces once every member has partitions. */
const FIRST_MESSAGE_WAIT_MS = 30_000;

/**
 * Resolves once `max` messages were consumed, or no message arrived for `idleMs` after the first one (before it,
 * for FIRST_MESSAGE_WAIT_MS at least).
 */
function untilIdle(run: MemberRun, idleMs: number, max: number, lastAt: () => number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const wait = run.consumed.length > 0 ? idleMs : Math.max(idleMs, FIRST_MESSAGE_WAIT_MS);
      if (run.consumed.length >= max || Date.now() - lastAt() >= wait) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
  });
}

/** What the KafkaJS-style consumers (kafkajs, @confluentinc/kafka-javascript) need for committingEachMessage. */
interface CommittingConsumer {
  pause(topics: { topic: string }[]): void;
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
}

/**
 * eachMessage for a KafkaJS-style member: commit each message before taking the next. If the group is rebalancing,
 * the commit fails and throws out of eachMessage: the client then does not move past this message, and whoever owns
 * the partition after the rebalance consumes it again (retrying the commit in the new generation would double it;
 * swallowing the error would lose it).
 */
function committingEachMessage(run: MemberRun, o: MemberOptions, consumer: CommittingConsumer, consumedOne: () => void) {
  return async ({ partition, message }: { partition: number; message: { offset: string; value: Buffer | null } }): Promise<void> => {
    if (run.consumed.length >= o.maxMessages) {
      // over budget: leave it uncommitted (another member will get it) and stop fetching
      consumer.pause([{ topic: o.topic }]);
      return;
    }
    const offset = Number(message.offset);
    await consumer.commitOffsets([{ topic: o.topic, partition, offset: String(offset + 1) }]);
    run.consumed.push({ consumer: o.name, partition, offset, value: message.value!.toString() });
    consumedOne();
  };
}

const kafkajsMember: StartMember = (bootstrap, o) => {
  const run: MemberRun = { name: o.name, consumed: [], assignments: [], done: Promise.resolve() };
  const consumer = new Kafka({ clientId: o.name, brokers: [bootstrap], logLevel: logLevel.NOTHING }).consumer({ groupId: o.group, sessionTimeout: o.sessionMs ?? 6000, heartbeatInterval: 300, maxWaitTimeInMs: 200 });
  let lastAt = Date.now();
  consumer.on(consumer.events.GROUP_JOIN, (e) => run.assignments.push([...(e.payload.memberAssignment[o.topic] ?? [])].sort()));
  run.done = (async () => {
    await consumer.connect();
    await consumer.subscribe({ topic: o.topic, fromBeginning: true });
    await consumer.run({ autoCommit: false, eachMessage: committingEachMessage(run, o, consumer, () => (lastAt = Date.now())) });
    await untilIdle(run, o.idleMs, o.maxMessages, () => lastAt);
    await consumer.disconnect();
  })();
  return run;
};

const platformaticMember = (groupProtocol: 'classic' | 'consumer'): StartMember => (bootstrap, o) => {
  const run: MemberRun = { name: o.name, consumed: [], assignments: [], done: Promise.resolve() };
  const groupOptions = groupProtocol === 'consumer' ? { groupProtocol } : { sessionTimeout: o.sessionMs ?? 6000, heartbeatInterval: 300 };
  const consumer = new Consumer({ clientId: o.name, groupId: o.group, bootstrapBrokers: [bootstrap], deserializers: stringDeserializers, ...groupOptions } as ConstructorParameters<typeof Consumer>[0]);
  let lastAt = Date.now();
  let closing = false;
  // after close, the client may still report a failed rejoin from its heartbeat loop; during the run, fail
  consumer.on('error', (err) => {
    if (!closing) throw err;
  });
  // the client announces joins, not every assignment change: watch its current assignment instead
  const watch = setInterval(() => {
    const now = [...(consumer.assignments?.find((a) => a.topic === o.topic)?.partitions ?? [])].sort((x, y) => x - y);
    const last = run.assignments[run.assignments.length - 1];
    if (consumer.assignments && (!last || last.join() !== now.join())) run.assignments.push(now);
  }, 20);
  run.done = (async () => {
    const stream = await consumer.consume({ topics: [o.topic], autocommit: false, mode: 'committed', fallbackMode: 'earliest', maxWaitTime: 200 });
    const reading = (async () => {
      for await (const message of stream) {
        if (run.consumed.length >= o.maxMessages) break;
        await retryRebalancing(() => message.commit() as Promise<void>);
        run.consumed.push({ consumer: o.name, partition: message.partition, offset: Number(message.offset), value: message.value as string });
        lastAt = Date.now();
      }
    })();
    await untilIdle(run, o.idleMs, o.maxMessages, () => lastAt);
    closing = true;
    clearInterval(watch);
    await stream.close();
    await reading.catch(() => undefined);
    await consumer.close(true);
  })();
  return run;
};

const kafkaJavascriptMember = (groupProtocol: 'classic' | 'consumer'): StartMember => (bootstrap, o) => {
  const run: MemberRun = { name: o.name, consumed: [], assignments: [], done: Promise.resolve() };
  const protocol = groupProtocol === 'consumer' ? { 'group.protocol': 'consumer' } : { kafkaJS: { sessionTimeout: o.sessionMs ?? 6000, heartbeatInterval: 300 } };
  const consumer = kjsKafka(bootstrap).consumer({ ...protocol, kafkaJS: { ...protocol.kafkaJS, groupId: o.group, fromBeginning: true, autoCommit: false }, 'client.id': o.name });
  let lastAt = Date.now();
  run.done = (async () => {
    await consumer.connect();
    // the client reports no assignment event in its KafkaJS API: watch its current assignment instead
    const watch = setInterval(() => {
      const now = consumer.assignment().filter((a) => a.topic === o.topic).map((a) => a.partition).sort((x, y) => x - y);
      const last = run.assignments[run.assignments.length - 1];
      if (!last || last.join() !== now.join()) run.assignments.push(now);
    }, 20);
    await consumer.subscribe({ topics: [o.topic] });
    await consumer.run({ eachMessage: committingEachMessage(run, o, consumer, () => (lastAt = Date.now())) });
    await untilIdle(run, o.idleMs, o.maxMessages, () => lastAt);
    clearInterval(watch);
    await consumer.disconnect();
  })();
  return run;
};

// Each member commits every message before taking the next; a commit refused during a rebalance throws out of
// eachMessage, so kafkajs does not move past the message and its next owner consumes it: exactly once.
test('kafkajs group: share, take over, resume', async () => {
  await withBroker((b) => shareTakeOverResume(b.bootstrap, kafkajsMember, 'kjs'), fastGroups);
});

// @platformatic/kafka keeps handing out already-fetched messages of a partition it lost in a rebalance, so
// across a rebalance it is at-least-once; the scenario checks exactly that.
test('@platformatic/kafka group: share, take over, resume', async () => {
  await withBroker((b) => shareTakeOverResume(b.bootstrap, platformaticMember('classic'), 'plt', { exactlyOnce: false }), fastGroups);
});

test('@platformatic/kafka with the KIP-848 consumer protocol (server-side assignment): share, take over, resume', async () => {
  await withBroker((b) => shareTakeOverResume(b.bootstrap, platformaticMember('consumer'), 'plt848', { exactlyOnce: false }), {
    groups: { consumerHeartbeatIntervalMs: 300, consumerSessionTimeoutMs: 6000 },
  });
});

// The newest librdkafka, with the broker in a process of its own as for that client's other tests (withCliBroker). It
// consumes fast enough that a member joining a few hundred milliseconds after the others could find its partitions
// drained (seen on a loaded machine): more messages, and for the classic protocol a first rebalance that waits for
// all three members.
test('@confluentinc/kafka-javascript group: share, take over, resume', async () => {
  await withCliBroker(['--group-min-session-timeout-ms', '1000', '--group-initial-rebalance-delay-ms', '1500'], (b) =>
    shareTakeOverResume(b.bootstrap, kafkaJavascriptMember('classic'), 'ckjs', { total: 12_000 }),
  );
});

test('@confluentinc/kafka-javascript with the KIP-848 consumer protocol: share, take over, resume', async () => {
  await withCliBroker(['--consumer-heartbeat-interval-ms', '300', '--consumer-session-timeout-ms', '6000'], (b) =>
    shareTakeOverResume(b.bootstrap, kafkaJavascriptMember('consumer'), 'ckjs848', { total: 12_000 }),
  );
});

// With the consumer protocol the broker resolves the subscription: librdkafka sends a regex subscription as such
// (SubscribedTopicRegex), and a topic created or grown while the group runs reaches it at its next heartbeat.
test('@confluentinc/kafka-javascript with the KIP-848 consumer protocol: a regex subscription, a matching topic created and partitions added while it runs', async () => {
  await withCliBroker(['--consumer-heartbeat-interval-ms', '300'], async ({ bootstrap }) => {
    const kafka = kjsKafka(bootstrap);
    const admin = kafka.admin();
    await admin.connect();
    const send = async (messages: { topic: string; partition: number }[]) => {
      // a producer of its own each time: one made before a topic grew would not know its new partitions
      const producer = kafka.producer({ kafkaJS: { acks: -1 } });
      await producer.connect();
      try {
        for (const m of messages) await producer.send({ topic: m.topic, messages: [{ value: `${m.topic}/${m.partition}`, partition: m.partition }] });
      } finally {
        await producer.disconnect();
      }
    };
    const consumer = kafka.consumer({ 'group.protocol': 'consumer', kafkaJS: { groupId: 'by-regex', fromBeginning: true } });
    const consumed: string[] = [];
    try {
      await admin.createTopics({ topics: [{ topic: 'metrics-cpu', numPartitions: 2 }, { topic: 'audit', numPartitions: 1 }] });
      await send([{ topic: 'metrics-cpu', partition: 0 }, { topic: 'metrics-cpu', partition: 1 }, { topic: 'audit', partition: 0 }]);
      await consumer.connect();
      await consumer.subscribe({ topics: [/^metrics-.*/] });
      await consumer.run({ eachMessage: async ({ message }) => void consumed.push(message.value!.toString()) });
      await until(() => consumed.length >= 2, 'the messages of the topic the regex matches', 30_000);

      await admin.createTopics({ topics: [{ topic: 'metrics-disk', numPartitions: 1 }] });
      const native = kafkaJavascript().AdminClient.create({ 'bootstrap.servers': bootstrap });
      try {
        await new Promise<void>((resolve, reject) => native.createPartitions('metrics-cpu', 3, 10_000, (err) => (err ? reject(err) : resolve())));
      } finally {
        native.disconnect();
      }
      await send([{ topic: 'metrics-disk', partition: 0 }, { topic: 'metrics-cpu', partition: 2 }, { topic: 'audit', partition: 0 }]);
      await until(() => consumed.length >= 4, 'the messages of the new topic and the new partition', 30_000);
      await new Promise((r) => setTimeout(r, 500)); // nothing else arrives
      assert.deepEqual(consumed.sort(), ['metrics-cpu/0', 'metrics-cpu/1', 'metrics-cpu/2', 'metrics-disk/0']);
      const assignment = consumer.assignment().map((a) => `${a.topic}/${a.partition}`).sort();
      assert.deepEqual(assignment, ['metrics-cpu/0', 'metrics-cpu/1', 'metrics-cpu/2', 'metrics-disk/0']);
    } finally {
      await consumer.disconnect();
      await admin.disconnect();
    }
  });
});

// A static member (group.instance.id) that restarts gets its partitions back with no rebalance: librdkafka leaves
// with epoch -2 on close, and joins again with the same instance id.
test('@confluentinc/kafka-javascript with the KIP-848 consumer protocol: a static member restarts and gets its partitions back, the group epoch unchanged', async () => {
  await withCliBroker(['--consumer-heartbeat-interval-ms', '300'], async ({ bootstrap }) => {
    const kafka = kjsKafka(bootstrap);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'static-t', numPartitions: 4 }] });
    await admin.disconnect();
    const observer = await KafkaClient.connectTo(bootstrap);
    const members = async () => {
      const g = (await observer.send(69, 0, { groupIds: ['static-g'], includeAuthorizedOperations: false })).groups[0];
      const held = g.members.map((m: { instanceId: string; memberEpoch: number; assignment: { topicPartitions: { partitions: number[] }[] } }) =>
        `${m.instanceId}@${m.memberEpoch}:${m.assignment.topicPartitions.flatMap((t) => t.partitions).sort().join(',')}`);
      return { epoch: g.groupEpoch as number, held: held.sort() as string[] };
    };
    const start = async (instance: string) => {
      const consumer = kafka.consumer({ 'group.protocol': 'consumer', 'group.instance.id': instance, kafkaJS: { groupId: 'static-g', fromBeginning: true } });
      await consumer.connect();
      await consumer.subscribe({ topics: ['static-t'] });
      await consumer.run({ eachMessage: async () => undefined });
      return consumer;
    };
    const a = await start('host-a');
    const b = await start('host-b');
    try {
      // settled: both members at the group's epoch, two partitions each
      const settled = (m: { epoch: number; held: string[] }) => m.held.length === 2 && m.held.every((h) => h.startsWith(`host-`) && new RegExp(`@${m.epoch}:\\d,\\d$`).test(h));
      let before = await members();
      for (const deadline = Date.now() + 30_000; !settled(before) && Date.now() < deadline; before = await members()) await new Promise((r) => setTimeout(r, 100));
      const heldByA = before.held.find((h) => h.startsWith('host-a@'))!;
      assert.match(heldByA, /^host-a@\d+:\d,\d$/, JSON.stringify(before));
      await a.disconnect();
      const a2 = await start('host-a');
      try {
        await until(() => a2.assignment().length === 2, 'the restarted member to get its partitions', 30_000);
        const after = await members();
        assert.deepEqual(after, before, 'same epoch, same partitions for each instance');
        assert.deepEqual(a2.assignment().map((p) => `${p.partition}`).sort().join(','), heldByA.split(':')[1]);
      } finally {
        await a2.disconnect();
      }
    } finally {
      await b.disconnect();
      observer.close();
    }
  });
});

// A KIP-848 group's state is in `__consumer_offsets`: a broker killed under running consumers finds them, once
// restarted, at their epochs with their partitions, and nobody joins again. With nothing committed, consumers that
// had to join again would read from the start a second time.
test('@confluentinc/kafka-javascript with the KIP-848 consumer protocol: consumers carry on across a broker killed and restarted, no rebalance, each message consumed once', () =>
  withTempDir(async (dir) => {
    const broker = await restartableBroker(['--data-dir', dir, '--consumer-heartbeat-interval-ms', '300']);
    const kafka = kjsKafka(broker.bootstrap);
    const produce = async (from: number) => {
      const producer = kafka.producer({ kafkaJS: { acks: -1 } });
      await producer.connect();
      try {
        await producer.send({ topic: 'kept-t', messages: Array.from({ length: 20 }, (_, i) => ({ value: `m${from + i}`, partition: i % 4 })) });
      } finally {
        await producer.disconnect();
      }
    };
    const consumed: string[] = [];
    const consumers: ReturnType<typeof kafka.consumer>[] = [];
    let observer: KafkaClient | null = null;
    const members = async () => {
      observer ??= await KafkaClient.connectTo(broker.bootstrap);
      const g = (await observer.send(69, 0, { groupIds: ['kept-g'], includeAuthorizedOperations: false })).groups[0];
      const held = g.members.map((m: { memberId: string; memberEpoch: number; assignment: { topicPartitions: { partitions: number[] }[] } }) =>
        `${m.memberId}@${m.memberEpoch}:${m.assignment.topicPartitions.flatMap((t) => t.partitions).sort().join(',')}`);
      return { epoch: g.groupEpoch as number, held: held.sort() as string[] };
    };
    try {
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'kept-t', numPartitions: 4 }] });
      await admin.disconnect();
      for (const name of ['a', 'b']) {
        const consumer = kafka.consumer({ 'group.protocol': 'consumer', kafkaJS: { groupId: 'kept-g', fromBeginning: true, autoCommit: false } });
        consumers.push(consumer);
        await consumer.connect();
        await consumer.subscribe({ topics: ['kept-t'] });
        await consumer.run({ eachMessage: async ({ partition, message }) => void consumed.push(`${name} ${partition}/${message.offset} ${message.value}`) });
      }
      const settled = (m: { epoch: number; held: string[] }) => m.held.length === 2 && m.held.every((h) => new RegExp(`@${m.epoch}:\\d,\\d$`).test(h));
      let before = await members();
      for (const deadline = Date.now() + 30_000; !settled(before) && Date.now() < deadline; before = await members()) await new Promise((r) => setTimeout(r, 100));
      assert.ok(settled(before), JSON.stringify(before));
      // produced once the group is settled: nothing committed, a partition moving from one member to the other while
      // messages were there would be read by both
      await produce(0);
      await until(() => consumed.length >= 20, 'the messages produced before the restart', 30_000);
      observer!.close();
      observer = null;

      await broker.kill();
      await produce(20);
      await until(() => consumed.length >= 40, 'the messages produced after the restart', 30_000);
      await new Promise((r) => setTimeout(r, 1000)); // nothing more arrives
      assert.deepEqual(await members(), before, 'the same members at the same epoch with the same partitions');
      const values = consumed.map((c) => c.split(' ')[2]).sort((x, y) => Number(x!.slice(1)) - Number(y!.slice(1)));
      assert.deepEqual(values, Array.from({ length: 40 }, (_, i) => `m${i}`), 'each message once');
      // and each partition by the member that holds it, before the restart as after it
      const holder = new Map(before.held.flatMap((h) => h.split(':')[1]!.split(',').map((p) => [p, h.split('@')[0]] as const)));
      const byMember = new Map<string, Set<string>>();
      for (const c of consumed) {
        const [name, at] = c.split(' ');
        const set = byMember.get(name!) ?? new Set<string>();
        set.add(holder.get(at!.split('/')[0]!)!);
        byMember.set(name!, set);
      }
      assert.deepEqual([...byMember.values()].map((set) => set.size), [1, 1], 'each consumer read the partitions of one member');
    } finally {
      for (const c of consumers) await c.disconnect();
      (observer as KafkaClient | null)?.close();
      await broker.stop();
    }
  }));

// A group moved back from the consumer protocol to the classic one, and kafkajs' setOffsets (which joins the group
// with a classic member to commit): both need the emptied KIP-848 group to become a classic group, offsets kept.
test('a group emptied by KIP-848 consumers: kafkajs moves its offsets, and classic consumers resume from them', async () => {
  await withCliBroker(['--consumer-heartbeat-interval-ms', '300', '--group-min-session-timeout-ms', '1000'], async ({ bootstrap }) => {
    const kafka = kjsKafka(bootstrap);
    const admin = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'moved', numPartitions: 2 }] });
      const producer = kafka.producer({ kafkaJS: { acks: -1 } });
      await producer.connect();
      await producer.send({ topic: 'moved', messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}`, partition: i % 2 })) });
      await producer.disconnect();
      const modern = kafka.consumer({ 'group.protocol': 'consumer', kafkaJS: { groupId: 'moved-g', fromBeginning: true, autoCommit: false } });
      await modern.connect();
      await modern.subscribe({ topics: ['moved'] });
      let seen = 0;
      await modern.run({ eachMessage: async () => void seen++ });
      await until(() => seen === 10, 'the KIP-848 consumer to read all ten', 30_000);
      await modern.commitOffsets([{ topic: 'moved', partition: 0, offset: '5' }, { topic: 'moved', partition: 1, offset: '5' }]);
      await modern.disconnect();

      await retryRebalancing(() => admin.setOffsets({ groupId: 'moved-g', topic: 'moved', partitions: [{ partition: 0, offset: '3' }, { partition: 1, offset: '4' }] }));
      const [offsets] = await admin.fetchOffsets({ groupId: 'moved-g', topics: ['moved'] });
      assert.deepEqual(offsets!.partitions.map((p) => [p.partition, p.offset]).sort(), [[0, '3'], [1, '4']]);
      // a classic consumer of the group starts at those offsets: m6 and m8 on partition 0, m9 on partition 1
      const classic = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING }).consumer({ groupId: 'moved-g', sessionTimeout: 6000, heartbeatInterval: 300 });
      const resumed: string[] = [];
      await classic.connect();
      try {
        await classic.subscribe({ topic: 'moved' });
        await classic.run({ eachMessage: async ({ message }) => void resumed.push(message.value!.toString()) });
        await until(() => resumed.length === 3, 'the classic consumer to read from the offsets set', 30_000);
      } finally {
        await classic.disconnect();
      }
      assert.deepEqual(resumed.sort(), ['m6', 'm8', 'm9']);
    } finally {
      await admin.disconnect();
    }
  });
});
