// Client quotas at the protocol level, with Sluice's own client: AlterClientQuotas and DescribeClientQuotas at both
// versions, their ACL checks, and each quota enforced on the wire: the throttle time answers carry, the connection
// muted for it, a throttled fetch answered empty, partition mutations refused or throttled by version, and
// connections from an address past its rate closed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { writeRequestHeader } from '../../src/protocol/headers.js';
import { API_SCHEMAS } from '../../src/protocol/messages.generated.js';
import { ErrorCode as E } from '../../src/protocol/errors.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import { Writer } from '../../src/protocol/writer.js';
import { withBroker } from '../helpers/broker.js';
import { capturedLogger } from '../helpers/captured-logger.js';
import { until } from '../helpers/until.js';

type Part = { entityType: string; entityName: string | null };
const alter = (c: KafkaClient, entries: { entity: Part[]; ops: { key: string; value: number; remove: boolean }[] }[], version = 1, validateOnly = false) =>
  c.send(49, version, { entries, validateOnly }).then((r) => r.entries.map((e: { errorCode: number; errorMessage: string | null; entity: Part[] }) => [e.entity, e.errorCode, e.errorMessage]));
const setQuota = async (c: KafkaClient, entity: Part[], values: Record<string, number>) => {
  const [[, errorCode, errorMessage]] = await alter(c, [{ entity, ops: Object.entries(values).map(([key, value]) => ({ key, value, remove: false })) }]);
  assert.equal(errorCode, 0, errorMessage);
};
const describe = (c: KafkaClient, components: { entityType: string; matchType: number; match?: string | null }[], strict = false, version = 1) =>
  c.send(48, version, { components, strict });

/** The size of a request as the broker reads it (the frame after its length): what producer_byte_rate counts. */
function frameBytes(apiKey: number, version: number, clientId: string, body: unknown): number {
  const schema = API_SCHEMAS[apiKey]!;
  const w = new Writer(256);
  writeRequestHeader(w, { apiKey, apiVersion: version, correlationId: 1, clientId }, schema.flexibleMin >= 0 && version >= schema.flexibleMin);
  schema.encodeRequest(w, version, body);
  return w.finish().reduce((n, c) => n + c.length, 0);
}

const produceBody = (topic: string, value: Buffer, acks = -1) => ({
  transactionalId: null, acks, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records: buildRecordBatch([{ value }]) }] }],
});

test('AlterClientQuotas and DescribeClientQuotas at v0 and v1: set, listed, refused with reasons, validate_only, removed', async () => {
  await withBroker(async ({ bootstrap }) => {
    const c = await KafkaClient.connectTo(bootstrap);
    try {
      for (const version of [0, 1]) {
        const alice = [{ entityType: 'user', entityName: `alice${version}` }, { entityType: 'client-id', entityName: null }];
        assert.deepEqual(await alter(c, [
          { entity: alice, ops: [{ key: 'producer_byte_rate', value: 1_048_576, remove: false }, { key: 'request_percentage', value: 12.5, remove: false }] },
          { entity: [{ entityType: 'ip', entityName: 'nowhere' }], ops: [{ key: 'connection_creation_rate', value: 5, remove: false }] },
        ], version), [[alice, 0, null], [[{ entityType: 'ip', entityName: 'nowhere' }], E.INVALID_REQUEST, 'nowhere is not a valid IP address']]);
        const listed = await describe(c, [{ entityType: 'user', matchType: 0, match: `alice${version}` }], false, version);
        assert.equal(listed.errorCode, 0);
        assert.deepEqual(listed.entries, [{ entity: alice, values: [{ key: 'producer_byte_rate', value: 1_048_576 }, { key: 'request_percentage', value: 12.5 }] }]);
        assert.deepEqual((await describe(c, [{ entityType: 'user', matchType: 0, match: `alice${version}` }], true, version)).entries, [], 'strict: the entity also has a client-id part');
        const bad = await describe(c, [{ entityType: 'topic', matchType: 2 }], false, version);
        assert.deepEqual([bad.errorCode, bad.errorMessage, bad.entries], [E.UNSUPPORTED_VERSION, 'unsupported quota entity type topic', null]);
      }
      const bob = [{ entityType: 'user', entityName: 'bob' }];
      assert.deepEqual(await alter(c, [{ entity: bob, ops: [{ key: 'consumer_byte_rate', value: 100, remove: false }] }], 1, true), [[bob, 0, null]]);
      assert.deepEqual((await describe(c, [{ entityType: 'user', matchType: 0, match: 'bob' }])).entries, [], 'validate_only changed nothing');
      const alice0 = [{ entityType: 'user', entityName: 'alice0' }, { entityType: 'client-id', entityName: null }];
      assert.deepEqual(await alter(c, [{ entity: alice0, ops: [{ key: 'producer_byte_rate', value: 0, remove: true }, { key: 'request_percentage', value: 0, remove: true }] }]), [[alice0, 0, null]]);
      assert.deepEqual((await describe(c, [])).entries.map((e: { entity: Part[] }) => e.entity[0]!.entityName), ['alice1']);
    } finally {
      c.close();
    }
  });
});

test('an AlterClientQuotas whose file cannot be written is answered KAFKA_STORAGE_ERROR and changes nothing', async () => {
  const fileSystem: FileSystem = {
    ...nodeFileSystem,
    writeFileAtomic: (path, data, durable) => (path.endsWith('client-quotas.json') ? Promise.reject(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' })) : nodeFileSystem.writeFileAtomic(path, data, durable)),
  };
  await withBroker(async ({ bootstrap, broker }) => {
    const c = await KafkaClient.connectTo(bootstrap);
    try {
      const entity = [{ entityType: 'user', entityName: 'alice' }];
      const [[, code, message]] = await alter(c, [{ entity, ops: [{ key: 'producer_byte_rate', value: 1, remove: false }] }]);
      assert.deepEqual([code, message], [E.KAFKA_STORAGE_ERROR, 'storage error: EIO: i/o error, write']);
      assert.deepEqual((await describe(c, [])).entries, []);
      assert.equal(broker.throttling.quotas.limitFor('producer_byte_rate', 'alice', 'x'), null);
    } finally {
      c.close();
    }
  }, { fileSystem });
});

test('the quota APIs need ALTER_CONFIGS and DESCRIBE_CONFIGS on the cluster', async () => {
  await withBroker(async ({ bootstrap }) => {
    const c = await KafkaClient.connectTo(bootstrap);
    try {
      const entity = [{ entityType: 'user', entityName: 'alice' }];
      const [[, code]] = await alter(c, [{ entity, ops: [{ key: 'producer_byte_rate', value: 1, remove: false }] }]);
      assert.equal(code, E.CLUSTER_AUTHORIZATION_FAILED);
      assert.equal((await describe(c, [])).errorCode, E.CLUSTER_AUTHORIZATION_FAILED);
    } finally {
      c.close();
    }
  }, { acls: { enabled: true } });
});

test('a produce past producer_byte_rate is answered with the time to wait, and its connection is muted that long', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    const admin = await KafkaClient.connectTo(bootstrap, 'admin');
    const loader = await KafkaClient.connectTo(bootstrap, 'loader');
    const other = await KafkaClient.connectTo(bootstrap, 'other');
    try {
      await setQuota(admin, [{ entityType: 'client-id', entityName: 'loader' }], { producer_byte_rate: 10_000 });
      const body = produceBody('t', Buffer.alloc(105_000, 1));
      const bytes = frameBytes(0, 9, 'loader', body);
      const started = performance.now();
      const produced = await loader.send(0, 9, body);
      const log = broker.logs.topics.get('t')!.partitions[0]!;
      assert.equal(produced.responses[0].partitionResponses[0].errorCode, 0, 'throttled, not refused');
      // the first request's bytes over the ten seconds a rate is measured over at least: X = S / Q - 10 s
      const throttle = Math.round((bytes * 1000) / 10_000 - 10_000);
      assert.ok(throttle > 400 && throttle < 600, `${throttle}`);
      assert.equal(produced.throttleTimeMs, throttle);
      // meanwhile another client is served, and the throttled one's next request waits for the mute to end
      const next = loader.send(3, 9, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      const otherAnswer = await other.send(0, 9, produceBody('t', Buffer.alloc(105_000, 2)));
      assert.equal(otherAnswer.throttleTimeMs, 0);
      const answered = await next;
      assert.ok(performance.now() - started >= throttle, 'muted for the throttle');
      assert.equal(answered.throttleTimeMs, 0, 'metadata does not count toward the produce quota');
      // acks=0 has no answer to carry the throttle: the connection is muted all the same
      const quiet = await KafkaClient.connectTo(bootstrap, 'loader');
      try {
        const sent = performance.now();
        const none = quiet.send(0, 9, produceBody('t', Buffer.alloc(20_000, 3), 0));
        void none.catch(() => undefined);
        // the next request once the produce is appended (one read together with it would be under way already)
        await until(() => log.logEndOffset === 3, 'the acks=0 produce appended');
        const after = await quiet.send(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
        assert.equal(after.errorCode, 0);
        // the usage is shared by the client id: 125 KB over 10 s against 10 KB/s is past the quota
        assert.ok(performance.now() - sent >= 1_000, 'muted after an acks=0 produce');
      } finally {
        quiet.close();
      }
    } finally {
      admin.close();
      loader.close();
      other.close();
    }
  });
});

test('a fetch is capped to what consumer_byte_rate allows over ten seconds, and one past the quota is answered empty', async () => {
  await withBroker(async ({ bootstrap }) => {
    const admin = await KafkaClient.connectTo(bootstrap, 'admin');
    const reader = await KafkaClient.connectTo(bootstrap, 'reader');
    try {
      const batches = [1, 2, 3, 4, 5].map((i) => buildRecordBatch([{ value: Buffer.alloc(4_000, i) }]));
      for (const records of batches) {
        await admin.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 't', partitionData: [{ index: 0, records }] }] });
      }
      const batchBytes = batches[0]!.length;
      await setQuota(admin, [{ entityType: 'client-id', entityName: 'reader' }], { consumer_byte_rate: 1_000 });
      const fetchFrom = (fetchOffset: number) => reader.send(1, 11, {
        replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic: 't', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
        forgottenTopicsData: [], rackId: '',
      });
      const started = performance.now();
      const first = await fetchFrom(0);
      // 10,000 bytes at most: two whole batches of the five
      assert.equal(first.throttleTimeMs, 0);
      assert.equal(first.responses[0].partitions[0].records.length, 2 * batchBytes);
      const second = await fetchFrom(2);
      const elapsed = performance.now() - started;
      assert.deepEqual(second.responses, [], 'throttled: no partition');
      // X = S / Q - W, W ten seconds and the time between the two fetches
      const most = 4 * batchBytes - 10_000;
      assert.ok(second.throttleTimeMs <= most && second.throttleTimeMs >= most - elapsed - 1, `${second.throttleTimeMs} against ${most}`);
    } finally {
      admin.close();
      reader.close();
    }
  });
});

test('partition mutations past controller_mutation_rate: refused from CreateTopics v6, DeleteTopics v5 and CreatePartitions v3, waited for before', async () => {
  await withBroker(async ({ bootstrap }) => {
    const admin = await KafkaClient.connectTo(bootstrap, 'admin');
    const tool = await KafkaClient.connectTo(bootstrap, 'tool');
    const legacy = await KafkaClient.connectTo(bootstrap, 'legacy');
    try {
      await setQuota(admin, [{ entityType: 'client-id', entityName: null }], { controller_mutation_rate: 1 });
      const topic = (name: string, numPartitions: number) => ({ name, numPartitions, replicationFactor: -1, assignments: [], configs: [] });
      const create = (c: KafkaClient, version: number, topics: ReturnType<typeof topic>[]) => c.send(19, version, { topics, timeoutMs: 5000, validateOnly: false });
      // a burst of eleven seconds' worth: the request that crosses it is allowed, the next topic refused
      const strict = await create(tool, 7, [topic('a', 6), topic('b', 6), topic('c', 1)]);
      assert.deepEqual(strict.topics.map((t: { name: string; errorCode: number }) => [t.name, t.errorCode]), [['a', 0], ['b', 0], ['c', E.THROTTLING_QUOTA_EXCEEDED]]);
      assert.ok(strict.throttleTimeMs > 900 && strict.throttleTimeMs <= 1_000, `${strict.throttleTimeMs}: one permit owed at one a second`);
      const metadata = await admin.send(3, 9, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      assert.deepEqual(metadata.topics.map((t: { name: string }) => t.name).sort(), ['a', 'b']);
      // before v6 every topic is created, and the client waits afterwards
      const permissive = await create(legacy, 5, [topic('d', 11), topic('e', 3)]);
      assert.deepEqual(permissive.topics.map((t: { errorCode: number }) => t.errorCode), [0, 0]);
      assert.ok(permissive.throttleTimeMs > 2_900 && permissive.throttleTimeMs <= 3_000, `${permissive.throttleTimeMs}`);
      // once its debt is paid, tool may go into debt once more (two partitions added, v3), and is then refused a
      // deletion (v5); legacy, still owing, deletes with v4 and waits afterwards
      await new Promise((resolve) => setTimeout(resolve, strict.throttleTimeMs + 50));
      const grown = await tool.send(37, 3, { topics: [{ name: 'b', count: 8, assignments: null }], timeoutMs: 5000, validateOnly: false });
      assert.equal(grown.results[0].errorCode, 0);
      assert.equal(grown.throttleTimeMs, 0, 'strict: no throttle when nothing was refused');
      const deleted = await tool.send(20, 6, { topics: [{ name: 'a', topicId: '0'.repeat(32) }], topicNames: [], timeoutMs: 5000 });
      assert.equal(deleted.responses[0].errorCode, E.THROTTLING_QUOTA_EXCEEDED);
      assert.ok(deleted.throttleTimeMs > 1_000 && deleted.throttleTimeMs <= 2_000, `${deleted.throttleTimeMs}`);
      const oldDelete = await legacy.send(20, 4, { topicNames: ['a'], timeoutMs: 5000 });
      assert.equal(oldDelete.responses[0].errorCode, 0);
      assert.ok(oldDelete.throttleTimeMs > 0);
    } finally {
      admin.close();
      tool.close();
      legacy.close();
    }
  });
});

test('a request past request_percentage waits at most a window; ApiVersions is never throttled', async () => {
  await withBroker(async ({ bootstrap }) => {
    const admin = await KafkaClient.connectTo(bootstrap, 'admin');
    const busy = await KafkaClient.connectTo(bootstrap, 'busy');
    try {
      await setQuota(admin, [{ entityType: 'client-id', entityName: 'busy' }], { request_percentage: 0.000_001 });
      const metadata = await busy.send(3, 9, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      assert.equal(metadata.throttleTimeMs, 1_000);
      const versions = await busy.send(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
      assert.equal(versions.throttleTimeMs, 0);
      const mine = await admin.send(3, 9, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      assert.equal(mine.throttleTimeMs, 0, 'another client id');
    } finally {
      admin.close();
      busy.close();
    }
  });
});

test('connections from an address past connection_creation_rate are held, then closed, and logged', async () => {
  const { logger, lines } = capturedLogger();
  await withBroker(async ({ bootstrap }) => {
    const admin = await KafkaClient.connectTo(bootstrap, 'admin');
    const opened: KafkaClient[] = [];
    try {
      await setQuota(admin, [{ entityType: 'ip', entityName: '127.0.0.1' }], { connection_creation_rate: 1 });
      // one a second over the ten seconds a rate is measured over at least: ten at once
      const started = Date.now();
      for (let i = 0; i < 10; i++) {
        const c = await KafkaClient.connectTo(bootstrap, `c${i}`);
        opened.push(c);
        assert.equal((await c.send(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })).errorCode, 0);
      }
      const refused = await KafkaClient.connectTo(bootstrap, 'eleventh');
      opened.push(refused);
      await assert.rejects(refused.send(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' }));
      const held = lines.find((l) => l.msg === 'closing connection: its address went past its connection_creation_rate quota');
      assert.equal(held?.host, '127.0.0.1');
      // X = 11 / 1 s - W, W ten seconds and the time since the first connection, which the broker took after `started`
      // and before it logged the eleventh's (on a busy machine, well after the client's connect returned)
      const elapsed = (held.time as number) - started;
      const throttle = held.throttleMs as number;
      assert.ok(throttle <= 1_000 && throttle >= 1_000 - elapsed - 1, `${throttle}`);
      assert.equal((await admin.send(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' })).errorCode, 0, 'open connections are untouched');
    } finally {
      admin.close();
      for (const c of opened) c.close();
    }
  }, { logger });
});
