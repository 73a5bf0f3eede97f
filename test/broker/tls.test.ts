// A TLS listener at the protocol level, with Sluice's own client: requests large and small over TLS, client
// certificates required (one the CA did not sign refused), a plaintext client refused and logged, SASL over TLS, a
// renewed certificate served without a restart.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { once } from 'node:events';
import { connect as tlsConnect } from 'node:tls';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { authenticate } from '../../src/admin/sasl-client.js';
import type { TlsSettings } from '../../src/io/tcp.js';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import { connected, withBroker } from '../helpers/broker.js';
import { capturedLogger } from '../helpers/captured-logger.js';
import { until } from '../helpers/until.js';
import { servedSubject, tlsFixture } from '../helpers/tls-fixtures.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { TlsKeys } from '../../src/broker/tls-keys.js';

const CA = tlsFixture('ca.pem');
const SERVER: TlsSettings = { cert: tlsFixture('server.pem'), key: tlsFixture('server.key'), ca: CA, clientAuth: 'none' };
const CLIENT = { ca: CA, cert: tlsFixture('client.pem'), key: tlsFixture('client.key') };

const metadata = (c: KafkaClient) => c.send(3, 9, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });

test('over TLS, requests of every size are served: an 8 MB produce read back whole, pipelined small ones in order', async () => {
  await withBroker(async ({ bootstrap, port, broker }) => {
    await broker.createTopic('t', 1, { 'max.message.bytes': String(16 << 20) });
    await connected(bootstrap, async (c) => {
      assert.deepEqual((await metadata(c)).brokers.map((b: { host: string; port: number }) => [b.host, b.port]), [['127.0.0.1', port]]);
      const big = buildRecordBatch(Array.from({ length: 8 }, (_, i) => ({ value: Buffer.alloc(1 << 20, i) })));
      const produce = (records: Buffer) => c.send(0, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name: 't', partitionData: [{ index: 0, records }] }] });
      assert.equal((await produce(big)).responses[0].partitionResponses[0].errorCode, 0);
      const small = await Promise.all(Array.from({ length: 50 }, (_, i) => produce(buildRecordBatch([{ value: `small-${i}` }]))));
      assert.deepEqual(small.map((r) => r.responses[0].partitionResponses[0].baseOffset), Array.from({ length: 50 }, (_, i) => 8 + i));
      const fetched = await c.send(1, 12, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 32 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 32 << 20 }] }], forgottenTopicsData: [], rackId: '',
      });
      const records = decodeRecordBatches(fetched.responses[0].partitions[0].records).flatMap((b) => b.records);
      assert.equal(records.length, 58);
      assert.ok(records.slice(0, 8).every((r, i) => r.value!.equals(Buffer.alloc(1 << 20, i))));
      assert.deepEqual(records.slice(8).map((r) => r.value!.toString()), Array.from({ length: 50 }, (_, i) => `small-${i}`));
    }, { ca: CA });
  }, { tls: SERVER });
});

test('a plaintext client, or one that does not trust the certificate, is refused at the handshake, which is logged; others go on', async () => {
  const { logger, lines } = capturedLogger();
  await withBroker(async ({ bootstrap, port }) => {
    const plain = await KafkaClient.connectTo(bootstrap);
    await assert.rejects(metadata(plain), /connection closed/);
    plain.close();
    await until(() => lines.some((l) => l.msg === 'closing connection: TLS handshake failed'), 'the refusal to be logged');
    const refusal = lines.find((l) => l.msg === 'closing connection: TLS handshake failed')!;
    assert.deepEqual([refusal.code, refusal.reason], ['ERR_SSL_WRONG_VERSION_NUMBER', 'the client does not speak TLS']);
    await assert.rejects(KafkaClient.connectTo(bootstrap, 'untrusting', {}), /could not connect to 127\.0\.0\.1:\d+: .*(self.signed|unable to verify|local issuer)/i);
    // a connection that sends nothing holds nobody up
    const idle = connect(port, '127.0.0.1');
    await connected(bootstrap, async (c) => assert.equal((await metadata(c)).brokers.length, 1), { ca: CA });
    idle.destroy();
  }, { tls: SERVER, logger });
});

test('with client certificates required, a client without one or with one the CA did not sign is refused and logged; one the CA signed is served', async () => {
  const { logger, lines } = capturedLogger();
  await withBroker(async ({ bootstrap }) => {
    await assert.rejects(
      connected(bootstrap, (c) => metadata(c), { ca: CA }),
      /connection closed|certificate required|socket hang up|ECONNRESET/,
    );
    // the handshake itself completes (OpenSSL keeps its verdict for the server to act on): the broker then closes it
    const untrusted = { ca: CA, cert: tlsFixture('untrusted-client.pem'), key: tlsFixture('untrusted-client.key') };
    await assert.rejects(connected(bootstrap, (c) => metadata(c), untrusted), /connection closed|socket hang up|ECONNRESET/);
    await until(() => lines.some((l) => l.msg === 'closing connection: TLS handshake failed' && /client certificate is not trusted: self.signed certificate/.test(String(l.reason))), 'the refusal logged');
    await connected(bootstrap, async (c) => assert.equal((await metadata(c)).brokers.length, 1), CLIENT);
  }, { tls: { ...SERVER, clientAuth: 'required' }, logger });
});

test('SASL over TLS (SASL_SSL): authenticate, then served', async () => {
  await withBroker(async ({ bootstrap }) => {
    await connected(bootstrap, async (c) => {
      await assert.rejects(metadata(c), /connection closed/);
    }, { ca: CA });
    await connected(bootstrap, async (c) => {
      await authenticate(c, { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'alice-secret' });
      assert.equal((await metadata(c)).brokers.length, 1);
    }, { ca: CA });
  }, { tls: SERVER, sasl: { users: { alice: 'alice-secret' } } });
});

test('a renewed certificate in the TLS files is served to new connections; open ones keep theirs; one that cannot be used is logged and the current kept', () =>
  withTempDir(async (dir) => {
    const files = { cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
    await writeFile(files.cert, tlsFixture('server.pem'));
    await writeFile(files.key, tlsFixture('server.key'));
    const trust = [CA, tlsFixture('rotated-server.pem')];
    const { logger, lines } = capturedLogger();
    await withBroker(async ({ bootstrap, port, broker }) => {
      assert.equal(await servedSubject(port, trust), 'CN=sluice-test-server');
      assert.deepEqual(lines.find((l) => l.msg === 'TLS certificate loaded')?.subject, 'CN=sluice-test-server');
      await connected(bootstrap, async (before) => {
        // the key first, as a renewal may write them: the certificate and key mismatch until both are written
        await writeFile(files.key, tlsFixture('rotated-server.key'));
        await writeFile(files.cert, tlsFixture('rotated-server.pem'));
        await until(() => lines.some((l) => l.msg === 'TLS certificate reloaded: new connections are served it' && l.subject === 'CN=sluice-test-server-rotated'), 'the renewed certificate loaded');
        assert.equal(await servedSubject(port, trust), 'CN=sluice-test-server-rotated');
        assert.equal((await metadata(before)).brokers.length, 1, 'a connection made before is still served');
      }, { ca: CA });
      // a key that is not the certificate's: refused, logged, and the renewed one still served
      await writeFile(files.key, tlsFixture('client.key'));
      await until(() => lines.some((l) => l.msg === 'TLS certificate reload failed: the current one is still served' && /key values mismatch/.test(String(l.reason))), 'the failed reload logged');
      assert.equal(await servedSubject(port, trust), 'CN=sluice-test-server-rotated');
      // given in memory (the embedded API), and told what was loaded
      const [summary] = await broker.reloadTls({ cert: tlsFixture('server.pem'), key: tlsFixture('server.key') });
      assert.deepEqual([summary!.subject, summary!.expires], ['CN=sluice-test-server', new Date(Date.parse(new X509Certificate(tlsFixture('server.pem')).validTo)).toISOString()]);
      assert.equal(await servedSubject(port, trust), 'CN=sluice-test-server');
      await assert.rejects(broker.reloadTls({ cert: tlsFixture('server.pem'), key: tlsFixture('client.key') }), /TLS certificate reload failed: .*key values mismatch/);
    }, { tls: { ...SERVER, ca: undefined, files }, tlsFileCheckMs: 50, logger });
  }));

test('a certificate and key that cannot be used stop the start; without files a reload needs the new ones; expiry is warned of', async () => {
  await assert.rejects(withBroker(async () => undefined, { tls: { ...SERVER, key: tlsFixture('client.key') } }), /TLS: the certificate, key and settings cannot be used: .*key values mismatch/);
  await withBroker(async ({ broker }) => {
    await assert.rejects(broker.reloadTls(), /TLS certificate reload failed: the certificate was given in memory, not in files: give the new one/);
  }, { tls: SERVER });
  await withBroker(async ({ broker }) => {
    await assert.rejects(broker.reloadTls(), /this broker has no TLS certificate to reload/);
  });
  const expiresAt = Date.parse(new X509Certificate(tlsFixture('server.pem')).validTo);
  for (const [daysBefore, level, msg] of [[40, null, null], [10, 40, 'the TLS certificate expires in 9 days'], [-2, 50, 'the TLS certificate has expired: clients will refuse it']] as const) {
    const { logger, lines } = capturedLogger();
    TlsKeys.open(SERVER, logger, () => expiresAt - daysBefore * 86_400_000 + 1000);
    const warned = lines.filter((l) => l.level > 30);
    assert.deepEqual(warned.map((l) => [l.level, l.msg]), level === null ? [] : [[level, msg]], String(daysBefore));
  }
});

test('a certificate revocation list refuses the client certificates it lists, and a renewed list is read again; the oldest TLS version and the ciphers can be set', () =>
  withTempDir(async (dir) => {
    const crl = join(dir, 'clients.crl');
    await writeFile(crl, tlsFixture('crl-empty.pem'));
    for (const name of ['server.pem', 'server.key']) await writeFile(join(dir, name), tlsFixture(name));
    const client = (name: string) => ({ ca: CA, cert: tlsFixture(`${name}-client.pem`), key: tlsFixture(`${name}-client.key`) });
    const { logger, lines } = capturedLogger();
    await withBroker(async ({ bootstrap, broker }) => {
      // the list as first given revokes nothing
      await connected(bootstrap, async (c) => assert.equal((await metadata(c)).brokers.length, 1), client('revoked'));
      await writeFile(crl, tlsFixture('crl-revoked.pem'));
      await broker.reloadTls();
      await connected(bootstrap, async (c) => assert.equal((await metadata(c)).brokers.length, 1), client('kept'));
      await assert.rejects(connected(bootstrap, (c) => metadata(c), client('revoked')), /connection closed|socket hang up|ECONNRESET/);
      await until(() => lines.some((l) => l.msg === 'closing connection: TLS handshake failed' && /certificate revoked/.test(String(l.reason))), 'the refusal logged');
    }, {
      // the CA given in memory only: a reload keeps it
      tls: { ...SERVER, ca: tlsFixture('crl-ca.pem'), crl: tlsFixture('crl-empty.pem'), clientAuth: 'required', files: { cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), crl } },
      tlsFileCheckMs: 0,
      logger,
    });
    // TLS 1.3 only: a client that stops at 1.2 is refused at the handshake
    await withBroker(async ({ bootstrap, port }) => {
      assert.equal(await servedSubject(port, [CA]), 'CN=sluice-test-server');
      const old = tlsConnect({ host: '127.0.0.1', port, ca: [CA], maxVersion: 'TLSv1.2' });
      const served = once(old, 'secureConnect').then(() => {
        old.destroy();
        throw new Error('a TLS 1.2 client was served');
      });
      const [err] = (await Promise.race([once(old, 'error'), served])) as [Error];
      assert.match(err.message, /protocol version|alert/);
      // described by Kafka's names
      const described = await connected(bootstrap, (c) => c.send(32, 4, { resources: [{ resourceType: 4, resourceName: '1', configurationKeys: ['ssl.client.auth', 'ssl.enabled.protocols', 'ssl.cipher.suites'] }], includeSynonyms: false, includeDocumentation: false }), { ca: CA });
      assert.deepEqual(described.results[0].configs.map((e: { name: string; value: string }) => [e.name, e.value]), [['ssl.client.auth', 'none'], ['ssl.enabled.protocols', 'TLSv1.3'], ['ssl.cipher.suites', '']]);
    }, { tls: { ...SERVER, minVersion: 'TLSv1.3' } });
    // TLS 1.2 with one cipher: the client is served that one
    await withBroker(async ({ port }) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca: [CA], maxVersion: 'TLSv1.2' });
      await once(socket, 'secureConnect');
      assert.equal(socket.getCipher().name, 'ECDHE-RSA-AES256-GCM-SHA384');
      socket.destroy();
    }, { tls: { ...SERVER, ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' } });
    await assert.rejects(withBroker(async () => undefined, { tls: { ...SERVER, ciphers: 'NO-SUCH-CIPHER' } }), /TLS: the certificate, key and settings cannot be used: .*no cipher match/i);
    await assert.rejects(withBroker(async () => undefined, { tls: { ...SERVER, ca: undefined, crl: tlsFixture('crl-empty.pem') } }), /a certificate revocation list needs the CA whose certificates it lists/);
  }));
