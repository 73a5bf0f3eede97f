import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import pino from 'pino';
import { Admin, type ResetSpec } from '../admin/admin.js';
import type { ClientTls } from '../admin/kafka-client.js';
import type { SaslLogin } from '../admin/sasl-client.js';
import { clientCredentialsToken, OAuthTokenError } from '../io/oauth-token.js';
import { Broker } from '../broker/broker.js';
import { SASL_MECHANISMS, SCRAM_HASHES, SCRAM_ITERATIONS, type PasswordMechanism, type ScramMechanism } from '../broker/sasl-credentials.js';
import { COMPRESSION_NAMES } from '../protocol/compression.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { START_SETTINGS, envName, resolveStartConfig } from './start-config.js';
import { UsageError } from './usage-error.js';
import { QUOTA_HELP, QUOTA_OPTIONS, quotaEntity, quotaFilter, quotaLine, quotaValues } from './quota-options.js';
import { InconsistentIdentityError } from '../broker/cluster-identity.js';
import { dumpFile } from './dump-log.js';
import { ACL_HELP, ACL_OPTIONS, aclLine, bindingsToAdd, filtersToList, filtersToRemove } from './acl-options.js';
import { nodeFileSystem } from '../io/file-system.js';

type Options = NonNullable<ParseArgsConfig['options']>;

interface Command {
  usage: string;
  summary: string;
  options: Options;
  help: Record<string, string>;
  run: (values: Record<string, any>, positionals: string[]) => Promise<number>;
}

// Kafka's own tools spell it --bootstrap-server, so that is taken too (see main)
const BOOTSTRAP: Options = {
  bootstrap: { type: 'string', short: 'b', default: process.env.SLUICE_BOOTSTRAP ?? '127.0.0.1:9092' },
  'bootstrap-server': { type: 'string' },
  'sasl-mechanism': { type: 'string', default: process.env.SLUICE_SASL_MECHANISM },
  'sasl-username': { type: 'string', default: process.env.SLUICE_SASL_USERNAME },
  tls: { type: 'boolean', default: process.env.SLUICE_TLS === 'true' },
  'tls-ca': { type: 'string', default: process.env.SLUICE_TLS_CA },
  'tls-cert': { type: 'string', default: process.env.SLUICE_TLS_CERT },
  'tls-key': { type: 'string', default: process.env.SLUICE_TLS_KEY },
};
const BOOTSTRAP_HELP = {
  bootstrap: 'broker to talk to, host:port (default 127.0.0.1:9092, or SLUICE_BOOTSTRAP)',
  'bootstrap-server': 'the same, as Kafka\'s own tools name it',
  'sasl-mechanism': `authenticate with SASL: ${SASL_MECHANISMS.join(', ')} (or SLUICE_SASL_MECHANISM); the password is read from SLUICE_SASL_PASSWORD, OAUTHBEARER's token from SLUICE_SASL_OAUTHBEARER_TOKEN, or from the provider's token endpoint with SLUICE_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL, _CLIENT_ID, _CLIENT_SECRET (and _SCOPE)`,
  'sasl-username': 'the SASL user (or SLUICE_SASL_USERNAME)',
  tls: 'connect with TLS, trusting the system\'s CAs (or SLUICE_TLS=true); implied by the options below',
  'tls-ca': 'PEM file of the CA that signed the broker\'s certificate (or SLUICE_TLS_CA)',
  'tls-cert': 'PEM file of this client\'s certificate, for a broker that asks for one (or SLUICE_TLS_CERT)',
  'tls-key': 'PEM file of that certificate\'s key (or SLUICE_TLS_KEY)',
};

/** The TLS the options ask for, or null for a plaintext connection. */
function clientTls(v: Record<string, any>): ClientTls | null {
  const file = (name: string): Buffer | undefined => {
    const path = v[name] as string | undefined;
    if (path === undefined || path === '') return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new UsageError(`--${name}: cannot read ${path}: ${(err as Error).message}`);
    }
  };
  const [ca, cert, key] = [file('tls-ca'), file('tls-cert'), file('tls-key')];
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  return v.tls || ca || cert ? { ca, cert, key } : null;
}

/**
 * The SASL login the options ask for, or null for none; the password, token or client secret comes from the
 * environment only, never argv. OAUTHBEARER's token is given, or fetched from the provider's token endpoint with the
 * client's credentials (as librdkafka's `sasl.oauthbearer.method=oidc`).
 */
async function saslLogin(v: Record<string, any>): Promise<SaslLogin | null> {
  const mechanism = v['sasl-mechanism'] as string | undefined;
  if (mechanism === undefined || mechanism === '') return null;
  if (!(SASL_MECHANISMS as readonly string[]).includes(mechanism)) throw new UsageError(`--sasl-mechanism must be one of ${SASL_MECHANISMS.join(', ')}, got ${JSON.stringify(mechanism)}`);
  if (mechanism === 'OAUTHBEARER') {
    const env = process.env;
    if (env.SLUICE_SASL_OAUTHBEARER_TOKEN) return { mechanism, token: env.SLUICE_SASL_OAUTHBEARER_TOKEN };
    const [tokenEndpointUrl, clientId, clientSecret] = [env.SLUICE_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL, env.SLUICE_SASL_OAUTHBEARER_CLIENT_ID, env.SLUICE_SASL_OAUTHBEARER_CLIENT_SECRET];
    if (!tokenEndpointUrl || !clientId || clientSecret === undefined) {
      throw new UsageError('OAUTHBEARER needs the token in SLUICE_SASL_OAUTHBEARER_TOKEN, or SLUICE_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL, SLUICE_SASL_OAUTHBEARER_CLIENT_ID and SLUICE_SASL_OAUTHBEARER_CLIENT_SECRET to get one');
    }
    return { mechanism, token: await clientCredentialsToken({ tokenEndpointUrl, clientId, clientSecret, scope: env.SLUICE_SASL_OAUTHBEARER_SCOPE || undefined }) };
  }
  const username = v['sasl-username'] as string | undefined;
  const password = process.env.SLUICE_SASL_PASSWORD;
  if (!username || password === undefined) throw new UsageError('SASL needs --sasl-username (or SLUICE_SASL_USERNAME) and SLUICE_SASL_PASSWORD');
  return { mechanism: mechanism as PasswordMechanism, username, password };
}

function keyValues(list: string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const at = item.indexOf('=');
    if (at < 1) throw new UsageError(`${what} must be name=value, got ${JSON.stringify(item)}`);
    out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

function intOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw new UsageError(`--${name} must be an integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Runs `fn` with an Admin connected (and authenticated) as the command's options say. */
async function withAdmin<T>(v: Record<string, any>, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = await Admin.connect(v.bootstrap as string, await saslLogin(v), clientTls(v));
  try {
    return await fn(admin);
  } finally {
    admin.close();
  }
}

/** An `acls` command: they share their options. */
const aclCommand = (usage: string, summary: string, run: Command['run']): Command => ({
  usage, summary, options: { ...BOOTSTRAP, ...ACL_OPTIONS }, help: { ...BOOTSTRAP_HELP, ...ACL_HELP }, run,
});

const startOptions: Options = Object.fromEntries([
  ...START_SETTINGS.map((s) => [s.flag, { type: 'string', multiple: s.repeatable !== undefined } as const]),
  ['config', { type: 'string', short: 'c' }],
  ['log-level', { type: 'string', default: process.env.SLUICE_LOG_LEVEL ?? 'info' }],
  ['log-format', { type: 'string', default: process.env.SLUICE_LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json') }],
]);

const COMMANDS: Record<string, Command> = {
  start: {
    usage: 'sluice start [options]',
    summary: 'run a broker (Ctrl-C or SIGTERM stops it cleanly, a second one exits at once; SIGHUP reloads the TLS certificate)',
    options: startOptions,
    help: {
      ...Object.fromEntries(START_SETTINGS.map((s) => [s.flag, `${s.help} [${envName(s.flag)}]`])),
      config: 'JSON file of settings keyed by flag name [SLUICE_CONFIG]; flags and SLUICE_* variables override it',
      'log-level': 'trace, debug, info, warn, error or silent (default info) [SLUICE_LOG_LEVEL]',
      'log-format': 'json, or pretty for people (default: pretty on a terminal) [SLUICE_LOG_FORMAT]',
    },
    async run(values) {
      const config = resolveStartConfig(values, process.env);
      const format = values['log-format'];
      if (format !== 'json' && format !== 'pretty') throw new UsageError(`--log-format must be json or pretty, got ${JSON.stringify(format)}`);
      const level = values['log-level'];
      if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) throw new UsageError(`--log-level ${JSON.stringify(level)} is not a level`);
      const logger = format === 'pretty'
        ? pino({ level }, pino.transport({ target: 'pino-pretty', options: { colorize: process.stdout.isTTY, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' } }))
        : pino({ level });
      let broker: Broker;
      try {
        broker = await Broker.start(config, logger);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') {
          const { address, port } = err as { address?: string; port?: number };
          throw new UsageError(`cannot listen on ${address}:${port}: the address is in use`);
        }
        if (code?.startsWith('ERR_OSSL')) throw new UsageError(`cannot serve TLS with the certificate and key given: ${(err as Error).message}`);
        if (code === 'ELOCKED' || code === 'EACCES' || code === 'ENOTDIR' || code === 'EROFS' || code === 'EEXIST' || err instanceof InconsistentIdentityError) {
          throw new UsageError(`cannot use data dir ${config.dataDir}: ${(err as Error).message}`);
        }
        throw err;
      }
      const [first, ...more] = broker.listeners.map((l) => ({ at: `${l.advertised.host}:${l.advertised.port}`, protocol: l.securityProtocol, name: l.name }));
      const others = more.map((l) => `; listener ${l.name} at ${l.at}, security protocol ${l.protocol}`).join('');
      logger.info(`Sluice is ready: bootstrap server ${first!.at}, security protocol ${first!.protocol}${others}, data in ${config.dataDir}`);
      const code = await new Promise<number>((resolve) => {
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) {
            // an operator who will not wait, or a shutdown stuck on a hung disk: leaving now is a crash, which loses
            // nothing acknowledged (synced, or with flush.policy=none in the OS's page cache)
            logger.warn({ signal }, 'second signal: exiting without finishing the shutdown; the next start recovers the logs');
            logger.flush?.();
            process.exit(1);
          }
          stopping = true;
          logger.info({ signal }, 'stopping');
          broker.close().then(
            () => resolve(0),
            (err: unknown) => {
              // a failed disk, say: no clean-shutdown marker was written, so the next start scans the logs
              logger.error({ err }, 'shutdown failed; the next start recovers the logs');
              resolve(1);
            },
          );
        };
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGTERM', () => stop('SIGTERM'));
        // as nginx and others do: a renewed certificate is read now (the broker logs the outcome)
        process.on('SIGHUP', () => {
          if (config.tls === null) logger.info('SIGHUP: no TLS certificate to reload');
          else broker.reloadTls().catch(() => undefined);
        });
      });
      logger.flush?.();
      return code;
    },
  },
  'topics create': {
    usage: 'sluice topics create TOPIC [--partitions N] [--config name=value ...]',
    summary: 'create a topic',
    options: { ...BOOTSTRAP, partitions: { type: 'string', short: 'p' }, config: { type: 'string', multiple: true } },
    help: { ...BOOTSTRAP_HELP, partitions: 'number of partitions (default: the broker default)', config: 'topic config, e.g. retention.ms=86400000 (repeatable)' },
    async run(v, [topic]) {
      if (!topic) throw new UsageError('topics create needs a topic name');
      await withAdmin(v, (a) => a.createTopic(topic, intOption(v.partitions, 'partitions', -1), keyValues(v.config, '--config')));
      console.log(`created topic ${topic}`);
      return 0;
    },
  },
  'topics list': {
    usage: 'sluice topics list',
    summary: 'list topic names',
    options: BOOTSTRAP,
    help: BOOTSTRAP_HELP,
    async run(v) {
      for (const t of await withAdmin(v, (a) => a.listTopics())) console.log(t);
      return 0;
    },
  },
  'topics describe': {
    usage: 'sluice topics describe TOPIC',
    summary: 'show partitions, offsets and configs of a topic',
    options: BOOTSTRAP,
    help: BOOTSTRAP_HELP,
    async run(v, [topic]) {
      if (!topic) throw new UsageError('topics describe needs a topic name');
      const d = await withAdmin(v, (a) => a.describeTopic(topic));
      console.log(`topic ${d.name}  id ${d.id}  partitions ${d.partitions.length}`);
      console.log('partition  leader  log-start  high-watermark  records');
      for (const p of d.partitions) {
        console.log(`${String(p.partition).padStart(9)}  ${String(p.leader).padStart(6)}  ${String(p.logStartOffset).padStart(9)}  ${String(p.highWatermark).padStart(14)}  ${String(p.highWatermark - p.logStartOffset).padStart(7)}`);
      }
      console.log('configs:');
      for (const c of d.configs) console.log(`  ${c.name}=${c.value}${c.isDefault ? '' : '  (set on topic)'}`);
      return 0;
    },
  },
  'topics delete': {
    usage: 'sluice topics delete TOPIC',
    summary: 'delete a topic and its data',
    options: BOOTSTRAP,
    help: BOOTSTRAP_HELP,
    async run(v, [topic]) {
      if (!topic) throw new UsageError('topics delete needs a topic name');
      await withAdmin(v, (a) => a.deleteTopic(topic));
      console.log(`deleted topic ${topic}`);
      return 0;
    },
  },
  'topics alter': {
    usage: 'sluice topics alter TOPIC [--partitions N] [--config name=value ...] [--delete-config name ...]',
    summary: 'add partitions to a topic, change its configs',
    options: { ...BOOTSTRAP, partitions: { type: 'string', short: 'p' }, config: { type: 'string', multiple: true }, 'delete-config': { type: 'string', multiple: true } },
    help: {
      ...BOOTSTRAP_HELP, partitions: 'grow the topic to N partitions (it cannot shrink; keys then map to other partitions)',
      config: 'set a topic config (repeatable)', 'delete-config': 'return a config to the default (repeatable)',
    },
    async run(v, [topic]) {
      if (!topic) throw new UsageError('topics alter needs a topic name');
      const set = keyValues(v.config, '--config');
      const remove: string[] = v['delete-config'] ?? [];
      const partitions = v.partitions === undefined ? undefined : intOption(v.partitions, 'partitions', 1);
      if (partitions === undefined && Object.keys(set).length === 0 && remove.length === 0) throw new UsageError('topics alter needs --partitions, --config or --delete-config');
      await withAdmin(v, async (a) => {
        if (partitions !== undefined) await a.createPartitions(topic, partitions);
        if (Object.keys(set).length > 0 || remove.length > 0) await a.alterTopic(topic, set, remove);
      });
      console.log(`altered topic ${topic}`);
      return 0;
    },
  },
  'groups list': {
    usage: 'sluice groups list',
    summary: 'list consumer groups and their states',
    options: BOOTSTRAP,
    help: BOOTSTRAP_HELP,
    async run(v) {
      for (const g of await withAdmin(v, (a) => a.listGroups())) console.log(`${g.group}\t${g.state}\t${g.protocolType}`);
      return 0;
    },
  },
  'groups describe': {
    usage: 'sluice groups describe GROUP',
    summary: 'show a group: members, and per partition the committed offset, log end offset and lag',
    options: BOOTSTRAP,
    help: BOOTSTRAP_HELP,
    async run(v, [group]) {
      if (!group) throw new UsageError('groups describe needs a group id');
      const d = await withAdmin(v, (a) => a.describeGroup(group));
      console.log(`group ${d.group}  state ${d.state}  protocol ${d.protocol || '-'}  members ${d.members.length}`);
      console.log('topic\tpartition\tcommitted\tlog-end\tlag\towner');
      for (const o of d.offsets) console.log(`${o.topic}\t${o.partition}\t${o.committed < 0 ? '-' : o.committed}\t${o.logEnd}\t${o.lag}\t${o.owner ?? '-'}`);
      for (const m of d.members) console.log(`member ${m.memberId}  client ${m.clientId}  host ${m.clientHost}  partitions ${m.partitions.map((p) => `${p.topic}-${p.partition}`).join(',') || '-'}`);
      return 0;
    },
  },
  'groups reset-offsets': {
    usage: 'sluice groups reset-offsets GROUP --topic TOPIC (--to-earliest | --to-latest | --to-datetime T | --to-offset N)',
    summary: 'move the committed offsets of a group that has no active members',
    options: {
      ...BOOTSTRAP,
      topic: { type: 'string', short: 't' },
      partition: { type: 'string', short: 'p', multiple: true },
      'to-earliest': { type: 'boolean' },
      'to-latest': { type: 'boolean' },
      'to-datetime': { type: 'string' },
      'to-offset': { type: 'string' },
    },
    help: {
      ...BOOTSTRAP_HELP,
      topic: 'the topic whose offsets move',
      partition: 'only this partition (repeatable; default all)',
      'to-earliest': 'the log start offset',
      'to-latest': 'the log end offset',
      'to-datetime': 'the first offset at or after this time (ISO 8601 or epoch ms)',
      'to-offset': 'this offset (clamped to the log bounds)',
    },
    async run(v, [group]) {
      if (!group) throw new UsageError('groups reset-offsets needs a group id');
      if (!v.topic) throw new UsageError('groups reset-offsets needs --topic');
      const spec = parseReset(v);
      const partitions = v.partition?.map((p: string) => intOption(p, 'partition', 0));
      const targets = await withAdmin(v, (a) => a.resetOffsets(group, v.topic, spec, partitions));
      for (const [p, o] of [...targets].sort(([a], [b]) => a - b)) console.log(`${v.topic}\t${p}\t${o}`);
      return 0;
    },
  },
  'groups delete': {
    usage: 'sluice groups delete GROUP',
    summary: 'delete a group without members, and its committed offsets',
    options: BOOTSTRAP,
    help: BOOTSTRAP_HELP,
    async run(v, [group]) {
      if (!group) throw new UsageError('groups delete needs a group id');
      await withAdmin(v, (a) => a.deleteGroup(group));
      console.log(`deleted group ${group}`);
      return 0;
    },
  },
  'transactions list': {
    usage: 'sluice transactions list [--state STATE ...] [--open-longer-than MS]',
    summary: 'list transactional ids with their producer id and transaction state',
    options: { ...BOOTSTRAP, state: { type: 'string', multiple: true }, 'open-longer-than': { type: 'string' } },
    help: { ...BOOTSTRAP_HELP, state: 'only this state: Empty, Ongoing, PrepareCommit, PrepareAbort, CompleteCommit, CompleteAbort (repeatable)', 'open-longer-than': 'only transactions open at least this many ms' },
    async run(v) {
      const minDuration = v['open-longer-than'] === undefined ? -1 : intOption(v['open-longer-than'], 'open-longer-than', -1);
      for (const t of await withAdmin(v, (a) => a.listTransactions(v.state ?? [], minDuration))) console.log(`${t.transactionalId}\t${t.producerId}\t${t.state}`);
      return 0;
    },
  },
  'transactions describe': {
    usage: 'sluice transactions describe TRANSACTIONAL_ID',
    summary: 'show a transactional id: producer id and epoch, state, timeout, and the partitions of its open transaction',
    options: BOOTSTRAP,
    help: BOOTSTRAP_HELP,
    async run(v, [id]) {
      if (!id) throw new UsageError('transactions describe needs a transactional id');
      const d = await withAdmin(v, (a) => a.describeTransaction(id));
      const started = d.startMs >= 0 ? new Date(d.startMs).toISOString() : '-';
      console.log(`transactional-id ${d.transactionalId}  state ${d.state}  producer ${d.producerId}  epoch ${d.producerEpoch}  timeout-ms ${d.timeoutMs}  started ${started}`);
      for (const p of d.partitions) console.log(`${p.topic}\t${p.partition}`);
      return 0;
    },
  },
  'transactions producers': {
    usage: 'sluice transactions producers TOPIC [--partition N ...]',
    summary: 'show the producers a topic\'s partitions hold state for: epoch, last sequence and time, where an open transaction begins',
    options: { ...BOOTSTRAP, partition: { type: 'string', short: 'p', multiple: true } },
    help: { ...BOOTSTRAP_HELP, partition: 'only this partition (repeatable; default: all)' },
    async run(v, [topic]) {
      if (!topic) throw new UsageError('transactions producers needs a topic name');
      const producers = await withAdmin(v, async (a) => {
        const partitions = v.partition ? v.partition.map((p: string) => intOption(p, 'partition', 0)) : [...Array(await a.partitionCount(topic)).keys()];
        return a.describeProducers(topic, partitions);
      });
      for (const p of producers) {
        const open = p.transactionStartOffset >= 0 ? `open transaction from offset ${p.transactionStartOffset}` : 'no open transaction';
        console.log(`${p.partition}\tproducer ${p.producerId}\tepoch ${p.producerEpoch}\tlast-sequence ${p.lastSequence}\tlast ${new Date(p.lastTimestampMs).toISOString()}\t${open}`);
      }
      return 0;
    },
  },
  produce: {
    usage: 'sluice produce TOPIC [options] < lines',
    summary: 'send each line of stdin as a message',
    options: {
      ...BOOTSTRAP,
      'key-separator': { type: 'string', short: 'K' },
      header: { type: 'string', short: 'H', multiple: true },
      partition: { type: 'string', short: 'p' },
      acks: { type: 'string', default: '-1' },
      compression: { type: 'string', short: 'z', default: 'none' },
    },
    help: {
      ...BOOTSTRAP_HELP,
      'key-separator': 'split each line at the first SEP into key and value (no key otherwise)',
      header: 'add a header name=value to every message (repeatable)',
      partition: 'send to this partition (default: by key, murmur2 like the Java client; round-robin without key)',
      acks: '-1 (all, default), 1 or 0',
      compression: 'none, gzip, snappy, lz4 or zstd',
    },
    async run(v, [topic]) {
      if (!topic) throw new UsageError('produce needs a topic name');
      const acks = intOption(v.acks, 'acks', -1);
      if (acks !== -1 && acks !== 0 && acks !== 1) throw new UsageError('--acks must be -1, 0 or 1');
      const compression = COMPRESSION_NAMES[v.compression];
      if (compression === undefined) throw new UsageError(`--compression must be one of ${Object.keys(COMPRESSION_NAMES).join(', ')}`);
      const partition = v.partition === undefined ? undefined : intOption(v.partition, 'partition', 0);
      const headers = Object.entries(keyValues(v.header, '--header')).map(([key, value]) => ({ key, value }));
      const sep: string | undefined = v['key-separator'];
      let sent = 0;
      await withAdmin(v, async (admin) => {
        let pending: { key: string | null; value: string; headers: typeof headers; partition?: number }[] = [];
        const flush = async () => {
          if (pending.length === 0) return;
          await admin.produce(topic, pending, acks as -1 | 0 | 1, compression);
          sent += pending.length;
          pending = [];
        };
        for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
          const at = sep === undefined ? -1 : line.indexOf(sep);
          pending.push({ key: at < 0 ? null : line.slice(0, at), value: at < 0 ? line : line.slice(at + sep!.length), headers, partition });
          if (pending.length >= 1000) await flush();
        }
        await flush();
      });
      console.error(`sent ${sent} message${sent === 1 ? '' : 's'} to ${topic}`);
      return 0;
    },
  },
  consume: {
    usage: 'sluice consume TOPIC [options]',
    summary: 'print messages to stdout, one per line',
    options: {
      ...BOOTSTRAP,
      'from-beginning': { type: 'boolean', default: false },
      partition: { type: 'string', short: 'p' },
      offset: { type: 'string', short: 'o' },
      'max-messages': { type: 'string', short: 'n' },
      'timeout-ms': { type: 'string' },
      'print-key': { type: 'boolean', default: false },
      'print-headers': { type: 'boolean', default: false },
      'print-offset': { type: 'boolean', default: false },
      'key-separator': { type: 'string', default: '\t' },
    },
    help: {
      ...BOOTSTRAP_HELP,
      'from-beginning': 'start at the earliest offset (default: only new messages)',
      partition: 'read only this partition (default: all)',
      offset: 'start at this offset (needs --partition)',
      'max-messages': 'exit after this many messages',
      'timeout-ms': 'exit when no message arrives for this long (default: wait forever)',
      'print-key': 'print KEY<sep>VALUE',
      'print-headers': 'print name=value,... before the value',
      'print-offset': 'print PARTITION:OFFSET before the value',
      'key-separator': 'separator for the printed fields (default tab)',
    },
    async run(v, [topic]) {
      if (!topic) throw new UsageError('consume needs a topic name');
      if (v.offset !== undefined && v.partition === undefined) throw new UsageError('--offset needs --partition');
      const max = intOption(v['max-messages'], 'max-messages', Infinity);
      const idleMs = intOption(v['timeout-ms'], 'timeout-ms', Infinity);
      const sep: string = v['key-separator'];
      let printed = 0;
      await withAdmin(v, async (admin) => {
        const count = await admin.partitionCount(topic);
        const partitions = v.partition === undefined ? [...Array(count).keys()] : [intOption(v.partition, 'partition', 0)];
        const start = v.offset !== undefined
          ? new Map([[partitions[0]!, intOption(v.offset, 'offset', 0)]])
          : await admin.listOffsets(topic, partitions, v['from-beginning'] ? -2 : -1);
        const next = new Map(partitions.map((p) => [p, start.get(p)!]));
        let lastMessageAt = Date.now();
        while (printed < max) {
          let got = 0;
          for (const p of partitions) {
            const wait = partitions.length === 1 ? Math.min(500, idleMs) : 0;
            const { records } = await admin.fetch(topic, p, next.get(p)!, wait);
            for (const r of records) {
              if (printed >= max) break;
              const fields: string[] = [];
              if (v['print-offset']) fields.push(`${p}:${r.offset}`);
              if (v['print-key']) fields.push(r.key === null ? '' : r.key.toString());
              if (v['print-headers']) fields.push(r.headers.map((h) => `${h.key}=${h.value?.toString() ?? ''}`).join(','));
              fields.push(r.value === null ? '' : r.value.toString());
              process.stdout.write(fields.join(sep) + '\n');
              printed++;
              got++;
              next.set(p, r.offset + 1);
            }
          }
          if (got > 0) lastMessageAt = Date.now();
          else if (Date.now() - lastMessageAt >= idleMs) break;
          else if (partitions.length > 1) await new Promise((r) => setTimeout(r, 100));
        }
      });
      return 0;
    },
  },
  'acls list': aclCommand(
    'sluice acls list [--topic T | --group G | --transactional-id X | --cluster] [--principal P]',
    'list ACLs: all, or those on the resources given (a broker started with --acls true)',
    async (v) => {
      const filters = filtersToList(v);
      const found = await withAdmin(v, async (a) => (await Promise.all(filters.map((f) => a.describeAcls(f)))).flat());
      for (const line of [...new Set(found.map(aclLine))].sort()) console.log(line);
      return 0;
    },
  ),
  'acls add': aclCommand(
    'sluice acls add (--allow-principal P | --deny-principal P) --operation OP (--topic T | --group G | --transactional-id X | --cluster) [--resource-pattern-type prefixed] [--host H]',
    'allow or deny principals operations on resources (every combination of those given)',
    async (v) => {
      const bindings = bindingsToAdd(v);
      await withAdmin(v, (a) => a.createAcls(bindings));
      for (const b of bindings) console.log(`added\t${aclLine(b)}`);
      return 0;
    },
  ),
  'acls remove': aclCommand(
    'sluice acls remove (--topic T | --group G | --transactional-id X | --cluster) [--allow-principal P | --deny-principal P] [--operation OP] [--resource-pattern-type T] [--host H]',
    'remove the ACLs on the resources given, or only those of the principals and operations given',
    async (v) => {
      const filters = filtersToRemove(v);
      const removed = await withAdmin(v, (a) => a.deleteAcls(filters));
      for (const line of [...new Set(removed.map(aclLine))].sort()) console.log(`removed\t${line}`);
      if (removed.length === 0) console.log('no ACL matched');
      return 0;
    },
  ),
  'users list': {
    usage: 'sluice users list',
    summary: 'list the users with SCRAM credentials, and each one\'s mechanisms and iterations',
    options: BOOTSTRAP,
    help: BOOTSTRAP_HELP,
    async run(v) {
      for (const u of await withAdmin(v, (a) => a.describeUsers())) console.log(`${u.user}\t${u.credentials.map((c) => `${c.mechanism}:${c.iterations}`).join(',')}`);
      return 0;
    },
  },
  'users set': {
    usage: 'SLUICE_USER_PASSWORD=... sluice users set USER [--mechanism SCRAM-SHA-256 ...] [--iterations N]',
    summary: 'add a SASL user or change its password (salted and hashed by the CLI; the broker keeps keys only)',
    options: { ...BOOTSTRAP, mechanism: { type: 'string', multiple: true }, iterations: { type: 'string' } },
    help: { ...BOOTSTRAP_HELP, mechanism: 'SCRAM-SHA-256 or SCRAM-SHA-512 (repeatable; default both; PLAIN logins check SCRAM-SHA-512)', iterations: `PBKDF2 iterations, ${SCRAM_ITERATIONS} to 16384 (default ${SCRAM_ITERATIONS})` },
    async run(v, [user]) {
      if (!user) throw new UsageError('users set needs a user name');
      const password = process.env.SLUICE_USER_PASSWORD;
      if (!password) throw new UsageError('the new password comes from SLUICE_USER_PASSWORD, never from the command line');
      const mechanisms = scramMechanisms(v.mechanism);
      await withAdmin(v, (a) => a.setUserPassword(user, password, mechanisms, intOption(v.iterations, 'iterations', SCRAM_ITERATIONS)));
      console.log(`set ${mechanisms.join(', ')} credentials of ${user}`);
      return 0;
    },
  },
  'users delete': {
    usage: 'sluice users delete USER [--mechanism SCRAM-SHA-256 ...]',
    summary: 'remove a user\'s SCRAM credentials (those given, or all); its open connections stay',
    options: { ...BOOTSTRAP, mechanism: { type: 'string', multiple: true } },
    help: { ...BOOTSTRAP_HELP, mechanism: 'SCRAM-SHA-256 or SCRAM-SHA-512 (repeatable; default: every one the user has)' },
    async run(v, [user]) {
      if (!user) throw new UsageError('users delete needs a user name');
      await withAdmin(v, async (a) => {
        const held = (await a.describeUsers()).find((u) => u.user === user)?.credentials.map((c) => c.mechanism) ?? [];
        const mechanisms = v.mechanism === undefined ? held : scramMechanisms(v.mechanism);
        if (mechanisms.length === 0) throw new KafkaError(ErrorCode.RESOURCE_NOT_FOUND, `delete user ${user}: RESOURCE_NOT_FOUND (no such user)`);
        await a.deleteUserCredentials(user, mechanisms);
      });
      console.log(`deleted credentials of ${user}`);
      return 0;
    },
  },
  'quotas list': {
    usage: 'sluice quotas list [--user U | --user-default] [--client-id C | --client-id-default] [--ip A | --ip-default]',
    summary: 'list client quotas: all, or those of the entities with the parts given',
    options: { ...BOOTSTRAP, ...QUOTA_OPTIONS },
    help: { ...BOOTSTRAP_HELP, ...QUOTA_HELP },
    async run(v) {
      const entries = await withAdmin(v, (a) => a.describeClientQuotas(quotaFilter(v)));
      for (const line of entries.map(quotaLine).sort()) console.log(line);
      return 0;
    },
  },
  'quotas set': {
    usage: 'sluice quotas set (--user U | --user-default | --client-id C | --client-id-default | --ip A | --ip-default ...) [--config KEY=VALUE ...] [--delete-config KEY ...]',
    summary: 'set or remove an entity\'s quotas: producer_byte_rate, consumer_byte_rate, request_percentage, controller_mutation_rate, connection_creation_rate',
    options: { ...BOOTSTRAP, ...QUOTA_OPTIONS, config: { type: 'string', multiple: true }, 'delete-config': { type: 'string', multiple: true } },
    help: {
      ...BOOTSTRAP_HELP, ...QUOTA_HELP,
      config: 'a quota, e.g. producer_byte_rate=1048576 (bytes/s), request_percentage=50 (of the event loop), controller_mutation_rate=10 (partitions/s), connection_creation_rate=20 (per address, connections/s) (repeatable)',
      'delete-config': 'remove a quota (repeatable)',
    },
    async run(v) {
      const entity = quotaEntity(v);
      const changes: Record<string, number | null> = quotaValues(v.config);
      for (const key of v['delete-config'] ?? []) changes[key] = null;
      if (Object.keys(changes).length === 0) throw new UsageError('give --config KEY=VALUE or --delete-config KEY');
      await withAdmin(v, (a) => a.alterClientQuotas(entity, changes));
      console.log(`changed\t${quotaLine({ entity, values: {} }).trimEnd()}`);
      return 0;
    },
  },
  'dump-log': {
    usage: 'sluice dump-log FILE... [--records]',
    summary: 'show what a partition\'s segment, index or producer snapshot files hold, read offline (as kafka-dump-log does)',
    options: { records: { type: 'boolean', short: 'r' } },
    help: { records: 'also print each record (offset, timestamp, key, value, headers) and each transaction marker' },
    async run(v, files) {
      if (files.length === 0) throw new UsageError('dump-log needs a file: a .log segment, its .index or .timeindex, or a .snapshot');
      for (const file of files) {
        if (files.length > 1) console.log(`Dumping ${file}`);
        try {
          await dumpFile(nodeFileSystem, file, v.records === true, (line) => console.log(line));
        } catch (err) {
          if (err instanceof UsageError || typeof (err as NodeJS.ErrnoException).code !== 'string') throw err;
          console.error(`sluice dump-log: ${(err as Error).message}`);
          return 1;
        }
      }
      return 0;
    },
  },
};

/** The SCRAM mechanisms --mechanism names; both when none is given. */
function scramMechanisms(given: string[] | undefined): ScramMechanism[] {
  const all = Object.keys(SCRAM_HASHES) as ScramMechanism[];
  if (given === undefined) return all;
  const unknown = given.find((m) => !(all as string[]).includes(m));
  if (unknown !== undefined) throw new UsageError(`--mechanism must be ${all.join(' or ')}, got ${JSON.stringify(unknown)}`);
  return [...new Set(given as ScramMechanism[])];
}

function parseReset(v: Record<string, any>): ResetSpec {
  const given = ['to-earliest', 'to-latest', 'to-datetime', 'to-offset'].filter((k) => v[k] !== undefined && v[k] !== false);
  if (given.length !== 1) throw new UsageError('give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset');
  if (v['to-earliest']) return { to: 'earliest' };
  if (v['to-latest']) return { to: 'latest' };
  if (v['to-offset'] !== undefined) return { to: 'offset', offset: intOption(v['to-offset'], 'to-offset', 0) };
  const ms = /^\d+$/.test(v['to-datetime']) ? Number(v['to-datetime']) : Date.parse(v['to-datetime']);
  if (!Number.isFinite(ms)) throw new UsageError(`--to-datetime must be an ISO date-time or epoch milliseconds, got ${JSON.stringify(v['to-datetime'])}`);
  return { to: 'timestamp', timestampMs: ms };
}

function helpFor(name: string, cmd: Command): string {
  const rows: [string, string][] = Object.entries(cmd.options).map(([opt, def]) => [
    `  ${def.short ? `-${def.short}, ` : '    '}--${opt}${def.type === 'string' ? ' VALUE' : ''}`,
    cmd.help[opt] ?? '',
  ]);
  rows.push(['  -h, --help', `show this help for ${name}`]);
  // the widest flag sets the column, so a long one never runs into its description
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return [`usage: ${cmd.usage}`, '', cmd.summary, '', 'options:', ...rows.map(([flag, help]) => flag.padEnd(width) + help)].join('\n');
}

/** Commands, a line each with its summary. */
function commandList(commands: [string, Command][]): string[] {
  const width = Math.max(...commands.map(([name]) => name.length)) + 2;
  return commands.map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
}

function overview(): string {
  return [
    'sluice: a Kafka-protocol message broker',
    '',
    'usage: sluice COMMAND [options]   (sluice COMMAND --help for its options)',
    '',
    ...commandList(Object.entries(COMMANDS)),
  ].join('\n');
}

/** The commands of a group (`topics`, `groups`, `transactions`), or null if `group` names none. */
function groupOverview(group: string): string | null {
  const commands = Object.entries(COMMANDS).filter(([name]) => name.startsWith(`${group} `));
  if (commands.length === 0) return null;
  return [`usage: sluice ${group} COMMAND [options]   (sluice ${group} COMMAND --help for its options)`, '', ...commandList(commands)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const twoWord = argv.length >= 2 ? `${argv[0]} ${argv[1]}` : '';
  const name = COMMANDS[twoWord] ? twoWord : argv[0];
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(overview());
    return name ? 0 : 2;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    const group = groupOverview(argv[0]!);
    if (group !== null && (argv[1] === '--help' || argv[1] === '-h')) {
      console.log(group);
      return 0;
    }
    // `sluice topics` alone asks which of them: its list says, on stderr as any usage error's does
    if (group !== null && argv[1] === undefined) console.error(group);
    else console.error(`sluice: unknown command ${JSON.stringify(argv.slice(0, 2).join(' '))}\n\n${group ?? overview()}`);
    return 2;
  }
  const rest = argv.slice(name.split(' ').length);
  try {
    const { values, positionals } = parseArgs({ args: rest, options: { ...cmd.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(helpFor(name, cmd));
      return 0;
    }
    const given: Record<string, unknown> = values;
    if (given['bootstrap-server'] !== undefined) given.bootstrap = given['bootstrap-server'];
    return await cmd.run(given, positionals);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      console.error(`sluice ${name}: ${(err as Error).message} (see sluice ${name} --help)`);
      return 2;
    }
    if (err instanceof KafkaError || err instanceof OAuthTokenError || (err as Error).message?.startsWith('could not connect')) {
      console.error(`sluice ${name}: ${(err as Error).message}`);
      return 1;
    }
    throw err;
  }
}
