// Prometheus (Debian's server) scraping Sluice's metrics endpoint while kcat produces and a kcat consumer group reads:
// the real parser takes every family, and its queries give the exact counts, offsets and lag of what the clients did.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withBroker } from '../helpers/broker.js';
import { poll } from '../helpers/processes.js';
import { kcat } from '../helpers/kcat.js';
import { TLS_FIXTURES_DIR, tlsFixture } from '../helpers/tls-fixtures.js';
import { withPrometheus, type Prometheus } from './prometheus.js';

const lines = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`).join('\n') + '\n';

/** The vector `promql` gives once it equals `expected` (Prometheus has scraped what the clients did), as label sets and values. */
async function settled(prometheus: Prometheus, promql: string, expected: { labels: Record<string, string>; value: number }[]): Promise<void> {
  let last: unknown;
  const byLabels = (a: { labels: Record<string, string> }, b: { labels: Record<string, string> }) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels));
  await poll(`${promql} to be ${JSON.stringify(expected)}`, async () => {
    const got = (last = (await prometheus.query(promql)).sort(byLabels));
    try {
      assert.deepEqual(got, [...expected].sort(byLabels));
      return true;
    } catch {
      return undefined;
    }
  }, 30_000).catch((err: Error) => {
    throw new Error(`${err.message}; last: ${JSON.stringify(last)}`);
  });
}

test('Prometheus scrapes the broker: messages in, offsets, a kcat group\'s lag and request counts, as the clients made them', async () => {
  await withBroker(async ({ bootstrap, broker, metricsUrl }) => {
    await broker.createTopic('payments', 2, {});
    await kcat(['-b', bootstrap, '-P', '-t', 'payments', '-p', '0', '-X', 'acks=all'], lines(300, 'a'));
    await kcat(['-b', bootstrap, '-P', '-t', 'payments', '-p', '1', '-X', 'acks=all'], lines(200, 'b'));
    // a balanced consumer in group "ledger" reads all 500 and commits as it closes
    const read = await kcat(['-b', bootstrap, '-G', 'ledger', '-X', 'auto.offset.reset=earliest', '-e', '-q', 'payments']);
    assert.equal(read.split('\n').filter((l) => l !== '').length, 500);
    await kcat(['-b', bootstrap, '-P', '-t', 'payments', '-p', '1', '-X', 'acks=all'], lines(40, 'c'));
    const target = new URL(metricsUrl!).host;
    await withPrometheus([{ job: 'sluice', target }], async (prometheus) => {
      await settled(prometheus, 'up{job="sluice"}', [{ labels: { __name__: 'up', instance: target, job: 'sluice' }, value: 1 }]);
      assert.deepEqual(await prometheus.target('sluice'), { health: 'up', lastError: '' });
      const series = (labels: Record<string, string>, value: number) => ({ labels: { instance: target, job: 'sluice', ...labels }, value });
      await settled(prometheus, 'kafka_server_brokertopicmetrics_messagesin_total{topic="payments"}', [
        series({ __name__: 'kafka_server_brokertopicmetrics_messagesin_total', topic: 'payments' }, 540),
      ]);
      await settled(prometheus, 'kafka_topic_partition_current_offset{topic="payments"}', [
        series({ __name__: 'kafka_topic_partition_current_offset', topic: 'payments', partition: '0' }, 300),
        series({ __name__: 'kafka_topic_partition_current_offset', topic: 'payments', partition: '1' }, 240),
      ]);
      await settled(prometheus, 'kafka_consumergroup_lag{consumergroup="ledger"}', [
        series({ __name__: 'kafka_consumergroup_lag', consumergroup: 'ledger', topic: 'payments', partition: '0' }, 0),
        series({ __name__: 'kafka_consumergroup_lag', consumergroup: 'ledger', topic: 'payments', partition: '1' }, 40),
      ]);
      await settled(prometheus, 'kafka_consumergroup_lag_sum{consumergroup="ledger"}', [
        series({ __name__: 'kafka_consumergroup_lag_sum', consumergroup: 'ledger', topic: 'payments' }, 40),
      ]);
      await settled(prometheus, 'kafka_consumergroup_members{consumergroup="ledger"}', [
        series({ __name__: 'kafka_consumergroup_members', consumergroup: 'ledger' }, 0),
      ]);
      // the bytes appended are the bytes stored, over both partitions
      await settled(prometheus, 'sum(kafka_server_brokertopicmetrics_bytesin_total{topic="payments"}) - sum(kafka_log_log_size{topic="payments"})', [{ labels: {}, value: 0 }]);
      // every Produce request counted once by version and once in the time histogram, which PromQL reads as a histogram
      await settled(prometheus, 'sum(kafka_network_requestmetrics_requests_total{request="Produce"}) - sum(sluice_request_duration_seconds_count{request="Produce"})', [{ labels: {}, value: 0 }]);
      const p99 = await prometheus.query('histogram_quantile(0.99, sum by (le) (sluice_request_duration_seconds_bucket{request="Produce"}))');
      assert.equal(p99.length, 1);
      assert.ok(p99[0]!.value > 0 && p99[0]!.value <= 10, `p99 of Produce ${p99[0]!.value} s lies within the buckets`);
      // the event loop's busy share over the last seconds, from two counters, as a dashboard would chart it
      const busy = 'rate(sluice_event_loop_busy_seconds_total[10s])';
      const share = await poll('two scrapes of the event loop\'s time', async () => {
        const [v] = await prometheus.query(`${busy} / (${busy} + rate(sluice_event_loop_idle_seconds_total[10s]))`);
        return v !== undefined && Number.isFinite(v.value) ? v.value : undefined;
      }, 30_000);
      assert.ok(share > 0 && share < 1, `event loop busy ${share} of the time`);
      // the process's own metrics come with the broker's
      const rss = await prometheus.query('process_resident_memory_bytes{job="sluice"}');
      assert.equal(rss.length, 1);
      assert.ok(rss[0]!.value > 10 * 1024 * 1024, `resident memory ${rss[0]!.value} bytes`);
    });
  }, { metrics: { host: '127.0.0.1', port: 0 } });
});

test('Prometheus scrapes over HTTPS with the broker\'s certificate and a user\'s password; a wrong password is refused', async () => {
  await withBroker(async ({ metricsUrl }) => {
    const target = new URL(metricsUrl!).host;
    const https = { caFile: `${TLS_FIXTURES_DIR}/ca.pem` };
    await withPrometheus([
      { job: 'allowed', target, https, basicAuth: { username: 'prometheus', password: 'scrape-secret' } },
      { job: 'refused', target, https, basicAuth: { username: 'prometheus', password: 'guess' } },
    ], async (prometheus) => {
      await settled(prometheus, 'up', [
        { labels: { __name__: 'up', instance: target, job: 'allowed' }, value: 1 },
        { labels: { __name__: 'up', instance: target, job: 'refused' }, value: 0 },
      ]);
      assert.deepEqual(await prometheus.target('refused'), { health: 'down', lastError: 'server returned HTTP status 401 Unauthorized' });
      await settled(prometheus, 'kafka_brokers', [{ labels: { __name__: 'kafka_brokers', instance: target, job: 'allowed' }, value: 1 }]);
    });
  }, {
    tls: { cert: tlsFixture('server.pem'), key: tlsFixture('server.key'), clientAuth: 'none' },
    listeners: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 0, securityProtocol: 'PLAINTEXT' }],
    metrics: { host: '127.0.0.1', port: 0, tls: true, users: { prometheus: 'scrape-secret' } },
  });
});
