// SCRAM credentials managed at run time (DescribeUserScramCredentials, AlterUserScramCredentials) with Sluice's own
// client: a user added logs in with each mechanism and PLAIN, changes are refused with Kafka's codes, a user's
// changes apply all or none, removal ends logins, the credentials outlast a restart, and ACLs guard the APIs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { authenticate, scramClientFinal, type SaslLogin } from '../../src/admin/sasl-client.js';
import { saltedPassword, type ScramMechanism } from '../../src/broker/sasl-credentials.js';
import { SCRAM_CREDENTIALS_FILE } from '../../src/broker/scram-store.js';
import { ErrorCode as E } from '../../src/protocol/errors.js';
import type { StartBrokerOptions } from '../../src/index.js';
import { withBroker } from '../helpers/broker.js';
import { withTempDir } from '../helpers/temp-dir.js';

const SHA256 = 1;
const SHA512 = 2;
const CONFIGURED = { admin: 'admin-secret', alice: 'alice-secret' };
const options = (dataDir: string): StartBrokerOptions => ({ dataDir, sasl: { users: CONFIGURED }, acls: { enabled: true, superUsers: ['User:admin'] } });

async function loggedIn(bootstrap: string, login: SaslLogin): Promise<KafkaClient> {
  const c = await KafkaClient.connectTo(bootstrap);
  try {
    await authenticate(c, login);
    return c;
  } catch (err) {
    c.close();
    throw err;
  }
}

/** Whether `login` authenticates, closing the connection either way. */
async function canLogIn(bootstrap: string, login: SaslLogin): Promise<boolean> {
  try {
    (await loggedIn(bootstrap, login)).close();
    return true;
  } catch {
    return false;
  }
}

async function upsertion(name: string, mechanism: number, password: string, iterations = 4096) {
  const salt = randomBytes(16);
  const scram: ScramMechanism = mechanism === SHA256 ? 'SCRAM-SHA-256' : 'SCRAM-SHA-512';
  return { name, mechanism, iterations, salt, saltedPassword: await saltedPassword(password, scram, salt, iterations) };
}

const alter = (c: KafkaClient, deletions: { name: string; mechanism: number }[], upsertions: unknown[]) =>
  c.send(51, 0, { deletions, upsertions }).then((r) => r.results.map((x: { user: string; errorCode: number; errorMessage: string | null }) => [x.user, x.errorCode, x.errorMessage]));
const describe = (c: KafkaClient, users: string[] | null) =>
  c.send(50, 0, { users: users && users.map((name) => ({ name })) }).then((r) => ({
    errorCode: r.errorCode as number,
    results: r.results.map((x: { user: string; errorCode: number; credentialInfos: { mechanism: number; iterations: number }[] }) => [x.user, x.errorCode, x.credentialInfos.map((i) => [i.mechanism, i.iterations])]),
  }));

test('a user added through AlterUserScramCredentials logs in with each mechanism and PLAIN; removed, it no longer can; kept across a restart', async () => {
  await withTempDir(async (dataDir) => {
    await withBroker(async ({ bootstrap }) => {
      const admin = await loggedIn(bootstrap, { mechanism: 'SCRAM-SHA-512', username: 'admin', password: 'admin-secret' });
      try {
        assert.equal(await canLogIn(bootstrap, { mechanism: 'SCRAM-SHA-256', username: 'carol', password: 'carol-1' }), false);
        assert.deepEqual(await alter(admin, [], [await upsertion('carol', SHA256, 'carol-1', 8192), await upsertion('carol', SHA512, 'carol-1')]), [['carol', 0, null]]);
        for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN'] as const) {
          assert.equal(await canLogIn(bootstrap, { mechanism, username: 'carol', password: 'carol-1' }), true, mechanism);
          assert.equal(await canLogIn(bootstrap, { mechanism, username: 'carol', password: 'wrong' }), false, mechanism);
        }
        assert.deepEqual(await describe(admin, null), {
          errorCode: 0,
          results: [['admin', 0, [[SHA256, 4096], [SHA512, 4096]]], ['alice', 0, [[SHA256, 4096], [SHA512, 4096]]], ['carol', 0, [[SHA256, 8192], [SHA512, 4096]]]],
        });
        assert.deepEqual(await describe(admin, ['carol', 'nobody', 'alice', 'alice']), {
          errorCode: 0,
          results: [['carol', 0, [[SHA256, 8192], [SHA512, 4096]]], ['nobody', E.RESOURCE_NOT_FOUND, []], ['alice', E.DUPLICATE_RESOURCE, []]],
        });
        // a new password, and one mechanism removed
        assert.deepEqual(await alter(admin, [{ name: 'carol', mechanism: SHA512 }], [await upsertion('carol', SHA256, 'carol-2')]), [['carol', 0, null]]);
        assert.equal(await canLogIn(bootstrap, { mechanism: 'SCRAM-SHA-256', username: 'carol', password: 'carol-1' }), false);
        assert.equal(await canLogIn(bootstrap, { mechanism: 'SCRAM-SHA-256', username: 'carol', password: 'carol-2' }), true);
        assert.equal(await canLogIn(bootstrap, { mechanism: 'PLAIN', username: 'carol', password: 'carol-2' }), false, 'PLAIN checks SCRAM-SHA-512, removed');
        assert.deepEqual(await alter(admin, [], [await upsertion('dave', SHA512, 'dave-1')]), [['dave', 0, null]]);
      } finally {
        admin.close();
      }
      const stored = JSON.parse(await readFile(join(dataDir, SCRAM_CREDENTIALS_FILE), 'utf8'));
      assert.deepEqual(Object.keys(stored.users).sort(), ['carol', 'dave']);
      assert.deepEqual(Object.keys(stored.users.carol), ['SCRAM-SHA-256']);
      assert.doesNotMatch(JSON.stringify(stored), /carol-2/, 'no password kept');
      assert.equal((await stat(join(dataDir, SCRAM_CREDENTIALS_FILE))).mode & 0o777, 0o600, 'readable by the broker\'s user only');
    }, options(dataDir));
    // a restart keeps them; a broker may start with no configured user but stored ones
    await withBroker(async ({ bootstrap }) => {
      assert.equal(await canLogIn(bootstrap, { mechanism: 'SCRAM-SHA-256', username: 'carol', password: 'carol-2' }), true);
      const dave = await loggedIn(bootstrap, { mechanism: 'SCRAM-SHA-512', username: 'dave', password: 'dave-1' });
      try {
        // dave is a super user: he removes carol, whose next login fails
        assert.deepEqual(await alter(dave, [{ name: 'carol', mechanism: SHA256 }], []), [['carol', 0, null]]);
        assert.equal(await canLogIn(bootstrap, { mechanism: 'SCRAM-SHA-256', username: 'carol', password: 'carol-2' }), false);
        assert.deepEqual(await describe(dave, null), { errorCode: 0, results: [['dave', 0, [[SHA512, 4096]]]] });
      } finally {
        dave.close();
      }
    }, { dataDir, sasl: { users: {} }, acls: { enabled: true, superUsers: ['User:dave'] } });
    await writeFile(join(dataDir, SCRAM_CREDENTIALS_FILE), '{"version":1,"users":{"x":{"SCRAM-SHA-1":{}}}}');
    await assert.rejects(withBroker(async () => undefined, options(dataDir)), /scram-credentials\.json cannot be read \(user x has an unknown mechanism SCRAM-SHA-1\)/);
  });
});

test('AlterUserScramCredentials refusals, per user, all or none of a user\'s changes; both APIs need the cluster rights', async () => {
  await withTempDir(async (dataDir) => {
    await withBroker(async ({ bootstrap }) => {
      const admin = await loggedIn(bootstrap, { mechanism: 'SCRAM-SHA-256', username: 'admin', password: 'admin-secret' });
      const alice = await loggedIn(bootstrap, { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'alice-secret' });
      try {
        const good = await upsertion('erin', SHA256, 'erin-1');
        const results = await alter(admin, [{ name: 'frank', mechanism: SHA256 }, { name: 'gina', mechanism: 7 }], [
          good,
          await upsertion('', SHA256, 'x'),
          { ...(await upsertion('hal', SHA256, 'x')), iterations: 4095 },
          { ...(await upsertion('ivy', SHA512, 'x', 16_384)), iterations: 16_385 },
          { ...(await upsertion('jo', SHA256, 'x')), salt: Buffer.alloc(0) },
          { ...(await upsertion('kim', SHA512, 'x')), saltedPassword: Buffer.alloc(32) },
          await upsertion('alice', SHA256, 'taken'),
          // lee: one good change and one twice over; none applies
          await upsertion('lee', SHA512, 'x'), await upsertion('lee', SHA256, 'x'), await upsertion('lee', SHA256, 'y'),
        ]);
        assert.deepEqual(results, [
          ['frank', E.RESOURCE_NOT_FOUND, 'user frank has no SCRAM-SHA-256 credential to remove'],
          ['gina', E.UNSUPPORTED_SASL_MECHANISM, 'unknown SCRAM mechanism 7'],
          ['erin', 0, null],
          ['', E.UNACCEPTABLE_CREDENTIAL, 'the user name is empty'],
          ['hal', E.UNACCEPTABLE_CREDENTIAL, 'too few iterations: 4095, at least 4096'],
          ['ivy', E.UNACCEPTABLE_CREDENTIAL, 'too many iterations: 16385, at most 16384'],
          ['jo', E.UNACCEPTABLE_CREDENTIAL, 'the salt is empty'],
          ['kim', E.UNACCEPTABLE_CREDENTIAL, 'a SCRAM-SHA-512 salted password is 64 bytes, got 32'],
          ['alice', E.INVALID_REQUEST, 'user alice is one the broker was started with (its users file): change it there'],
          ['lee', E.DUPLICATE_RESOURCE, 'user lee\'s SCRAM-SHA-256 credential is changed twice in the request'],
        ]);
        assert.deepEqual((await describe(admin, null)).results.map((r: unknown[]) => r[0]), ['admin', 'alice', 'erin']);
        assert.equal(await canLogIn(bootstrap, { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'alice-secret' }), true, 'alice unchanged');

        // alice may not manage users
        assert.deepEqual(await alter(alice, [], [await upsertion('mallory', SHA256, 'x')]), [['mallory', E.CLUSTER_AUTHORIZATION_FAILED, 'not authorized to ALTER the cluster']]);
        const refused = await alice.send(50, 0, { users: null });
        assert.deepEqual([refused.errorCode, refused.results], [E.CLUSTER_AUTHORIZATION_FAILED, []]);
        assert.equal(await canLogIn(bootstrap, { mechanism: 'SCRAM-SHA-256', username: 'mallory', password: 'x' }), false);
      } finally {
        admin.close();
        alice.close();
      }
    }, options(dataDir));
  });
});

test('a SCRAM exchange finishes with the credential it began with, though the user is removed between its two messages', async () => {
  await withTempDir(async (dataDir) => {
    await withBroker(async ({ bootstrap }) => {
      const admin = await loggedIn(bootstrap, { mechanism: 'SCRAM-SHA-512', username: 'admin', password: 'admin-secret' });
      const c = await KafkaClient.connectTo(bootstrap);
      try {
        assert.deepEqual(await alter(admin, [], [await upsertion('carol', SHA256, 'carol-1')]), [['carol', 0, null]]);
        assert.equal((await c.send(17, 1, { mechanism: 'SCRAM-SHA-256' })).errorCode, 0);
        const firstBare = `n=carol,r=${randomBytes(18).toString('base64')}`;
        const serverFirst = (await c.send(36, 1, { authBytes: Buffer.from(`n,,${firstBare}`) })).authBytes.toString();
        assert.deepEqual(await alter(admin, [{ name: 'carol', mechanism: SHA256 }], []), [['carol', 0, null]]);
        const { message, serverFinal } = await scramClientFinal('SCRAM-SHA-256', 'carol-1', firstBare, serverFirst);
        const final = await c.send(36, 1, { authBytes: Buffer.from(message) });
        assert.deepEqual([final.errorCode, final.authBytes.toString()], [0, serverFinal]);
        assert.equal((await c.send(3, 12, { topics: null, allowAutoTopicCreation: false })).brokers.length, 1, 'served as carol');
        assert.equal(await canLogIn(bootstrap, { mechanism: 'SCRAM-SHA-256', username: 'carol', password: 'carol-1' }), false, 'the next login is refused');
      } finally {
        admin.close();
        c.close();
      }
    }, options(dataDir));
  });
});
