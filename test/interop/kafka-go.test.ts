// kafka-go, segmentio's Go client (Debian's 0.2.1), a protocol implementation of its own from the time of Kafka
// 0.10: it produces and fetches 0.10's message format (Produce and Fetch v2, magic 1 with timestamps) and runs its
// consumer groups on JoinGroup v1, SyncGroup v0, OffsetCommit v2 and OffsetFetch v1. Its program, go/kafka-go-clients.go,
// is built once (see debian-go.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { withBroker } from '../helpers/broker.js';
import { assertSameMessages, emptiesAsSent, makeMessages, withoutHeaders, type ConsumedMessage } from './dataset.js';
import { processMember, shareTakeOverResume } from './group-scenario.js';
import { buildDebianGo, runJsonLines } from './debian-go.js';
import { kafkajsWriteGzip } from './kafkajs-write.js';
import { pythonConsume } from './python-clients.js';

let binary: string;
let removeBuild: () => Promise<void>;
before(async () => {
  ({ binary, remove: removeBuild } = await buildDebianGo('kafka-go'));
});
after(() => removeBuild?.());

const kafkaGo = (command: string, bootstrap: string, args: string[], input: unknown[] = []) => runJsonLines(binary, `kafka-go ${command}`, [command, bootstrap, ...args], input);

test('kafka-go: acks=all produce in 0.10\'s message format with every codec it has, stored in that codec, consumed back exactly by it and by librdkafka', async () => {
  await withBroker(async ({ bootstrap, broker, dataDir }) => {
    const messages = withoutHeaders(makeMessages(1500, 3));
    for (const codec of ['none', 'gzip', 'snappy', 'lz4']) {
      const topic = `kgo-${codec}`;
      await broker.createTopic(topic, 3, {});
      assert.deepEqual(await kafkaGo('produce', bootstrap, [topic, codec], messages), [{ errors: [] }], topic);
      // librdkafka below shows that the values kafka-go reads as null are stored empty
      assertSameMessages(messages, emptiesAsSent((await kafkaGo('consume', bootstrap, [topic, '3'])) as ConsumedMessage[], messages));
      assertSameMessages(messages, await pythonConsume('confluent', bootstrap, topic, 3, messages.length));
      // each produce request's wrapper became one batch in the wrapper's codec: the first batch's attributes
      const segment = await readFile(join(dataDir, `${topic}-0`, '00000000000000000000.log'));
      assert.equal(segment.readInt16BE(8 + 4 + 4 + 1 + 4) & 7, { none: 0, gzip: 1, snappy: 2, lz4: 3 }[codec], `${topic} codec`);
    }
  });
});

test('kafka-go reads record batches other clients wrote (kafkajs: headers, gzip) as 0.10\'s messages, without headers', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('from-kafkajs', 1, {});
    const messages = makeMessages(500, 1);
    await kafkajsWriteGzip(bootstrap, 'from-kafkajs', messages);
    assertSameMessages(withoutHeaders(messages), emptiesAsSent((await kafkaGo('consume', bootstrap, ['from-kafkajs', '1'])) as ConsumedMessage[], messages));
  });
});

// kafka-go 0.2.1 commits each message before taking the next here; across a rebalance it may hand out a message of a
// partition it is losing, so the scenario checks at-least-once.
test('kafka-go consumer group (JoinGroup v1, Fetch v2): share, take over, resume', async () => {
  await withBroker(
    async ({ bootstrap }) => {
      await shareTakeOverResume(bootstrap, (b, o) => processMember('kafka-go group', o, spawn(binary, ['group', b, o.topic, o.group, String(o.maxMessages), String(o.idleMs)])), 'kgo-g', { exactlyOnce: false });
    },
    { groups: { minSessionTimeoutMs: 1000 } },
  );
});
