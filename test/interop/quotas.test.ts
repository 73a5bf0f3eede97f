// Client quotas with real clients: @platformatic/kafka's admin client sets and lists them (AlterClientQuotas v1,
// DescribeClientQuotas v0), and librdkafka (which waits out throttles itself, KIP-219) and kafka-python (which does
// not, so the broker's muting holds it back) produce and consume past byte-rate quotas: everything arrives, in
// order, and each client saw the throttle times the broker answered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Admin } from '@platformatic/kafka';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { withBroker } from '../helpers/broker.js';
import { python } from './python-clients.js';

const COUNT = 1_080;
const SIZE = 1_000;

test('@platformatic/kafka\'s admin client sets, lists and removes client quotas', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    const admin = new Admin({ clientId: 'interop', bootstrapBrokers: [bootstrap] });
    try {
      const altered = await admin.alterClientQuotas({
        entries: [
          { entities: [{ entityType: 'user', entityName: 'alice' }, { entityType: 'client-id', entityName: 'app' }], ops: [{ key: 'producer_byte_rate', value: 1_048_576, remove: false }] },
          { entities: [{ entityType: 'client-id', entityName: null }], ops: [{ key: 'consumer_byte_rate', value: 2_097_152, remove: false }, { key: 'request_percentage', value: 25, remove: false }] },
        ],
      });
      assert.deepEqual(altered.map((e) => [e.errorCode, e.errorMessage]), [[0, null], [0, null]]);
      // the client turns an entity's error into a rejection carrying the broker's reason
      await assert.rejects(
        admin.alterClientQuotas({ entries: [{ entities: [{ entityType: 'client-id', entityName: 'bad' }], ops: [{ key: 'producer_byte_rate', value: 1.5, remove: false }] }] }),
        (err: AggregateError) => JSON.stringify(err.errors).includes('quota producer_byte_rate must be a whole number, got 1.5'),
      );
      assert.deepEqual(broker.throttling.quotas.limitFor('producer_byte_rate', 'alice', 'app'), { limit: 1_048_576, usage: 'alice\u0000app' });
      const listed = await admin.describeClientQuotas({ components: [{ entityType: 'client-id', matchType: 1 }] });
      assert.deepEqual(listed, [{ entity: [{ entityType: 'client-id', entityName: null }], values: [{ key: 'consumer_byte_rate', value: 2_097_152 }, { key: 'request_percentage', value: 25 }] }]);
      const all = await admin.describeClientQuotas({ components: [] });
      assert.equal(all.length, 2);
      await admin.alterClientQuotas({ entries: [{ entities: [{ entityType: 'user', entityName: 'alice' }, { entityType: 'client-id', entityName: 'app' }], ops: [{ key: 'producer_byte_rate', remove: true }] }] });
      assert.deepEqual((await admin.describeClientQuotas({ components: [{ entityType: 'user', matchType: 2 }] })), []);
    } finally {
      await admin.close();
    }
  });
});

/**
 * A broker where client id `throttled` may produce and fetch 100 KB a second. Its rate is measured over ten seconds at
 * least, so the first 1 MB each way goes unthrottled; the 1.1 MB sent and read, with their overhead, go a little past
 * that (more would make the test wait for those ten seconds to pass).
 */
async function withThrottledClient(fn: (bootstrap: string) => Promise<void>): Promise<void> {
  await withBroker(async ({ bootstrap }) => {
    const c = await KafkaClient.connectTo(bootstrap);
    try {
      const res = await c.send(49, 1, {
        entries: [{ entity: [{ entityType: 'client-id', entityName: 'throttled' }], ops: [{ key: 'producer_byte_rate', value: 100_000, remove: false }, { key: 'consumer_byte_rate', value: 100_000, remove: false }] }],
        validateOnly: false,
      });
      assert.equal(res.entries[0].errorCode, 0);
    } finally {
      c.close();
    }
    await fn(bootstrap);
  });
}

interface ThrottledRun {
  errors: string[];
  unflushed: number;
  consumed: number[];
  produceThrottles: number[];
  consumeThrottles: number[];
}

for (const client of ['confluent', 'kp'] as const) {
  const name = client === 'confluent' ? 'librdkafka' : 'kafka-python';
  test(`${name} produces and consumes past byte-rate quotas: throttled, nothing lost, order kept`, async () => {
    await withThrottledClient(async (bootstrap) => {
      const [run] = (await python(`${client}-throttled`, [bootstrap, 'metered', 'throttled', String(COUNT), String(SIZE)])) as ThrottledRun[];
      assert.deepEqual(run!.errors, []);
      assert.equal(run!.unflushed, 0);
      assert.deepEqual(run!.consumed, Array.from({ length: COUNT }, (_, i) => i));
      assert.ok(Math.max(...run!.produceThrottles) > 0, `produce throttles ${run!.produceThrottles.join(',')}`);
      assert.ok(Math.max(...run!.consumeThrottles) > 0, `consume throttles ${run!.consumeThrottles.join(',')}`);
    });
  });
}
