// Client quotas as the broker keeps and applies them, at chosen times: entities checked as Kafka checks them, each
// entity's changes all or none, DescribeClientQuotas' filters, the eight levels of precedence and who shares a
// limit, the file across restarts, and the throttles of each quota.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLIENT_QUOTAS_FILE, ClientQuotaStore, type QuotaChange } from '../../src/broker/client-quotas.js';
import { ClientThrottling, type QuotaClient } from '../../src/broker/client-throttling.js';
import type { Clock } from '../../src/io/clock.js';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { ErrorCode as E } from '../../src/protocol/errors.js';
import { withTempDir } from '../helpers/temp-dir.js';

type Part = { entityType: string; entityName: string | null };
const user = (name: string | null): Part => ({ entityType: 'user', entityName: name });
const client = (name: string | null): Part => ({ entityType: 'client-id', entityName: name });
const ip = (name: string | null): Part => ({ entityType: 'ip', entityName: name });
const set = (entity: Part[], values: Record<string, number>): QuotaChange => ({ entity, ops: Object.entries(values).map(([key, value]) => ({ key, value, remove: false })) });
const remove = (entity: Part[], ...keys: string[]): QuotaChange => ({ entity, ops: keys.map((key) => ({ key, value: 0, remove: true })) });

async function withStore(fn: (store: ClientQuotaStore, dir: string) => Promise<void>, fs: FileSystem = nodeFileSystem): Promise<void> {
  await withTempDir(async (dir) => fn(await ClientQuotaStore.open(fs, dir), dir));
}

const errors = (results: ({ code: number; message: string } | null)[]) => results.map((r) => (r === null ? null : [r.code, r.message]));
const listed = (store: ClientQuotaStore, components: { entityType: string; matchType: number; match?: string | null }[], strict = false) =>
  store.describe(components, strict).map((e) => [e.entity, Object.fromEntries(e.values)]).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

test('entities and values are checked as Kafka checks them; each entity\'s changes apply all or none', async () => {
  await withStore(async (store) => {
    const results = await store.alter([
      set([user('alice')], { producer_byte_rate: 1024, consumer_byte_rate: 2048 }),
      set([user('bob')], { producer_byte_rate: 1024, request_percentage: -5 }),
      set([user('carol'), client('app')], { controller_mutation_rate: 2.5, request_percentage: 50 }),
      set([ip('10.0.0.1')], { connection_creation_rate: 10 }),
      set([ip('10.0.0.2')], { producer_byte_rate: 10 }),
      set([ip('example.com')], { connection_creation_rate: 10 }),
      set([user('dave'), ip('10.0.0.3')], { producer_byte_rate: 10 }),
      set([{ entityType: 'group', entityName: 'g' }], { producer_byte_rate: 10 }),
      set([user('erin'), user('frank')], { producer_byte_rate: 10 }),
      set([user('')], { producer_byte_rate: 10 }),
      set([], { producer_byte_rate: 10 }),
      set([client(null)], { producer_byte_rate: 10.5 }),
      set([client('x')], { unknown_rate: 1 }),
      { entity: [user('gina')], ops: [{ key: 'producer_byte_rate', value: 1, remove: false }, { key: 'producer_byte_rate', value: 2, remove: false }] },
      set([user('alice')], { request_percentage: 10 }),
    ], false);
    assert.deepEqual(errors(results as never), [
      null,
      [E.INVALID_REQUEST, 'quota request_percentage must be a positive number, got -5'],
      null,
      null,
      [E.INVALID_REQUEST, 'invalid quota key producer_byte_rate for an ip entity (connection_creation_rate)'],
      [E.INVALID_REQUEST, 'example.com is not a valid IP address'],
      [E.INVALID_REQUEST, 'an ip quota entity cannot be combined with user or client-id'],
      [E.INVALID_REQUEST, 'unknown quota entity type group (user, client-id or ip)'],
      [E.INVALID_REQUEST, 'quota entity type user appears twice'],
      [E.INVALID_REQUEST, 'an empty user is not an entity; a null name is the default'],
      [E.INVALID_REQUEST, 'a quota entity needs at least one part'],
      [E.INVALID_REQUEST, 'quota producer_byte_rate must be a whole number, got 10.5'],
      [E.INVALID_REQUEST, 'invalid quota key unknown_rate for a user or client-id entity (producer_byte_rate, consumer_byte_rate, request_percentage, controller_mutation_rate)'],
      [E.INVALID_REQUEST, 'quota key producer_byte_rate appears twice for the entity'],
      [E.INVALID_REQUEST, 'the entity appears twice in the request'],
    ]);
    assert.deepEqual(listed(store, []), [
      [{ ip: '10.0.0.1' }, { connection_creation_rate: 10 }],
      [{ user: 'alice' }, { consumer_byte_rate: 2048, producer_byte_rate: 1024 }],
      [{ user: 'carol', 'client-id': 'app' }, { controller_mutation_rate: 2.5, request_percentage: 50 }],
    ]);
    // removing a key keeps the others; removing the last removes the entity; validate_only changes nothing
    assert.deepEqual(await store.alter([remove([user('alice')], 'producer_byte_rate'), remove([ip('10.0.0.1')], 'connection_creation_rate')], false), [null, null]);
    assert.deepEqual(await store.alter([set([user('zed')], { producer_byte_rate: 5 })], true), [null]);
    assert.deepEqual(listed(store, []), [
      [{ user: 'alice' }, { consumer_byte_rate: 2048 }],
      [{ user: 'carol', 'client-id': 'app' }, { controller_mutation_rate: 2.5, request_percentage: 50 }],
    ]);
  });
});

test('DescribeClientQuotas matches by name, by default or by any name, strictly or not, and refuses bad filters', async () => {
  await withStore(async (store) => {
    await store.alter([
      set([user('alice')], { producer_byte_rate: 1 }),
      set([user(null)], { producer_byte_rate: 2 }),
      set([user('alice'), client('app')], { producer_byte_rate: 3 }),
      set([user('alice'), client(null)], { producer_byte_rate: 4 }),
      set([client('app')], { producer_byte_rate: 5 }),
      set([ip(null)], { connection_creation_rate: 6 }),
    ], false);
    const values = (components: { entityType: string; matchType: number; match?: string | null }[], strict = false) =>
      listed(store, components, strict).map(([, v]) => (v as Record<string, number>).producer_byte_rate ?? (v as Record<string, number>).connection_creation_rate).sort();
    assert.deepEqual(values([]), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(values([], true), []);
    assert.deepEqual(values([{ entityType: 'user', matchType: 0, match: 'alice' }]), [1, 3, 4]);
    assert.deepEqual(values([{ entityType: 'user', matchType: 0, match: 'alice' }], true), [1]);
    assert.deepEqual(values([{ entityType: 'user', matchType: 1 }]), [2]);
    assert.deepEqual(values([{ entityType: 'user', matchType: 2 }]), [1, 2, 3, 4]);
    assert.deepEqual(values([{ entityType: 'user', matchType: 0, match: 'alice' }, { entityType: 'client-id', matchType: 2 }]), [3, 4]);
    assert.deepEqual(values([{ entityType: 'user', matchType: 0, match: 'alice' }, { entityType: 'client-id', matchType: 1 }], true), [4]);
    assert.deepEqual(values([{ entityType: 'client-id', matchType: 0, match: 'app' }], true), [5]);
    assert.deepEqual(values([{ entityType: 'ip', matchType: 1 }]), [6]);
    const refusal = (components: { entityType: string; matchType: number; match?: string | null }[]) => {
      try {
        store.describe(components, false);
        return null;
      } catch (err) {
        return [(err as { code: number }).code, (err as Error).message];
      }
    };
    assert.deepEqual(refusal([{ entityType: 'group', matchType: 2 }]), [E.UNSUPPORTED_VERSION, 'unsupported quota entity type group']);
    assert.deepEqual(refusal([{ entityType: 'user', matchType: 0, match: null }]), [E.INVALID_REQUEST, 'an exact match needs a name to match']);
    assert.deepEqual(refusal([{ entityType: 'user', matchType: 1, match: 'x' }]), [E.INVALID_REQUEST, 'match type 1 takes no name to match']);
    assert.deepEqual(refusal([{ entityType: 'user', matchType: 7 }]), [E.INVALID_REQUEST, 'unknown match type 7']);
    assert.deepEqual(refusal([{ entityType: 'user', matchType: 2 }, { entityType: 'user', matchType: 1 }]), [E.INVALID_REQUEST, 'entity type user appears more than once in the filter']);
    assert.deepEqual(refusal([{ entityType: 'ip', matchType: 2 }, { entityType: 'user', matchType: 1 }]), [E.INVALID_REQUEST, 'an ip filter cannot be combined with user or client-id filters']);
  });
});

test('a client\'s limit follows Kafka\'s eight levels of precedence, and the level decides which clients share it', async () => {
  await withStore(async (store) => {
    const levels: [Part[], number][] = [
      [[user('alice'), client('app')], 1],
      [[user('alice'), client(null)], 2],
      [[user('alice')], 3],
      [[user(null), client('app')], 4],
      [[user(null), client(null)], 5],
      [[user(null)], 6],
      [[client('app')], 7],
      [[client(null)], 8],
    ];
    await store.alter(levels.map(([entity, limit]) => set(entity, { producer_byte_rate: limit })), false);
    const usages = ['alice\u0000app', 'alice\u0000app', 'alice\u0000', 'alice\u0000app', 'alice\u0000app', 'alice\u0000', '\u0000app', '\u0000app'];
    for (const [i, [entity, limit]] of levels.entries()) {
      assert.deepEqual(store.limitFor('producer_byte_rate', 'alice', 'app'), { limit, usage: usages[i] }, `level ${limit}`);
      await store.alter([remove(entity, 'producer_byte_rate')], false);
    }
    assert.equal(store.limitFor('producer_byte_rate', 'alice', 'app'), null);
    // each quota resolves apart: a user's consumer quota leaves its produce quota to the lower levels
    await store.alter([set([user('alice')], { consumer_byte_rate: 100 }), set([client('app')], { producer_byte_rate: 200 })], false);
    assert.deepEqual(store.limitFor('producer_byte_rate', 'alice', 'app'), { limit: 200, usage: '\u0000app' });
    assert.deepEqual(store.limitFor('consumer_byte_rate', 'alice', 'other'), { limit: 100, usage: 'alice\u0000' });
    // addresses: their own, else the default
    await store.alter([set([ip('10.0.0.1')], { connection_creation_rate: 3 }), set([ip(null)], { connection_creation_rate: 30 })], false);
    assert.equal(store.ipLimit('10.0.0.1'), 3);
    assert.equal(store.ipLimit('10.0.0.2'), 30);
  });
});

test('quotas outlast a restart; a write that fails changes nothing; a file that cannot be read stops the start', async () => {
  await withTempDir(async (dir) => {
    const first = await ClientQuotaStore.open(nodeFileSystem, dir);
    await first.alter([set([user('alice'), client(null)], { producer_byte_rate: 1024 }), set([ip('::1')], { connection_creation_rate: 5 })], false);
    const second = await ClientQuotaStore.open(nodeFileSystem, dir);
    assert.deepEqual(listed(second, []), listed(first, []));
    assert.equal(second.limitFor('producer_byte_rate', 'alice', 'any')?.limit, 1024);

    const failing: FileSystem = { ...nodeFileSystem, writeFileAtomic: () => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })) };
    const third = await ClientQuotaStore.open(failing, dir);
    await assert.rejects(third.alter([set([user('bob')], { producer_byte_rate: 1 })], false), /EIO/);
    assert.equal(third.limitFor('producer_byte_rate', 'bob', 'x'), null);
    assert.equal(third.size, 2);

    const path = join(dir, CLIENT_QUOTAS_FILE);
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.replace('"connection_creation_rate": 5', '"connection_creation_rate": -5'));
    await assert.rejects(ClientQuotaStore.open(nodeFileSystem, dir), /client-quotas\.json cannot be read \(an entry is not valid: quota connection_creation_rate must be a positive number, got -5\)/);
    await writeFile(path, '{');
    await assert.rejects(ClientQuotaStore.open(nodeFileSystem, dir), /client-quotas\.json cannot be read/);
  });
});

/** A clock the test moves; periodic work never runs by itself. */
function manualClock(): Clock & { at: number } {
  const clock = { at: 1_000_000, now: () => clock.at, every: () => () => undefined, after: () => () => undefined };
  return clock;
}

async function withThrottling(changes: QuotaChange[], fn: (t: ClientThrottling, clock: { at: number }, store: ClientQuotaStore) => Promise<void>): Promise<void> {
  await withStore(async (store) => {
    assert.ok((await store.alter(changes, false)).every((r) => r === null));
    const clock = manualClock();
    const throttling = new ClientThrottling(store, clock);
    try {
      await fn(throttling, clock, store);
    } finally {
      throttling.close();
    }
  });
}

const clientOf = (name: string, clientId: string | null): QuotaClient => ({ principal: `User:${name}`, clientId });

test('produce bytes are throttled per usage: a user\'s quota is shared by all its clients, a default client id\'s is not', async () => {
  await withThrottling([set([user('alice')], { producer_byte_rate: 10_000 }), set([user('bob'), client(null)], { producer_byte_rate: 10_000 })], async (t, clock, store) => {
    const alice1 = clientOf('alice', 'one');
    const alice2 = clientOf('alice', 'two');
    assert.equal(t.recordProduce(alice1, 60_000), 0, '6,000/s over the first ten seconds');
    // 60,000 + 60,000 over 10 s = 12,000/s: (12,000 - 10,000) / 10,000 × 10 s
    assert.equal(t.recordProduce(alice2, 60_000), 2_000);
    const bob1 = clientOf('bob', 'one');
    const bob2 = clientOf('bob', 'two');
    assert.equal(t.recordProduce(bob1, 60_000), 0);
    assert.equal(t.recordProduce(bob2, 60_000), 0, 'each of bob\'s client ids has its own usage');
    assert.equal(t.recordProduce(clientOf('carol', 'one'), 10_000_000), 0, 'no quota');
    // a change applies at the next request: alice's limit raised
    clock.at += 1;
    await store.alter([set([user('alice')], { producer_byte_rate: 100_000 })], false);
    assert.equal(t.recordProduce(alice1, 1), 0);
  });
});

test('a fetch is capped to what its quota allows over its measuring span, and a throttled fetch\'s bytes are taken back', async () => {
  await withThrottling([set([client('reader')], { consumer_byte_rate: 1_000 })], async (t, clock) => {
    const reader = clientOf('ANONYMOUS', 'reader');
    assert.equal(t.fetchByteCap(reader), 10_000);
    assert.equal(t.fetchByteCap(clientOf('ANONYMOUS', 'other')), Infinity);
    assert.equal(t.recordFetch(reader, 10_000), 0);
    assert.equal(t.recordFetch(reader, 5_000), 5_000, 'over: (1,500 - 1,000) / 1,000 × 10 s');
    // the 5,000 were taken back: once the rate is within the quota again, an empty fetch is not throttled
    clock.at += 500;
    assert.equal(t.recordFetch(reader, 0), 0);
  });
});

test('request time is a share of the event loop, and its throttle is at most one window', async () => {
  await withThrottling([set([user('alice')], { request_percentage: 10 })], async (t) => {
    const alice = clientOf('alice', null);
    assert.ok(t.requestTimeLimited);
    assert.equal(t.recordRequestTime(alice, 900), 0, '900 ms over 10 s is 9%');
    assert.equal(t.recordRequestTime(alice, 200), 1_000, '11%: 1 s unbounded, and bounded to a window anyway');
    assert.equal(t.recordRequestTime(alice, 10_000), 1_000);
  });
});

test('partition mutations: strict requests are refused once the permits are spent, permissive ones wait afterwards', async () => {
  await withThrottling([set([user('admin')], { controller_mutation_rate: 2 })], async (t, clock) => {
    const admin = clientOf('admin', 'tool');
    const strict = t.mutationsFor(admin, true);
    assert.equal(strict.take(20), true, 'within the burst of 22');
    assert.equal(strict.take(10), true, 'the request that crosses the burst is allowed');
    assert.equal(strict.take(1), false, 'then refused');
    assert.equal(strict.throttleTimeMs, 4_000, '8 permits owed at 2 a second');
    clock.at += 4_000;
    const later = t.mutationsFor(admin, true);
    assert.equal(later.take(1), true);
    assert.equal(later.throttleTimeMs, 0, 'strict: no throttle when nothing was refused');
    const permissive = t.mutationsFor(admin, false);
    assert.equal(permissive.take(5), true);
    assert.equal(permissive.throttleTimeMs, 3_000, '6 owed');
    const unlimited = t.mutationsFor(clientOf('bob', 'tool'), true);
    assert.equal(unlimited.take(1_000_000), true);
    assert.equal(unlimited.throttleTimeMs, 0);
  });
});

test('connections from an address past its rate are throttled for at most a window, and do not count', async () => {
  await withThrottling([set([ip('10.0.0.1')], { connection_creation_rate: 1 })], async (t, clock) => {
    for (let i = 0; i < 10; i++) assert.equal(t.recordConnection('10.0.0.1'), 0, `connection ${i}`);
    // the eleventh within the first ten seconds: 1.1/s over a bound of 1
    assert.equal(t.recordConnection('10.0.0.1'), 1_000);
    assert.equal(t.recordConnection('10.0.0.1'), 1_000, 'the refused one did not count, this one is refused the same');
    assert.equal(t.recordConnection('10.0.0.2'), 0, 'another address');
    // ten connections at once fill the ten seconds a rate is measured over at least...
    clock.at += 5_000;
    assert.equal(t.recordConnection('10.0.0.1'), 1_000);
    // ...until their sample ages out
    clock.at += 6_000;
    assert.equal(t.recordConnection('10.0.0.1'), 0);
  });
});

test('a connection\'s limits are resolved again when its principal or client id changes', async () => {
  await withThrottling([set([user('alice')], { producer_byte_rate: 1_000 }), set([client('app')], { producer_byte_rate: 1_000_000 })], async (t) => {
    const connection = { principal: 'User:ANONYMOUS', clientId: 'app' as string | null };
    assert.equal(t.recordProduce(connection, 20_000), 0, 'the client id\'s quota');
    connection.principal = 'User:alice';
    assert.equal(t.recordProduce(connection, 20_000), 10_000, 'alice\'s: 2,000/s against 1,000/s');
    connection.principal = 'User:bob';
    connection.clientId = 'other';
    assert.equal(t.recordProduce(connection, 10_000_000), 0, 'no quota');
  });
});
