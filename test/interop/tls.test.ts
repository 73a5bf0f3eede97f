// TLS with real clients: librdkafka (confluent-kafka, kcat), kafka-python and kafkajs over SSL and SASL_SSL, with the
// broker's certificate checked against the test CA (and its address, 127.0.0.1, against the certificate's), client
// certificates where the broker requires them; `sluice start --tls-cert` and the CLI's --tls-ca; a certificate
// renewed in its files, served after SIGHUP.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { TlsSettings } from '../../src/io/tcp.js';
import { withBroker } from '../helpers/broker.js';
import { SLUICE_BIN, startCli, stopCli } from '../helpers/cli-broker.js';
import { run } from '../helpers/run.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { python } from './python-clients.js';
import { TLS_FIXTURES_DIR } from '../helpers/tls-fixtures.js';
import { until } from '../helpers/until.js';

const path = (name: string) => `${TLS_FIXTURES_DIR}/${name}`;
const SERVER: TlsSettings = { cert: readFileSync(path('server.pem')), key: readFileSync(path('server.key')), ca: readFileSync(path('ca.pem')), clientAuth: 'none' };
const USERS = { alice: 'alice-secret' };
const COUNT = 50;
const sent = Array.from({ length: COUNT }, (_, i) => `secure-${i}`);

test('librdkafka (confluent-kafka) over SSL, SASL_SSL with SCRAM, and SSL with a client certificate required: produces and reads back; an untrusted CA, no client certificate or one the CA did not sign fails', async () => {
  const rdkafka = (settings: Record<string, string>) => JSON.stringify({ 'ssl.ca.location': path('ca.pem'), ...settings });
  await withBroker(async ({ bootstrap }) => {
    assert.deepEqual((await python('confluent-secure', [bootstrap, 'rd-ssl', rdkafka({ 'security.protocol': 'SSL' }), String(COUNT)]))[0], { consumed: sent, errors: [] });
    // the server's certificate checked against another CA (the client's own certificate, which is no CA)
    const [untrusted] = (await python('confluent-secure', [bootstrap, 'rd-ssl', rdkafka({ 'security.protocol': 'SSL', 'ssl.ca.location': path('client.pem') }), '1'])) as { errors: string[] }[];
    assert.ok(untrusted!.errors.includes('_SSL') || untrusted!.errors.includes('_TRANSPORT'), `${untrusted!.errors}`);
  }, { tls: SERVER });
  await withBroker(async ({ bootstrap }) => {
    const settings = rdkafka({ 'security.protocol': 'SASL_SSL', 'sasl.mechanism': 'SCRAM-SHA-256', 'sasl.username': 'alice', 'sasl.password': 'alice-secret' });
    assert.deepEqual((await python('confluent-secure', [bootstrap, 'rd-sasl-ssl', settings, String(COUNT)]))[0], { consumed: sent, errors: [] });
  }, { tls: SERVER, sasl: { users: USERS } });
  await withBroker(async ({ bootstrap }) => {
    const withCertificate = rdkafka({ 'security.protocol': 'SSL', 'ssl.certificate.location': path('client.pem'), 'ssl.key.location': path('client.key') });
    assert.deepEqual((await python('confluent-secure', [bootstrap, 'rd-mtls', withCertificate, String(COUNT)]))[0], { consumed: sent, errors: [] });
    const [without] = (await python('confluent-secure', [bootstrap, 'rd-mtls', rdkafka({ 'security.protocol': 'SSL' }), '1'])) as { consumed: string[]; errors: string[] }[];
    assert.deepEqual(without!.consumed, []);
    assert.ok(without!.errors.length > 0, 'refused without a certificate');
    const untrusted = rdkafka({ 'security.protocol': 'SSL', 'ssl.certificate.location': path('untrusted-client.pem'), 'ssl.key.location': path('untrusted-client.key') });
    const [refused] = (await python('confluent-secure', [bootstrap, 'rd-mtls', untrusted, '1'])) as { consumed: string[]; errors: string[] }[];
    assert.deepEqual(refused!.consumed, []);
    assert.ok(refused!.errors.length > 0, 'refused with a certificate the CA did not sign');
  }, { tls: { ...SERVER, clientAuth: 'required' } });
});

test('kafka-python over SSL and SASL_SSL (PLAIN, through its SaslHandshake v0): produces and reads back', async () => {
  const kafkaPython = (settings: Record<string, string>) => JSON.stringify({ ssl_cafile: path('ca.pem'), ...settings });
  await withBroker(async ({ bootstrap }) => {
    assert.deepEqual((await python('kp-secure', [bootstrap, 'kp-ssl', kafkaPython({ security_protocol: 'SSL' }), String(COUNT)]))[0], { consumed: sent, error: null });
  }, { tls: SERVER });
  await withBroker(async ({ bootstrap }) => {
    const settings = kafkaPython({ security_protocol: 'SASL_SSL', sasl_mechanism: 'PLAIN', sasl_plain_username: 'alice', sasl_plain_password: 'alice-secret' });
    assert.deepEqual((await python('kp-secure', [bootstrap, 'kp-sasl-ssl', settings, String(COUNT)]))[0], { consumed: sent, error: null });
  }, { tls: SERVER, sasl: { users: USERS } });
});

test('kafkajs over SASL_SSL with SCRAM-SHA-512 and a client certificate: produces 2 MB and reads it back', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('kjs-tls', 1, { 'max.message.bytes': String(4 << 20) });
    const ssl = { ca: [readFileSync(path('ca.pem'))], cert: readFileSync(path('client.pem')), key: readFileSync(path('client.key')) };
    const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, ssl, sasl: { mechanism: 'scram-sha-512', username: 'alice', password: 'alice-secret' } });
    const values = Array.from({ length: 20 }, (_, i) => `${i}:`.padEnd(100_000, String.fromCharCode(97 + i)));
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'kjs-tls', messages: values.map((value) => ({ value, partition: 0 })) });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'kjs-tls' });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: 'kjs-tls', fromBeginning: true });
      const got: string[] = [];
      await new Promise<void>((resolve, reject) => {
        consumer.run({ eachMessage: async ({ message }) => void (got.push(message.value!.toString()) === values.length && resolve()) }).catch(reject);
      });
      assert.deepEqual(got, values);
    } finally {
      await consumer.disconnect();
    }
    const untrusted = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, ssl: true }).producer();
    await assert.rejects(untrusted.connect(), /certificate|self.signed|issuer/i);
  }, { tls: { ...SERVER, clientAuth: 'required' }, sasl: { users: USERS } });
});

test('kcat over SSL with a client certificate: metadata, produce and consume', async () => {
  await withBroker(async ({ bootstrap, port }) => {
    const ssl = ['-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${path('ca.pem')}`, '-X', `ssl.certificate.location=${path('client.pem')}`, '-X', `ssl.key.location=${path('client.key')}`];
    const produced = await run('kcat', ['-b', bootstrap, ...ssl, '-P', '-t', 'kcat-tls', '-p', '0'], { input: sent.join('\n') + '\n', timeoutMs: 60_000 });
    assert.equal(produced.code, 0, produced.stderr);
    const consumed = await run('kcat', ['-b', bootstrap, ...ssl, '-C', '-t', 'kcat-tls', '-o', 'beginning', '-e', '-q'], { timeoutMs: 60_000 });
    assert.deepEqual([consumed.code, consumed.stdout.trim().split('\n')], [0, sent]);
    const meta = JSON.parse((await run('kcat', ['-b', bootstrap, ...ssl, '-L', '-J'], { timeoutMs: 60_000 })).stdout);
    assert.deepEqual(meta.brokers, [{ id: 1, name: `127.0.0.1:${port}` }]);
  }, { tls: { ...SERVER, clientAuth: 'required' } });
});

test('sluice start --tls-cert --tls-key --sasl-users: SASL_SSL; the CLI connects with --tls-ca and logs in', () =>
  withTempDir(async (dir) => {
    const users = join(dir, 'users.json');
    await writeFile(users, JSON.stringify(USERS));
    const { child, bootstrap, output } = await startCli(['--data-dir', join(dir, 'data'), '--tls-cert', path('server.pem'), '--tls-key', path('server.key'), '--sasl-users', users]);
    try {
      assert.match(output(), /security protocol SASL_SSL/);
      const cli = (args: string[]) => run(process.execPath, [SLUICE_BIN, ...args, '--bootstrap', bootstrap], { env: { SLUICE_SASL_PASSWORD: 'alice-secret' }, timeoutMs: 30_000 });
      const login = ['--sasl-mechanism', 'PLAIN', '--sasl-username', 'alice'];
      const created = await cli(['topics', 'create', 'over-tls', ...login, '--tls-ca', path('ca.pem')]);
      assert.equal(created.code, 0, created.stderr);
      const listed = await cli(['topics', 'list', ...login, '--tls-ca', path('ca.pem')]);
      assert.deepEqual([listed.code, listed.stdout.trim()], [0, 'over-tls']);
      const untrusted = await cli(['topics', 'list', ...login, '--tls']);
      assert.equal(untrusted.code, 1);
      assert.match(untrusted.stderr, /could not connect to 127\.0\.0\.1:\d+: .*(self.signed|unable to verify|local issuer)/i);
      const noKey = await cli(['topics', 'list', ...login, '--tls-cert', path('client.pem')]);
      assert.deepEqual([noKey.code, /--tls-cert and --tls-key go together/.test(noKey.stderr)], [2, true]);
    } finally {
      await stopCli(child);
    }
  }));

test('sluice start --tls-cert: a certificate renewed in its files is served after SIGHUP; kcat trusting only the new one then connects', () =>
  withTempDir(async (dir) => {
    const [cert, key] = [join(dir, 'server.pem'), join(dir, 'server.key')];
    await writeFile(cert, readFileSync(path('server.pem')));
    await writeFile(key, readFileSync(path('server.key')));
    // looked at by SIGHUP only, so that what loads the renewal is the signal
    const { child, bootstrap, output } = await startCli(['--data-dir', join(dir, 'data'), '--tls-cert', cert, '--tls-key', key, '--tls-file-check-ms', '0']);
    try {
      const metadata = () => run('kcat', ['-b', bootstrap, '-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${path('rotated-server.pem')}`, '-L', '-m', '5'], { timeoutMs: 30_000 });
      assert.notEqual((await metadata()).code, 0, 'the old certificate is not the one kcat trusts');
      await writeFile(cert, readFileSync(path('rotated-server.pem')));
      await writeFile(key, readFileSync(path('rotated-server.key')));
      child.kill('SIGHUP');
      await until(() => output().includes('TLS certificate reloaded'), 'the reload logged');
      assert.match(output(), /"subject":"CN=sluice-test-server-rotated".*"msg":"TLS certificate reloaded: new connections are served it"/);
      const renewed = await metadata();
      assert.equal(renewed.code, 0, renewed.stderr);
      assert.match(renewed.stdout, /1 brokers:/);
    } finally {
      await stopCli(child);
    }
  }));

test('librdkafka on two SSL listeners, each with its own certificate (one requiring client certificates): each client trusts only its listener\'s, produces and reads back', async () => {
  await withBroker(async ({ listeners }) => {
    const external = JSON.stringify({ 'security.protocol': 'SSL', 'ssl.ca.location': path('ca.pem') });
    assert.deepEqual((await python('confluent-secure', [listeners.EXTERNAL!, 'outside', external, String(COUNT)]))[0], { consumed: sent, errors: [] });
    const internal = JSON.stringify({ 'security.protocol': 'SSL', 'ssl.ca.location': path('rotated-server.pem'), 'ssl.certificate.location': path('client.pem'), 'ssl.key.location': path('client.key') });
    assert.deepEqual((await python('confluent-secure', [listeners.INTERNAL!, 'inside', internal, String(COUNT)]))[0], { consumed: sent, errors: [] });
    // the internal listener's certificate is not the one the external clients trust
    const [wrong] = (await python('confluent-secure', [listeners.INTERNAL!, 'inside', external, '1'])) as { consumed: string[]; errors: string[] }[];
    assert.deepEqual(wrong!.consumed, []);
    assert.ok(wrong!.errors.includes('_SSL') || wrong!.errors.includes('_TRANSPORT'), `${wrong!.errors}`);
  }, {
    tls: { ...SERVER, ca: undefined },
    listeners: [
      { name: 'EXTERNAL', securityProtocol: 'SSL', host: '127.0.0.1', port: 0 },
      { name: 'INTERNAL', securityProtocol: 'SSL', host: '127.0.0.1', port: 0, tlsClientAuth: 'required', tls: { cert: readFileSync(path('rotated-server.pem')), key: readFileSync(path('rotated-server.key')), ca: readFileSync(path('ca.pem')) } },
    ],
  });
});

test('librdkafka with a client certificate the broker\'s revocation list names is refused; one it does not name is served', async () => {
  await withBroker(async ({ bootstrap }) => {
    const rdkafka = (name: string) => JSON.stringify({ 'security.protocol': 'SSL', 'ssl.ca.location': path('ca.pem'), 'ssl.certificate.location': path(`${name}-client.pem`), 'ssl.key.location': path(`${name}-client.key`) });
    assert.deepEqual((await python('confluent-secure', [bootstrap, 'revocable', rdkafka('kept'), String(COUNT)]))[0], { consumed: sent, errors: [] });
    const [revoked] = (await python('confluent-secure', [bootstrap, 'revocable', rdkafka('revoked'), '1'])) as { consumed: string[]; errors: string[] }[];
    assert.deepEqual(revoked!.consumed, []);
    assert.ok(revoked!.errors.includes('_SSL') || revoked!.errors.includes('_TRANSPORT'), `${revoked!.errors}`);
  }, { tls: { ...SERVER, ca: readFileSync(path('crl-ca.pem')), crl: readFileSync(path('crl-revoked.pem')), clientAuth: 'required' } });
});
