// Connection limits: an address at its limit (its own, or the default) is refused; past the broker's limit
// connections wait in order and are let in as others close; a shutdown refuses those still waiting; new limits apply
// to connections to come. Then the same against a broker, with Sluice's own client, and the limits changed as
// dynamic broker configs.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { ConnectionLimits } from '../../src/broker/connection-limits.js';
import { withBroker } from '../helpers/broker.js';
import { capturedLogger } from '../helpers/captured-logger.js';
import { until } from '../helpers/until.js';
import { withTempDir } from '../helpers/temp-dir.js';

test('per address: the default limit or the address\'s own; refused ones are not counted', () => {
  const limits = new ConnectionLimits({ maxConnections: 100, maxConnectionsPerIp: 2, maxConnectionsPerIpOverrides: { '10.0.0.9': 3, '10.0.0.8': 0 } });
  const events: string[] = [];
  const pending = (name: string) => ({ admit: () => events.push(`admit ${name}`), refuse: () => events.push(`refuse ${name}`) });
  assert.deepEqual([1, 2, 3].map((i) => limits.take('10.0.0.1', pending(`a${i}`))), [true, true, false]);
  assert.deepEqual([1, 2, 3, 4].map((i) => limits.take('10.0.0.9', pending(`b${i}`))), [true, true, true, false]);
  assert.equal(limits.take('10.0.0.8', pending('c')), false);
  limits.release('10.0.0.1');
  assert.equal(limits.take('10.0.0.1', pending('a4')), true);
  assert.deepEqual(events, ['admit a1', 'admit a2', 'admit b1', 'admit b2', 'admit b3', 'admit a4']);
});

test('past the broker\'s limit connections wait in order, let in as others close; a shutdown refuses the rest', () => {
  const limits = new ConnectionLimits({ maxConnections: 2, maxConnectionsPerIp: 10, maxConnectionsPerIpOverrides: {} });
  const events: string[] = [];
  const pending = (name: string) => ({ admit: () => events.push(`admit ${name}`), refuse: () => events.push(`refuse ${name}`) });
  for (const name of ['a', 'b', 'c', 'd', 'e']) assert.equal(limits.take('10.0.0.1', pending(name)), true);
  assert.equal(limits.waitingCount, 3);
  limits.release('10.0.0.1');
  limits.release('10.0.0.1');
  assert.deepEqual(events, ['admit a', 'admit b', 'admit c', 'admit d']);
  limits.refuseWaiting();
  assert.deepEqual(events.slice(4), ['refuse e']);
  // the address's count followed: eight more fit beside the two served
  for (let i = 0; i < 8; i++) assert.equal(limits.take('10.0.0.1', pending(`x${i}`)), true);
  assert.equal(limits.take('10.0.0.1', pending('y')), false);
});

const apiVersions = (c: KafkaClient) => c.send(18, 3, { clientSoftwareName: 'test', clientSoftwareVersion: '1' });

test('a broker refuses an address\'s connection past max-connections-per-ip, and logs it; one closed makes room', async () => {
  const { logger, lines } = capturedLogger();
  await withBroker(async ({ bootstrap, broker }) => {
    const first = await KafkaClient.connectTo(bootstrap);
    const second = await KafkaClient.connectTo(bootstrap);
    const third = await KafkaClient.connectTo(bootstrap);
    try {
      assert.equal((await apiVersions(first)).errorCode, 0);
      assert.equal((await apiVersions(second)).errorCode, 0);
      await assert.rejects(apiVersions(third), /connection closed/);
      assert.ok(lines.some((l) => l.msg === 'closing connection: its address holds the most connections it may (max-connections-per-ip)' && l.host === '127.0.0.1' && l.limit === 2));
      first.close();
      await until(() => broker.connections.size === 1, 'the first connection\'s close seen');
      const fourth = await KafkaClient.connectTo(bootstrap);
      try {
        assert.equal((await apiVersions(fourth)).errorCode, 0);
      } finally {
        fourth.close();
      }
    } finally {
      first.close();
      second.close();
      third.close();
    }
  }, { logger, maxConnectionsPerIp: 2 });
});

test('past max-connections a new connection waits, unread, and is served once another closes', async () => {
  const { logger, lines } = capturedLogger();
  await withBroker(async ({ bootstrap, broker }) => {
    const first = await KafkaClient.connectTo(bootstrap);
    const second = await KafkaClient.connectTo(bootstrap);
    try {
      assert.equal((await apiVersions(first)).errorCode, 0);
      await until(() => broker.connections.size === 2, 'both served');
      const third = await KafkaClient.connectTo(bootstrap);
      try {
        let answered = false;
        const waiting = apiVersions(third).then((r) => ((answered = true), r));
        await until(() => lines.some((l) => l.msg === 'the broker holds the most connections it may (max-connections): new ones wait, unread, until one closes'), 'the wait logged');
        assert.equal((await apiVersions(second)).errorCode, 0, 'the others are served');
        assert.equal(answered, false);
        first.close();
        assert.equal((await waiting).errorCode, 0);
        assert.equal(broker.connections.size, 2);
      } finally {
        third.close();
      }
    } finally {
      first.close();
      second.close();
    }
  }, { logger, maxConnections: 2 });
});

test('new limits apply to connections to come: those served stay; a higher max-connections lets waiting ones in, in order', () => {
  const limits = new ConnectionLimits({ maxConnections: 2, maxConnectionsPerIp: 10, maxConnectionsPerIpOverrides: {} });
  const events: string[] = [];
  const pending = (name: string) => ({ admit: () => events.push(`admit ${name}`), refuse: () => events.push(`refuse ${name}`) });
  for (const name of ['a', 'b', 'c', 'd', 'e']) limits.take('10.0.0.1', pending(name));
  limits.update({ maxConnections: 4, maxConnectionsPerIp: 10, maxConnectionsPerIpOverrides: {} });
  assert.deepEqual(events, ['admit a', 'admit b', 'admit c', 'admit d']);
  // lowered below what is served: nobody is let in until enough have closed
  limits.update({ maxConnections: 2, maxConnectionsPerIp: 10, maxConnectionsPerIpOverrides: {} });
  limits.release('10.0.0.1');
  limits.release('10.0.0.1');
  assert.deepEqual(events.slice(4), []);
  limits.release('10.0.0.1');
  assert.deepEqual(events.slice(4), ['admit e']);
  limits.update({ maxConnections: 2, maxConnectionsPerIp: 3, maxConnectionsPerIpOverrides: { '10.0.0.2': 0 } });
  assert.equal(limits.take('10.0.0.1', pending('f')), true, 'two of the address\'s are left');
  assert.equal(limits.take('10.0.0.1', pending('g')), false);
  assert.equal(limits.take('10.0.0.2', pending('h')), false);
});

const alterBroker = (c: KafkaClient, resourceName: string, configs: { name: string; configOperation: number; value: string | null }[], validateOnly = false) =>
  c.send(44, 1, { resources: [{ resourceType: 4, resourceName, configs }], validateOnly }).then((r) => r.responses[0] as { errorCode: number; errorMessage: string | null });
const describeBroker = async (c: KafkaClient, resourceName: string, keys: string[]) => {
  const res = await c.send(32, 4, { resources: [{ resourceType: 4, resourceName, configurationKeys: keys }], includeSynonyms: true, includeDocumentation: false });
  return res.results[0].configs.map((e: { name: string; value: string; configSource: number; readOnly: boolean; synonyms: { value: string; source: number }[] }) => [e.name, e.value, e.configSource, e.readOnly, e.synonyms.map((s) => [s.value, s.source])]);
};

test('the connection limits are dynamic broker configs: set cluster-wide or for this broker (which wins), applied at once, kept across a restart', () =>
  withTempDir(async (dataDir) => {
    const { logger, lines } = capturedLogger();
    await withBroker(async ({ bootstrap }) => {
      const admin = await KafkaClient.connectTo(bootstrap);
      try {
        // a change of the storage engine's configs alone writes no broker settings
        assert.equal((await alterBroker(admin, '1', [{ name: 'log.retention.ms', configOperation: 0, value: '3600000' }])).errorCode, 0);
        assert.equal(existsSync(join(dataDir, 'broker-settings.json')), false);
        // cluster-wide 2 per address, this broker 3: the broker's wins
        assert.deepEqual(await alterBroker(admin, '', [{ name: 'max.connections.per.ip', configOperation: 0, value: '2' }]), { resourceType: 4, resourceName: '', errorCode: 0, errorMessage: null });
        assert.equal((await alterBroker(admin, '1', [{ name: 'max.connections.per.ip', configOperation: 0, value: '3' }])).errorCode, 0);
        assert.ok(lines.some((l) => l.msg === 'connection limits changed' && l.maxConnectionsPerIp === 3));
        const others = await Promise.all([1, 2].map(() => KafkaClient.connectTo(bootstrap)));
        const refused = await KafkaClient.connectTo(bootstrap);
        try {
          for (const c of others) assert.equal((await apiVersions(c)).errorCode, 0);
          await assert.rejects(apiVersions(refused), /connection closed/);
        } finally {
          for (const c of [...others, refused]) c.close();
        }
        assert.deepEqual(await describeBroker(admin, '1', ['max.connections.per.ip', 'max.connections']), [
          ['max.connections', '1000', 4, false, [['1000', 4], ['2147483647', 5]]],
          ['max.connections.per.ip', '3', 2, false, [['3', 2], ['2', 3], ['2147483647', 5]]],
        ]);
        assert.deepEqual(await describeBroker(admin, '', []), [['max.connections.per.ip', '2', 3, false, [['2', 3]]]]);
        // refused: a value that is not a count, overrides that are not addresses, 0 with no address let in; and nothing changes
        for (const [name, value, reason] of [
          ['max.connections', 'lots', /max\.connections must be a whole number from 0 to 2147483647, got "lots"/],
          ['max.connections.per.ip.overrides', 'db.example:5', /max\.connections\.per\.ip\.overrides must be address:count pairs/],
          ['max.connections.per.ip', '0', /max\.connections\.per\.ip 0 refuses every address/],
        ] as const) {
          const res = await alterBroker(admin, '1', [{ name, configOperation: 0, value }]);
          assert.equal(res.errorCode, 40, name);
          assert.match(res.errorMessage!, reason);
        }
        assert.equal((await alterBroker(admin, '1', [{ name: 'max.connections.per.ip', configOperation: 0, value: '1' }], true)).errorCode, 0, 'validate only');
        assert.deepEqual((await describeBroker(admin, '1', ['max.connections.per.ip']))[0].slice(0, 2), ['max.connections.per.ip', '3']);
      } finally {
        admin.close();
      }
    }, { dataDir, logger, maxConnections: 1000 });
    // after a restart: still 3 per address, 2 cluster-wide under it; removing this broker's value leaves the cluster's
    await withBroker(async ({ bootstrap }) => {
      const admin = await KafkaClient.connectTo(bootstrap);
      try {
        assert.deepEqual((await describeBroker(admin, '1', ['max.connections.per.ip']))[0].slice(0, 2), ['max.connections.per.ip', '3']);
        assert.equal((await alterBroker(admin, '1', [{ name: 'max.connections.per.ip', configOperation: 1, value: null }, { name: 'max.connections.per.ip.overrides', configOperation: 0, value: '127.0.0.1:1' }])).errorCode, 0);
        const refused = await KafkaClient.connectTo(bootstrap);
        try {
          await assert.rejects(apiVersions(refused), /connection closed/, 'the override for 127.0.0.1 (1, taken by the admin connection) wins over the cluster-wide 2');
        } finally {
          refused.close();
        }
        assert.equal((await apiVersions(admin)).errorCode, 0, 'a connection served before stays');
      } finally {
        admin.close();
      }
    }, { dataDir });
    // a file that cannot be read stops the start, rather than run with other limits than those set
    const file = join(dataDir, 'broker-settings.json');
    await writeFile(file, JSON.stringify({ version: 1, cluster: { 'max.connections': 'many' }, broker: {} }));
    await assert.rejects(withBroker(async () => undefined, { dataDir }), /broker-settings\.json cannot be read \(max\.connections must be a whole number from 0 to 2147483647, got "many"\): restore it from a backup, or remove it to start with the settings sluice start gives/);
    await writeFile(file, '{"version": 2}');
    await assert.rejects(withBroker(async () => undefined, { dataDir }), /broker-settings\.json cannot be read \(not a version 1 broker settings file\)/);
  }));
