// The metrics endpoint at the protocol level, with Sluice's own client: every count exact after known requests
// (records and bytes in and out per topic and in all, refusals, requests by version, their times, throttles, logins,
// connections, syncs), what the state shows (offsets, sizes, a group's lag), a deleted topic's series gone, the HTTP
// answers other than a scrape, and Prometheus' own linter over the whole page.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { statfs } from 'node:fs/promises';
import { connect } from 'node:net';
import { test } from 'node:test';
import { Admin } from '../../src/admin/admin.js';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { ErrorCode as E } from '../../src/protocol/errors.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import { withBroker } from '../helpers/broker.js';
import { run } from '../helpers/run.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { TLS_FIXTURES_DIR, tlsFixture } from '../helpers/tls-fixtures.js';
import { fullDisk } from '../storage/helpers.js';

const METRICS = { metrics: { host: '127.0.0.1', port: 0 } } as const;

/** The page's samples by series (`name{labels}` as written), and the page itself. */
async function scrape(url: string): Promise<{ text: string; value: (series: string) => number | undefined; series: string[] }> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await res.text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { text, value: (series) => samples.get(series), series: [...samples.keys()] };
}

const produceBody = (topic: string, partition: number, values: string[], acks = -1) => ({
  transactionalId: null, acks, timeoutMs: 5000,
  topicData: [{ name: topic, partitionData: [{ index: partition, records: buildRecordBatch(values.map((v) => ({ value: Buffer.from(v) }))) }] }],
});

async function statfsOf(path: string): Promise<{ totalBytes: number; usableBytes: number }> {
  const s = await statfs(path);
  return { totalBytes: s.blocks * s.bsize, usableBytes: s.bavail * s.bsize };
}

const values = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

test('metrics: records, bytes, partitions and refusals counted per topic and in all; offsets, sizes and a group\'s lag; a deleted topic\'s series gone', async () => {
  await withBroker(async ({ bootstrap, metricsUrl, broker, dataDir }) => {
    assert.equal(metricsUrl, `http://127.0.0.1:${broker.metricsAddress!.port}/metrics`);
    const admin = await Admin.connect(bootstrap);
    try {
      await admin.createTopic('orders', 3, {});
      await admin.produce('orders', [...values(10, 'a').map((v) => ({ value: v, partition: 0 })), ...values(5, 'b').map((v) => ({ value: v, partition: 2 }))]);
      await admin.produce('orders', values(3, 'c').map((v) => ({ value: v, partition: 0 })));
      const c = admin.client;
      const noPartition = await c.send(0, 9, produceBody('orders', 7, ['x']));
      assert.equal(noPartition.responses[0].partitionResponses[0].errorCode, E.UNKNOWN_TOPIC_OR_PARTITION);
      const noTopic = await c.send(0, 9, produceBody('ghost', 0, ['y']));
      assert.equal(noTopic.responses[0].partitionResponses[0].errorCode, E.UNKNOWN_TOPIC_OR_PARTITION);
      assert.equal((await admin.fetch('orders', 0, 0, 0)).records.length, 13);
      assert.equal((await admin.fetch('orders', 1, 0, 0)).records.length, 0);
      await assert.rejects(admin.fetch('ghost', 0, 0, 0), /UNKNOWN_TOPIC_OR_PARTITION/);
      await admin.resetOffsets('billing', 'orders', { to: 'offset', offset: 4 });

      const m = await scrape(metricsUrl!);
      const size = (p: number) => m.value(`kafka_log_log_size{topic="orders",partition="${p}"}`)!;
      assert.ok(size(0) > 0 && size(2) > 0);
      assert.equal(size(1), 0);
      const topicCounts = (topic: string | null) => {
        const labels = topic === null ? '' : `{topic="${topic}"}`;
        return ['messagesin', 'bytesin', 'bytesout', 'totalproducerequests', 'failedproducerequests', 'totalfetchrequests', 'failedfetchrequests']
          .map((name) => m.value(`kafka_server_brokertopicmetrics_${name}_total${labels}`));
      };
      // records 10 + 5 + 3; bytes as stored; the fetch of partition 0 got both its batches whole
      assert.deepEqual(topicCounts('orders'), [18, size(0) + size(2), size(0), 4, 1, 2, 0]);
      // the unknown topic counts in all topics only, and has no series of its own
      assert.deepEqual(topicCounts(null), [18, size(0) + size(2), size(0), 5, 2, 3, 1]);
      assert.equal(m.series.filter((s) => s.includes('"ghost"')).length, 0);
      assert.equal(m.value('kafka_network_requestmetrics_requests_total{request="Produce",version="9"}'), 4);
      assert.equal(m.value('sluice_request_duration_seconds_count{request="Produce"}'), 4);
      // error codes in answers, NONE included: each partition's, and a fetch's own
      const errors = (request: string) => Object.fromEntries(m.series.filter((s) => s.startsWith(`kafka_network_requestmetrics_errors_total{request="${request}",`)).map((s) => [/error="(\w+)"/.exec(s)![1], m.value(s)]));
      assert.deepEqual(errors('Produce'), { NONE: 3, UNKNOWN_TOPIC_OR_PARTITION: 2 });
      assert.deepEqual(errors('Fetch'), { NONE: 5, UNKNOWN_TOPIC_OR_PARTITION: 1 });
      assert.deepEqual(errors('OffsetCommit'), { NONE: 3 });
      assert.deepEqual(errors('CreateTopics'), { NONE: 1 });
      assert.equal(m.value('sluice_request_duration_seconds_bucket{request="Produce",le="+Inf"}'), 4);
      const buckets = m.series.filter((s) => s.startsWith('sluice_request_duration_seconds_bucket{request="Produce"')).map((s) => m.value(s)!);
      assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b), 'buckets are cumulative');
      assert.equal(buckets.length, 17);
      // offsets and the group's lag: committed at 4, or at the end where a partition has fewer
      assert.deepEqual([0, 1, 2].map((p) => m.value(`kafka_topic_partition_current_offset{topic="orders",partition="${p}"}`)), [13, 0, 5]);
      assert.deepEqual([0, 1, 2].map((p) => m.value(`kafka_log_log_logendoffset{topic="orders",partition="${p}"}`)), [13, 0, 5]);
      assert.deepEqual([0, 1, 2].map((p) => m.value(`kafka_consumergroup_current_offset{consumergroup="billing",topic="orders",partition="${p}"}`)), [4, 0, 4]);
      assert.deepEqual([0, 1, 2].map((p) => m.value(`kafka_consumergroup_lag{consumergroup="billing",topic="orders",partition="${p}"}`)), [9, 0, 1]);
      assert.equal(m.value('kafka_consumergroup_lag_sum{consumergroup="billing",topic="orders"}'), 10);
      assert.equal(m.value('kafka_consumergroup_current_offset_sum{consumergroup="billing",topic="orders"}'), 8);
      assert.equal(m.value('kafka_consumergroup_members{consumergroup="billing"}'), 0);
      assert.deepEqual(m.series.filter((s) => s.startsWith('sluice_consumer_groups{')).map((s) => [s, m.value(s)]), [['sluice_consumer_groups{type="classic",state="Empty"}', 1]]);
      assert.equal(m.value('kafka_topic_partitions{topic="orders"}'), 3);
      const partitions = m.series.filter((s) => s.startsWith('kafka_topic_partitions{')).reduce((n, s) => n + m.value(s)!, 0);
      assert.equal(m.value('kafka_server_replicamanager_partitioncount'), partitions);
      assert.equal(m.value('kafka_server_socket_server_metrics_connection_count{listener="PLAINTEXT"}'), 1);
      assert.equal(m.value('sluice_connections_accepted_total{listener="PLAINTEXT"}'), 1);
      assert.ok(m.value('process_resident_memory_bytes')! > 0);
      assert.ok(m.value('sluice_event_loop_busy_seconds_total')! > 0 && m.value('sluice_event_loop_idle_seconds_total')! > 0);
      const { totalBytes, usableBytes } = await statfsOf(dataDir);
      assert.equal(m.value('sluice_data_dir_size_bytes'), totalBytes);
      assert.ok(Math.abs(m.value('sluice_data_dir_usable_bytes')! - usableBytes) < 64 * 1024 * 1024, 'usable bytes as statfs gives them, give or take what was written meanwhile');
      assert.deepEqual([m.value('sluice_storage_errors_total'), m.value('sluice_storage_failing')], [0, 0]);

      await admin.deleteTopic('orders');
      const after = await scrape(metricsUrl!);
      assert.deepEqual(after.series.filter((s) => s.includes('topic="orders"')), [], 'no series of the deleted topic, the group\'s offsets with it');
      assert.equal(after.value('kafka_server_brokertopicmetrics_messagesin_total'), 18);
    } finally {
      admin.close();
    }
  }, { ...METRICS, autoCreateTopics: false });
});

test('metrics: Prometheus\' linter finds the page well formed, naming only the names kept for Kafka\'s dashboards and Node\'s', async () => {
  await withBroker(async ({ bootstrap, metricsUrl }) => {
    const admin = await Admin.connect(bootstrap);
    try {
      await admin.createTopic('linted', 1, {});
      await admin.produce('linted', [{ value: 'v' }]);
      await admin.resetOffsets('readers', 'linted', { to: 'earliest' });
    } finally {
      admin.close();
    }
    const { text } = await scrape(metricsUrl!);
    const res = await run('promtool', ['check', 'metrics'], { input: text });
    // kafka_exporter's *_sum gauges and the JMX exporter's connection_count keep the names dashboards query; Node's
    // handle counts are prom-client's
    assert.deepEqual(res.stderr.trim().split('\n').sort(), [
      'kafka_consumergroup_current_offset_sum non-histogram and non-summary metrics should not have "_sum" suffix',
      'kafka_consumergroup_lag_sum non-histogram and non-summary metrics should not have "_sum" suffix',
      'kafka_server_socket_server_metrics_connection_count non-histogram and non-summary metrics should not have "_count" suffix',
      'nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
      'nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
      'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
    ]);
  }, METRICS);
});

test('metrics: SASL logins by outcome, quota throttles with the time answered, and the syncs fsync appends waited for', async () => {
  await withBroker(async ({ bootstrap, metricsUrl }) => {
    await assert.rejects(Admin.connect(bootstrap, { mechanism: 'PLAIN', username: 'alice', password: 'wrong' }), /SASL_AUTHENTICATION_FAILED|Authentication failed/);
    const admin = await Admin.connect(bootstrap, { mechanism: 'SCRAM-SHA-256', username: 'alice', password: 'secret' });
    try {
      await admin.createTopic('single', 1, { 'flush.policy': 'fsync' });
      await admin.createTopic('spread', 8, { 'flush.policy': 'fsync' });
      const before = await scrape(metricsUrl!);
      const syncs = (m: typeof before, kind: string) => m.value(`sluice_storage_sync_duration_seconds_count{kind="${kind}"}`) ?? 0;
      await admin.produce('single', [{ value: 'one' }]);
      const afterOne = await scrape(metricsUrl!);
      assert.equal(syncs(afterOne, 'segment') - syncs(before, 'segment'), 1, 'one append to one partition: one fdatasync of its segment');
      // eight partitions in one request: more dirty segments than a round syncs one by one go through the journal (an
      // append whose write ends first may start a round of its own)
      await admin.produce('spread', values(8, 'p').map((v, partition) => ({ value: v, partition })));
      const afterSpread = await scrape(metricsUrl!);
      assert.ok(syncs(afterSpread, 'journal') - syncs(afterOne, 'journal') >= 1, 'eight partitions: a journal round');
      for (const kind of ['segment', 'journal']) {
        assert.equal(afterSpread.value(`sluice_storage_sync_duration_seconds_bucket{kind="${kind}",le="+Inf"}`), syncs(afterSpread, kind));
        assert.ok(afterSpread.value(`sluice_storage_sync_duration_seconds_sum{kind="${kind}"}`)! > 0);
      }

      await admin.client.send(49, 1, { entries: [{ entity: [{ entityType: 'client-id', entityName: 'sluice-cli' }], ops: [{ key: 'producer_byte_rate', value: 10, remove: false }] }], validateOnly: false });
      const answered = await admin.client.send(0, 9, produceBody('single', 0, ['x'.repeat(200)]));
      assert.ok(answered.throttleTimeMs > 0, 'past its producer_byte_rate');
      const m = await scrape(metricsUrl!);
      const client = '{request="Produce",user="alice",client_id="sluice-cli"}';
      assert.equal(m.value(`sluice_client_throttled_responses_total${client}`), 1);
      assert.equal(m.value(`sluice_client_throttle_seconds_total${client}`), answered.throttleTimeMs / 1000);
      assert.equal(m.value('sluice_authentications_total{listener="SASL_PLAINTEXT",outcome="succeeded"}'), 1);
      assert.equal(m.value('sluice_authentications_total{listener="SASL_PLAINTEXT",outcome="failed"}'), 1);
    } finally {
      admin.close();
    }
  }, { ...METRICS, sasl: { users: { alice: 'secret' } } });
});

/** Sends one request frame on a connection of its own and reads its whole answer: the bytes each way. */
async function oneExchange(port: number, frame: Buffer): Promise<{ sent: number; received: number }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(frame);
  let got = Buffer.alloc(0);
  for await (const chunk of socket) {
    got = Buffer.concat([got, chunk as Buffer]);
    if (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) break;
  }
  socket.destroy();
  return { sent: frame.length, received: got.length };
}

test('metrics: bytes each way per listener, exactly as framed; request memory and its bounds', async () => {
  await withBroker(async ({ port, metricsUrl }) => {
    const traffic = (m: Awaited<ReturnType<typeof scrape>>) => [m.value('sluice_network_received_bytes_total{listener="PLAINTEXT"}') ?? 0, m.value('sluice_network_sent_bytes_total{listener="PLAINTEXT"}') ?? 0];
    const before = await scrape(metricsUrl!);
    // ApiVersions v0: size, api key 18, version 0, correlation id 7, client id "metrics-test", no body
    const clientId = Buffer.from('metrics-test');
    const frame = Buffer.alloc(4 + 10 + clientId.length);
    frame.writeInt32BE(frame.length - 4, 0);
    frame.writeInt16BE(18, 4);
    frame.writeInt16BE(0, 6);
    frame.writeInt32BE(7, 8);
    frame.writeInt16BE(clientId.length, 12);
    clientId.copy(frame, 14);
    const { sent, received } = await oneExchange(port, frame);
    const after = await scrape(metricsUrl!);
    const [inBefore, outBefore] = traffic(before);
    assert.deepEqual(traffic(after), [inBefore! + sent, outBefore! + received]);
    assert.deepEqual(['sluice_queued_request_bytes', 'sluice_queued_request_bytes_limit', 'sluice_fetch_response_bytes', 'sluice_fetch_response_bytes_limit'].map((n) => after.value(n)), [0, 32 * 1024 * 1024, 0, 256 * 1024 * 1024]);
  }, { ...METRICS, queuedMaxRequestBytes: 32 * 1024 * 1024 });
});

test('metrics: no endpoint unless asked; other paths get 404, other methods 405', async () => {
  await withBroker(async ({ metricsUrl, broker }) => {
    assert.equal(metricsUrl, null);
    assert.equal(broker.metricsAddress, null);
  });
  await withBroker(async ({ metricsUrl }) => {
    const other = await fetch(new URL('/other', metricsUrl!));
    assert.deepEqual([other.status, await other.text()], [404, 'no such path; try /metrics\n']);
    const post = await fetch(metricsUrl!, { method: 'POST', body: 'x' });
    assert.deepEqual([post.status, post.headers.get('allow')], [405, 'GET, HEAD']);
    await post.arrayBuffer();
    const head = await fetch(metricsUrl!, { method: 'HEAD' });
    assert.deepEqual([head.status, await head.text()], [200, '']);
    // a scraper's connection kept alive does not hold up the broker's stop
    await (await fetch(metricsUrl!, { keepalive: true })).text();
  }, METRICS);
});

test('metrics: a broker whose metrics address is taken does not start, and lets go of its data dir', () =>
  withTempDir(async (dir) => {
    await withBroker(async ({ broker }) => {
      await assert.rejects(withBroker(async () => undefined, { dataDir: dir, metrics: broker.metricsAddress! }), /EADDRINUSE/);
    }, METRICS);
    // the data dir's lock was released: a start without the taken address opens it
    await withBroker(async ({ dataDir }) => assert.equal(dataDir, dir), { dataDir: dir });
  }));

test('metrics: an append the full disk refuses counts as a failed produce and a storage error, not as records in; storage failing until an append is stored', async () => {
  const disk = fullDisk();
  await withBroker(async ({ bootstrap, metricsUrl, broker }) => {
    await broker.createTopic('t', 1, {});
    const c = await KafkaClient.connectTo(bootstrap);
    try {
      const produce = async (value: string) => (await c.send(0, 9, produceBody('t', 0, [value]))).responses[0].partitionResponses[0].errorCode;
      assert.equal(await produce('stored'), E.NONE);
      disk.setFull(true);
      assert.equal(await produce('refused'), E.KAFKA_STORAGE_ERROR);
      const failing = await scrape(metricsUrl!);
      assert.deepEqual([failing.value('sluice_storage_errors_total'), failing.value('sluice_storage_failing')], [1, 1]);
      disk.setFull(false);
      assert.equal(await produce('stored again'), E.NONE);
      const m = await scrape(metricsUrl!);
      assert.deepEqual(['messagesin', 'totalproducerequests', 'failedproducerequests'].map((name) => m.value(`kafka_server_brokertopicmetrics_${name}_total{topic="t"}`)), [2, 3, 1]);
      assert.deepEqual([m.value('sluice_storage_errors_total'), m.value('sluice_storage_failing')], [1, 0]);
    } finally {
      c.close();
    }
  }, { ...METRICS, fileSystem: disk.fs });
});

test('metrics over HTTPS with the broker\'s certificate and its renewal, behind HTTP Basic users', async () => {
  const curl = (url: string, args: string[]) => run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...args, url]);
  const caFile = `${TLS_FIXTURES_DIR}/ca.pem`;
  const rotatedFile = `${TLS_FIXTURES_DIR}/rotated-server.pem`;
  await withBroker(async ({ metricsUrl, broker }) => {
    assert.match(metricsUrl!, /^https:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const status = async (args: string[]) => (await curl(metricsUrl!, args)).stdout;
    assert.equal(await status(['--cacert', caFile]), '401', 'no credentials');
    assert.equal(await status(['--cacert', caFile, '-u', 'prometheus:wrong']), '401', 'a wrong password');
    assert.equal(await status(['--cacert', caFile, '-u', 'nobody:scrape-secret']), '401', 'an unknown user');
    assert.equal(await status(['--cacert', caFile, '-u', 'prometheus:scrape-secret']), '200');
    const challenge = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', '--cacert', caFile, metricsUrl!]);
    assert.match(challenge.stdout, /^www-authenticate: Basic realm="Sluice metrics", charset="UTF-8"\r$/m);
    const page = await run('curl', ['-s', '--cacert', caFile, '-u', 'prometheus:scrape-secret', metricsUrl!]);
    assert.match(page.stdout, /^kafka_brokers 1$/m);
    // plain HTTP is not served
    assert.notEqual((await run('curl', ['-s', '-o', '/dev/null', metricsUrl!.replace('https:', 'http:')])).code, 0);
    // a renewed certificate is served to the next scrape
    await broker.reloadTls({ cert: tlsFixture('rotated-server.pem'), key: tlsFixture('rotated-server.key') });
    assert.notEqual((await curl(metricsUrl!, ['--cacert', caFile, '-u', 'prometheus:scrape-secret'])).code, 0, 'the old CA no longer verifies it');
    assert.equal(await status(['--cacert', rotatedFile, '-u', 'prometheus:scrape-secret']), '200');
  }, {
    tls: { cert: tlsFixture('server.pem'), key: tlsFixture('server.key'), clientAuth: 'none' },
    metrics: { host: '127.0.0.1', port: 0, tls: true, users: { prometheus: 'scrape-secret', grafana: 'other' } },
    listeners: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 0, securityProtocol: 'PLAINTEXT' }],
  });
  await assert.rejects(withBroker(async () => undefined, { metrics: { host: '127.0.0.1', port: 0, tls: true } }), /the metrics endpoint is to speak TLS, but the broker has no TLS certificate/);
  await assert.rejects(withBroker(async () => undefined, { metrics: { host: '127.0.0.1', port: 0, users: {} } }), /names no user/);
});
