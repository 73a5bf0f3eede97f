// SASL/OAUTHBEARER with real clients, each given a token our test issuer signed: librdkafka (confluent-kafka's
// oauth_cb), kafka-python (its token provider, SaslHandshake v0), kafkajs (re-authenticating as its tokens expire) and
// @platformatic/kafka produce and read back as the token's subject, which ACLs then judge; a forged token is refused
// as each client reports it; kcat with librdkafka's unsigned development tokens; `sluice start` with an HTTPS JWKS
// endpoint.
import assert from 'node:assert/strict';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ProduceAcks, Producer, saslOAuthBearer, stringSerializers } from '@platformatic/kafka';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import pino from 'pino';
import { Admin } from '../../src/admin/admin.js';
import { AclOperation as Op, AclPermission, PatternType, ResourceType } from '../../src/protocol/acl.js';
import { withBroker } from '../helpers/broker.js';
import { SLUICE_BIN, startCli, stopCli } from '../helpers/cli-broker.js';
import { epochSeconds, issuer, keySet, type Issuer } from '../helpers/oauth-tokens.js';
import { run } from '../helpers/run.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { TLS_FIXTURES_DIR, tlsFixture } from '../helpers/tls-fixtures.js';
import { kafkajsRead } from './kafkajs-read.js';
import { kafkajsSendSpaced } from './kafkajs-write.js';
import { python } from './python-clients.js';

const COUNT = 50;
const sent = Array.from({ length: COUNT }, (_, i) => `secure-${i}`);
const ISS = 'https://idp.example';

let idp: Issuer;
let forger: Issuer;
/** A token for `sub` from the test issuer (or from a forger using its key id), and its expiry in seconds. */
async function token(sub: string, lifetimeSeconds = 600, by?: 'forger'): Promise<[string, number]> {
  idp ??= await issuer('idp-key-1');
  forger ??= await issuer('idp-key-1');
  const exp = epochSeconds(lifetimeSeconds);
  return [await (by === 'forger' ? forger : idp).sign({ sub, iss: ISS, aud: 'kafka', exp }), exp];
}
const oauth = async () => {
  await token('warm-up');
  return { oauthBearer: { jwks: keySet(idp), expectedIssuer: ISS, expectedAudience: ['kafka'] } };
};
const allow = (resourceType: number, resourceName: string, principal: string, operation: number) => ({
  resourceType, resourceName, patternType: PatternType.LITERAL, principal, host: '*', operation, permission: AclPermission.ALLOW,
});

test('librdkafka (confluent-kafka\'s oauth_cb) produces and reads back as the token\'s subject, as ACLs allow it; another subject is refused the topic; a forged token is an authentication error', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    const admin = await Admin.connect(bootstrap, { mechanism: 'OAUTHBEARER', token: (await token('ops'))[0] });
    try {
      await broker.createTopic('orders', 1, {});
      await admin.createAcls([
        allow(ResourceType.TOPIC, 'orders', 'User:svc-orders', Op.ALL),
        allow(ResourceType.GROUP, 'secure-readers', 'User:svc-orders', Op.READ),
      ]);
    } finally {
      admin.close();
    }
    const rdkafka = (oauthToken: [string, number]) => JSON.stringify({ 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': 'OAUTHBEARER', oauth_token: oauthToken });
    const [served] = await python('confluent-secure', [bootstrap, 'orders', rdkafka(await token('svc-orders')), String(COUNT)]);
    assert.deepEqual(served, { consumed: sent, errors: [] });
    const [other] = (await python('confluent-authorized', [bootstrap, 'orders', 'secure-readers', rdkafka(await token('svc-billing'))])) as { produce: string; consumed: string[] }[];
    assert.deepEqual([other!.produce, other!.consumed], ['TOPIC_AUTHORIZATION_FAILED', []]);
    const [forged] = (await python('confluent-secure', [bootstrap, 'orders', rdkafka(await token('svc-orders', 600, 'forger')), '1'])) as { consumed: string[]; errors: string[] }[];
    assert.deepEqual(forged!.consumed, []);
    assert.ok(forged!.errors.includes('_AUTHENTICATION'), String(forged!.errors));
    assert.equal(broker.logs.getLog('orders', 0)!.logEndOffset, COUNT);
  }, { sasl: await oauth(), acls: { enabled: true, superUsers: ['User:ops'] } });
});

test('kafka-python sends its token bare after SaslHandshake v0, produces and reads back; a forged one fails its connection', async () => {
  await withBroker(async ({ bootstrap }) => {
    const kafkaPython = (oauthToken: [string, number]) => JSON.stringify({ security_protocol: 'SASL_PLAINTEXT', sasl_mechanism: 'OAUTHBEARER', oauth_token: oauthToken });
    assert.deepEqual((await python('kp-secure', [bootstrap, 'kp-oauth', kafkaPython(await token('svc-orders')), String(COUNT)]))[0], { consumed: sent, error: null });
    // the broker closes the connection, the only answer bare tokens have: kafka-python then finds no broker
    assert.deepEqual((await python('kp-secure', [bootstrap, 'kp-oauth', kafkaPython(await token('svc-orders', 600, 'forger')), '1']))[0], { consumed: [], error: 'NoBrokersAvailable' });
  }, { sasl: await oauth() });
});

test('kafkajs re-authenticates with fresh tokens before each short-lived one ends its session (KIP-368), and is served throughout; a forged token is refused', async () => {
  const lines: { msg: string; user?: string; reason?: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  await withBroker(async ({ bootstrap }) => {
    let issued = 0;
    // tokens of two seconds: each session ends with its token, well before connections.max.reauth.ms
    const login: SASLOptions = { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: (issued++, (await token('svc-orders', 2))[0]) }) };
    await kafkajsSendSpaced(bootstrap, login, 'renewed', 6, 700);
    const reauthenticated = lines.filter((l) => l.msg === 'SASL re-authenticated' && l.user === 'svc-orders').length;
    assert.ok(reauthenticated >= 2 && issued >= reauthenticated + 1, `${reauthenticated} re-authentications, ${issued} tokens`);
    assert.equal(lines.filter((l) => l.msg.startsWith('closing connection: its SASL session ended')).length, 0);
    assert.deepEqual((await kafkajsRead(bootstrap, 'renewed', 6, login)).map((m) => m.value), ['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);
    const forged = (await token('svc-orders', 600, 'forger'))[0];
    const refused = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: forged }) } }).producer();
    // kafkajs takes RFC 7628's error answer for success; the broker closes the connection at its next request
    await assert.rejects(async () => {
      await refused.connect();
      await refused.send({ topic: 'renewed', messages: [{ value: 'never' }] });
    });
    await refused.disconnect();
    assert.ok(lines.some((l) => l.msg === 'SASL authentication failed' && l.reason === 'invalid token: signature verification failed'));
  }, { sasl: { ...(await oauth()), maxReauthMs: 60_000 }, logger });
});

test('@platformatic/kafka produces with its token, acks=all; a forged token is refused as its OAUTHBEARER validator reads the answer', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('platformatic-oauth', 1, {});
    const producer = new Producer({ clientId: 'oauth', bootstrapBrokers: [bootstrap], serializers: stringSerializers, acks: ProduceAcks.ALL, sasl: { mechanism: 'OAUTHBEARER', token: (await token('svc-orders'))[0] } });
    try {
      await producer.send({ messages: sent.map((value) => ({ topic: 'platformatic-oauth', partition: 0, value })) });
    } finally {
      await producer.close();
    }
    assert.equal(broker.logs.getLog('platformatic-oauth', 0)!.logEndOffset, COUNT);
    // the client reads RFC 7628's error answer with the validator it ships for OAUTHBEARER
    const forged = new Producer({
      clientId: 'oauth', bootstrapBrokers: [bootstrap], serializers: stringSerializers, retries: 0,
      sasl: { mechanism: 'OAUTHBEARER', token: (await token('svc-orders', 600, 'forger'))[0], authBytesValidator: saslOAuthBearer.jwtValidateAuthenticationBytes },
    });
    try {
      await assert.rejects(forged.send({ messages: [{ topic: 'platformatic-oauth', partition: 0, value: 'never' }] }), (err: Error) => {
        // the reason lies in the causes of the connection's failure
        type Failure = { message: string; errors?: Failure[]; cause?: unknown };
        const messages = (e: Failure | undefined): string[] =>
          e === undefined ? [] : [e.message, ...(e.errors ?? []).flatMap((x) => messages(x)), ...messages(e.cause as Failure | undefined)];
        assert.ok(messages(err).includes('Invalid SASL/OAUTHBEARER token.'), messages(err).join(' / '));
        return true;
      });
    } finally {
      await forged.close();
    }
    assert.equal(broker.logs.getLog('platformatic-oauth', 0)!.logEndOffset, COUNT);
  }, { sasl: await oauth() });
});

test('kcat with librdkafka\'s unsigned development tokens, on a broker told to take them: metadata, produce, consume as the principal named', async () => {
  await withBroker(async ({ bootstrap }) => {
    const sasl = ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=OAUTHBEARER', '-X', 'enable.sasl.oauthbearer.unsecure.jwt=true', '-X', 'sasl.oauthbearer.config=principal=dev-laptop'];
    const produced = await run('kcat', ['-b', bootstrap, ...sasl, '-P', '-t', 'kcat-oauth', '-p', '0'], { input: sent.join('\n') + '\n', timeoutMs: 60_000 });
    assert.equal(produced.code, 0, produced.stderr);
    const consumed = await run('kcat', ['-b', bootstrap, ...sasl, '-C', '-t', 'kcat-oauth', '-o', 'beginning', '-e', '-q'], { timeoutMs: 60_000 });
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split('\n'), sent);
  }, { sasl: { oauthBearer: { unsecured: true } } });
  // a broker given keys takes no unsigned token
  await withBroker(async ({ bootstrap }) => {
    const refused = await run('kcat', ['-b', bootstrap, '-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=OAUTHBEARER', '-X', 'enable.sasl.oauthbearer.unsecure.jwt=true', '-X', 'sasl.oauthbearer.config=principal=dev-laptop', '-L', '-m', '5'], { timeoutMs: 60_000 });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /invalid_token|Authentication|SASL/i);
  }, { sasl: await oauth() });
});

test('sluice start --sasl-oauthbearer-jwks-endpoint-url https://...: keys fetched from a provider a private CA certified (NODE_EXTRA_CA_CERTS); the CLI logs in with a token given, or one it gets by the client credentials grant; a forged or missing token, or a refused grant, is told', () =>
  withTempDir(async (dir) => {
    await token('warm-up');
    let fetches = 0;
    const grants: string[] = [];
    // the provider: its keys, and tokens for the client credentials it knows (client id ops-cli, secret s3cret:x)
    const provider = createHttpsServer({ cert: tlsFixture('server.pem'), key: tlsFixture('server.key') }, (req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/jwks') {
        fetches++;
        res.end(JSON.stringify(keySet(idp)));
        return;
      }
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', async () => {
        grants.push(`${req.method} ${req.url} ${req.headers.authorization} ${body}`);
        if (req.headers.authorization !== `Basic ${Buffer.from('ops-cli:s3cret%3Ax').toString('base64')}`) {
          res.statusCode = 401;
          res.end(JSON.stringify({ error: 'invalid_client', error_description: 'client authentication failed' }));
          return;
        }
        res.end(JSON.stringify({ access_token: (await token('ops-cli'))[0], token_type: 'Bearer', expires_in: 600 }));
      });
    });
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
    const providerUrl = `https://127.0.0.1:${(provider.address() as AddressInfo).port}`;
    const jwks = `${providerUrl}/jwks`;
    const { child, bootstrap, output } = await startCli(
      ['--data-dir', join(dir, 'data'), '--sasl-oauthbearer-jwks-endpoint-url', jwks, '--sasl-oauthbearer-expected-issuer', ISS, '--sasl-oauthbearer-expected-audience', 'kafka,other'],
      { NODE_EXTRA_CA_CERTS: join(TLS_FIXTURES_DIR, 'ca.pem') },
    );
    try {
      assert.equal(fetches, 1, 'fetched at start');
      assert.match(output(), /"securityProtocol":"SASL_PLAINTEXT"/);
      const cli = (args: string[], env: NodeJS.ProcessEnv) => run(process.execPath, [SLUICE_BIN, ...args, '--bootstrap', bootstrap], { env: { ...process.env, ...env }, timeoutMs: 30_000 });
      const login = async (by?: 'forger') => ({ SLUICE_SASL_MECHANISM: 'OAUTHBEARER', SLUICE_SASL_OAUTHBEARER_TOKEN: (await token('ops', 600, by))[0] });
      const created = await cli(['topics', 'create', 'via-cli', '--partitions', '2'], await login());
      assert.equal(created.code, 0, created.stderr);
      const listed = await cli(['topics', 'list'], await login());
      assert.deepEqual([listed.code, listed.stdout.trim()], [0, 'via-cli']);
      const forged = await cli(['topics', 'list'], await login('forger'));
      assert.equal(forged.code, 1);
      assert.match(forged.stderr, /Authentication failed: invalid_token \(signature verification failed\)/);
      const missing = await cli(['topics', 'list', '--sasl-mechanism', 'OAUTHBEARER'], {});
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /OAUTHBEARER needs the token in SLUICE_SASL_OAUTHBEARER_TOKEN, or SLUICE_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL/);
      // the token from the provider's token endpoint, by the client credentials grant (the secret form-encoded in Basic)
      const credentials = (secret: string, url = `${providerUrl}/token`) => ({
        SLUICE_SASL_MECHANISM: 'OAUTHBEARER', SLUICE_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: url, SLUICE_SASL_OAUTHBEARER_CLIENT_ID: 'ops-cli',
        SLUICE_SASL_OAUTHBEARER_CLIENT_SECRET: secret, SLUICE_SASL_OAUTHBEARER_SCOPE: 'kafka', NODE_EXTRA_CA_CERTS: join(TLS_FIXTURES_DIR, 'ca.pem'),
      });
      const granted = await cli(['topics', 'list'], credentials('s3cret:x'));
      assert.deepEqual([granted.code, granted.stdout.trim()], [0, 'via-cli'], granted.stderr);
      assert.deepEqual(grants, [`POST /token Basic ${Buffer.from('ops-cli:s3cret%3Ax').toString('base64')} grant_type=client_credentials&scope=kafka`]);
      const refused = await cli(['topics', 'list'], credentials('wrong'));
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /the token endpoint https:\/\/127\.0\.0\.1:\d+\/token answered 401 without a token: invalid_client: client authentication failed/);
      // a port nothing listens on: a listener's, closed at once
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const unreachable = await cli(['topics', 'list'], credentials('s3cret:x', `http://127.0.0.1:${port}/token`));
      assert.equal(unreachable.code, 1);
      assert.match(unreachable.stderr, /the token endpoint http:\/\/127\.0\.0\.1:\d+\/token cannot be reached: .*ECONNREFUSED/);
    } finally {
      await stopCli(child);
      provider.close();
    }
  }));
