// The ACL authorizer's decisions (Kafka's rules: deny wins, implied DESCRIBE, wildcards and prefixes, super users),
// the filters of DescribeAcls and DeleteAcls, and the ACL file: kept across opens, never half-applied, and a file
// that cannot be read stops the start.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import {
  AclOperation as Op, AclPermission, PatternType, ResourceType, invalidBinding, type AclBinding, type AclFilter,
} from '../../src/protocol/acl.js';
import { ACL_FILE, Authorizer, type AuthorizerConfig } from '../../src/broker/authorizer.js';
import { withTempDir } from '../helpers/temp-dir.js';

const silent = pino({ level: 'silent' });
const alice = { principal: 'User:alice', host: '127.0.0.1' };
const bob = { principal: 'User:bob', host: '10.0.0.2' };
const T = ResourceType.TOPIC;

function acl(partial: Partial<AclBinding>): AclBinding {
  return {
    resourceType: T, resourceName: 'orders', patternType: PatternType.LITERAL, principal: 'User:alice', host: '*',
    operation: Op.READ, permission: AclPermission.ALLOW, ...partial,
  };
}

const ANY_FILTER: AclFilter = {
  resourceType: ResourceType.ANY, resourceName: null, patternType: PatternType.ANY, principal: null, host: null, operation: Op.ANY, permission: AclPermission.ANY,
};

async function withAuthorizer(acls: AclBinding[], fn: (a: Authorizer, dir: string) => Promise<void>, config: AuthorizerConfig = {}, fs: FileSystem = nodeFileSystem): Promise<void> {
  await withTempDir(async (dir) => {
    const a = await Authorizer.open(fs, dir, config, silent);
    await a.create(acls);
    await fn(a, dir);
  });
}

test('no ACL on a resource: closed, unless allowEveryoneIfNoAclFound; a super user may do anything', async () => {
  await withAuthorizer([], async (a) => {
    assert.equal(a.authorize(alice, Op.READ, T, 'orders'), false);
    assert.equal(a.authorize({ ...alice, principal: 'User:admin' }, Op.DELETE, T, 'orders'), true);
    assert.equal(a.authorize({ ...alice, principal: 'User:admin' }, Op.ALTER, ResourceType.CLUSTER, 'kafka-cluster'), true);
  }, { superUsers: ['User:admin'] });
  await withAuthorizer([acl({ resourceName: 'payments' })], async (a) => {
    assert.equal(a.authorize(bob, Op.WRITE, T, 'orders'), true, 'no ACL names orders');
    assert.equal(a.authorize(bob, Op.READ, T, 'payments'), false, 'payments has an ACL, for alice only');
  }, { allowEveryoneIfNoAclFound: true });
});

test('matching: literal name, the * wildcard, prefixes, User:*, hosts; DENY wins; READ, WRITE, DELETE and ALTER imply DESCRIBE', async () => {
  await withAuthorizer(
    [
      acl({}),
      acl({ resourceName: 'logs-', patternType: PatternType.PREFIXED, operation: Op.WRITE }),
      acl({ resourceName: '*', principal: 'User:*', operation: Op.DESCRIBE, host: '10.0.0.2' }),
      acl({ resourceName: 'logs-secret', permission: AclPermission.DENY, operation: Op.ALL }),
      acl({ resourceName: 'cfg', operation: Op.ALTER_CONFIGS }),
      acl({ resourceName: 'deleted', operation: Op.DELETE, principal: 'User:bob' }),
    ],
    async (a) => {
      assert.equal(a.authorize(alice, Op.READ, T, 'orders'), true);
      assert.equal(a.authorize(alice, Op.WRITE, T, 'orders'), false, 'READ does not give WRITE');
      assert.equal(a.authorize(alice, Op.DESCRIBE, T, 'orders'), true, 'READ implies DESCRIBE');
      assert.equal(a.authorize(alice, Op.WRITE, T, 'logs-app'), true, 'prefix');
      assert.equal(a.authorize(alice, Op.WRITE, T, 'logs'), false, 'shorter than the prefix');
      assert.equal(a.authorize(alice, Op.WRITE, T, 'logs-secret'), false, 'a literal DENY of ALL wins over the prefixed ALLOW');
      assert.equal(a.authorize(alice, Op.DESCRIBE, T, 'logs-secret'), false);
      assert.equal(a.authorize(bob, Op.DESCRIBE, T, 'anything'), true, 'User:* from its host on *');
      assert.equal(a.authorize({ ...bob, host: '10.0.0.3' }, Op.DESCRIBE, T, 'anything'), false, 'another host');
      assert.equal(a.authorize(bob, Op.DESCRIBE, T, 'logs-secret'), true, 'the DENY is for alice');
      assert.equal(a.authorize(alice, Op.DESCRIBE_CONFIGS, T, 'cfg'), true, 'ALTER_CONFIGS implies DESCRIBE_CONFIGS');
      assert.equal(a.authorize(alice, Op.DESCRIBE, T, 'cfg'), false, 'but not DESCRIBE');
      assert.equal(a.authorize(bob, Op.DESCRIBE, T, 'deleted'), true, 'DELETE implies DESCRIBE');
      assert.equal(a.authorize(alice, Op.READ, ResourceType.GROUP, 'orders'), false, 'ACLs are per resource type');
      const bits = (ops: number[]) => ops.reduce((b, op) => b | (1 << op), 0);
      assert.equal(a.operations(alice, T, 'orders'), bits([Op.READ, Op.DESCRIBE]));
      assert.equal(a.operations(alice, T, 'logs-x'), bits([Op.WRITE, Op.DESCRIBE]));
    },
  );
  // a DENY of one operation leaves the others, including the DESCRIBE an ALLOW of it would imply
  await withAuthorizer([acl({ operation: Op.ALL }), acl({ permission: AclPermission.DENY, operation: Op.READ })], async (a) => {
    assert.equal(a.authorize(alice, Op.READ, T, 'orders'), false);
    assert.equal(a.authorize(alice, Op.WRITE, T, 'orders'), true);
    assert.equal(a.authorize(alice, Op.DESCRIBE, T, 'orders'), true);
  });
  // a prefixed DENY covers what a literal ALLOW names
  await withAuthorizer([acl({}), acl({ resourceName: 'ord', patternType: PatternType.PREFIXED, permission: AclPermission.DENY, principal: 'User:*' })], async (a) => {
    assert.equal(a.authorize(alice, Op.READ, T, 'orders'), false);
  });
});

test('authorizeAny (an idempotent producer\'s WRITE on some topic): an ALLOW no DENY covers whole', async () => {
  const write = (acls: AclBinding[], config: AuthorizerConfig = {}) =>
    new Promise<boolean>((resolve, reject) => withAuthorizer(acls, async (a) => resolve(a.authorizeAny(alice, Op.WRITE, T)), config).catch(reject));
  assert.equal(await write([]), false);
  assert.equal(await write([], { allowEveryoneIfNoAclFound: true }), true);
  assert.equal(await write([acl({ operation: Op.WRITE })]), true);
  assert.equal(await write([acl({ operation: Op.READ })]), false);
  assert.equal(await write([acl({ operation: Op.ALL, principal: 'User:*' })]), true);
  assert.equal(await write([acl({ operation: Op.WRITE }), acl({ operation: Op.WRITE, permission: AclPermission.DENY })]), false, 'the same name denied');
  assert.equal(await write([acl({ operation: Op.WRITE }), acl({ resourceName: 'or', patternType: PatternType.PREFIXED, operation: Op.WRITE, permission: AclPermission.DENY })]), false, 'denied by a prefix');
  assert.equal(await write([acl({ operation: Op.WRITE, resourceName: 'logs-', patternType: PatternType.PREFIXED }), acl({ resourceName: 'logs-x', operation: Op.WRITE, permission: AclPermission.DENY })]), true, 'a literal DENY leaves the rest of the prefix');
  assert.equal(await write([acl({ operation: Op.WRITE }), acl({ resourceName: '*', operation: Op.WRITE, permission: AclPermission.DENY })], { allowEveryoneIfNoAclFound: true }), false, 'every topic denied');
  assert.equal(await write([acl({ operation: Op.WRITE, host: '10.9.9.9' })]), false, 'from another host');
});

test('filters: ANY, MATCH (every pattern that applies to a name), LITERAL and PREFIXED, and each field', async () => {
  const literal = acl({});
  const wildcard = acl({ resourceName: '*', principal: 'User:bob' });
  const prefixed = acl({ resourceName: 'ord', patternType: PatternType.PREFIXED, operation: Op.WRITE });
  const other = acl({ resourceName: 'payments', permission: AclPermission.DENY, host: '10.0.0.1' });
  const group = acl({ resourceType: ResourceType.GROUP, resourceName: 'orders' });
  await withAuthorizer([literal, wildcard, prefixed, other, group], async (a) => {
    const names = (f: Partial<AclFilter>) => a.list({ ...ANY_FILTER, ...f }).map((b) => `${b.resourceType}/${b.patternType}/${b.resourceName}/${b.principal}`);
    assert.equal(a.list(ANY_FILTER).length, 5);
    assert.deepEqual(names({ resourceType: T, resourceName: 'orders', patternType: PatternType.MATCH }), ['2/3/orders/User:alice', '2/3/*/User:bob', '2/4/ord/User:alice']);
    assert.deepEqual(names({ resourceName: 'orders', patternType: PatternType.ANY }), ['2/3/orders/User:alice', '3/3/orders/User:alice']);
    assert.deepEqual(names({ patternType: PatternType.PREFIXED }), ['2/4/ord/User:alice']);
    assert.deepEqual(names({ resourceType: T, patternType: PatternType.LITERAL, resourceName: 'ord' }), []);
    assert.deepEqual(names({ principal: 'User:bob' }), ['2/3/*/User:bob']);
    assert.deepEqual(names({ host: '10.0.0.1' }), ['2/3/payments/User:alice']);
    assert.deepEqual(names({ permission: AclPermission.DENY }), ['2/3/payments/User:alice']);
    assert.deepEqual(names({ operation: Op.WRITE }), ['2/4/ord/User:alice']);
    const removed = await a.delete([{ ...ANY_FILTER, resourceType: T, resourceName: 'orders', patternType: PatternType.MATCH }, { ...ANY_FILTER, operation: Op.WRITE }]);
    assert.deepEqual(removed.map((r) => r.length), [3, 1], 'each filter reports what it selected');
    assert.deepEqual(names({}), ['2/3/payments/User:alice', '3/3/orders/User:alice']);
  });
});

test('what CreateAcls refuses: unknown or ANY codes, operations a resource type lacks, bad principals, the cluster under another name', () => {
  assert.equal(invalidBinding(acl({})), null);
  assert.equal(invalidBinding(acl({ resourceType: ResourceType.CLUSTER, resourceName: 'kafka-cluster', operation: Op.IDEMPOTENT_WRITE })), null);
  const refusals: [Partial<AclBinding>, RegExp][] = [
    [{ resourceType: ResourceType.ANY }, /resource type ANY/],
    [{ resourceType: 99 }, /UNKNOWN\(99\)/],
    [{ patternType: PatternType.MATCH }, /LITERAL or PREFIXED/],
    [{ operation: Op.ANY }, /operation ANY does not apply/],
    [{ operation: Op.IDEMPOTENT_WRITE }, /IDEMPOTENT_WRITE does not apply to resource type TOPIC/],
    [{ resourceType: ResourceType.GROUP, operation: Op.WRITE }, /WRITE does not apply to resource type GROUP/],
    [{ permission: AclPermission.ANY }, /ALLOW or DENY/],
    [{ principal: 'alice' }, /Type:name/],
    [{ principal: 'User:' }, /Type:name/],
    [{ resourceName: '' }, /name is empty/],
    [{ host: '' }, /host is empty/],
    [{ resourceType: ResourceType.CLUSTER, resourceName: 'prod', operation: Op.ALTER }, /kafka-cluster/],
  ];
  for (const [change, reason] of refusals) assert.match(invalidBinding(acl(change)) ?? 'accepted', reason, JSON.stringify(change));
});

test('the ACL file: kept across opens, one copy of a binding created twice, a failed write changes nothing, an unreadable file stops the start', async () => {
  await withTempDir(async (dir) => {
    const first = await Authorizer.open(nodeFileSystem, dir, {}, silent);
    await first.create([acl({}), acl({ operation: Op.WRITE })]);
    await first.create([acl({})]);
    assert.equal(first.size, 2);
    const stored = JSON.parse(await readFile(join(dir, ACL_FILE), 'utf8'));
    assert.deepEqual(stored.acls[1], { resourceType: 'TOPIC', resourceName: 'orders', patternType: 'LITERAL', principal: 'User:alice', host: '*', operation: 'WRITE', permission: 'ALLOW' });

    let failing = true;
    const flaky: FileSystem = { ...nodeFileSystem, writeFileAtomic: (p, d, durable) => (failing ? Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })) : nodeFileSystem.writeFileAtomic(p, d, durable)) };
    const second = await Authorizer.open(flaky, dir, {}, silent);
    assert.equal(second.size, 2);
    assert.equal(second.authorize(alice, Op.WRITE, T, 'orders'), true);
    await assert.rejects(second.delete([ANY_FILTER]), /EIO/);
    await assert.rejects(second.create([acl({ resourceName: 'more' })]), /EIO/);
    assert.equal(second.size, 2, 'nothing changed in memory');
    assert.equal(second.authorize(alice, Op.READ, T, 'more'), false);
    failing = false;
    assert.deepEqual((await second.delete([{ ...ANY_FILTER, operation: Op.WRITE }]))[0]!.length, 1);
    assert.equal((await Authorizer.open(nodeFileSystem, dir, {}, silent)).size, 1);

    await writeFile(join(dir, ACL_FILE), '{"version":1,"acls":[{"resourceType":"TOPIC","resourceName":"x","patternType":"LITERAL","principal":"User:a","host":"*","operation":"REED","permission":"ALLOW"}]}');
    await assert.rejects(Authorizer.open(nodeFileSystem, dir, {}, silent), /acls\.json cannot be read \(ACL 0 has an unknown value "REED"\)/);
    await writeFile(join(dir, ACL_FILE), '{"version":1,"acls":[');
    await assert.rejects(Authorizer.open(nodeFileSystem, dir, {}, silent), /acls\.json cannot be read/);
  });
  await assert.rejects(withTempDir((dir) => Authorizer.open(nodeFileSystem, dir, { superUsers: ['admin'] }, silent)), /super users must be principals/);
});
