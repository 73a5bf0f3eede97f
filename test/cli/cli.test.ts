// The sluice command as a user runs it: start (flags, env, config file), topics, produce, consume, errors.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { resolveStartConfig } from '../../src/cli/start-config.js';
import { startBroker } from '../../src/index.js';
import { murmur2 } from '../../src/protocol/murmur2.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import { run } from '../helpers/run.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { TLS_FIXTURES_DIR, tlsFixture } from '../helpers/tls-fixtures.js';
import { processAlive, SLUICE_BIN, startCli, stopCli } from '../helpers/cli-broker.js';
import { until } from '../helpers/until.js';

const sluice = (args: string[], input?: string, env: NodeJS.ProcessEnv = {}) => run(process.execPath, [SLUICE_BIN, ...args], { input, env, timeoutMs: 30_000 });

test('start, topics create/list/describe/alter/delete, produce and consume lines, stop cleanly on SIGTERM', () =>
  withTempDir(async (dir) => {
    const { child, bootstrap } = await startCli(['--data-dir', dir, '--default-partitions', '2']);
    try {
      const b = ['-b', bootstrap];
      assert.equal((await sluice(['topics', 'create', 'cli', '--partitions', '3', '--config', 'retention.ms=3600000', ...b])).stdout, 'created topic cli\n');
      assert.equal((await sluice(['topics', 'list', ...b])).stdout, 'cli\n');
      assert.equal((await sluice(['topics', 'list', '--bootstrap-server', bootstrap])).stdout, 'cli\n', "Kafka's tools' name for the flag");
      const produced = await sluice(['produce', 'cli', '-K', ':', '-H', 'src=cli', ...b], 'k1:one\nk2:two\nk1:three\n');
      assert.equal(produced.code, 0, produced.stderr);
      assert.match(produced.stderr, /sent 3 messages/);
      const consumed = await sluice(['consume', 'cli', '--from-beginning', '--print-key', '--print-headers', '-n', '3', ...b]);
      const lines = consumed.stdout.trim().split('\n').sort();
      assert.deepEqual(lines, ['k1\tsrc=cli\tone', 'k1\tsrc=cli\tthree', 'k2\tsrc=cli\ttwo']);
      // keys go where the Java client's murmur2 partitioner puts them
      const p1 = (murmur2(Buffer.from('k1')) & 0x7fffffff) % 3;
      const one = await sluice(['consume', 'cli', '--partition', String(p1), '--offset', '0', '-n', '2', ...b]);
      assert.deepEqual(one.stdout.trim().split('\n'), ['one', 'three']);
      const described = (await sluice(['topics', 'describe', 'cli', ...b])).stdout;
      assert.match(described, /partitions 3/);
      assert.match(described, /retention\.ms=3600000  \(set on topic\)/);
      assert.equal((await sluice(['topics', 'alter', 'cli', '--config', 'retention.ms=60000', ...b])).code, 0);
      assert.match((await sluice(['topics', 'describe', 'cli', ...b])).stdout, /retention\.ms=60000/);
      // grown as kafka-topics --alter --partitions grows a topic; never shrunk
      assert.equal((await sluice(['topics', 'alter', 'cli', '--partitions', '5', ...b])).code, 0);
      assert.match((await sluice(['topics', 'describe', 'cli', ...b])).stdout, /partitions 5/);
      const shrink = await sluice(['topics', 'alter', 'cli', '--partitions', '4', ...b]);
      assert.deepEqual([shrink.code, /INVALID_PARTITIONS/.test(shrink.stderr)], [1, true]);
      assert.equal((await sluice(['topics', 'alter', 'cli', ...b])).code, 2);
      const badConfig = await sluice(['topics', 'alter', 'cli', '--config', 'retention.ms=soon', ...b]);
      assert.equal(badConfig.code, 1);
      assert.match(badConfig.stderr, /INVALID_CONFIG/);
      assert.equal((await sluice(['produce', 'cli', ...b], 'alone\n')).stderr, 'sent 1 message to cli\n');
      assert.equal((await sluice(['topics', 'delete', 'cli', ...b])).code, 0);
      const gone = await sluice(['topics', 'delete', 'cli', ...b]);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /UNKNOWN_TOPIC_OR_PARTITION/);
      // the same data dir cannot be used by a second broker
      const second = await sluice(['start', '--port', '0', '--data-dir', dir]);
      assert.equal(second.code, 2);
      assert.match(second.stderr, /cannot use data dir .* in use by process/);
    } finally {
      assert.equal(await stopCli(child), 0);
    }
    await access(join(dir, '.clean-shutdown'));
    // the data dir keeps the cluster id it was made with; a start that names another is refused
    const clusterId = /^cluster\.id=(.+)$/m.exec(await readFile(join(dir, 'meta.properties'), 'utf8'))?.[1];
    assert.match(clusterId ?? '', /^sluice-[0-9a-f]{16}$/);
    const other = await sluice(['start', '--port', '0', '--data-dir', dir, '--cluster-id', 'another']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, new RegExp(`cannot use data dir .*: the data dir belongs to cluster ${clusterId}, but the cluster id configured is another`));
  }));

test('the sluice command\'s #! line runs Node with 64 MiB semi-spaces and its malloc settings, a GLIBC_TUNABLES of the user\'s after them', () =>
  withTempDir(async (dir) => {
    // the same line, in front of a script that shows what Node was started with
    const hashBang = (await readFile(SLUICE_BIN, 'utf8')).split('\n')[0]!;
    const script = join(dir, 'show.js');
    await writeFile(script, `${hashBang}\nconsole.log(JSON.stringify({ execArgv: process.execArgv, tunables: process.env.GLIBC_TUNABLES }));\n`, { mode: 0o755 });
    const users = 'glibc.malloc.arena_max=2';
    const ours = 'glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=536870912';
    const withUsers = await run(script, [], { env: { GLIBC_TUNABLES: users }, timeoutMs: 30_000 });
    assert.deepEqual(JSON.parse(withUsers.stdout), { execArgv: ['--max-semi-space-size=64'], tunables: `${ours}:${users}` });
    const alone = await run(script, [], { env: { GLIBC_TUNABLES: undefined }, timeoutMs: 30_000 });
    assert.deepEqual(JSON.parse(alone.stdout), { execArgv: ['--max-semi-space-size=64'], tunables: `${ours}:` });
  }));

test('SIGHUP without TLS is logged and changes nothing: the broker serves on', () =>
  withTempDir(async (dir) => {
    const { child, bootstrap, output } = await startCli(['--data-dir', dir]);
    try {
      child.kill('SIGHUP');
      await until(() => output().includes('SIGHUP: no TLS certificate to reload'), 'the signal logged');
      assert.equal((await sluice(['topics', 'list', '-b', bootstrap])).code, 0);
    } finally {
      assert.equal(await stopCli(child), 0);
    }
  }));

test('a shutdown that fails (the data dir gone from under the broker) is logged and exits 1', () =>
  withTempDir(async (dir) => {
    const dataDir = join(dir, 'data');
    const { child, bootstrap, output } = await startCli(['--data-dir', dataDir]);
    let code: number | string | null;
    try {
      assert.equal((await sluice(['produce', 'gone', '-b', bootstrap], 'one\n')).code, 0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
      code = await stopCli(child);
    }
    assert.equal(code, 1);
    const failed = output().split('\n').filter((line) => line.includes('shutdown failed')).map((line) => JSON.parse(line) as { level: number; err?: { code?: string } });
    assert.equal(failed.length, 1, output());
    assert.equal(failed[0]!.level, 50);
    assert.equal(failed[0]!.err?.code, 'ENOENT');
  }));

test('a second signal during the shutdown exits 1 at once, as a crash would; the next start recovers every acknowledged record', () =>
  withTempDir(async (dir) => {
    // many partitions make the clean shutdown long enough that the second signal always comes during it
    const { child, bootstrap, output } = await startCli(['--data-dir', dir, '--default-partitions', '300']);
    assert.equal((await sluice(['produce', 'kept', '--partition', '0', '-b', bootstrap], 'one\ntwo\n')).code, 0);
    const exited = new Promise<number | null>((resolve) => {
      child.removeAllListeners('exit');
      child.on('exit', (code) => resolve(code));
    });
    // two different signals: two of one kind sent back to back may reach the process as one
    child.kill('SIGINT');
    child.kill('SIGTERM');
    assert.equal(await exited, 1, output());
    const warned = output().split('\n').filter((line) => line.includes('second signal')).map((line) => JSON.parse(line) as { level: number; signal: string });
    // the one handled second, whichever that is (both were pending at once)
    assert.equal(warned.length, 1, output());
    assert.equal(warned[0]!.level, 40);
    assert.ok(['SIGINT', 'SIGTERM'].includes(warned[0]!.signal));
    await assert.rejects(access(join(dir, '.clean-shutdown')), { code: 'ENOENT' });
    const again = await startCli(['--data-dir', dir]);
    try {
      const consumed = await sluice(['consume', 'kept', '--partition', '0', '--offset', '0', '-n', '2', '-b', again.bootstrap]);
      assert.deepEqual(consumed.stdout.trim().split('\n'), ['one', 'two']);
    } finally {
      assert.equal(await stopCli(again.child), 0);
    }
  }));

test('settings come from a config file, SLUICE_* variables and flags, flags winning', () =>
  withTempDir(async (dir) => {
    const file = join(dir, 'sluice.json');
    await writeFile(file, JSON.stringify({ 'default-partitions': 5, 'node-id': 7, 'data-dir': join(dir, 'from-file') }));
    const { child, bootstrap } = await startCli(['--config', file, '--node-id', '9'], { SLUICE_DEFAULT_PARTITIONS: '4' });
    try {
      await sluice(['produce', 'auto', '-b', bootstrap], 'x\n');
      const described = (await sluice(['topics', 'describe', 'auto', '-b', bootstrap])).stdout;
      assert.match(described, /partitions 4/);
      assert.match(described, /\n {8}0 {7}9 /);
      await access(join(dir, 'from-file', 'auto-0'));
    } finally {
      await stopCli(child);
    }
  }));

test('the compaction key map takes its size from --compaction-map-bytes or SLUICE_COMPACTION_MAP_BYTES, else 128 MiB', () => {
  assert.equal(resolveStartConfig({}, {}).compactionMapBytes, 128 * 1024 * 1024);
  assert.equal(resolveStartConfig({}, { SLUICE_COMPACTION_MAP_BYTES: '2097152' }).compactionMapBytes, 2097152);
  assert.equal(resolveStartConfig({ 'compaction-map-bytes': '4194304' }, { SLUICE_COMPACTION_MAP_BYTES: '2097152' }).compactionMapBytes, 4194304);
});

test('compaction I/O is bounded by --compaction-io-bytes-per-second or SLUICE_COMPACTION_IO_BYTES_PER_SECOND, else unbounded', () => {
  assert.equal(resolveStartConfig({}, {}).compactionIoBytesPerSecond, Infinity);
  assert.equal(resolveStartConfig({}, { SLUICE_COMPACTION_IO_BYTES_PER_SECOND: '10485760' }).compactionIoBytesPerSecond, 10485760);
  assert.equal(resolveStartConfig({ 'compaction-io-bytes-per-second': '2097152' }, { SLUICE_COMPACTION_IO_BYTES_PER_SECOND: '10485760' }).compactionIoBytesPerSecond, 2097152);
  assert.throws(() => resolveStartConfig({ 'compaction-io-bytes-per-second': '100' }, {}), /compaction-io-bytes-per-second must be an integer from 1024/);
});

test('a certificate\'s principal follows --tls-principal-mapping-rules or SLUICE_TLS_PRINCIPAL_MAPPING_RULES, else the whole name', () => {
  assert.equal(resolveStartConfig({}, {}).principalMappingRules, 'DEFAULT');
  assert.equal(resolveStartConfig({}, { SLUICE_TLS_PRINCIPAL_MAPPING_RULES: 'RULE:^CN=(.*)$/$1/L' }).principalMappingRules, 'RULE:^CN=(.*)$/$1/L');
  assert.throws(() => resolveStartConfig({ 'tls-principal-mapping-rules': 'RULE:^CN=(.*)$' }, {}), /tls-principal-mapping-rules: principal mapping rule 1: its pattern has no closing \//);
});

test('SASL sessions last --connections-max-reauth-ms, with the users and mechanisms given in any order', () =>
  withTempDir(async (dir) => {
    const users = join(dir, 'users.json');
    await writeFile(users, JSON.stringify({ alice: 'secret' }));
    const config = resolveStartConfig({ 'connections-max-reauth-ms': '3600000', 'sasl-users': users, 'sasl-mechanisms': 'PLAIN' }, {});
    assert.deepEqual(config.sasl, { users: { alice: 'secret' }, mechanisms: ['PLAIN'], maxReauthMs: 3_600_000 });
    assert.throws(() => resolveStartConfig({ 'connections-max-reauth-ms': '-1' }, {}), /connections-max-reauth-ms/);
  }));

test('TLS files are kept by their absolute paths, to be read again every --tls-file-check-ms; a revocation list, the oldest version and the ciphers', () => {
  const fixtures = fileURLToPath(new URL('../../../test/helpers/fixtures/tls/', import.meta.url));
  const config = resolveStartConfig({ 'tls-cert': join(fixtures, 'server.pem'), 'tls-key': join(fixtures, 'server.key'), 'tls-file-check-ms': '0' }, { SLUICE_TLS_CA: join(fixtures, 'ca.pem') });
  assert.deepEqual(config.tls?.files, { ca: join(fixtures, 'ca.pem'), cert: join(fixtures, 'server.pem'), key: join(fixtures, 'server.key') });
  assert.equal(config.tlsFileCheckMs, 0);
  assert.equal(resolveStartConfig({}, {}).tlsFileCheckMs, 10_000);
  assert.throws(() => resolveStartConfig({ 'tls-file-check-ms': '-5' }, {}), /tls-file-check-ms must be an integer from 0/);
  const hardened = resolveStartConfig({ 'tls-cert': join(fixtures, 'server.pem'), 'tls-key': join(fixtures, 'server.key'), 'tls-ca': join(fixtures, 'crl-ca.pem'), 'tls-crl': join(fixtures, 'crl-revoked.pem'), 'tls-min-version': 'TLSv1.3', 'tls-ciphers': 'TLS_AES_256_GCM_SHA384' }, {});
  assert.deepEqual([hardened.tls?.files?.crl, hardened.tls?.crl, hardened.tls?.minVersion, hardened.tls?.ciphers], [join(fixtures, 'crl-revoked.pem'), tlsFixture('crl-revoked.pem'), 'TLSv1.3', 'TLS_AES_256_GCM_SHA384']);
  assert.throws(() => resolveStartConfig({ 'tls-cert': join(fixtures, 'server.pem'), 'tls-key': join(fixtures, 'server.key'), 'tls-crl': join(fixtures, 'crl-revoked.pem') }, {}), /--tls-crl needs --tls-ca, the CA whose certificates it lists/);
  assert.throws(() => resolveStartConfig({ 'tls-min-version': 'TLSv1.1' }, {}), /tls-min-version must be TLSv1\.2 or TLSv1\.3, got "TLSv1\.1"/);
  assert.deepEqual([resolveStartConfig({}, {}).deleteTopicEnable, resolveStartConfig({}, { SLUICE_DELETE_TOPIC_ENABLE: 'false' }).deleteTopicEnable], [true, false]);
});

test('OAUTHBEARER\'s settings by Kafka\'s names: a JWKS URL or path, issuer, audiences, claim, skew, refresh; unsigned tokens only alone', () => {
  const config = resolveStartConfig({
    'sasl-oauthbearer-jwks-endpoint-url': 'keys/jwks.json',
    'sasl-oauthbearer-expected-issuer': 'https://idp.example',
    'sasl-oauthbearer-sub-claim-name': 'client_id',
    'sasl-oauthbearer-clock-skew-seconds': '5',
    'sasl-oauthbearer-jwks-endpoint-refresh-ms': '60000',
    'sasl-oauthbearer-jwks-endpoint-retry-backoff-max-ms': '2000',
  }, { SLUICE_SASL_OAUTHBEARER_EXPECTED_AUDIENCE: 'kafka, sluice', SLUICE_CONNECTIONS_MAX_REAUTH_MS: '600000' });
  assert.deepEqual(config.sasl, {
    maxReauthMs: 600_000,
    oauthBearer: {
      jwksUrl: pathToFileURL(resolve('keys/jwks.json')).href, expectedIssuer: 'https://idp.example', expectedAudience: ['kafka', 'sluice'],
      subClaimName: 'client_id', clockSkewSeconds: 5, jwksRefreshMs: 60_000, jwksRetryBackoffMaxMs: 2000,
    },
  });
  assert.equal(resolveStartConfig({ 'sasl-oauthbearer-jwks-endpoint-url': 'https://idp.example/jwks' }, {}).sasl?.oauthBearer?.jwksUrl, 'https://idp.example/jwks');
  assert.deepEqual(resolveStartConfig({ 'sasl-oauthbearer-unsecured': 'true', 'sasl-mechanisms': 'OAUTHBEARER' }, {}).sasl, { oauthBearer: { unsecured: true }, mechanisms: ['OAUTHBEARER'] });
  assert.throws(() => resolveStartConfig({ 'sasl-oauthbearer-unsecured': 'true', 'sasl-oauthbearer-jwks-endpoint-url': 'https://idp.example/jwks' }, {}), /OAUTHBEARER needs exactly one of: a JWKS URL, a JWKS, or unsecured \(unsigned\) tokens/);
  assert.throws(() => resolveStartConfig({ 'sasl-oauthbearer-expected-issuer': 'https://idp.example' }, {}), /OAUTHBEARER needs exactly one of.*\(--sasl-oauthbearer-jwks-endpoint-url, or --sasl-oauthbearer-unsecured true\)/);
  assert.throws(() => resolveStartConfig({ 'sasl-oauthbearer-jwks-endpoint-url': 'ldap://idp.example/jwks' }, {}), /a JWKS URL must be https:, http: or file:/);
  assert.throws(() => resolveStartConfig({ 'sasl-oauthbearer-unsecured': 'true', 'sasl-oauthbearer-clock-skew-seconds': '-1' }, {}), /sasl-oauthbearer-clock-skew-seconds must be an integer from 0/);
});

test('listeners come from --listeners, --listener-security-protocol-map and --advertised-listeners, as Kafka spells them', () =>
  withTempDir(async (dir) => {
    const users = join(dir, 'users.json');
    await writeFile(users, JSON.stringify({ alice: 'secret' }));
    const config = resolveStartConfig({
      listeners: 'PLAINTEXT://127.0.0.1:9092, EXTERNAL://[::1]:9093,internal://:9094',
      'listener-security-protocol-map': 'EXTERNAL:SASL_PLAINTEXT,INTERNAL:PLAINTEXT',
      'advertised-listeners': 'EXTERNAL://kafka.example.com:19093',
      'sasl-users': users,
    }, {});
    assert.deepEqual(config.listeners, [
      { name: 'PLAINTEXT', securityProtocol: 'PLAINTEXT', host: '127.0.0.1', port: 9092, advertisedHost: undefined, advertisedPort: undefined },
      { name: 'EXTERNAL', securityProtocol: 'SASL_PLAINTEXT', host: '::1', port: 9093, advertisedHost: 'kafka.example.com', advertisedPort: 19093 },
      { name: 'internal', securityProtocol: 'PLAINTEXT', host: '0.0.0.0', port: 9094, advertisedHost: undefined, advertisedPort: undefined },
    ]);
    assert.equal(resolveStartConfig({}, {}).listeners, null, 'without them: one listener of --host and --port');
    const refusals: [Record<string, string>, RegExp][] = [
      [{ listeners: 'PLAINTEXT:9092' }, /listeners must be NAME:\/\/host:port separated by commas, e\.g\. PLAINTEXT:\/\/127\.0\.0\.1:9092,SASL_SSL:\/\/0\.0\.0\.0:9093; got "PLAINTEXT:9092"/],
      [{ listeners: 'EXTERNAL://127.0.0.1:9093' }, /listener EXTERNAL has no security protocol: name it after one \(PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL\) or give it one in --listener-security-protocol-map/],
      [{ listeners: 'PLAINTEXT://127.0.0.1:9092', 'advertised-listeners': 'SSL://x:1' }, /advertised-listeners names SSL, which --listeners does not/],
      [{ listeners: 'PLAINTEXT://127.0.0.1:9092', port: '9093' }, /--listeners replaces --port: give each listener's host and port in it/],
      [{ 'listener-security-protocol-map': 'A:PLAINTEXT' }, /--advertised-listeners, --listener-security-protocol-map and --listener-config need --listeners/],
      [{ listeners: 'PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9093' }, /listener SSL is SSL, which needs the TLS certificate and key/],
      [{ listeners: 'A://127.0.0.1:9092', 'listener-security-protocol-map': 'A:TLS' }, /listener-security-protocol-map must be NAME:PROTOCOL separated by commas/],
      [{ listeners: 'A://127.0.0.1:9092,a://127.0.0.1:9093' }, /listeners names listener a twice/],
    ];
    for (const [flags, message] of refusals) assert.throws(() => resolveStartConfig(flags, {}), message, JSON.stringify(flags));
    // a listener's own settings, from flags or the ;-separated variable
    const own = resolveStartConfig({ listeners: 'SASL_PLAINTEXT://127.0.0.1:9092', 'sasl-users': users }, { SLUICE_LISTENER_CONFIG: 'SASL_PLAINTEXT.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN' });
    assert.deepEqual(own.listeners![0]!.saslMechanisms, ['SCRAM-SHA-512', 'PLAIN']);
    assert.throws(() => resolveStartConfig({ listeners: 'PLAINTEXT://127.0.0.1:9092', 'listener-config': ['OTHER.ssl.client.auth=required'] } as never, {}), /listener-config names OTHER, which --listeners does not/);
    assert.throws(() => resolveStartConfig({ listeners: 'PLAINTEXT://127.0.0.1:9092', 'listener-config': ['PLAINTEXT.ssl.client.auth=yes'] } as never, {}), /listener-config PLAINTEXT\.ssl\.client\.auth must be required, requested or none, got "yes"/);
    assert.throws(() => resolveStartConfig({ listeners: 'PLAINTEXT://127.0.0.1:9092', 'listener-config': ['PLAINTEXT.ssl.client.auth=required'] } as never, {}), /listener PLAINTEXT is PLAINTEXT: it has no TLS for a client auth setting/);
    assert.throws(() => resolveStartConfig({ 'listener-config': ['A.ssl.client.auth=none'] } as never, {}), /need --listeners/);
    // a listener's own TLS files, by librdkafka's names, kept by absolute path
    const fixtures = fileURLToPath(new URL('../../../test/helpers/fixtures/tls/', import.meta.url));
    const withOwnTls = resolveStartConfig({
      listeners: 'INTERNAL://127.0.0.1:9094',
      'listener-security-protocol-map': 'INTERNAL:SSL',
      'listener-config': [`INTERNAL.ssl.certificate.location=${join(fixtures, 'rotated-server.pem')}`, `INTERNAL.ssl.key.location=${join(fixtures, 'rotated-server.key')}`, `INTERNAL.ssl.ca.location=${join(fixtures, 'ca.pem')}`],
    } as never, {});
    const ownTls = withOwnTls.listeners![0]!.tls!;
    assert.deepEqual(ownTls.files, { cert: join(fixtures, 'rotated-server.pem'), key: join(fixtures, 'rotated-server.key'), ca: join(fixtures, 'ca.pem') });
    assert.deepEqual([ownTls.cert, ownTls.key, ownTls.ca], [tlsFixture('rotated-server.pem'), tlsFixture('rotated-server.key'), tlsFixture('ca.pem')]);
    assert.equal(withOwnTls.tls, null, 'the broker has no certificate of its own');
    assert.throws(() => resolveStartConfig({ listeners: 'SSL://127.0.0.1:9094', 'listener-config': [`SSL.ssl.certificate.location=${join(fixtures, 'server.pem')}`] } as never, {}), /listener SSL's own certificate and key go together/);
    assert.throws(() => resolveStartConfig({ listeners: 'SSL://127.0.0.1:9094', 'listener-config': ['SSL.ssl.key.location=/nonexistent/key.pem'] } as never, {}), /listener-config SSL\.ssl\.key\.location: cannot read \/nonexistent\/key\.pem: .*ENOENT/);
    assert.throws(() => resolveStartConfig({ listeners: 'SSL://127.0.0.1:9094', 'listener-config': ['SSL.ssl.keystore.location=x'] } as never, {}), /listener-config must be NAME\.KEY=VALUE, KEY one of ssl\.client\.auth, sasl\.enabled\.mechanisms, ssl\.certificate\.location, ssl\.key\.location, ssl\.ca\.location/);
  }));

test('connection limits come from --max-connections, --max-connections-per-ip and its overrides', () => {
  const config = resolveStartConfig({ 'max-connections': '1000', 'max-connections-per-ip': '0', 'max-connections-per-ip-overrides': '10.0.0.7:500, ::1:20' }, {});
  assert.deepEqual([config.maxConnections, config.maxConnectionsPerIp, config.maxConnectionsPerIpOverrides], [1000, 0, { '10.0.0.7': 500, '::1': 20 }]);
  assert.throws(() => resolveStartConfig({ 'max-connections-per-ip': '0' }, {}), /--max-connections-per-ip 0 refuses every address: give the ones to let in with --max-connections-per-ip-overrides/);
  assert.throws(() => resolveStartConfig({ 'max-connections-per-ip-overrides': 'db.example:5' }, {}), /max-connections-per-ip-overrides must be address:count pairs separated by commas, e\.g\. 10\.0\.0\.7:500; got "db\.example:5"/);
  assert.throws(() => resolveStartConfig({ 'max-connections': '0' }, {}), /max-connections/);
});

test('--metrics-address serves the metrics at /metrics, its port logged as the broker starts; a bad address is refused', () =>
  withTempDir(async (dir) => {
    assert.throws(() => resolveStartConfig({ 'metrics-address': '9404' }, {}), /metrics-address must be host:port, e\.g\. 127\.0\.0\.1:9404; got "9404"/);
    assert.deepEqual(resolveStartConfig({ 'metrics-address': '[::1]:9404' }, {}).metrics, { host: '::1', port: 9404 });
    assert.equal(resolveStartConfig({}, {}).metrics, null);
    const usersFile = join(dir, 'metrics-users.json');
    await writeFile(usersFile, JSON.stringify({ prometheus: 'scrape-secret' }));
    const tls = { 'tls-cert': `${TLS_FIXTURES_DIR}/server.pem`, 'tls-key': `${TLS_FIXTURES_DIR}/server.key` };
    assert.deepEqual(resolveStartConfig({ 'metrics-address': '127.0.0.1:9404', 'metrics-tls': 'true', 'metrics-users': usersFile, ...tls }, {}).metrics, { host: '127.0.0.1', port: 9404, tls: true, users: { prometheus: 'scrape-secret' } });
    assert.deepEqual(resolveStartConfig({ 'metrics-address': '127.0.0.1:9404' }, { SLUICE_METRICS_USERS: usersFile }).metrics, { host: '127.0.0.1', port: 9404, users: { prometheus: 'scrape-secret' } });
    assert.throws(() => resolveStartConfig({ 'metrics-users': usersFile }, {}), /--metrics-tls and --metrics-users need --metrics-address/);
    assert.throws(() => resolveStartConfig({ 'metrics-address': '127.0.0.1:9404', 'metrics-tls': 'true' }, {}), /--metrics-tls true needs --tls-cert and --tls-key/);
    assert.throws(() => resolveStartConfig({ 'metrics-address': '127.0.0.1:9404', 'metrics-users': join(dir, 'absent.json') }, {}), /metrics-users: cannot read/);
    const { child, bootstrap, output } = await startCli(['--data-dir', dir, '--metrics-address', '127.0.0.1:0']);
    try {
      const started = output().split('\n').map((l) => JSON.parse(l || '{}')).find((l) => l.msg === 'broker started');
      assert.equal(started.metrics.host, '127.0.0.1');
      assert.equal((await sluice(['produce', 'seen', '-b', bootstrap], 'one\ntwo\n')).code, 0);
      const res = await fetch(`http://127.0.0.1:${started.metrics.port}/metrics`);
      assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
      const text = await res.text();
      assert.match(text, /^kafka_server_brokertopicmetrics_messagesin_total\{topic="seen"\} 2$/m);
      assert.match(text, /^process_cpu_seconds_total \d/m);
    } finally {
      assert.equal(await stopCli(child), 0);
    }
  }));

test('retention runs every --retention-check-interval-ms', () =>
  withTempDir(async (dir) => {
    const { child, bootstrap } = await startCli(['--data-dir', dir, '--retention-check-interval-ms', '100']);
    const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    try {
      const b = ['-b', bootstrap];
      assert.equal((await sluice(['topics', 'create', 'short', '--config', 'segment.bytes=2048', '--config', 'retention.bytes=1', ...b])).code, 0);
      // one batch a run: two do not fit in a 2 KiB segment, so each next one rolls it
      for (let run = 0; run < 4; run++) {
        const produced = await sluice(['produce', 'short', ...b], `${String(run).repeat(1500)}\n`);
        assert.equal(produced.code, 0, produced.stderr);
      }
      await admin.connect();
      // the default interval, 30 s, is well past this wait
      const deadline = Date.now() + 10_000;
      let offsets = await admin.fetchTopicOffsets('short');
      while (offsets[0]!.low !== '3' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        offsets = await admin.fetchTopicOffsets('short');
      }
      assert.deepEqual(offsets, [{ partition: 0, offset: '4', high: '4', low: '3' }]);
    } finally {
      await admin.disconnect();
      await stopCli(child);
    }
  }));

test('bad flags and values get a one-line error and exit code 2', async () => {
  for (const [args, pattern] of [
    [['start', '--bogus'], /Unknown option '--bogus'/],
    [['start', '--port', 'abc'], /port must be an integer/],
    [['start', '--log-config', 'flush.policy=sometimes'], /expected one of fsync, none/],
    [['start', '--compaction-map-bytes', '1000'], /compaction-map-bytes must be an integer from 1048576/],
    [['start', '--retention-check-interval-ms', '0'], /retention-check-interval-ms must be an integer from 10/],
    [['nope'], /unknown command/],
    [['produce'], /needs a topic name/],
  ] as [string[], RegExp][]) {
    const res = await sluice(args);
    assert.equal(res.code, 2, args.join(' '));
    assert.match(res.stderr, pattern);
  }
  const help = await sluice(['consume', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--from-beginning/);
  // every flag stands apart from its description, the longest ones too
  const start = await sluice(['start', '--help']);
  assert.match(start.stdout, /--group-initial-rebalance-delay-ms VALUE {2,}wait before the first rebalance/);
  for (const line of start.stdout.split('\n').filter((l) => l.startsWith('  -'))) assert.match(line, /^ {2}\S.*\S {2,}\S/, line);
  // and every command name from its summary in the overview
  const overview = await sluice(['--help']);
  assert.match(overview.stdout, /transactions producers {2,}show the producers/);
  for (const line of overview.stdout.split('\n').filter((l) => /^ {2}[a-z]/.test(l))) assert.match(line, /^ {2}[a-z-]+( [a-z-]+)? {2,}\S/, line);
});

test('a command group alone, with --help, or with an unknown command lists just its own commands', async () => {
  const topicsList = (text: string) => text.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim().split(/ {2,}/)[0]);
  const asked = await sluice(['topics', '--help']);
  assert.equal(asked.code, 0);
  assert.match(asked.stdout, /^usage: sluice topics COMMAND \[options\]/);
  assert.deepEqual(topicsList(asked.stdout), ['topics create', 'topics list', 'topics describe', 'topics delete', 'topics alter']);
  const alone = await sluice(['topics']);
  assert.deepEqual([alone.code, alone.stdout, alone.stderr], [2, '', `${asked.stdout}`]);
  const typo = await sluice(['groups', 'lst']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /^sluice: unknown command "groups lst"\n\nusage: sluice groups COMMAND/);
  assert.deepEqual(topicsList(typo.stderr), ['groups list', 'groups describe', 'groups reset-offsets', 'groups delete']);
});

test('groups list, describe with lag, reset-offsets (refused while active), delete', async () => {
  const broker = await startBroker({ groups: { minSessionTimeoutMs: 1000 } });
  const b = ['-b', broker.bootstrap];
  const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: 'readers', sessionTimeout: 6000, heartbeatInterval: 300 });
  try {
    await sluice(['topics', 'create', 'lagged', '--partitions', '2', ...b]);
    const base = Date.now() - 60_000;
    await sluice(['produce', 'lagged', '-p', '0', ...b], 'a\nb\nc\nd\ne\n');
    await sluice(['produce', 'lagged', '-p', '1', ...b], 'f\ng\nh\ni\nj\n');
    let consumed = 0;
    await consumer.connect();
    await consumer.subscribe({ topic: 'lagged', fromBeginning: true });
    await consumer.run({ eachMessage: async () => void consumed++ });
    while (consumed < 10) await new Promise((r) => setTimeout(r, 50));
    await consumer.commitOffsets([{ topic: 'lagged', partition: 0, offset: '5' }, { topic: 'lagged', partition: 1, offset: '2' }]);
    assert.match((await sluice(['groups', 'list', ...b])).stdout, /^readers\tStable\tconsumer$/m);
    const described = (await sluice(['groups', 'describe', 'readers', ...b])).stdout;
    assert.match(described, /state Stable .* members 1/);
    assert.match(described, /^lagged\t0\t5\t5\t0\t\S+/m);
    assert.match(described, /^lagged\t1\t2\t5\t3\t\S+/m);
    const refused = await sluice(['groups', 'reset-offsets', 'readers', '--topic', 'lagged', '--to-earliest', ...b]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is Stable with 1 member\(s\): stop its consumers/);
    await consumer.disconnect();
    assert.equal((await sluice(['groups', 'reset-offsets', 'readers', '--topic', 'lagged', '--to-earliest', ...b])).stdout, 'lagged\t0\t0\nlagged\t1\t0\n');
    assert.match((await sluice(['groups', 'describe', 'readers', ...b])).stdout, /^lagged\t1\t0\t5\t5\t-$/m);
    assert.equal((await sluice(['groups', 'reset-offsets', 'readers', '--topic', 'lagged', '--to-offset', '3', '-p', '1', ...b])).stdout, 'lagged\t1\t3\n');
    assert.equal((await sluice(['groups', 'reset-offsets', 'readers', '--topic', 'lagged', '--to-latest', '-p', '0', ...b])).stdout, 'lagged\t0\t5\n');
    assert.equal((await sluice(['groups', 'reset-offsets', 'readers', '--topic', 'lagged', '--to-datetime', new Date(base).toISOString(), ...b])).stdout, 'lagged\t0\t0\nlagged\t1\t0\n');
    const twoWays = await sluice(['groups', 'reset-offsets', 'readers', '--topic', 'lagged', '--to-earliest', '--to-latest', ...b]);
    assert.equal(twoWays.code, 2);
    assert.equal((await sluice(['groups', 'delete', 'readers', ...b])).code, 0);
    assert.equal((await sluice(['groups', 'list', ...b])).stdout, '');
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await broker.close();
  }
});

test('transactions list, describe and producers', async () => {
  const broker = await startBroker();
  const b = ['--bootstrap', broker.bootstrap];
  const c = await KafkaClient.connectTo(broker.bootstrap);
  try {
    await broker.broker.createTopic('paid', 2, {});
    const { producerId } = await c.send(22, 4, { transactionalId: 'billing', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    await c.send(22, 4, { transactionalId: 'idle', transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 });
    const added = await c.send(24, 3, { v3AndBelowTransactionalId: 'billing', v3AndBelowProducerId: producerId, v3AndBelowProducerEpoch: 0, v3AndBelowTopics: [{ name: 'paid', partitions: [1, 0] }] });
    assert.deepEqual(added.resultsByTopicV3AndBelow[0].resultsByPartition.map((p: { partitionErrorCode: number }) => p.partitionErrorCode), [0, 0]);
    const listed = (await sluice(['transactions', 'list', ...b])).stdout;
    assert.match(listed, new RegExp(`^billing\\t${producerId}\\tOngoing\\nidle\\t\\d+\\tEmpty\\n$`));
    assert.equal((await sluice(['transactions', 'list', '--state', 'Ongoing', ...b])).stdout, `billing\t${producerId}\tOngoing\n`);
    assert.equal((await sluice(['transactions', 'list', '--open-longer-than', '600000', ...b])).stdout, '');
    const described = (await sluice(['transactions', 'describe', 'billing', ...b])).stdout;
    assert.match(described, new RegExp(`^transactional-id billing  state Ongoing  producer ${producerId}  epoch 0  timeout-ms 60000  started 20\\d\\d-`));
    assert.match(described, /\npaid\t0\npaid\t1\n$/);
    // the producers a partition holds state for, with the open transaction's first offset
    const batch = buildRecordBatch([{ value: 'x' }, { value: 'y' }], { producerId, producerEpoch: 0, baseSequence: 0, transactional: true });
    const produced = await c.send(0, 9, { transactionalId: 'billing', acks: -1, timeoutMs: 5000, topicData: [{ name: 'paid', partitionData: [{ index: 1, records: batch }] }] });
    assert.equal(produced.responses[0].partitionResponses[0].errorCode, 0);
    const producers = (await sluice(['transactions', 'producers', 'paid', ...b])).stdout;
    assert.match(producers, new RegExp(`^1\\tproducer ${producerId}\\tepoch 0\\tlast-sequence 1\\tlast 20\\d\\d-[^\\t]+\\topen transaction from offset 0\\n$`));
    assert.equal((await sluice(['transactions', 'producers', 'paid', '--partition', '0', ...b])).stdout, '');
    const unknown = await sluice(['transactions', 'producers', 'nope', ...b]);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /UNKNOWN_TOPIC_OR_PARTITION/);
    const missing = await sluice(['transactions', 'describe', 'nobody', ...b]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /TRANSACTIONAL_ID_NOT_FOUND/);
    assert.equal((await sluice(['transactions', 'describe'])).code, 2);
  } finally {
    c.close();
    await broker.close();
  }
});

test('dump-log shows the delete horizon compaction gave a tombstone\'s batch', () =>
  withTempDir(async (dir) => {
    const broker = await startBroker({ dataDir: dir });
    const producer = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).producer();
    let passAt: number;
    try {
      await broker.broker.createTopic('kv', 1, { 'cleanup.policy': 'compact', 'segment.bytes': '300', 'min.cleanable.dirty.ratio': '0' });
      await producer.connect();
      await producer.send({ topic: 'kv', messages: [{ key: 'k', value: 'v' }] }); // 0
      await producer.send({ topic: 'kv', messages: [{ key: 'k', value: null }] }); // 1
      for (let i = 0; i < 6; i++) await producer.send({ topic: 'kv', messages: [{ key: `f${i}`, value: 'f'.repeat(100) }] });
      passAt = Date.now();
      await broker.broker.logs.runRetention();
    } finally {
      await producer.disconnect();
      await broker.close();
    }
    const dump = await sluice(['dump-log', join(dir, 'kv-0', '00000000000000000000.log')]);
    assert.equal(dump.code, 0, dump.stderr);
    const batches = dump.stdout.split('\n').filter((l) => l.startsWith('baseOffset:'));
    assert.equal(/^baseOffset: (\d+) /.exec(batches[0]!)![1], '1', 'the superseded record went; the tombstone stays');
    const horizon = Number(/ deleteHorizonMs: (\d+) /.exec(batches[0]!)![1]);
    assert.ok(horizon >= passAt + 86_400_000 && horizon <= Date.now() + 86_400_000, `horizon ${horizon}: a day (delete.retention.ms) after the pass`);
  }));

test('dump-log shows the records of __consumer_offsets decoded from Kafka\'s formats', () =>
  withTempDir(async (dir) => {
    const broker = await startBroker({ dataDir: dir });
    const admin = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
    try {
      await broker.broker.createTopic('orders', 2, {});
      await admin.connect();
      await admin.setOffsets({ groupId: 'billing', topic: 'orders', partitions: [{ partition: 0, offset: '5' }, { partition: 1, offset: '7' }] });
    } finally {
      await admin.disconnect();
      await broker.close();
    }
    const segments: string[] = [];
    for (const d of (await readdir(dir)).filter((n) => n.startsWith('__consumer_offsets-'))) {
      const segment = join(dir, d, '00000000000000000000.log');
      if ((await stat(segment)).size > 0) segments.push(segment);
    }
    assert.equal(segments.length, 1, 'one group: one partition');
    const dump = await sluice(['dump-log', segments[0]!, '--records']);
    assert.equal(dump.code, 0, dump.stderr);
    const records = dump.stdout.split('\n').filter((l) => l.startsWith('| ')).map((l) => / (key: .*) headers: \[\]$/.exec(l)![1]!.replace(/"commitTimestampMs":\d+/, '"commitTimestampMs":T'));
    // kafkajs joins the group to set offsets: its metadata records come with them
    assert.deepEqual(records.filter((r) => r.includes('"kind":"offset"')), [0, 1].map((p) => `key: {"kind":"offset","group":"billing","topic":"orders","partition":${p}} payload: {"offset":${p === 0 ? 5 : 7},"leaderEpoch":-1,"metadata":"","commitTimestampMs":T}`));
    assert.match(records[0]!, /^key: \{"kind":"group","group":"billing"\} payload: \{"protocolType":"consumer","protocolName":"RoundRobinAssigner","generationId":1,/);
  }));

test('dump-log shows a segment\'s batches and records (plain, gzip, transactional with its marker), its index, a bad CRC and a torn tail', () =>
  withTempDir(async (dir) => {
    const broker = await startBroker({ dataDir: dir });
    const kafka = new Kafka({ brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    const producer = kafka.producer();
    const transactional = kafka.producer({ transactionalId: 'dumper', idempotent: true, maxInFlightRequests: 1 });
    try {
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: 'dumped', configEntries: [{ name: 'segment.bytes', value: '1000' }] }] });
      await producer.connect();
      await producer.send({ topic: 'dumped', messages: [{ key: 'k0', value: 'plain', headers: { h: 'x' }, timestamp: '1700000000000' }, { key: null, value: 'second', timestamp: '1700000000001' }] });
      await producer.send({ topic: 'dumped', compression: CompressionTypes.GZIP, messages: [{ key: 'k2', value: 'zipped', timestamp: '1700000000002' }] });
      await transactional.connect();
      const txn = await transactional.transaction();
      await txn.send({ topic: 'dumped', messages: [{ key: 'k3', value: 'in a transaction', timestamp: '1700000000003' }] });
      await txn.commit();
      // enough after them to roll the first segment, which then gets its index files
      for (let i = 0; i < 12; i++) await producer.send({ topic: 'dumped', messages: [{ value: 'y'.repeat(100) }] });
    } finally {
      await transactional.disconnect();
      await producer.disconnect();
      await admin.disconnect();
      await broker.close();
    }
    const segment = join(dir, 'dumped-0', '00000000000000000000.log');
    const dump = await sluice(['dump-log', segment, '--records']);
    assert.equal(dump.code, 0, dump.stderr);
    const lines = dump.stdout.trim().split('\n');
    const field = (line: string, name: string) => new RegExp(`${name}: (\\S+)`).exec(line)?.[1];
    const batches = lines.filter((l) => l.startsWith('baseOffset:'));
    assert.deepEqual(
      batches.slice(0, 4).map((l) => ['baseOffset', 'lastOffset', 'count', 'isTransactional', 'isControl', 'deleteHorizonMs', 'compresscodec', 'isvalid'].map((n) => field(l, n))),
      [
        ['0', '1', '2', 'false', 'false', 'none', 'none', 'true'],
        ['2', '2', '1', 'false', 'false', 'none', 'gzip', 'true'],
        ['3', '3', '1', 'true', 'false', 'none', 'none', 'true'],
        ['4', '4', '1', 'true', 'true', 'none', 'none', 'true'],
      ],
    );
    assert.deepEqual(lines.filter((l) => l.startsWith('|')).slice(0, 5), [
      '| offset: 0 timestamp: 1700000000000 key: "k0" payload: "plain" headers: ["h"="x"]',
      '| offset: 1 timestamp: 1700000000001 key: null payload: "second" headers: []',
      '| offset: 2 timestamp: 1700000000002 key: "k2" payload: "zipped" headers: []',
      '| offset: 3 timestamp: 1700000000003 key: "k3" payload: "in a transaction" headers: []',
      '| offset: 4 endTxnMarker: COMMIT',
    ]);
    const bytes = (await readFile(segment)).length;
    assert.equal(lines.at(-1), `${batches.length} batches (0 with a bad CRC), ${Number(field(batches.at(-1)!, 'lastOffset')) + 1} records, ${bytes} of ${bytes} bytes in whole batches`);

    const index = await sluice(['dump-log', join(dir, 'dumped-0', '00000000000000000000.index')]);
    assert.equal(index.stdout.split('\n')[0], 'offset: 0 position: 0');

    // a flipped byte in the gzip batch's records, and the file cut inside its last batch
    const copy = join(dir, '00000000000000000000.log');
    const damaged = await readFile(segment);
    const gzipAt = Number(field(batches[1]!, 'position'));
    damaged[gzipAt + 70] ^= 0xff;
    await writeFile(copy, damaged.subarray(0, bytes - 10));
    const bad = await sluice(['dump-log', copy]);
    const badLines = bad.stdout.trim().split('\n');
    assert.equal(field(badLines[1]!, 'isvalid'), 'false');
    const lastAt = Number(field(batches.at(-1)!, 'position'));
    assert.equal(badLines.at(-2), `torn or corrupt data from position ${lastAt} to the end (${bytes - 10 - lastAt} bytes): recovery cuts a segment's tail here`);
    assert.match(badLines.at(-1)!, new RegExp(`^${batches.length - 1} batches \\(1 with a bad CRC\\)`));

    assert.equal((await sluice(['dump-log'])).code, 2);
    assert.equal((await sluice(['dump-log', join(dir, 'topics.json')])).code, 2);
    const missing = await sluice(['dump-log', join(dir, 'nope', '00000000000000000000.log')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ENOENT/);
  }));

// npm runs a script through a shell; without the script's `exec`, SIGTERM to npm ended the shell and left the broker
// running, orphaned, on its port and data dir
test('`npm start`, the quick start, hands SIGTERM to the broker: a supervisor that stops npm stops the broker cleanly', () =>
  withTempDir(async (dir) => {
    const projectRoot = fileURLToPath(new URL('../../../', import.meta.url));
    const npm = spawn('npm', ['start', '--', '--port', '0', '--data-dir', dir, '--log-format', 'json'], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    npm.stdout.on('data', (d) => (out += d));
    npm.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | string | null>((resolve) => npm.on('exit', (code, signal) => resolve(code ?? signal)));
    let broker = 0;
    try {
      await until(() => out.includes('bootstrap server'), 'the broker to be ready', 60_000);
      broker = (JSON.parse(out.split('\n').find((l) => l.includes('bootstrap server'))!) as { pid: number }).pid;
      npm.kill('SIGTERM');
      assert.equal(await exited, 0, out);
      const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; signal?: string; pid: number });
      assert.deepEqual(lines.filter((l) => l.msg === 'stopping').map((l) => [l.pid, l.signal]), [[broker, 'SIGTERM']]);
      assert.ok(lines.some((l) => l.msg === 'broker stopped'), out);
      assert.equal(processAlive(broker), false);
    } finally {
      if (npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
      if (broker > 0 && processAlive(broker)) process.kill(broker, 'SIGKILL');
    }
  }));
