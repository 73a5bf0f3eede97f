// SASL at the protocol level: what a client may send before it authenticates, each mechanism's exchange, and the
// errors (bad password, unknown user, mechanism not offered, requests out of turn), with Sluice's own client.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { authenticate, scramClientFinal } from '../../src/admin/sasl-client.js';
import { UNAUTHENTICATED_MAX_REQUEST_BYTES } from '../../src/broker/connection.js';
import { PASSWORD_MECHANISMS, saltedPassword } from '../../src/broker/sasl-credentials.js';
import { ErrorCode, KafkaError } from '../../src/protocol/errors.js';
import type { StartBrokerOptions } from '../../src/index.js';
import { connected, withBroker, withClient } from '../helpers/broker.js';
import { capturedLogger } from '../helpers/captured-logger.js';

const USERS = { alice: 'alice-secret', 'bob,=b': 'pässword' };
const SASL: StartBrokerOptions = { sasl: { users: USERS } };
const versions = (c: KafkaClient) => c.send(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });
const metadata = (c: KafkaClient) => c.send(3, 9, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });

test('SCRAM-SHA-256 proof and server signature as in RFC 7677\'s example', async () => {
  const firstBare = 'n=user,r=rOprNGfwEbeRWgbNEkqO';
  const serverFirst = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
  assert.deepEqual(await scramClientFinal('SCRAM-SHA-256', 'pencil', firstBare, serverFirst), {
    message: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
  });
});

test('every mechanism authenticates each user, names with , and = and passwords beyond ASCII included; then every request is served', async () => {
  await withBroker(async ({ bootstrap }) => {
    for (const mechanism of PASSWORD_MECHANISMS) {
      for (const [username, password] of Object.entries(USERS)) {
        await connected(bootstrap, async (c) => {
          await authenticate(c, { mechanism, username, password });
          const md = await metadata(c);
          assert.equal(md.brokers.length, 1, `${mechanism} ${username}`);
          assert.equal((await versions(c)).errorCode, 0);
        });
      }
    }
  }, SASL);
});

test('before it authenticates a client may ask ApiVersions and SASL\'s requests only: anything else, or a frame over 512 KiB, closes its connection', async () => {
  const { logger, lines } = capturedLogger();
  await withBroker(async ({ bootstrap }) => {
    await connected(bootstrap, async (c) => {
      const v = await versions(c);
      assert.equal(v.errorCode, 0);
      const keys = new Map(v.apiKeys.map((k: { apiKey: number; minVersion: number; maxVersion: number }) => [k.apiKey, [k.minVersion, k.maxVersion]]));
      assert.deepEqual([keys.get(17), keys.get(36)], [[0, 1], [0, 2]]);
      await assert.rejects(metadata(c), /connection closed/);
    });
    assert.ok(lines.some((l) => l.msg === 'closing connection: bad request' && /unexpected Metadata request before SASL authentication/.test(String(l.reason))), JSON.stringify(lines.slice(-3)));
    await connected(bootstrap, async (c) => {
      const size = Buffer.alloc(4);
      size.writeInt32BE(UNAUTHENTICATED_MAX_REQUEST_BYTES + 1);
      c.sendRaw(size);
      await c.closed();
    });
    assert.ok(lines.some((l) => /request size 524289 is outside 0\.\.524288 \(before SASL authentication\)/.test(String(l.reason))));
    // once authenticated, the usual limit
    await connected(bootstrap, async (c) => {
      await authenticate(c, { mechanism: 'PLAIN', username: 'alice', password: 'alice-secret' });
      const big = await c.send(3, 9, { topics: [{ name: 'x'.repeat(249), topicId: '0'.repeat(32) }], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      assert.equal(big.topics.length, 1);
      // what is logged of the connection names its user
      await assert.rejects(c.sendRawBody(999, 0, false, Buffer.alloc(0)), /connection closed/);
    });
    assert.deepEqual(lines.filter((l) => /unknown API key 999/.test(String(l.reason))).map((l) => l.user), ['alice']);
  }, { ...SASL, logger });
});

test('a wrong password, an unknown user or a mechanism not offered: refused with the reason, and the connection closed', async () => {
  const { logger, lines } = capturedLogger();
  await withBroker(async ({ bootstrap }) => {
    for (const mechanism of ['PLAIN', 'SCRAM-SHA-512'] as const) {
      for (const [username, password] of [['alice', 'wrong'], ['nobody', 'alice-secret']]) {
        await connected(bootstrap, async (c) => {
          const refusal = await authenticate(c, { mechanism, username: username!, password: password! }).then(() => null, (err) => err);
          assert.ok(refusal instanceof KafkaError, `${mechanism} ${username}: ${refusal}`);
          assert.equal(refusal.code, ErrorCode.SASL_AUTHENTICATION_FAILED);
          assert.match(refusal.message, mechanism === 'PLAIN' || username === 'alice' ? /invalid credentials with SASL mechanism/ : /Invalid user credentials/);
          await c.closed();
        });
      }
    }
    assert.equal(lines.filter((l) => l.msg === 'SASL authentication failed').length, 4);
  }, { ...SASL, logger });
  await withBroker(async ({ bootstrap }) => {
    await connected(bootstrap, async (c) => {
      const handshake = await c.send(17, 1, { mechanism: 'PLAIN' });
      assert.deepEqual([handshake.errorCode, handshake.mechanisms], [ErrorCode.UNSUPPORTED_SASL_MECHANISM, ['SCRAM-SHA-256', 'SCRAM-SHA-512']]);
      await c.closed();
    });
  }, { sasl: { users: USERS, mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-512'] } });
});

test('SASL requests out of turn get ILLEGAL_SASL_STATE: authenticate before a handshake, a second handshake, SaslAuthenticate or a v0 handshake after success, or on a broker without SASL; a re-authentication may not change mechanism', async () => {
  await withBroker(async ({ bootstrap }) => {
    await connected(bootstrap, async (c) => {
      const early = await c.send(36, 1, { authBytes: Buffer.from('\0alice\0alice-secret') });
      assert.equal(early.errorCode, ErrorCode.ILLEGAL_SASL_STATE);
      assert.equal((await c.send(17, 1, { mechanism: 'SCRAM-SHA-256' })).errorCode, 0);
      assert.equal((await c.send(17, 1, { mechanism: 'SCRAM-SHA-256' })).errorCode, ErrorCode.ILLEGAL_SASL_STATE);
    });
    await connected(bootstrap, async (c) => {
      await authenticate(c, { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'alice-secret' });
      const again = await c.send(36, 2, { authBytes: Buffer.from('\0alice\0alice-secret') });
      assert.deepEqual([again.errorCode, again.errorMessage], [ErrorCode.ILLEGAL_SASL_STATE, 'SaslAuthenticate request received after successful authentication']);
      assert.equal((await c.send(17, 0, { mechanism: 'SCRAM-SHA-256' })).errorCode, ErrorCode.ILLEGAL_SASL_STATE, 'v0 tokens cannot re-authenticate');
      assert.equal((await metadata(c)).brokers.length, 1, 'still served');
      // a handshake on an authenticated connection begins a re-authentication, which keeps the mechanism
      const other = await c.send(17, 1, { mechanism: 'PLAIN' });
      assert.deepEqual([other.errorCode, other.mechanisms], [ErrorCode.UNSUPPORTED_SASL_MECHANISM, ['SCRAM-SHA-256']]);
      await c.closed();
    });
    await connected(bootstrap, async (c) => {
      // SCRAM's client-final message with a nonce not the server's, and one that is not SCRAM at all
      assert.equal((await c.send(17, 1, { mechanism: 'SCRAM-SHA-256' })).errorCode, 0);
      const first = await c.send(36, 1, { authBytes: Buffer.from('n,,n=alice,r=abc') });
      assert.equal(first.errorCode, 0);
      assert.match(first.authBytes.toString(), /^r=abc[^,]+,s=[^,]+,i=4096$/);
      const final = await c.send(36, 1, { authBytes: Buffer.from('c=biws,r=xyz,p=AAAA') });
      assert.deepEqual([final.errorCode, final.errorMessage], [ErrorCode.SASL_AUTHENTICATION_FAILED, 'Invalid SCRAM client final message: nonce does not match']);
      await c.closed();
    });
    await connected(bootstrap, async (c) => {
      assert.equal((await c.send(17, 1, { mechanism: 'SCRAM-SHA-512' })).errorCode, 0);
      const binding = await c.send(36, 1, { authBytes: Buffer.from('p=tls-unique,,n=alice,r=abc') });
      assert.deepEqual([binding.errorCode, binding.errorMessage], [ErrorCode.SASL_AUTHENTICATION_FAILED, 'SCRAM channel binding is not supported']);
    });
  }, SASL);
  await withClient(async (c) => {
    assert.deepEqual(await c.send(17, 1, { mechanism: 'PLAIN' }), { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] });
    assert.equal((await c.send(36, 1, { authBytes: Buffer.alloc(0) })).errorCode, ErrorCode.ILLEGAL_SASL_STATE);
    assert.equal((await metadata(c)).brokers.length, 1);
  });
});

test('a start with SASL needs users, and mechanisms Sluice offers', async () => {
  await assert.rejects(withBroker(async () => undefined, { sasl: { users: {} } }), /SASL needs at least one user/);
  await assert.rejects(withBroker(async () => undefined, { sasl: { users: USERS, mechanisms: ['GSSAPI' as never] } }), /SASL mechanisms must be some of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER; got GSSAPI/);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('re-authentication (KIP-368): the session lifetime is answered, renewed on the connection as the same user; past it, anything else closes the connection', async () => {
  const { logger, lines } = capturedLogger();
  await withBroker(async ({ bootstrap }) => {
    await connected(bootstrap, async (c) => {
      assert.equal((await c.send(17, 1, { mechanism: 'PLAIN' })).errorCode, 0);
      const done = await c.send(36, 2, { authBytes: Buffer.from('\0alice\0alice-secret') });
      assert.deepEqual([done.errorCode, done.sessionLifetimeMs], [0, 1000]);
      await authenticate(c, { mechanism: 'PLAIN', username: 'alice', password: 'alice-secret' });
      assert.equal((await metadata(c)).brokers.length, 1);
      await assert.rejects(authenticate(c, { mechanism: 'PLAIN', username: 'bob,=b', password: 'pässword' }), /Cannot change principals during re-authentication from User:alice: User:bob,=b/);
      await c.closed();
    });
    await connected(bootstrap, async (c) => {
      await authenticate(c, { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'alice-secret' });
      await sleep(1100);
      await assert.rejects(metadata(c), /connection closed/);
      assert.ok(lines.some((l) => l.msg === 'closing connection: its SASL session ended (connections.max.reauth.ms) without re-authentication' && l.user === 'alice'));
    });
    await connected(bootstrap, async (c) => {
      await authenticate(c, { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'alice-secret' });
      await sleep(1100);
      // late, but a re-authentication is still taken, and renews the session
      await authenticate(c, { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'alice-secret' });
      assert.equal((await metadata(c)).brokers.length, 1);
    });
    // a user removed loses its connections' access at their sessions' end
    await connected(bootstrap, async (admin) => {
      await authenticate(admin, { mechanism: 'PLAIN', username: 'alice', password: 'alice-secret' });
      const salt = Buffer.from('0123456789abcdef');
      const salted = await saltedPassword('carol-secret', 'SCRAM-SHA-256', salt, 4096);
      assert.equal((await admin.send(51, 0, { deletions: [], upsertions: [{ name: 'carol', mechanism: 1, iterations: 4096, salt, saltedPassword: salted }] })).results[0].errorCode, 0);
      await connected(bootstrap, async (carol) => {
        await authenticate(carol, { mechanism: 'SCRAM-SHA-256', username: 'carol', password: 'carol-secret' });
        await authenticate(admin, { mechanism: 'PLAIN', username: 'alice', password: 'alice-secret' });
        assert.equal((await admin.send(51, 0, { deletions: [{ name: 'carol', mechanism: 1 }], upsertions: [] })).results[0].errorCode, 0);
        assert.equal((await metadata(carol)).brokers.length, 1, 'served until its session ends');
        await assert.rejects(authenticate(carol, { mechanism: 'SCRAM-SHA-256', username: 'carol', password: 'carol-secret' }), /SASL|authentication/i);
        await carol.closed();
      });
    });
  }, { sasl: { users: USERS, maxReauthMs: 1000 }, logger });
});
