// Connection limits: an address at its limit (its own, or the default) is refused; past the broker's limit
// connections wait in order and are let in as others close; a shutdown refuses those still waiting. Then the same
// against a broker, with Sluice's own client.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { ConnectionLimits } from '../../src/broker/connection-limits.js';
import { withBroker } from '../helpers/broker.js';
import { capturedLogger } from '../helpers/captured-logger.js';
import { until } from '../helpers/until.js';

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
