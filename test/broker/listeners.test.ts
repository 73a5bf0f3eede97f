// Several listeners, each with its own security protocol: a client is told the address of the listener it came in
// on (Metadata, FindCoordinator, DescribeCluster), SASL is asked only where the listener's protocol says so, TLS
// only on TLS listeners, and listeners that cannot be served are refused at start.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { authenticate } from '../../src/admin/sasl-client.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { advertisedOf, type ListenerConfig } from '../../src/broker/listeners.js';
import { startBroker } from '../../src/index.js';
import { withBroker } from '../helpers/broker.js';
import { servedSubject, tlsFixture } from '../helpers/tls-fixtures.js';
import { withTempDir } from '../helpers/temp-dir.js';

const USERS = { alice: 'alice-secret' };
const metadata = (c: KafkaClient) => c.send(3, 12, { topics: null, allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
const addresses = async (c: KafkaClient) => {
  const brokers = (await metadata(c)).brokers.map((b: { host: string; port: number }) => `${b.host}:${b.port}`);
  const coordinator = await c.send(10, 4, { keyType: 0, coordinatorKeys: ['g'] });
  const cluster = await c.send(60, 1, { includeClusterAuthorizedOperations: false, endpointType: 1 });
  return [...brokers, `${coordinator.coordinators[0].host}:${coordinator.coordinators[0].port}`, ...cluster.brokers.map((b: { host: string; port: number }) => `${b.host}:${b.port}`)];
};
const SERVER_TLS = { cert: tlsFixture('server.pem'), key: tlsFixture('server.key'), clientAuth: 'none' as const };

const listener = (name: string, securityProtocol: ListenerConfig['securityProtocol'], more: Partial<ListenerConfig> = {}): ListenerConfig => ({ name, securityProtocol, host: '127.0.0.1', port: 0, ...more });

test('a PLAINTEXT and a SASL_PLAINTEXT listener: each client is told its own listener\'s address; SASL is asked only on the second', async () => {
  await withBroker(async ({ bootstrap, listeners }) => {
    assert.deepEqual(Object.keys(listeners), ['INTERNAL', 'SASL_PLAINTEXT']);
    assert.equal(bootstrap, listeners.INTERNAL);
    assert.notEqual(listeners.INTERNAL, listeners.SASL_PLAINTEXT);
    const plain = await KafkaClient.connectTo(listeners.INTERNAL!);
    const secured = await KafkaClient.connectTo(listeners.SASL_PLAINTEXT!);
    const unauthenticated = await KafkaClient.connectTo(listeners.SASL_PLAINTEXT!);
    try {
      assert.deepEqual(await addresses(plain), [listeners.INTERNAL, listeners.INTERNAL, listeners.INTERNAL]);
      assert.deepEqual(await plain.send(17, 1, { mechanism: 'PLAIN' }), { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] }, 'no SASL on a PLAINTEXT listener');
      await assert.rejects(metadata(unauthenticated), /connection closed/, 'SASL is asked on the other');
      await authenticate(secured, { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'alice-secret' });
      assert.deepEqual(await addresses(secured), [listeners.SASL_PLAINTEXT, listeners.SASL_PLAINTEXT, listeners.SASL_PLAINTEXT]);
    } finally {
      plain.close();
      secured.close();
      unauthenticated.close();
    }
  }, { sasl: { users: USERS }, listeners: [listener('INTERNAL', 'PLAINTEXT'), listener('SASL_PLAINTEXT', 'SASL_PLAINTEXT')] });
});

test('a listener\'s advertised address is what its clients are told; a wildcard host is advertised as loopback', async () => {
  await withBroker(async ({ listeners, broker }) => {
    assert.equal(listeners.OUTSIDE, 'kafka.example.com:19092');
    const bound = broker.listeners.find((l) => l.name === 'OUTSIDE')!;
    const c = await KafkaClient.connectTo(`127.0.0.1:${bound.port}`);
    try {
      assert.deepEqual(await addresses(c), [listeners.OUTSIDE, listeners.OUTSIDE, listeners.OUTSIDE]);
    } finally {
      c.close();
    }
  }, { listeners: [listener('OUTSIDE', 'PLAINTEXT', { advertisedHost: 'kafka.example.com', advertisedPort: 19092 })] });
  assert.deepEqual(advertisedOf(listener('ANY', 'PLAINTEXT', { host: '0.0.0.0' }), 9092), { host: '127.0.0.1', port: 9092 });
  assert.deepEqual(advertisedOf(listener('ANY', 'PLAINTEXT', { host: '::', advertisedHost: 'broker-1' }), 9092), { host: 'broker-1', port: 9092 });
});

test('an SSL listener beside a PLAINTEXT one: TLS only where the listener speaks it', async () => {
  const [cert, key, ca] = ['server.pem', 'server.key', 'ca.pem'].map(tlsFixture);
  await withBroker(async ({ listeners }) => {
    const secure = await KafkaClient.connectTo(listeners.SSL!, 'tls', { ca });
    const plain = await KafkaClient.connectTo(listeners.PLAINTEXT!);
    try {
      assert.deepEqual(await addresses(secure), [listeners.SSL, listeners.SSL, listeners.SSL]);
      assert.deepEqual(await addresses(plain), [listeners.PLAINTEXT, listeners.PLAINTEXT, listeners.PLAINTEXT]);
      await assert.rejects(KafkaClient.connectTo(listeners.PLAINTEXT!, 'tls', { ca }).then((c) => metadata(c).finally(() => c.close())));
    } finally {
      secure.close();
      plain.close();
    }
  }, { tls: { cert, key, ca, clientAuth: 'none' }, listeners: [listener('SSL', 'SSL'), listener('PLAINTEXT', 'PLAINTEXT')] });
});

test('listeners that cannot be served are refused at start', async () => {
  await assert.rejects(startBroker({ listeners: [listener('SSL', 'SSL')] }), /listener SSL is SSL, which needs the TLS certificate and key/);
  await assert.rejects(startBroker({ listeners: [listener('A', 'SASL_PLAINTEXT')] }), /listener A is SASL_PLAINTEXT, which needs SASL \(users, or OAUTHBEARER's token settings\)/);
  await assert.rejects(startBroker({ listeners: [listener('A', 'PLAINTEXT'), listener('a', 'PLAINTEXT')] }), /listener a is named twice/);
  await assert.rejects(startBroker({ listeners: [] }), /a broker needs at least one listener/);
});

test('DescribeConfigs of the broker lists its listeners, session lifetime and principal rules, read-only', async () => {
  await withBroker(async ({ listeners, broker }) => {
    const c = await KafkaClient.connectTo(listeners.INTERNAL!);
    try {
      const keys = ['listeners', 'advertised.listeners', 'listener.security.protocol.map', 'connections.max.reauth.ms', 'ssl.principal.mapping.rules'];
      const res = await c.send(32, 4, { resources: [{ resourceType: 4, resourceName: '1', configurationKeys: keys }], includeSynonyms: false, includeDocumentation: false });
      const [internal, external] = broker.listeners;
      assert.deepEqual(res.results[0].configs.map((e: { name: string; value: string; readOnly: boolean }) => [e.name, e.value, e.readOnly]), [
        ['listeners', `INTERNAL://127.0.0.1:${internal!.port},EXTERNAL://127.0.0.1:${external!.port}`, true],
        ['advertised.listeners', `INTERNAL://127.0.0.1:${internal!.port},EXTERNAL://kafka.example.com:19093`, true],
        ['listener.security.protocol.map', 'INTERNAL:PLAINTEXT,EXTERNAL:SASL_PLAINTEXT', true],
        ['connections.max.reauth.ms', '3600000', true],
        ['ssl.principal.mapping.rules', 'RULE:^CN=([^,]+)$/$1/,DEFAULT', true],
      ]);
    } finally {
      c.close();
    }
  }, {
    sasl: { users: USERS, maxReauthMs: 3_600_000 },
    listeners: [listener('INTERNAL', 'PLAINTEXT'), listener('EXTERNAL', 'SASL_PLAINTEXT', { advertisedHost: 'kafka.example.com', advertisedPort: 19093 })],
    principalMappingRules: 'RULE:^CN=([^,]+)$/$1/,DEFAULT',
  });
});

test('listeners with settings of their own: client certificates required on one, not on the other; each its SASL mechanisms', async () => {
  const [cert, key, ca, alicePem, aliceKey] = ['server.pem', 'server.key', 'ca.pem', 'client.pem', 'client.key'].map(tlsFixture);
  await withBroker(async ({ listeners }) => {
    const served = async (address: string, tls: { cert?: Buffer; key?: Buffer }) => {
      const c = await KafkaClient.connectTo(address, 'own-settings', { ca, ...tls });
      try {
        return (await metadata(c)).brokers.length === 1;
      } catch {
        return false;
      } finally {
        c.close();
      }
    };
    assert.equal(await served(listeners.INTERNAL!, { cert: alicePem, key: aliceKey }), true);
    assert.equal(await served(listeners.INTERNAL!, {}), false, 'INTERNAL requires a client certificate');
    const external = await KafkaClient.connectTo(listeners.EXTERNAL!, 'external', { ca });
    try {
      assert.deepEqual(await external.send(17, 1, { mechanism: 'PLAIN' }), { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: ['SCRAM-SHA-512'] });
    } finally {
      external.close();
    }
    const scram = await KafkaClient.connectTo(listeners.EXTERNAL!, 'external', { ca });
    try {
      await authenticate(scram, { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'alice-secret' });
      assert.equal((await metadata(scram)).brokers.length, 1, 'EXTERNAL asks for no certificate');
      const keys = ['listener.name.internal.ssl.client.auth', 'listener.name.external.sasl.enabled.mechanisms'];
      const described = await scram.send(32, 4, { resources: [{ resourceType: 4, resourceName: '1', configurationKeys: keys }], includeSynonyms: false, includeDocumentation: false });
      assert.deepEqual(described.results[0].configs.map((e: { name: string; value: string }) => [e.name, e.value]), [[keys[0], 'required'], [keys[1], 'SCRAM-SHA-512']]);
    } finally {
      scram.close();
    }
  }, {
    tls: { cert, key, ca, clientAuth: 'none' },
    sasl: { users: USERS },
    listeners: [listener('INTERNAL', 'SSL', { tlsClientAuth: 'required' }), listener('EXTERNAL', 'SASL_SSL', { saslMechanisms: ['SCRAM-SHA-512'] })],
  });
  await assert.rejects(startBroker({ listeners: [listener('A', 'PLAINTEXT', { tlsClientAuth: 'required' })] }), /listener A is PLAINTEXT: it has no TLS for a client auth setting/);
  await assert.rejects(startBroker({ listeners: [listener('A', 'PLAINTEXT', { saslMechanisms: ['PLAIN'] })] }), /listener A is PLAINTEXT: it has no SASL for mechanisms/);
  await assert.rejects(startBroker({ tls: { cert, key, clientAuth: 'none' }, listeners: [listener('A', 'SSL', { tlsClientAuth: 'required' })] }), /listener A requires client certificates, which needs the CA that signs them/);
});

test('listeners with certificates of their own: each serves its own, requires client certificates its own CA signed, and reloads its own files', () =>
  withTempDir(async (dir) => {
    const files = { cert: join(dir, 'internal.pem'), key: join(dir, 'internal.key'), ca: join(dir, 'internal-ca.pem') };
    await writeFile(files.cert, tlsFixture('rotated-server.pem'));
    await writeFile(files.key, tlsFixture('rotated-server.key'));
    await writeFile(files.ca, tlsFixture('ca.pem'));
    const internal = listener('INTERNAL', 'SSL', {
      tlsClientAuth: 'required',
      tls: { cert: tlsFixture('rotated-server.pem'), key: tlsFixture('rotated-server.key'), ca: tlsFixture('ca.pem'), files },
    });
    const trustBoth = [tlsFixture('ca.pem'), tlsFixture('rotated-server.pem')];
    await withBroker(async ({ listeners, broker }) => {
      const [external, own] = [listeners.EXTERNAL!, listeners.INTERNAL!].map((a) => Number(a.split(':')[1]));
      assert.equal(await servedSubject(external!, trustBoth), 'CN=sluice-test-server');
      const clientCert = { cert: tlsFixture('client.pem'), key: tlsFixture('client.key') };
      assert.equal(await servedSubject(own!, trustBoth, clientCert), 'CN=sluice-test-server-rotated');
      const c = await KafkaClient.connectTo(listeners.INTERNAL!, 'tls', { ca: tlsFixture('rotated-server.pem'), ...clientCert });
      try {
        assert.deepEqual(await addresses(c), [listeners.INTERNAL, listeners.INTERNAL, listeners.INTERNAL]);
        const described = await c.send(32, 4, { resources: [{ resourceType: 4, resourceName: '1', configurationKeys: null }], includeSynonyms: false, includeDocumentation: false });
        const own = described.results[0].configs.filter((x: { name: string }) => x.name.startsWith('listener.name.internal.ssl.')).map((x: { name: string; value: string }) => [x.name, x.value]);
        assert.deepEqual(own.sort(), [
          ['listener.name.internal.ssl.ca.location', files.ca],
          ['listener.name.internal.ssl.certificate.location', files.cert],
          ['listener.name.internal.ssl.client.auth', 'required'],
          ['listener.name.internal.ssl.key.location', files.key],
        ]);
      } finally {
        c.close();
      }
      // without a certificate its CA signed: refused there, not on the other listener
      await assert.rejects(KafkaClient.connectTo(listeners.INTERNAL!, 'tls', { ca: tlsFixture('rotated-server.pem') }).then((x) => metadata(x).finally(() => x.close())));
      // a reload reads the broker's files (none: given in memory) and the listener's own
      await assert.rejects(broker.reloadTls(), /the certificate was given in memory/);
      await writeFile(files.cert, tlsFixture('server.pem'));
      await writeFile(files.key, tlsFixture('server.key'));
      const [summary] = await broker.reloadTls({ cert: tlsFixture('server.pem'), key: tlsFixture('server.key') });
      assert.equal(summary!.subject, 'CN=sluice-test-server');
      assert.equal(await servedSubject(own!, trustBoth, clientCert), 'CN=sluice-test-server-rotated', 'the material given replaces the broker\'s own only');
    }, { tls: SERVER_TLS, tlsFileCheckMs: 0, listeners: [listener('EXTERNAL', 'SSL'), internal] });
    // its own files are read again on reload, and when they change
    await withBroker(async ({ listeners, broker }) => {
      const own = Number(listeners.INTERNAL!.split(':')[1]);
      const clientCert = { cert: tlsFixture('client.pem'), key: tlsFixture('client.key') };
      const summaries = await broker.reloadTls();
      assert.deepEqual(summaries.map((s) => s.subject), ['CN=sluice-test-server']);
      assert.equal(await servedSubject(own, trustBoth, clientCert), 'CN=sluice-test-server');
      await writeFile(files.key, tlsFixture('rotated-server.key'));
      await writeFile(files.cert, tlsFixture('rotated-server.pem'));
      const deadline = Date.now() + 10_000;
      let subject = await servedSubject(own, trustBoth, clientCert);
      while (subject !== 'CN=sluice-test-server-rotated' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        subject = await servedSubject(own, trustBoth, clientCert);
      }
      assert.equal(subject, 'CN=sluice-test-server-rotated', 'the renewed certificate served');
      // with its own CA read again too: the client certificate it signed is still taken
      const c = await KafkaClient.connectTo(listeners.INTERNAL!, 'tls', { ca: tlsFixture('rotated-server.pem'), ...clientCert });
      try {
        assert.equal((await metadata(c)).brokers.length, 1);
      } finally {
        c.close();
      }
    }, { tlsFileCheckMs: 50, listeners: [internal] });
  }));

test('a listener\'s own TLS settings are checked at start', async () => {
  const own = { cert: tlsFixture('rotated-server.pem'), key: tlsFixture('rotated-server.key') };
  await assert.rejects(startBroker({ listeners: [listener('A', 'SSL', { tls: { cert: own.cert } })] }), /listener A's own certificate and key go together/);
  await assert.rejects(startBroker({ listeners: [listener('A', 'PLAINTEXT', { tls: own })] }), /listener A is PLAINTEXT: it has no TLS for a certificate or CA/);
  await assert.rejects(startBroker({ listeners: [listener('A', 'SSL', { tls: { ca: tlsFixture('ca.pem') } })] }), /listener A is SSL, which needs the TLS certificate and key/);
  await assert.rejects(startBroker({ listeners: [listener('A', 'SSL', { tls: { ...own, key: tlsFixture('server.key') } })] }), /listener A: TLS: the certificate, key and settings cannot be used: .*key values mismatch/);
  await assert.rejects(startBroker({ listeners: [listener('A', 'SSL', { tls: own, tlsClientAuth: 'required' })] }), /listener A requires client certificates, which needs the CA that signs them/);
  // its own certificate is enough, without the broker's
  await withBroker(async ({ listeners }) => {
    assert.equal(await servedSubject(Number(listeners.A!.split(':')[1]), [tlsFixture('rotated-server.pem')]), 'CN=sluice-test-server-rotated');
  }, { listeners: [listener('A', 'SSL', { tls: own })] });
});
