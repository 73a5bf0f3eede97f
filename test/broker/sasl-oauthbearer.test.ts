// SASL/OAUTHBEARER at the protocol level, with Sluice's own client: a valid token authenticates its subject, a
// refused one gets RFC 7628's error and then SASL_AUTHENTICATION_FAILED with the reason, sessions end no later than
// their tokens, re-authentication keeps the principal, and what a start needs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { authenticate } from '../../src/admin/sasl-client.js';
import { ErrorCode, KafkaError } from '../../src/protocol/errors.js';
import type { StartBrokerOptions } from '../../src/index.js';
import { connected, withBroker } from '../helpers/broker.js';
import { capturedLogger } from '../helpers/captured-logger.js';
import { within } from '../helpers/until.js';
import { clientResponse, epochSeconds, issuer, keySet, type Issuer } from '../helpers/oauth-tokens.js';

const metadata = (c: KafkaClient) => c.send(3, 9, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });

let idp: Issuer;
const options = async (extra: Partial<NonNullable<StartBrokerOptions['sasl']>> = {}): Promise<StartBrokerOptions> => {
  idp ??= await issuer('idp-1');
  return { sasl: { oauthBearer: { jwks: keySet(idp), expectedIssuer: 'https://idp.example' }, ...extra } };
};
const token = (sub: string, exp = epochSeconds(600)) => idp.sign({ sub, iss: 'https://idp.example', exp });

test('a valid token authenticates its subject: the handshake offers OAUTHBEARER alone, and the connection is served as User:<sub>', async () => {
  const { logger, lines } = capturedLogger();
  await withBroker(async ({ bootstrap }) => {
    await connected(bootstrap, async (c) => {
      assert.deepEqual(await c.send(17, 1, { mechanism: 'OAUTHBEARER' }), { errorCode: 0, mechanisms: ['OAUTHBEARER'] });
      const done = await c.send(36, 2, { authBytes: clientResponse(await token('svc-orders'), 'svc-orders', { traceId: 't-1' }) });
      assert.deepEqual([done.errorCode, done.authBytes.length, done.sessionLifetimeMs], [0, 0, 0]);
      assert.equal((await metadata(c)).brokers.length, 1);
      await assert.rejects(c.sendRawBody(999, 0, false, Buffer.alloc(0)), /connection closed/);
    });
    assert.deepEqual(lines.filter((l) => /unknown API key 999/.test(String(l.reason))).map((l) => l.user), ['svc-orders']);
    await connected(bootstrap, async (c) => {
      await authenticate(c, { mechanism: 'OAUTHBEARER', token: await token('svc-billing') });
      assert.equal((await metadata(c)).brokers.length, 1);
    });
  }, { ...(await options()), logger });
});

test('a refused token is answered with {"status":"invalid_token"}, then SASL_AUTHENTICATION_FAILED with the reason, logged once, and the connection closed', async () => {
  const { logger, lines } = capturedLogger();
  await withBroker(async ({ bootstrap }) => {
    await connected(bootstrap, async (c) => {
      assert.equal((await c.send(17, 1, { mechanism: 'OAUTHBEARER' })).errorCode, 0);
      const challenge = await c.send(36, 1, { authBytes: clientResponse(await token('alice', epochSeconds(-120))) });
      assert.deepEqual([challenge.errorCode, challenge.authBytes.toString()], [0, '{"status":"invalid_token"}']);
      const failure = await c.send(36, 1, { authBytes: Buffer.from('\x01') });
      assert.deepEqual([failure.errorCode, failure.errorMessage], [ErrorCode.SASL_AUTHENTICATION_FAILED, 'Authentication failed: invalid_token ("exp" claim timestamp check failed)']);
      await c.closed();
    });
    const failed = lines.filter((l) => l.msg === 'SASL authentication failed');
    assert.deepEqual(failed.map((l) => [l.mechanism, l.reason]), [['OAUTHBEARER', 'invalid token: "exp" claim timestamp check failed']]);
    // another issuer's token, through the CLI's client: the reason reaches the caller
    const stranger = await issuer('idp-1');
    const forged = await stranger.sign({ sub: 'alice', iss: 'https://idp.example', exp: epochSeconds(600) });
    await connected(bootstrap, async (c) => {
      const refused = await authenticate(c, { mechanism: 'OAUTHBEARER', token: forged }).then(() => null, (err) => err);
      assert.ok(refused instanceof KafkaError);
      assert.deepEqual([refused.code, refused.message], [ErrorCode.SASL_AUTHENTICATION_FAILED, 'Authentication failed: invalid_token (signature verification failed)']);
      await c.closed();
    });
    // an authorization id not the token's subject, and a message that is not OAUTHBEARER's: refused at once
    for (const [authBytes, reason] of [
      [clientResponse(await token('alice'), 'root'), 'Authentication failed: Client requested an authorization id (root) that is different from the token\'s principal name (alice)'],
      [Buffer.from('n,,\x01auth=Basic YWxpY2U=\x01\x01'), 'Invalid OAUTHBEARER client response: auth must be "Bearer" and a token'],
    ] as const) {
      await connected(bootstrap, async (c) => {
        assert.equal((await c.send(17, 1, { mechanism: 'OAUTHBEARER' })).errorCode, 0);
        const res = await c.send(36, 1, { authBytes });
        assert.deepEqual([res.errorCode, res.errorMessage], [ErrorCode.SASL_AUTHENTICATION_FAILED, reason]);
        await c.closed();
      });
    }
    assert.equal(lines.filter((l) => l.msg === 'SASL authentication failed').length, 4);
    // after SaslHandshake v0 the token comes bare, and a bare answer cannot carry the failure: closed at once
    await connected(bootstrap, async (c) => {
      assert.equal((await c.send(17, 0, { mechanism: 'OAUTHBEARER' })).errorCode, 0);
      const body = clientResponse(await token('alice', epochSeconds(-120)));
      const size = Buffer.alloc(4);
      size.writeInt32BE(body.length);
      c.sendRaw(Buffer.concat([size, body]));
      await within(c.closed(), 'the connection closed', 10_000);
    });
    assert.equal(lines.filter((l) => l.msg === 'SASL authentication failed').length, 5);
  }, { ...(await options()), logger });
});

test('with connections.max.reauth.ms a session ends at its token\'s expiry if sooner; a re-authentication with a new token keeps the principal', async () => {
  await withBroker(async ({ bootstrap }) => {
    await connected(bootstrap, async (c) => {
      assert.equal((await c.send(17, 1, { mechanism: 'OAUTHBEARER' })).errorCode, 0);
      const short = await c.send(36, 2, { authBytes: clientResponse(await token('alice', epochSeconds(20))) });
      assert.equal(short.errorCode, 0);
      assert.ok(short.sessionLifetimeMs > 15_000 && short.sessionLifetimeMs <= 20_000, String(short.sessionLifetimeMs));
      assert.equal((await c.send(17, 1, { mechanism: 'OAUTHBEARER' })).errorCode, 0);
      const long = await c.send(36, 2, { authBytes: clientResponse(await token('alice', epochSeconds(3600))) });
      assert.deepEqual([long.errorCode, long.sessionLifetimeMs], [0, 60_000]);
      assert.equal((await metadata(c)).brokers.length, 1);
      await assert.rejects(authenticate(c, { mechanism: 'OAUTHBEARER', token: await token('mallory') }), /Cannot change principals during re-authentication from User:alice: User:mallory/);
      await c.closed();
    });
  }, await options({ maxReauthMs: 60_000 }));
});

test('mechanisms offered: OAUTHBEARER beside users\' ones; a start offering it without its settings, or password ones without users, is refused', async () => {
  await withBroker(async ({ bootstrap }) => {
    await connected(bootstrap, async (c) => {
      assert.deepEqual((await c.send(17, 1, { mechanism: 'OAUTHBEARER' })).mechanisms, ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER']);
      assert.equal((await c.send(36, 1, { authBytes: clientResponse(await token('alice')) })).errorCode, 0);
      assert.equal((await metadata(c)).brokers.length, 1);
    });
    await connected(bootstrap, async (c) => {
      await authenticate(c, { mechanism: 'SCRAM-SHA-256', username: 'bob', password: 'bob-secret' });
      assert.equal((await metadata(c)).brokers.length, 1);
    });
  }, await options({ users: { bob: 'bob-secret' } }));
  await assert.rejects(withBroker(async () => undefined, { sasl: { users: { bob: 'b' }, mechanisms: ['OAUTHBEARER'] } }), /OAUTHBEARER needs its token settings/);
  await assert.rejects(withBroker(async () => undefined, {
    sasl: { users: { bob: 'b' } },
    listeners: [{ name: 'EXTERNAL', securityProtocol: 'SASL_PLAINTEXT', host: '127.0.0.1', port: 0, saslMechanisms: ['OAUTHBEARER'] }],
  }), /OAUTHBEARER needs its token settings/);
  await assert.rejects(withBroker(async () => undefined, await options({ mechanisms: ['OAUTHBEARER', 'PLAIN'] })), /SASL needs at least one user/);
  await assert.rejects(withBroker(async () => undefined, { sasl: { oauthBearer: { jwks: keySet(idp), unsecured: true } } }), /exactly one of/);
});

test('a key set in a file that cannot be read stops the start; one behind a URL that does not answer is logged, and its tokens refused', async () => {
  await assert.rejects(withBroker(async () => undefined, { sasl: { oauthBearer: { jwksUrl: 'file:///nonexistent/jwks.json' } } }), /OAUTHBEARER: the issuer's key set cannot be read: .*ENOENT/);
  const { logger, lines } = capturedLogger();
  // a port nothing listens on: the listener of a server closed at once
  const { createServer } = await import('node:net');
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise((resolve) => closed.close(resolve));
  const jwksUrl = `http://127.0.0.1:${port}/jwks`;
  await withBroker(async ({ bootstrap }) => {
    assert.ok(lines.some((l) => l.msg === 'OAUTHBEARER: the issuer\'s key set could not be fetched; tokens are refused until it can be' && l.url === jwksUrl));
    await connected(bootstrap, async (c) => {
      await assert.rejects(authenticate(c, { mechanism: 'OAUTHBEARER', token: await token('alice') }), /Authentication failed: invalid_token \(the issuer's keys could not be read: /);
    });
  }, { sasl: { oauthBearer: { jwksUrl } }, logger });
});

test('DescribeConfigs of the broker lists the mechanisms and OAUTHBEARER\'s settings, by Kafka\'s names', async () => {
  await withBroker(async ({ bootstrap }) => {
    await connected(bootstrap, async (c) => {
      await authenticate(c, { mechanism: 'OAUTHBEARER', token: await idp.sign({ sub: 'alice', iss: 'https://idp.example', aud: 'kafka', exp: epochSeconds(600) }) });
      const res = await c.send(32, 4, { resources: [{ resourceType: 4, resourceName: '1', configurationKeys: null }], includeSynonyms: false, includeDocumentation: false });
      const configs = new Map(res.results[0].configs.map((x: { name: string; value: string }) => [x.name, x.value]));
      assert.deepEqual(Object.fromEntries([...configs].filter(([name]) => /^sasl\./.test(name as string))), {
        'sasl.enabled.mechanisms': 'OAUTHBEARER',
        'sasl.oauthbearer.expected.issuer': 'https://idp.example',
        'sasl.oauthbearer.expected.audience': 'kafka',
        'sasl.oauthbearer.sub.claim.name': 'sub',
        'sasl.oauthbearer.clock.skew.seconds': '30',
        'sasl.oauthbearer.jwks.endpoint.refresh.ms': '3600000',
        'sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms': '10000',
      });
    });
  }, { sasl: { oauthBearer: { jwks: keySet(idp), expectedIssuer: 'https://idp.example', expectedAudience: ['kafka'] } } });
});
