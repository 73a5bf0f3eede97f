// ACLs with real clients: kafka-python's, kafkajs's and @platformatic/kafka's admin clients manage them (ACL APIs v1,
// v1 and v3); librdkafka and kafkajs are refused as the ACLs say and served once granted, with the principal from
// SASL or from a TLS client certificate.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Admin, type Acl as PlatformaticAcl, type AclFilter as PlatformaticAclFilter } from '@platformatic/kafka';
import kafkajs, { Kafka, logLevel } from 'kafkajs';
import { AclOperation as Op, AclPermission, PatternType, ResourceType, type AclBinding } from '../../src/protocol/acl.js';
import type { StartBrokerOptions } from '../../src/index.js';
import { withBroker } from '../helpers/broker.js';
import { python } from './python-clients.js';
import { TLS_FIXTURES_DIR } from '../helpers/tls-fixtures.js';

// kafkajs is CommonJS: its enums are read off the default export
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;
const USERS = { admin: 'admin-secret', alice: 'alice-secret' };
const ACLS: StartBrokerOptions = { sasl: { users: USERS }, acls: { enabled: true, superUsers: ['User:admin'] } };

const allow = (resourceType: number, resourceName: string, principal: string, operation: number, patternType: number = PatternType.LITERAL): AclBinding => ({
  resourceType, resourceName, patternType, principal, host: '*', operation, permission: AclPermission.ALLOW,
});

test('kafka-python\'s admin client creates, lists and deletes ACLs (v1); a binding Kafka would refuse fails alone', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    const login = JSON.stringify({ security_protocol: 'SASL_PLAINTEXT', sasl_mechanism: 'SCRAM-SHA-512', sasl_plain_username: 'admin', sasl_plain_password: 'admin-secret' });
    const acls = [
      ['TOPIC', 'orders', 'LITERAL', 'User:alice', '*', 'READ', 'ALLOW'],
      ['TOPIC', 'logs-', 'PREFIXED', 'User:alice', '10.0.0.1', 'WRITE', 'ALLOW'],
      ['TOPIC', 'gone', 'LITERAL', 'User:bob', '*', 'ALL', 'DENY'],
      ['GROUP', 'readers', 'LITERAL', 'User:alice', '*', 'READ', 'ALLOW'],
      ['TOPIC', 'bad', 'LITERAL', 'alice', '*', 'READ', 'ALLOW'],
    ];
    const [out] = await python('kp-acls', [bootstrap, login, JSON.stringify(acls)]);
    assert.deepEqual(out, {
      failed: [[['TOPIC', 'bad', 'LITERAL', 'alice', '*', 'READ', 'ALLOW'], 'InvalidRequestError']],
      listed: [
        ['TOPIC', 'gone', 'LITERAL', 'User:bob', '*', 'ALL', 'DENY'],
        ['TOPIC', 'logs-', 'PREFIXED', 'User:alice', '10.0.0.1', 'WRITE', 'ALLOW'],
        ['TOPIC', 'orders', 'LITERAL', 'User:alice', '*', 'READ', 'ALLOW'],
      ],
      deleted: [['TOPIC', 'gone', 'LITERAL', 'User:bob', '*', 'ALL', 'DENY']],
      after: [
        ['TOPIC', 'logs-', 'PREFIXED', 'User:alice', '10.0.0.1', 'WRITE', 'ALLOW'],
        ['TOPIC', 'orders', 'LITERAL', 'User:alice', '*', 'READ', 'ALLOW'],
      ],
    });
    assert.equal(broker.authorizer!.size, 3);
    const stored = JSON.parse(await readFile(join(broker.config.dataDir, 'acls.json'), 'utf8'));
    assert.deepEqual(stored.acls.map((a: { resourceName: string }) => a.resourceName).sort(), ['logs-', 'orders', 'readers']);
  }, ACLS);
});

test('librdkafka (confluent-kafka) over SASL: refused the topic, then the group, then served, as ACLs are granted', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    const alice = JSON.stringify({ 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': 'SCRAM-SHA-256', 'sasl.username': 'alice', 'sasl.password': 'alice-secret' });
    const attempt = async () => (await python('confluent-authorized', [bootstrap, 'orders', 'readers', alice]))[0] as { produce: string | null; consumed: string[]; consume: string[] };
    await broker.createTopic('orders', 1, {});
    // refused the group (its coordinator; the topic's metadata may be refused beside it)
    const nothing = await attempt();
    assert.deepEqual([nothing.produce, nothing.consumed], ['TOPIC_AUTHORIZATION_FAILED', []]);
    assert.ok(nothing.consume.includes('GROUP_AUTHORIZATION_FAILED'), `${nothing.consume}`);
    await broker.authorizer!.create([allow(ResourceType.GROUP, 'readers', 'User:alice', Op.READ)]);
    assert.deepEqual(await attempt(), { produce: 'TOPIC_AUTHORIZATION_FAILED', consumed: [], consume: ['TOPIC_AUTHORIZATION_FAILED'] });
    await broker.authorizer!.create([allow(ResourceType.TOPIC, 'orders', 'User:alice', Op.WRITE), allow(ResourceType.TOPIC, 'ord', 'User:alice', Op.READ, PatternType.PREFIXED)]);
    assert.deepEqual(await attempt(), { produce: null, consumed: ['granted'], consume: [] });
    assert.equal(broker.logs.getLog('orders', 0)!.logEndOffset, 1, 'the refused produces stored nothing');
  }, ACLS);
});

test('librdkafka over TLS with a client certificate: the principal is its distinguished name, User:CN=alice', async () => {
  const tlsFile = (name: string) => readFile(join(TLS_FIXTURES_DIR, name));
  const tls = { cert: await tlsFile('server.pem'), key: await tlsFile('server.key'), ca: await tlsFile('ca.pem'), clientAuth: 'required' as const };
  await withBroker(async ({ bootstrap, broker }) => {
    const alice = JSON.stringify({
      'security.protocol': 'SSL', 'ssl.ca.location': join(TLS_FIXTURES_DIR, 'ca.pem'),
      'ssl.certificate.location': join(TLS_FIXTURES_DIR, 'client.pem'), 'ssl.key.location': join(TLS_FIXTURES_DIR, 'client.key'),
    });
    await broker.createTopic('orders', 1, {});
    await broker.authorizer!.create([allow(ResourceType.TOPIC, 'orders', 'User:alice', Op.ALL), allow(ResourceType.GROUP, 'readers', 'User:alice', Op.ALL)]);
    const refused = (await python('confluent-authorized', [bootstrap, 'orders', 'readers', alice]))[0] as { produce: string | null; consumed: string[]; consume: string[] };
    assert.deepEqual([refused.produce, refused.consumed], ['TOPIC_AUTHORIZATION_FAILED', []], 'User:alice is not User:CN=alice');
    assert.ok(refused.consume.includes('GROUP_AUTHORIZATION_FAILED'), `${refused.consume}`);
    await broker.authorizer!.create([allow(ResourceType.TOPIC, 'orders', 'User:CN=alice', Op.ALL), allow(ResourceType.GROUP, 'readers', 'User:CN=alice', Op.ALL)]);
    assert.deepEqual((await python('confluent-authorized', [bootstrap, 'orders', 'readers', alice]))[0], { produce: null, consumed: ['granted'], consume: [] });
  }, { tls, acls: { enabled: true } });
});

test('librdkafka over TLS with principal mapping rules: its certificate names User:alice', async () => {
  const tlsFile = (name: string) => readFile(join(TLS_FIXTURES_DIR, name));
  const tls = { cert: await tlsFile('server.pem'), key: await tlsFile('server.key'), ca: await tlsFile('ca.pem'), clientAuth: 'required' as const };
  const alice = JSON.stringify({
    'security.protocol': 'SSL', 'ssl.ca.location': join(TLS_FIXTURES_DIR, 'ca.pem'),
    'ssl.certificate.location': join(TLS_FIXTURES_DIR, 'client.pem'), 'ssl.key.location': join(TLS_FIXTURES_DIR, 'client.key'),
  });
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('orders', 1, {});
    await broker.authorizer!.create([allow(ResourceType.TOPIC, 'orders', 'User:alice', Op.ALL), allow(ResourceType.GROUP, 'readers', 'User:alice', Op.ALL)]);
    assert.deepEqual((await python('confluent-authorized', [bootstrap, 'orders', 'readers', alice]))[0], { produce: null, consumed: ['granted'], consume: [] });
  }, { tls, acls: { enabled: true }, principalMappingRules: 'RULE:^CN=([^,]+)$/$1/L, DEFAULT' });
});

test('kafkajs: its admin client creates, lists and deletes ACLs; its producer is refused with TOPIC_AUTHORIZATION_FAILED until granted WRITE', async () => {
  await withBroker(async ({ bootstrap }) => {
    const kafka = (username: keyof typeof USERS) =>
      new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, sasl: { mechanism: 'scram-sha-512', username, password: USERS[username] } });
    const admin = kafka('admin').admin();
    await admin.connect();
    const producer = kafka('alice').producer();
    await producer.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'orders' }] });
      // kafkajs asks Metadata first, and wraps the refusal
      await assert.rejects(producer.send({ topic: 'orders', messages: [{ value: 'x' }] }), (err: Error & { cause?: { type?: string } }) => {
        assert.deepEqual([err.message, err.cause?.type], ['Not authorized to access topics: [Topic authorization failed]', 'TOPIC_AUTHORIZATION_FAILED']);
        return true;
      });
      const write = {
        resourceType: AclResourceTypes.TOPIC, resourceName: 'orders', resourcePatternType: ResourcePatternTypes.LITERAL,
        principal: 'User:alice', host: '*', operation: AclOperationTypes.WRITE, permissionType: AclPermissionTypes.ALLOW,
      };
      await admin.createAcls({ acl: [write] });
      const described = await admin.describeAcls({
        resourceType: AclResourceTypes.TOPIC, resourceName: 'orders', resourcePatternType: ResourcePatternTypes.MATCH,
        operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY,
      });
      assert.deepEqual(described.resources, [{
        resourceType: AclResourceTypes.TOPIC, resourceName: 'orders', resourcePatternType: ResourcePatternTypes.LITERAL,
        acls: [{ principal: 'User:alice', host: '*', operation: AclOperationTypes.WRITE, permissionType: AclPermissionTypes.ALLOW }],
      }]);
      const [sent] = await producer.send({ topic: 'orders', messages: [{ value: 'x' }] });
      assert.deepEqual([sent!.errorCode, sent!.baseOffset], [0, '0']);
      const removed = await admin.deleteAcls({ filters: [{ ...write, operation: AclOperationTypes.ANY }] });
      assert.deepEqual(removed.filterResponses.map((f) => [f.errorCode, f.matchingAcls.map((m) => m.principal)]), [[0, ['User:alice']]]);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  }, ACLS);
});

test('@platformatic/kafka: its admin client creates, lists and deletes ACLs (v3); a client without ALTER on the cluster is refused', async () => {
  await withBroker(async ({ bootstrap }) => {
    const admin = (username: keyof typeof USERS) => new Admin({ clientId: 'acls', bootstrapBrokers: [bootstrap], sasl: { mechanism: 'SCRAM-SHA-256', username, password: USERS[username] } });
    const root = admin('admin');
    const alice = admin('alice');
    try {
      const read = { resourceType: ResourceType.GROUP, resourceName: 'team-', resourcePatternType: PatternType.PREFIXED, principal: 'User:alice', host: '*', operation: Op.READ, permissionType: AclPermission.ALLOW } as PlatformaticAcl;
      await root.createAcls({ creations: [read] });
      const filter = { resourceType: ResourceType.ANY, resourceName: null, resourcePatternType: PatternType.ANY, principal: null, host: null, operation: Op.ANY, permissionType: AclPermission.ANY } as PlatformaticAclFilter;
      const listed = await root.describeAcls({ filter });
      assert.deepEqual(listed.map((r) => [r.resourceType, r.resourceName, r.resourcePatternType, r.acls.map((a) => [a.principal, a.operation])]), [[ResourceType.GROUP, 'team-', PatternType.PREFIXED, [['User:alice', Op.READ]]]]);
      await assert.rejects(alice.createAcls({ creations: [{ ...read, resourceName: 'mine' }] }), (err: Error) => {
        // the answer's error, several wrappings deep
        assert.match(JSON.stringify(err, Object.getOwnPropertyNames(err)), /"message":"Cluster authorization failed\."/);
        return true;
      });
      const deleted = await root.deleteAcls({ filters: [filter] });
      assert.deepEqual(deleted.map((a) => a.resourceName), ['team-']);
      assert.deepEqual(await root.describeAcls({ filter }), []);
    } finally {
      await root.close();
      await alice.close();
    }
  }, ACLS);
});
