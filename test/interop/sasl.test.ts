// SASL with real clients: librdkafka (confluent-kafka, kcat), kafka-python (its SaslHandshake v0 and bare tokens) and
// kafkajs authenticate with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, produce and read back; a wrong password is
// refused as each client reports it; `sluice start --sasl-users` and the CLI's own login.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { PASSWORD_MECHANISMS } from '../../src/broker/sasl-credentials.js';
import pino from 'pino';
import { withBroker } from '../helpers/broker.js';
import { SLUICE_BIN, startCli, stopCli } from '../helpers/cli-broker.js';
import { run } from '../helpers/run.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { kafkajsRead } from './kafkajs-read.js';
import { kafkajsSendSpaced } from './kafkajs-write.js';
import { python } from './python-clients.js';

const USERS = { alice: 'alice-secret', carol: 'carol-secret' };
const COUNT = 50;
const sent = Array.from({ length: COUNT }, (_, i) => `secure-${i}`);
const rdkafka = (mechanism: string, username: string, password: string) =>
  JSON.stringify({ 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': mechanism, 'sasl.username': username, 'sasl.password': password });
const kafkaPython = (mechanism: string, username: string, password: string) =>
  JSON.stringify({ security_protocol: 'SASL_PLAINTEXT', sasl_mechanism: mechanism, sasl_plain_username: username, sasl_plain_password: password });

test('librdkafka (confluent-kafka) authenticates with each mechanism, produces and reads back; a wrong password is an authentication error', async () => {
  await withBroker(async ({ bootstrap }) => {
    for (const mechanism of PASSWORD_MECHANISMS) {
      const topic = `rd-${mechanism}`;
      const [ok] = await python('confluent-secure', [bootstrap, topic, rdkafka(mechanism, 'alice', 'alice-secret'), String(COUNT)]);
      assert.deepEqual(ok, { consumed: sent, errors: [] }, mechanism);
      const [refused] = (await python('confluent-secure', [bootstrap, topic, rdkafka(mechanism, 'alice', 'not-it'), '1'])) as { consumed: string[]; errors: string[] }[];
      assert.deepEqual(refused!.consumed, []);
      assert.ok(refused!.errors.includes('_AUTHENTICATION'), `${mechanism}: ${refused!.errors}`);
    }
  }, { sasl: { users: USERS } });
});

test('kafka-python authenticates with each mechanism through SaslHandshake v0\'s bare tokens, produces and reads back; a wrong password fails its connection', async () => {
  await withBroker(async ({ bootstrap }) => {
    for (const mechanism of PASSWORD_MECHANISMS) {
      const topic = `kp-${mechanism}`;
      assert.deepEqual((await python('kp-secure', [bootstrap, topic, kafkaPython(mechanism, 'carol', 'carol-secret'), String(COUNT)]))[0], { consumed: sent, error: null }, mechanism);
      // the broker closes the connection, the only answer bare tokens have: kafka-python then finds no broker
      assert.deepEqual((await python('kp-secure', [bootstrap, topic, kafkaPython(mechanism, 'carol', 'not-it'), '1']))[0], { consumed: [], error: 'NoBrokersAvailable' }, mechanism);
    }
  }, { sasl: { users: USERS } });
});

test('kafkajs authenticates with each mechanism, produces and reads back; a wrong password is a KafkaJSSASLAuthenticationError naming the reason', async () => {
  await withBroker(async ({ bootstrap }) => {
    for (const mechanism of PASSWORD_MECHANISMS) {
      const topic = `kjs-${mechanism}`;
      const login = (password: string) => ({ mechanism: mechanism.toLowerCase(), username: 'alice', password }) as SASLOptions;
      const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, sasl: login('alice-secret') });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: sent.map((value) => ({ value, partition: 0 })) });
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: `kjs-${mechanism}` });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        const got: string[] = [];
        await new Promise<void>((resolve, reject) => {
          consumer.run({ eachMessage: async ({ message }) => void (got.push(message.value!.toString()) === COUNT && resolve()) }).catch(reject);
        });
        assert.deepEqual(got, sent, mechanism);
      } finally {
        await consumer.disconnect();
      }
      const wrong = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, sasl: login('not-it') }).producer();
      await assert.rejects(wrong.connect(), (err: Error) => {
        assert.equal(err.name, 'KafkaJSSASLAuthenticationError');
        assert.match(err.message, new RegExp(`invalid credentials with SASL mechanism ${mechanism}`));
        return true;
      });
    }
  }, { sasl: { users: USERS } });
});

test('librdkafka on a PLAINTEXT and a SASL_PLAINTEXT listener of one broker: each client is sent to its own listener, produces and reads back', async () => {
  await withBroker(async ({ listeners }) => {
    // librdkafka connects where Metadata tells it: sent to the other listener, the SASL client could not log in there
    const [plain] = await python('confluent-secure', [listeners.PLAINTEXT!, 'inside', '{}', String(COUNT)]);
    assert.deepEqual(plain, { consumed: sent, errors: [] });
    const [secured] = await python('confluent-secure', [listeners.SASL_PLAINTEXT!, 'outside', rdkafka('SCRAM-SHA-256', 'alice', 'alice-secret'), String(COUNT)]);
    assert.deepEqual(secured, { consumed: sent, errors: [] });
  }, {
    sasl: { users: USERS },
    listeners: [
      { name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', host: '127.0.0.1', port: 0 },
      { name: 'SASL_PLAINTEXT', securityProtocol: 'SASL_PLAINTEXT', host: '127.0.0.1', port: 0 },
    ],
  });
});

test('kafkajs re-authenticates on its connections before its sessions end (KIP-368), and is served throughout', async () => {
  const lines: { msg: string; user?: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  await withBroker(async ({ bootstrap }) => {
    const login: SASLOptions = { mechanism: 'scram-sha-512', username: 'alice', password: 'alice-secret' };
    // six sends over three seconds: two sessions' lifetimes
    await kafkajsSendSpaced(bootstrap, login, 'renewed', 6, 500);
    const reauthenticated = lines.filter((l) => l.msg === 'SASL re-authenticated' && l.user === 'alice').length;
    assert.ok(reauthenticated >= 2, `${reauthenticated} re-authentications`);
    assert.equal(lines.filter((l) => l.msg.startsWith('closing connection: its SASL session ended')).length, 0);
    assert.deepEqual((await kafkajsRead(bootstrap, 'renewed', 6, login)).map((m) => m.value), ['v0', 'v1', 'v2', 'v3', 'v4', 'v5']);
  }, { sasl: { users: USERS, maxReauthMs: 1_500 }, logger });
});

test('kcat with SCRAM-SHA-512: metadata, produce and consume; without SASL it gets nothing', async () => {
  await withBroker(async ({ bootstrap, port }) => {
    const sasl = ['-X', 'security.protocol=SASL_PLAINTEXT', '-X', 'sasl.mechanisms=SCRAM-SHA-512', '-X', 'sasl.username=carol', '-X', 'sasl.password=carol-secret'];
    const produced = await run('kcat', ['-b', bootstrap, ...sasl, '-P', '-t', 'kcat-sasl', '-p', '0'], { input: sent.join('\n') + '\n', timeoutMs: 60_000 });
    assert.equal(produced.code, 0, produced.stderr);
    const consumed = await run('kcat', ['-b', bootstrap, ...sasl, '-C', '-t', 'kcat-sasl', '-o', 'beginning', '-e', '-q'], { timeoutMs: 60_000 });
    assert.equal(consumed.code, 0, consumed.stderr);
    assert.deepEqual(consumed.stdout.trim().split('\n'), sent);
    const meta = JSON.parse((await run('kcat', ['-b', bootstrap, ...sasl, '-L', '-J'], { timeoutMs: 60_000 })).stdout);
    assert.deepEqual(meta.brokers, [{ id: 1, name: `127.0.0.1:${port}` }]);
    const plain = await run('kcat', ['-b', bootstrap, '-L', '-m', '3'], { timeoutMs: 60_000 });
    assert.notEqual(plain.code, 0, 'metadata without authenticating');
  }, { sasl: { users: USERS } });
});

test('sluice start --sasl-users FILE --sasl-mechanisms: the CLI logs in with --sasl-mechanism, --sasl-username and SLUICE_SASL_PASSWORD', () =>
  withTempDir(async (dir) => {
    const users = join(dir, 'users.json');
    await writeFile(users, JSON.stringify(USERS));
    const { child, bootstrap, output } = await startCli(['--data-dir', join(dir, 'data'), '--sasl-users', users, '--sasl-mechanisms', 'SCRAM-SHA-256,PLAIN']);
    try {
      assert.match(output(), /"securityProtocol":"SASL_PLAINTEXT"/);
      const cli = (args: string[], env: NodeJS.ProcessEnv) => run(process.execPath, [SLUICE_BIN, ...args, '--bootstrap', bootstrap], { env: { ...process.env, ...env }, timeoutMs: 30_000 });
      const login = { SLUICE_SASL_PASSWORD: 'alice-secret' };
      const created = await cli(['topics', 'create', 'via-cli', '--partitions', '3', '--sasl-mechanism', 'SCRAM-SHA-256', '--sasl-username', 'alice'], login);
      assert.equal(created.code, 0, created.stderr);
      const listed = await cli(['topics', 'list'], { ...login, SLUICE_SASL_MECHANISM: 'PLAIN', SLUICE_SASL_USERNAME: 'alice' });
      assert.deepEqual([listed.code, listed.stdout.trim()], [0, 'via-cli']);
      const notOffered = await cli(['topics', 'list', '--sasl-mechanism', 'SCRAM-SHA-512', '--sasl-username', 'alice'], login);
      assert.equal(notOffered.code, 1);
      assert.match(notOffered.stderr, /SASL mechanism SCRAM-SHA-512 refused; the broker offers SCRAM-SHA-256, PLAIN/);
      const wrong = await cli(['topics', 'list', '--sasl-mechanism', 'SCRAM-SHA-256', '--sasl-username', 'alice'], { SLUICE_SASL_PASSWORD: 'not-it' });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /invalid credentials with SASL mechanism SCRAM-SHA-256/);
      const noPassword = await cli(['topics', 'list', '--sasl-mechanism', 'PLAIN', '--sasl-username', 'alice'], {});
      assert.equal(noPassword.code, 2);
      assert.match(noPassword.stderr, /SASL needs --sasl-username \(or SLUICE_SASL_USERNAME\) and SLUICE_SASL_PASSWORD/);
    } finally {
      await stopCli(child);
    }
  }));
