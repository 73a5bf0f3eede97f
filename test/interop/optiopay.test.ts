// optiopay/kafka, a Go client with a protocol implementation of its own (Debian's 2.1.1): it produces Kafka 0.8's
// message format (magic 0: no timestamps, no headers) in Produce v2, fetches record batches with Fetch v5 and parses
// them itself, lists offsets with ListOffsets v2 and reads Metadata v5. Its program, go/optiopay-clients.go, is built
// once (see debian-go.ts). Two traits of this client, with Kafka as with Sluice: it reads an empty value as null, and
// it decompresses a compressed batch up to the end of the fetched records, so it reads one only as the last batch of a
// fetch (these tests fetch compressed batches one at a time). Its offset coordinator sends FindCoordinator v1 without
// the key type, a request Kafka refuses as Sluice does (closing the connection), so it is not driven here.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { withBroker } from '../helpers/broker.js';
import { assertSameMessages, emptiesAsSent, makeMessages, withoutHeaders, type ConsumedMessage } from './dataset.js';
import { buildDebianGo, runJsonLines } from './debian-go.js';
import { kafkajsWriteGzip } from './kafkajs-write.js';
import { pythonConsume } from './python-clients.js';

let binary: string;
let removeBuild: () => Promise<void>;
before(async () => {
  ({ binary, remove: removeBuild } = await buildDebianGo('optiopay'));
});
after(() => removeBuild?.());

const optiopay = (command: string, bootstrap: string, args: string[], input: unknown[] = []) => runJsonLines(binary, `optiopay ${command}`, [command, bootstrap, ...args], input);

test('optiopay/kafka: acks=all produce in 0.8\'s message format (none, gzip, snappy), stored in that codec, consumed back exactly by it (Fetch v5) and by librdkafka', async () => {
  await withBroker(async ({ bootstrap, broker, dataDir }) => {
    const messages = withoutHeaders(makeMessages(1200, 3));
    for (const codec of ['none', 'gzip', 'snappy']) {
      const topic = `optiopay-${codec}`;
      await broker.createTopic(topic, 3, {});
      const [produced] = (await optiopay('produce', bootstrap, [topic, codec], messages)) as { errors: string[]; bases: Record<string, number[]> }[];
      assert.deepEqual(produced!.errors, [], topic);
      // each request's base offset, as the produce responses gave them: 100 messages a request, from 0 in each partition
      for (const p of ['0', '1', '2']) assert.deepEqual(produced!.bases[p], [0, 100, 200, 300], `${topic}-${p} base offsets`);
      const read = (await optiopay('consume', bootstrap, [topic, '3', codec === 'none' ? String(1 << 20) : '1'])) as ConsumedMessage[];
      assertSameMessages(messages, emptiesAsSent(read, messages), { checkTimestamps: false });
      assertSameMessages(messages, await pythonConsume('confluent', bootstrap, topic, 3, messages.length), { checkTimestamps: false });
      const segment = await readFile(join(dataDir, `${topic}-0`, '00000000000000000000.log'));
      assert.equal(segment.readInt16BE(8 + 4 + 4 + 1 + 4) & 7, { none: 0, gzip: 1, snappy: 2 }[codec], `${topic} codec`);
    }
    assert.deepEqual(await optiopay('offsets', bootstrap, ['optiopay-gzip', '1']), [{ earliest: 0, latest: 400 }]);
    const [meta] = (await optiopay('metadata', bootstrap, [])) as { topics: Record<string, number[]>; brokers: string[]; controller: number }[];
    const port = bootstrap.split(':')[1];
    assert.deepEqual(meta!.brokers, [`${broker.config.nodeId}@127.0.0.1:${port}`]);
    assert.equal(meta!.controller, broker.config.nodeId);
    for (const codec of ['none', 'gzip', 'snappy']) assert.deepEqual(meta!.topics[`optiopay-${codec}`], [broker.config.nodeId, broker.config.nodeId, broker.config.nodeId]);
  });
});

test('optiopay/kafka reads the record batches other clients wrote (kafkajs: headers, gzip) with its own parser', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('from-kafkajs', 1, {});
    const messages = makeMessages(500, 1);
    await kafkajsWriteGzip(bootstrap, 'from-kafkajs', messages);
    const read = (await optiopay('consume', bootstrap, ['from-kafkajs', '1', '1'])) as ConsumedMessage[];
    assertSameMessages(withoutHeaders(messages), emptiesAsSent(read, messages), { checkTimestamps: false });
  });
});
