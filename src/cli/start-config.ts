import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_BROKER_CONFIG, type BrokerConfig, type MetricsEndpointConfig } from '../broker/broker.js';
import type { TlsFiles, TlsSettings } from '../io/tcp.js';
import { SASL_MECHANISMS, type SaslMechanism } from '../broker/sasl-credentials.js';
import { OAuthBearerValidator, type OAuthBearerConfig } from '../broker/oauth-bearer.js';
import { DEFAULT_LOG_CONFIG, TOPIC_CONFIG_KEYS, applyTopicConfigs } from '../storage/log-config.js';
import { UsageError } from './usage-error.js';
import { isPrincipal } from '../protocol/acl.js';
import { principalMapper } from '../broker/principal-mapping.js';
import { endpoints, listenerSetting, listenersFrom, protocolMap, withListenerSettings, type ListenerSetting } from './listener-options.js';
import { listenersRefusal } from '../broker/listeners.js';
import { parseConnectionOverrides } from '../broker/connection-limits.js';

/** The TLS files with `which` set to `path`, made absolute (the broker reads them again later). */
function tlsFiles(config: BrokerConfig, which: keyof TlsFiles, path: string): TlsFiles {
  return { ...config.tls?.files, [which]: resolve(path) } as TlsFiles;
}

/** Adds `patch` to the OAUTHBEARER settings. */
function oauthBearer(config: BrokerConfig, patch: OAuthBearerConfig): void {
  config.sasl = { ...config.sasl, oauthBearer: { ...config.sasl?.oauthBearer, ...patch } };
}

/** A JWKS URL as given, or a path made one. */
function jwksUrl(raw: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(raw) ? raw : pathToFileURL(resolve(raw)).href;
}

/** One `sluice start` setting: its flag, its SLUICE_* variable, its config-file key, and how to parse it. */
interface Setting {
  flag: string;
  help: string;
  apply: (config: BrokerConfig, raw: string) => void;
  /** A flag given any number of times; its SLUICE_* variable holds the values separated by this. */
  repeatable?: string;
}

function int(name: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

function bool(name: string, raw: string): boolean {
  if (/^(true|1|yes|on)$/i.test(raw)) return true;
  if (/^(false|0|no|off)$/i.test(raw)) return false;
  throw new UsageError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

/** A JSON file of user names and their passwords, `{"name": "password", ...}`. */
function usersFile(flag: string, path: string): Record<string, string> {
  let users: unknown;
  try {
    users = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`${flag}: cannot read ${path}: ${(err as Error).message}`);
  }
  if (typeof users !== 'object' || users === null || Array.isArray(users) || Object.values(users).some((p) => typeof p !== 'string')) {
    throw new UsageError(`${flag}: ${path} must hold a JSON object of user names and their passwords`);
  }
  return users as Record<string, string>;
}

function saslMechanisms(raw: string): SaslMechanism[] {
  const mechanisms = raw.split(',').map((m) => m.trim()).filter((m) => m !== '');
  const unknown = mechanisms.filter((m) => !(SASL_MECHANISMS as readonly string[]).includes(m));
  if (unknown.length > 0 || mechanisms.length === 0) throw new UsageError(`sasl-mechanisms must be some of ${SASL_MECHANISMS.join(', ')}, got ${JSON.stringify(raw)}`);
  return mechanisms as SaslMechanism[];
}

function principals(raw: string): string[] {
  const list = raw.split(';').map((p) => p.trim()).filter((p) => p !== '');
  const bad = list.find((p) => !isPrincipal(p));
  if (bad !== undefined) throw new UsageError(`super-users must be principals Type:name separated by ;, e.g. User:admin; got ${JSON.stringify(bad)}`);
  return list;
}

const NO_BYTES = Buffer.alloc(0);

/**
 * The listener options' text while the sources are applied (a file, the environment, flags): they combine only once
 * all are known, as the map may come from another source than the listeners.
 */
const listenerTexts = new WeakMap<BrokerConfig, { listeners?: string; advertised?: string; map?: string; settings?: ListenerSetting[] }>();
const listenerText = (c: BrokerConfig) => {
  let texts = listenerTexts.get(c);
  if (!texts) listenerTexts.set(c, (texts = {}));
  return texts;
};

/** The TLS settings so far, begun empty: the checks at the end find what is missing. */
const tlsOf = (c: BrokerConfig): TlsSettings => c.tls ?? { cert: NO_BYTES, key: NO_BYTES, clientAuth: 'none' };

/** `address:count,...`, the address an IPv4 or IPv6 address (whose own colons come before the last). */
function connectionOverrides(text: string): Record<string, number> {
  try {
    return parseConnectionOverrides(text);
  } catch (err) {
    throw new UsageError((err as Error).message.replace('max.connections.per.ip.overrides', 'max-connections-per-ip-overrides'));
  }
}

/** The metrics endpoint's settings so far; its address comes from --metrics-address, which the start checks was given. */
const metricsOf = (c: Partial<BrokerConfig>): MetricsEndpointConfig => c.metrics ?? { host: '', port: -1 };

/** `host:port`, an IPv6 host in brackets. */
function hostAndPort(flag: string, text: string): { host: string; port: number } {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]/]+):(\d+)$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`${flag} must be host:port, e.g. 127.0.0.1:9404; got ${JSON.stringify(text)}`);
  return { host: m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!, port };
}

function pemFile(setting: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`${setting}: cannot read ${path}: ${(err as Error).message}`);
  }
}

export const START_SETTINGS: readonly Setting[] = [
  {
    flag: 'listeners',
    help: 'the ports to listen on and what each asks of clients, NAME://host:port comma-separated, e.g. "PLAINTEXT://127.0.0.1:9092,SASL_SSL://0.0.0.0:9093" (Kafka\'s listeners; instead of --host and --port). A listener named after a security protocol has it; others take theirs from --listener-security-protocol-map',
    apply: (c, v) => void endpoints('listeners', (listenerText(c).listeners = v)),
  },
  {
    flag: 'advertised-listeners',
    help: 'where each listener\'s clients are told to connect, NAME://host:port comma-separated (Kafka\'s advertised.listeners; default: its own host and port)',
    apply: (c, v) => void endpoints('advertised-listeners', (listenerText(c).advertised = v)),
  },
  {
    flag: 'listener-security-protocol-map',
    help: 'listener names and their security protocols, NAME:PROTOCOL comma-separated, e.g. "INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL" (Kafka\'s listener.security.protocol.map)',
    apply: (c, v) => void protocolMap((listenerText(c).map = v)),
  },
  { flag: 'host', help: 'address to listen on (default 127.0.0.1; 0.0.0.0 for all interfaces)', apply: (c, v) => (c.host = v) },
  { flag: 'port', help: 'port to listen on (default 9092; 0 picks a free port)', apply: (c, v) => (c.port = int('port', v, 0, 65535)) },
  { flag: 'advertised-host', help: 'host clients are told to connect to (default: the listen host)', apply: (c, v) => (c.advertisedHost = v) },
  { flag: 'advertised-port', help: 'port clients are told to connect to (default: the listen port)', apply: (c, v) => (c.advertisedPort = int('advertised-port', v, 1, 65535)) },
  { flag: 'data-dir', help: 'where logs are stored (default ./data)', apply: (c, v) => (c.dataDir = v) },
  { flag: 'node-id', help: 'broker id reported to clients (default 1)', apply: (c, v) => (c.nodeId = int('node-id', v, 0, 2 ** 31 - 1)) },
  { flag: 'cluster-id', help: 'cluster id reported to clients (default: made at the first start and kept in the data dir\'s meta.properties)', apply: (c, v) => (c.clusterId = v) },
  { flag: 'auto-create-topics', help: 'create unknown topics on first use (default true)', apply: (c, v) => (c.autoCreateTopics = bool('auto-create-topics', v)) },
  {
    flag: 'metrics-address',
    help: 'host:port of an HTTP endpoint serving the broker\'s metrics to Prometheus at /metrics, e.g. 127.0.0.1:9404 (default: none; port 0 picks a free one). Without --metrics-users it asks for no password: keep it where only monitoring reaches',
    apply: (c, v) => (c.metrics = { ...c.metrics, ...hostAndPort('metrics-address', v) }),
  },
  {
    flag: 'metrics-tls',
    help: 'whether the metrics endpoint speaks HTTPS, with --tls-cert and its renewals (default false)',
    apply: (c, v) => (c.metrics = { ...metricsOf(c), tls: bool('metrics-tls', v) }),
  },
  {
    flag: 'metrics-users',
    help: 'a JSON file of the users who may scrape the metrics and their passwords, {"name": "password", ...} (HTTP Basic, Prometheus\' basic_auth)',
    apply: (c, v) => (c.metrics = { ...metricsOf(c), users: usersFile('metrics-users', v) }),
  },
  { flag: 'delete-topic-enable', help: 'whether topics may be deleted (default true; false: DeleteTopics is refused with TOPIC_DELETION_DISABLED, Kafka\'s delete.topic.enable)', apply: (c, v) => (c.deleteTopicEnable = bool('delete-topic-enable', v)) },
  { flag: 'default-partitions', help: 'partitions of auto-created topics (default 1)', apply: (c, v) => (c.defaultPartitions = int('default-partitions', v, 1, 100_000)) },
  { flag: 'max-request-bytes', help: 'largest request accepted, socket.request.max.bytes (default 104857600)', apply: (c, v) => (c.maxRequestBytes = int('max-request-bytes', v, 1024)) },
  { flag: 'queued-max-request-bytes', help: 'bytes of requests read but not yet answered, over all connections, past which no more are read until answers free room, queued.max.request.bytes (default 67108864)', apply: (c, v) => (c.queuedMaxRequestBytes = int('queued-max-request-bytes', v, 1024)) },
  { flag: 'fetch-memory-bytes', help: 'memory fetch responses may hold over all connections until written to their sockets; past it a fetch reads less, at least 1 MiB (default 268435456)', apply: (c, v) => (c.fetchMemoryBytes = int('fetch-memory-bytes', v, 1024 * 1024)) },
  { flag: 'idle-timeout-ms', help: 'close connections idle this long (default 600000; 0 never)', apply: (c, v) => (c.idleTimeoutMs = int('idle-timeout-ms', v, 0)) },
  { flag: 'max-connections', help: 'connections served at once; past it new ones wait, unread, until one closes, max.connections (default: no limit; this and the two below can change while the broker runs, as dynamic broker configs)', apply: (c, v) => (c.maxConnections = int('max-connections', v, 1)) },
  { flag: 'max-connections-per-ip', help: 'connections one client address may hold; past it new ones are refused, max.connections.per.ip (default: no limit; 0 with overrides: only the addresses overridden)', apply: (c, v) => (c.maxConnectionsPerIp = int('max-connections-per-ip', v, 0)) },
  {
    flag: 'max-connections-per-ip-overrides',
    help: 'addresses with limits of their own, "10.0.0.7:500,127.0.0.1:2000" (max.connections.per.ip.overrides)',
    apply: (c, v) => (c.maxConnectionsPerIpOverrides = connectionOverrides(v)),
  },
  { flag: 'max-open-files', help: 'segment files kept open at once (default 16384; halved automatically if the process runs out of descriptors)', apply: (c, v) => (c.maxOpenFiles = int('max-open-files', v, 16)) },
  { flag: 'index-cache-bytes', help: 'memory for closed segments\' indexes (default 67108864, about 30 GiB of 1 KiB batches); past it the least recently used are read back from their files when needed', apply: (c, v) => (c.indexCacheBytes = int('index-cache-bytes', v, 0)) },
  { flag: 'compaction-map-bytes', help: 'memory for a compaction round\'s key map, 24 bytes a key (default 134217728); more distinct keys take several rounds', apply: (c, v) => (c.compactionMapBytes = int('compaction-map-bytes', v, 1024 * 1024)) },
  { flag: 'compaction-io-bytes-per-second', help: 'bytes a second compaction may read and write together, log.cleaner.io.max.bytes.per.second (default: no bound)', apply: (c, v) => (c.compactionIoBytesPerSecond = int('compaction-io-bytes-per-second', v, 1024)) },
  { flag: 'retention-check-interval-ms', help: 'how often retention and compaction look at every partition, log.retention.check.interval.ms (default 30000)', apply: (c, v) => (c.retentionCheckMs = int('retention-check-interval-ms', v, 10)) },
  { flag: 'group-min-session-timeout-ms', help: 'smallest session timeout a group member may ask for (default 6000)', apply: (c, v) => (c.groups = { ...c.groups, minSessionTimeoutMs: int('group-min-session-timeout-ms', v, 1) }) },
  { flag: 'group-max-session-timeout-ms', help: 'largest session timeout a group member may ask for (default 1800000)', apply: (c, v) => (c.groups = { ...c.groups, maxSessionTimeoutMs: int('group-max-session-timeout-ms', v, 1) }) },
  { flag: 'group-initial-rebalance-delay-ms', help: 'wait before the first rebalance of a new group (default 0)', apply: (c, v) => (c.groups = { ...c.groups, initialRebalanceDelayMs: int('group-initial-rebalance-delay-ms', v, 0) }) },
  { flag: 'offsets-retention-minutes', help: 'keep offsets of an empty group this long (default 10080)', apply: (c, v) => (c.groups = { ...c.groups, offsetsRetentionMs: int('offsets-retention-minutes', v, 1) * 60_000 }) },
  { flag: 'offsets-topic-partitions', help: 'partitions of __consumer_offsets when first created (default 10)', apply: (c, v) => (c.groups = { ...c.groups, offsetsTopicPartitions: int('offsets-topic-partitions', v, 1, 1000) }) },
  { flag: 'consumer-session-timeout-ms', help: 'session timeout of KIP-848 consumer group members (default 45000)', apply: (c, v) => (c.groups = { ...c.groups, consumerSessionTimeoutMs: int('consumer-session-timeout-ms', v, 1) }) },
  { flag: 'consumer-heartbeat-interval-ms', help: 'heartbeat interval told to KIP-848 members (default 5000)', apply: (c, v) => (c.groups = { ...c.groups, consumerHeartbeatIntervalMs: int('consumer-heartbeat-interval-ms', v, 1) }) },
  {
    flag: 'sasl-users',
    help: 'a JSON file of SASL users and their passwords, {"name": "password", ...}: clients must then authenticate (SASL_PLAINTEXT, or SASL_SSL with --tls-cert; the passwords are kept only as SCRAM credentials)',
    apply: (c, v) => (c.sasl = { ...c.sasl, users: usersFile('sasl-users', v) }),
  },
  {
    flag: 'sasl-mechanisms',
    help: `SASL mechanisms offered, comma-separated, of ${SASL_MECHANISMS.join(', ')} (default PLAIN and SCRAM with --sasl-users, OAUTHBEARER with its settings below)`,
    apply: (c, v) => (c.sasl = { ...c.sasl, mechanisms: saslMechanisms(v) }),
  },
  {
    flag: 'connections-max-reauth-ms',
    help: 'how long a SASL session lasts (an OAUTHBEARER one no longer than its token): clients that support it (KIP-368) authenticate again on their connection before it ends, and any other connection is closed at its next request; users removed or changed then lose access (connections.max.reauth.ms; default 0, forever)',
    apply: (c, v) => (c.sasl = { ...c.sasl, maxReauthMs: int('connections-max-reauth-ms', v, 0) }),
  },
  {
    flag: 'sasl-oauthbearer-jwks-endpoint-url',
    help: 'offer SASL OAUTHBEARER, taking tokens signed by a key of this JSON Web Key Set: an https: or http: URL (an OIDC issuer\'s jwks_uri), or a file: URL or path, read again when it changes (Kafka\'s sasl.oauthbearer.jwks.endpoint.url)',
    apply: (c, v) => oauthBearer(c, { jwksUrl: jwksUrl(v) }),
  },
  { flag: 'sasl-oauthbearer-expected-issuer', help: 'the "iss" an OAUTHBEARER token must carry (sasl.oauthbearer.expected.issuer; default any)', apply: (c, v) => oauthBearer(c, { expectedIssuer: v }) },
  {
    flag: 'sasl-oauthbearer-expected-audience',
    help: 'audiences, comma-separated, an OAUTHBEARER token\'s "aud" must include one of (sasl.oauthbearer.expected.audience; default any)',
    apply: (c, v) => oauthBearer(c, { expectedAudience: v.split(',').map((a) => a.trim()) }),
  },
  { flag: 'sasl-oauthbearer-sub-claim-name', help: 'the token claim that names the principal, User:<claim> (sasl.oauthbearer.sub.claim.name; default sub)', apply: (c, v) => oauthBearer(c, { subClaimName: v }) },
  { flag: 'sasl-oauthbearer-clock-skew-seconds', help: 'clock difference allowed when checking a token\'s exp, nbf and iat (default 30)', apply: (c, v) => oauthBearer(c, { clockSkewSeconds: int('sasl-oauthbearer-clock-skew-seconds', v, 0) }) },
  { flag: 'sasl-oauthbearer-jwks-endpoint-refresh-ms', help: 'how long fetched keys are used before they are fetched again (default 3600000)', apply: (c, v) => oauthBearer(c, { jwksRefreshMs: int('sasl-oauthbearer-jwks-endpoint-refresh-ms', v, 1) }) },
  {
    flag: 'sasl-oauthbearer-jwks-endpoint-retry-backoff-max-ms',
    help: 'the least time between two fetches of the keys that tokens naming an unknown key make, as when the issuer rotates its keys (default 10000)',
    apply: (c, v) => oauthBearer(c, { jwksRetryBackoffMaxMs: int('sasl-oauthbearer-jwks-endpoint-retry-backoff-max-ms', v, 1) }),
  },
  {
    flag: 'sasl-oauthbearer-unsecured',
    help: 'offer SASL OAUTHBEARER taking unsigned tokens (alg none), which anyone can make: for development only, as Kafka\'s default validator (true/false)',
    apply: (c, v) => oauthBearer(c, { unsecured: bool('sasl-oauthbearer-unsecured', v) || undefined }),
  },
  {
    flag: 'tls-cert',
    help: 'PEM file of the certificate (chain) to serve TLS with; with --tls-key, the listener speaks TLS only (SSL, or SASL_SSL with --sasl-users). Read again when it changes, or on SIGHUP: new connections get the renewed certificate',
    apply: (c, v) => (c.tls = { ...tlsOf(c), cert: pemFile('tls-cert', v), files: tlsFiles(c, 'cert', v) }),
  },
  { flag: 'tls-key', help: 'PEM file of the private key of --tls-cert (read again with it)', apply: (c, v) => (c.tls = { ...tlsOf(c), key: pemFile('tls-key', v), files: tlsFiles(c, 'key', v) }) },
  { flag: 'tls-ca', help: 'PEM file of the CA certificates clients\' certificates must chain to (for --tls-client-auth; read again with the certificate)', apply: (c, v) => (c.tls = { ...tlsOf(c), ca: pemFile('tls-ca', v), files: tlsFiles(c, 'ca', v) }) },
  {
    flag: 'tls-crl',
    help: 'PEM file of the certificate revocation list of --tls-ca: a client certificate it lists is refused (read again when it changes, with the certificate)',
    apply: (c, v) => (c.tls = { ...tlsOf(c), crl: pemFile('tls-crl', v), files: tlsFiles(c, 'crl', v) }),
  },
  {
    flag: 'tls-min-version',
    help: 'the oldest TLS version taken, TLSv1.2 (default) or TLSv1.3 (Kafka\'s ssl.enabled.protocols)',
    apply: (c, v) => {
      if (v !== 'TLSv1.2' && v !== 'TLSv1.3') throw new UsageError(`tls-min-version must be TLSv1.2 or TLSv1.3, got ${JSON.stringify(v)}`);
      c.tls = { ...tlsOf(c), minVersion: v };
    },
  },
  { flag: 'tls-ciphers', help: 'the ciphers offered, an OpenSSL cipher list, TLS 1.3 suites by their names too (Kafka\'s ssl.cipher.suites; default Node\'s)', apply: (c, v) => (c.tls = { ...tlsOf(c), ciphers: v }) },
  { flag: 'tls-file-check-ms', help: 'how often the TLS files are looked at for a renewed certificate (default 10000; 0: only on SIGHUP)', apply: (c, v) => (c.tlsFileCheckMs = int('tls-file-check-ms', v, 0)) },
  {
    flag: 'tls-client-auth',
    help: 'required: clients must present a certificate --tls-ca signed; requested: may; none (default): are not asked (Kafka\'s ssl.client.auth)',
    apply: (c, v) => {
      if (v !== 'required' && v !== 'requested' && v !== 'none') throw new UsageError(`tls-client-auth must be required, requested or none, got ${JSON.stringify(v)}`);
      c.tls = { ...tlsOf(c), clientAuth: v };
    },
  },
  {
    flag: 'tls-principal-mapping-rules',
    help: 'how a client certificate\'s distinguished name becomes its principal, e.g. "RULE:^CN=([^,]+),.*$/$1/L,DEFAULT" (Kafka\'s ssl.principal.mapping.rules; default DEFAULT, the whole name; a certificate no rule matches is refused)',
    apply: (c, v) => {
      try {
        principalMapper(v);
      } catch (err) {
        throw new UsageError(`tls-principal-mapping-rules: ${(err as Error).message}`);
      }
      c.principalMappingRules = v;
    },
  },
  { flag: 'acls', help: 'true: ACLs decide what each client may do (managed with the Kafka ACL APIs, kept in the data dir); false (default): every client may do everything', apply: (c, v) => (c.acls = { ...c.acls, enabled: bool('acls', v) }) },
  {
    flag: 'super-users',
    help: 'principals the ACLs do not apply to, separated by ;, e.g. "User:admin;User:CN=ops" (Kafka\'s super.users; needs --acls true)',
    apply: (c, v) => (c.acls = { ...c.acls, superUsers: principals(v) }),
  },
  {
    flag: 'allow-everyone-if-no-acl-found',
    help: 'true: a resource no ACL names is open to every client (default false: closed; needs --acls true)',
    apply: (c, v) => (c.acls = { ...c.acls, allowEveryoneIfNoAclFound: bool('allow-everyone-if-no-acl-found', v) }),
  },
  {
    flag: 'listener-config',
    help: 'a listener\'s own setting, NAME.ssl.client.auth=required|requested|none, NAME.sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN, or its own TLS files NAME.ssl.certificate.location=FILE with NAME.ssl.key.location=FILE, NAME.ssl.ca.location=FILE, NAME.ssl.crl.location=FILE (repeatable; Kafka\'s listener.name.NAME.*; variable: ;-separated)',
    repeatable: ';',
    apply: (c, v) => void listenerSetting(v, (listenerText(c).settings ??= [])),
  },
  {
    flag: 'log-config',
    repeatable: ',',
    help: 'broker-wide topic config default, name=value (repeatable), e.g. flush.policy=none',
    apply: (c, v) => {
      const at = v.indexOf('=');
      if (at < 1) throw new UsageError(`log-config must be name=value, got ${JSON.stringify(v)}`);
      const name = v.slice(0, at);
      if (!TOPIC_CONFIG_KEYS[name]) throw new UsageError(`unknown topic config ${name}; known: ${Object.keys(TOPIC_CONFIG_KEYS).join(', ')}`);
      const parsed = applyTopicConfigs({ ...DEFAULT_LOG_CONFIG, ...c.logDefaults }, { [name]: v.slice(at + 1) });
      const spec = TOPIC_CONFIG_KEYS[name]!;
      c.logDefaults = 'inert' in spec ? { ...c.logDefaults, inert: parsed.inert } : { ...c.logDefaults, [spec.field]: parsed[spec.field] };
    },
  },
];

export const envName = (flag: string) => `SLUICE_${flag.toUpperCase().replace(/-/g, '_')}`;

/**
 * Builds the broker config from, lowest precedence first: defaults, a JSON config file (`--config` or
 * SLUICE_CONFIG; keys are the flag names), SLUICE_* environment variables, then flags.
 */
export function resolveStartConfig(flags: Record<string, string | string[] | boolean | undefined>, env: NodeJS.ProcessEnv): BrokerConfig {
  const config: BrokerConfig = { ...DEFAULT_BROKER_CONFIG, logDefaults: {}, groups: {}, acls: { enabled: false } };
  const apply = (flag: string, raw: unknown, source: string) => {
    const setting = START_SETTINGS.find((s) => s.flag === flag);
    if (!setting) throw new UsageError(`unknown setting ${JSON.stringify(flag)} in ${source}`);
    for (const one of Array.isArray(raw) ? raw : [raw]) {
      try {
        setting.apply(config, String(one));
      } catch (err) {
        if (err instanceof UsageError) throw new UsageError(`${err.message} (from ${source})`);
        throw new UsageError(`${flag}: ${(err as Error).message} (from ${source})`);
      }
    }
  };
  const file = (flags.config as string | undefined) ?? env.SLUICE_CONFIG;
  if (file) {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new UsageError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    for (const [key, value] of Object.entries(parsed)) apply(key, value, `config file ${file}`);
  }
  for (const s of START_SETTINGS) {
    const v = env[envName(s.flag)];
    if (v !== undefined && v !== '') apply(s.flag, s.repeatable !== undefined ? v.split(s.repeatable) : v, envName(s.flag));
  }
  for (const s of START_SETTINGS) {
    const v = flags[s.flag];
    if (v !== undefined) apply(s.flag, v, `--${s.flag}`);
  }
  if (config.tls !== null && (config.tls.cert.length === 0 || config.tls.key.length === 0)) throw new UsageError('TLS needs both --tls-cert and --tls-key');
  const texts = listenerTexts.get(config) ?? {};
  if (texts.listeners !== undefined) {
    const set = (['host', 'port', 'advertised-host', 'advertised-port'] as const).filter((f) => flags[f] !== undefined || env[envName(f)] !== undefined);
    if (set.length > 0) throw new UsageError(`--listeners replaces ${set.map((f) => `--${f}`).join(' and ')}: give each listener's host and port in it`);
    config.listeners = withListenerSettings(
      listenersFrom(endpoints('listeners', texts.listeners), texts.advertised === undefined ? [] : endpoints('advertised-listeners', texts.advertised), texts.map === undefined ? {} : protocolMap(texts.map)),
      texts.settings ?? [],
    );
    const refusal = listenersRefusal(config.listeners, config.tls, config.sasl !== null);
    if (refusal !== null) throw new UsageError(`${refusal} (--tls-cert and --tls-key, --sasl-users, --sasl-oauthbearer-*)`);
  } else if (texts.advertised !== undefined || texts.map !== undefined || texts.settings !== undefined) {
    throw new UsageError('--advertised-listeners, --listener-security-protocol-map and --listener-config need --listeners');
  }
  if (config.maxConnectionsPerIp === 0 && Object.keys(config.maxConnectionsPerIpOverrides).length === 0) {
    throw new UsageError('--max-connections-per-ip 0 refuses every address: give the ones to let in with --max-connections-per-ip-overrides');
  }
  if (!config.acls.enabled && ((config.acls.superUsers?.length ?? 0) > 0 || config.acls.allowEveryoneIfNoAclFound !== undefined)) {
    throw new UsageError('--super-users and --allow-everyone-if-no-acl-found need --acls true');
  }
  if (config.sasl?.oauthBearer !== undefined) {
    try {
      OAuthBearerValidator.fromConfig(config.sasl.oauthBearer);
    } catch (err) {
      throw new UsageError(`${(err as Error).message} (--sasl-oauthbearer-jwks-endpoint-url, or --sasl-oauthbearer-unsecured true)`);
    }
  }
  if (config.tls?.crl !== undefined && config.tls.ca === undefined) throw new UsageError('--tls-crl needs --tls-ca, the CA whose certificates it lists');
  if (config.tls?.clientAuth === 'required' && config.tls.ca === undefined) throw new UsageError('--tls-client-auth required needs --tls-ca, the CA that signs clients\' certificates');
  if (config.metrics !== null && config.metrics.port < 0) throw new UsageError('--metrics-tls and --metrics-users need --metrics-address');
  if (config.metrics?.tls && config.tls === null) throw new UsageError('--metrics-tls true needs --tls-cert and --tls-key, the certificate it serves');
  return config;
}
