// kafka-python (python3-kafka): admin, produce (acks=all), consume, limits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withBroker } from '../helpers/broker.js';
import { assertSameMessages, makeMessages, withoutHeaders, type ConsumedMessage } from './dataset.js';
import { python, pythonConsume, pythonProduce } from './python-clients.js';

test('kafka-python: create, produce 10,000 with acks=all, consume back exactly, delete', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await python('kp-admin', [bootstrap, 'orders', 'create', '6']);
    assert.equal(broker.logs.topics.get('orders')?.partitions.length, 6);
    const messages = makeMessages(10_000, 6);
    assert.deepEqual(await pythonProduce('kp', bootstrap, 'orders', messages), { errors: [], unflushed: 0 });
    assertSameMessages(messages, await pythonConsume('kp', bootstrap, 'orders', 6, messages.length));
    await python('kp-admin', [bootstrap, 'orders', 'delete']);
    assert.equal(broker.logs.topics.has('orders'), false);
  });
});

test('kafka-python: a message over max.message.bytes gets MessageSizeTooLargeError from the broker', async () => {
  await withBroker(async ({ bootstrap }) => {
    const tooBig = { key: 'k', value: 'z'.repeat(1_100_000), headers: [] as [string, string][], timestamp: 1_700_000_000_000, partition: 0 };
    const report = await pythonProduce('kp', bootstrap, 'limits', [tooBig]);
    assert.equal(report.errors.length, 1);
    assert.match(report.errors[0]!, /MessageSizeTooLargeError/);
  });
});

// Told a Kafka version, kafka-python sends that version's requests instead of the newest it knows: the older
// versions Sluice advertises, answered to a client of its own implementation.
for (const version of ['1.0', '2.0']) {
  test(`kafka-python speaking Kafka ${version}: create, produce with gzip and acks=all, consume back exactly, delete`, async () => {
    await withBroker(async ({ bootstrap, broker }) => {
      await python('kp-admin', [bootstrap, 'spoken', 'create', '3', version]);
      assert.equal(broker.logs.topics.get('spoken')?.partitions.length, 3);
      const messages = makeMessages(2000, 3);
      assert.deepEqual(await python('kp-produce', [bootstrap, 'spoken', 'gzip', 'all', version], messages), [{ errors: [], unflushed: 0 }]);
      assertSameMessages(messages, (await python('kp-consume', [bootstrap, 'spoken', '3', String(messages.length), version])) as ConsumedMessage[]);
      await python('kp-admin', [bootstrap, 'spoken', 'delete', '1', version]);
      assert.equal(broker.logs.topics.has('spoken'), false);
    });
  });
}

// Before 0.11 kafka-python speaks the old message formats: Produce v0 and Fetch v0 with 0.8's messages, v1 at 0.9,
// Produce v2 and Fetch v2 with 0.10's, which carry timestamps (and before 0.10 its lz4 does not work with the lz4
// module Debian ships). Headers need 0.11.
for (const [version, codec] of [['0.8.2', 'snappy'], ['0.9', 'gzip'], ['0.10', 'lz4']] as const) {
  test(`kafka-python speaking Kafka ${version}: produce with ${codec} and acks=all in the old message format, consume back exactly`, async () => {
    await withBroker(async ({ bootstrap, broker }) => {
      await broker.createTopic('old', 3, {});
      const messages = withoutHeaders(makeMessages(2000, 3));
      assert.deepEqual(await python('kp-produce', [bootstrap, 'old', codec, 'all', version], messages), [{ errors: [], unflushed: 0 }]);
      const consumed = (await python('kp-consume', [bootstrap, 'old', '3', String(messages.length), version])) as ConsumedMessage[];
      assertSameMessages(messages, consumed, { checkTimestamps: version === '0.10' });
      // and by the newest version it speaks, which reads the batches they were stored as
      assertSameMessages(messages, await pythonConsume('kp', bootstrap, 'old', 3, messages.length), { checkTimestamps: version === '0.10' });
    });
  });
}
