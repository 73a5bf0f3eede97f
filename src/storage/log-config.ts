import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { COMPRESSION_NAMES, Compression, DEFAULT_COMPRESSION_LEVELS, type CompressionLevels } from '../protocol/compression.js';
import { NO_RECORD_RULES, type RecordRules } from '../protocol/record-batch.js';

/** Durability of an append: `fsync` acknowledges after the bytes are on disk, `none` after they reach the OS. */
export type FlushPolicy = 'fsync' | 'none';

export const COMPRESSION_TYPES = ['producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CompressionType = (typeof COMPRESSION_TYPES)[number];

/** The compression levels a topic's configs ask for where the broker compresses. */
export const compressionLevels = (config: Readonly<LogConfig>): CompressionLevels => ({ gzip: config.gzipLevel, zstd: config.zstdLevel });

/** The codec a topic's compression.type asks for, or null for `producer` (keep what the client sent). */
export function topicCodec(type: CompressionType): number | null {
  return type === 'producer' ? null : type === 'uncompressed' ? Compression.NONE : COMPRESSION_NAMES[type]!;
}

export interface LogConfig {
  segmentBytes: number;
  segmentMs: number;
  retentionMs: number;
  retentionBytes: number;
  maxMessageBytes: number;
  cleanupPolicy: 'delete' | 'compact' | 'compact,delete';
  deleteRetentionMs: number;
  flushPolicy: FlushPolicy;
  /** Background fsync interval for `none` logs. */
  flushMs: number;
  timestampType: 'CreateTime' | 'LogAppendTime';
  indexIntervalBytes: number;
  /** `producer` keeps each batch's codec; any other value recompresses batches that arrive in another. */
  compressionType: CompressionType;
  /** acks=all appends need this many in-sync replicas; a single broker has one. */
  minInsyncReplicas: number;
  /** Compaction leaves records younger than this alone... */
  minCompactionLagMs: number;
  /** ...and rolls the active segment of a compacted topic at this age so its records become cleanable. */
  maxCompactionLagMs: number;
  /** Compaction runs once at least this share of the cleanable bytes is new since the last pass. */
  minCleanableDirtyRatio: number;
  /** Idempotent producer state is dropped after this long without a write (broker-wide). */
  producerIdExpirationMs: number;
  /** `none` logs: the append that brings a partition's unsynced records to this many is synced before acks=all hears of it. */
  flushMessages: number;
  /** A segment rolls by age up to this much before segment.ms, chosen at random per segment, so partitions do not all roll at once. */
  segmentJitterMs: number;
  /** A segment rolls before its offset index (8 bytes an entry) or time index (12) would outgrow this. */
  segmentIndexBytes: number;
  /** CreateTime topics refuse records timestamped more than this before the broker's clock... */
  timestampBeforeMaxMs: number;
  /** ...or more than this after it... */
  timestampAfterMaxMs: number;
  /** ...or, for either bound left at its default, more than this either way (Kafka's older setting). */
  timestampDifferenceMaxMs: number;
  /** Levels used where the broker compresses (compression.type other than `producer`, compaction); -1 is zlib's default. */
  gzipLevel: number;
  zstdLevel: number;
  /**
   * Accepted because Kafka tools set them, with no effect here: replication and election settings (one broker,
   * one replica), tiered storage settings (remote storage cannot be enabled), the record format (always v2,
   * never down-converted), preallocation, and the delay before deleting a segment's files (they are unlinked at
   * once; a read in progress keeps its descriptor).
   */
  inert: Readonly<Record<string, string>>;
}

export const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = {
  segmentBytes: 1 << 30,
  segmentMs: 7 * 24 * 3600 * 1000,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  maxMessageBytes: 1048588,
  cleanupPolicy: 'delete',
  deleteRetentionMs: 24 * 3600 * 1000,
  flushPolicy: 'fsync',
  flushMs: 1000,
  timestampType: 'CreateTime',
  indexIntervalBytes: 4096,
  compressionType: 'producer',
  minInsyncReplicas: 1,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
  minCleanableDirtyRatio: 0.5,
  producerIdExpirationMs: 24 * 3600 * 1000,
  flushMessages: Number.MAX_SAFE_INTEGER,
  segmentJitterMs: 0,
  segmentIndexBytes: 10 * 1024 * 1024,
  timestampBeforeMaxMs: Number.MAX_SAFE_INTEGER,
  timestampAfterMaxMs: Number.MAX_SAFE_INTEGER,
  timestampDifferenceMaxMs: Number.MAX_SAFE_INTEGER,
  gzipLevel: DEFAULT_COMPRESSION_LEVELS.gzip,
  zstdLevel: DEFAULT_COMPRESSION_LEVELS.zstd,
  inert: {},
};

/** Kafka's config value types, as DescribeConfigs (v3+) reports them. */
export const ConfigType = { BOOLEAN: 1, STRING: 2, INT: 3, LONG: 5, DOUBLE: 6, LIST: 7 } as const;

/** A config that sets a LogConfig field, or one accepted with no effect (see LogConfig.inert) and its default. */
type ConfigKeySpec = { type: number } & (
  | { field: keyof LogConfig; parse: (raw: string) => LogConfig[keyof LogConfig] }
  | { inert: string; parse: (raw: string) => string }
);

const INT_MAX = 2 ** 31 - 1;
const LONG_MAX = 2n ** 63n - 1n;

/** An int config (Kafka's INT type), from `min` to `max`. */
function int(min: number, max = INT_MAX): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || n < min || n > max) throw new Error(`expected an integer from ${min} to ${max}`);
    return n;
  };
}

/**
 * A long config (Kafka's LONG type), at least `min`. Values past 2^53 (tools write 9223372036854775807 for
 * "forever") are held as Number.MAX_SAFE_INTEGER, which no size or duration here reaches either.
 */
function long(min: number): (raw: string) => number {
  return (raw) => {
    const text = raw.trim();
    if (!/^-?\d+$/.test(text) || BigInt(text) < BigInt(min) || BigInt(text) > LONG_MAX) throw new Error(`expected an integer from ${min} to ${LONG_MAX}`);
    return Math.min(Number(text), Number.MAX_SAFE_INTEGER);
  };
}

function ratio(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !(n >= 0 && n <= 1)) throw new Error('expected a number from 0 to 1');
  return n;
}

function bool(raw: string): string {
  const v = raw.trim().toLowerCase();
  if (v !== 'true' && v !== 'false') throw new Error('expected true or false');
  return v;
}

/** Kafka's replica throttle lists: empty, `*`, or partition:broker pairs. */
function throttledReplicas(raw: string): string {
  const v = raw.trim();
  if (v !== '' && v !== '*' && !/^\d+:\d+(\s*,\s*\d+:\d+)*$/.test(v)) throw new Error('expected *, or partition:broker pairs separated by commas');
  return v;
}

const asText = (parse: (raw: string) => unknown) => (raw: string) => describeValue(parse(raw));

function oneOf<T extends string>(...values: T[]): (raw: string) => T {
  return (raw) => {
    const v = raw.trim() as T;
    if (!values.includes(v)) throw new Error(`expected one of ${values.join(', ')}`);
    return v;
  };
}

/** Topic config names (Kafka's where Kafka has one) and how to parse them. */
export const TOPIC_CONFIG_KEYS: Readonly<Record<string, ConfigKeySpec>> = {
  'segment.bytes': { type: ConfigType.INT, field: 'segmentBytes', parse: int(14) },
  'segment.ms': { type: ConfigType.LONG, field: 'segmentMs', parse: long(1) },
  'retention.ms': { type: ConfigType.LONG, field: 'retentionMs', parse: long(-1) },
  'retention.bytes': { type: ConfigType.LONG, field: 'retentionBytes', parse: long(-1) },
  'max.message.bytes': { type: ConfigType.INT, field: 'maxMessageBytes', parse: int(0) },
  'cleanup.policy': {
    type: ConfigType.LIST,
    field: 'cleanupPolicy',
    parse: (raw) => {
      const parts = raw.split(',').map((p) => p.trim()).filter(Boolean).sort();
      const joined = parts.join(',');
      if (joined === 'delete' || joined === 'compact' || joined === 'compact,delete') return joined;
      throw new Error('expected delete, compact or compact,delete');
    },
  },
  'delete.retention.ms': { type: ConfigType.LONG, field: 'deleteRetentionMs', parse: long(0) },
  'min.compaction.lag.ms': { type: ConfigType.LONG, field: 'minCompactionLagMs', parse: long(0) },
  'max.compaction.lag.ms': { type: ConfigType.LONG, field: 'maxCompactionLagMs', parse: long(1) },
  'min.cleanable.dirty.ratio': { type: ConfigType.DOUBLE, field: 'minCleanableDirtyRatio', parse: ratio },
  'flush.policy': { type: ConfigType.STRING, field: 'flushPolicy', parse: oneOf('fsync', 'none') },
  'flush.ms': { type: ConfigType.LONG, field: 'flushMs', parse: long(1) },
  'message.timestamp.type': { type: ConfigType.STRING, field: 'timestampType', parse: oneOf('CreateTime', 'LogAppendTime') },
  'index.interval.bytes': { type: ConfigType.INT, field: 'indexIntervalBytes', parse: int(0) },
  'compression.type': { type: ConfigType.STRING, field: 'compressionType', parse: oneOf(...COMPRESSION_TYPES) },
  'min.insync.replicas': { type: ConfigType.INT, field: 'minInsyncReplicas', parse: int(1) },
  'flush.messages': { type: ConfigType.LONG, field: 'flushMessages', parse: long(1) },
  'segment.jitter.ms': { type: ConfigType.LONG, field: 'segmentJitterMs', parse: long(0) },
  'segment.index.bytes': { type: ConfigType.INT, field: 'segmentIndexBytes', parse: int(4) },
  'message.timestamp.before.max.ms': { type: ConfigType.LONG, field: 'timestampBeforeMaxMs', parse: long(0) },
  'message.timestamp.after.max.ms': { type: ConfigType.LONG, field: 'timestampAfterMaxMs', parse: long(0) },
  'message.timestamp.difference.max.ms': { type: ConfigType.LONG, field: 'timestampDifferenceMaxMs', parse: long(0) },
  'compression.gzip.level': {
    type: ConfigType.INT,
    field: 'gzipLevel',
    parse: (raw) => {
      const n = Number(raw);
      if (!/^-?\d+$/.test(raw.trim()) || (n !== -1 && (n < 1 || n > 9))) throw new Error('expected -1 or an integer from 1 to 9');
      return n;
    },
  },
  'compression.zstd.level': { type: ConfigType.INT, field: 'zstdLevel', parse: int(-131072, 22) },
  'unclean.leader.election.enable': { type: ConfigType.BOOLEAN, inert: 'false', parse: bool },
  'leader.replication.throttled.replicas': { type: ConfigType.LIST, inert: '', parse: throttledReplicas },
  'follower.replication.throttled.replicas': { type: ConfigType.LIST, inert: '', parse: throttledReplicas },
  preallocate: { type: ConfigType.BOOLEAN, inert: 'false', parse: bool },
  'file.delete.delay.ms': { type: ConfigType.LONG, inert: '60000', parse: asText(long(0)) },
  'message.downconversion.enable': { type: ConfigType.BOOLEAN, inert: 'true', parse: bool },
  'message.format.version': {
    type: ConfigType.STRING,
    inert: '3.0-IV1',
    parse: (raw) => {
      if (!/^\d+\.\d+(\.\d+)?(-IV\d+)?$/.test(raw.trim())) throw new Error('expected a Kafka version such as 3.0-IV1');
      return raw.trim();
    },
  },
  'remote.storage.enable': {
    type: ConfigType.BOOLEAN,
    inert: 'false',
    parse: (raw) => {
      if (bool(raw) === 'true') throw new Error('tiered storage is not available in Sluice');
      return 'false';
    },
  },
  'local.retention.ms': { type: ConfigType.LONG, inert: '-2', parse: asText(long(-2)) },
  'local.retention.bytes': { type: ConfigType.LONG, inert: '-2', parse: asText(long(-2)) },
  'remote.log.copy.disable': { type: ConfigType.BOOLEAN, inert: 'false', parse: bool },
  'remote.log.delete.on.disable': { type: ConfigType.BOOLEAN, inert: 'false', parse: bool },
};

/** A topic config's value type (Kafka's), or 0 (unknown) for a name that is not one. */
export const topicConfigType = (name: string): number => TOPIC_CONFIG_KEYS[name]?.type ?? 0;

/** Kafka topic configs Sluice cannot honour, refused with the reason rather than accepted and ignored. */
const REFUSED_CONFIG_KEYS: Readonly<Record<string, string>> = {
  'compression.lz4.level': 'the lz4 compressor here has a single level',
};

/** Long configs whose value was held at Number.MAX_SAFE_INTEGER are described as Kafka's Long.MAX_VALUE. */
const describeValue = (v: unknown) => (v === Number.MAX_SAFE_INTEGER ? String(LONG_MAX) : String(v));

/** Applies `name=value` overrides on top of `base`; unknown names or bad values throw INVALID_CONFIG. */
export function applyTopicConfigs(base: Readonly<LogConfig>, overrides: Readonly<Record<string, string>>): LogConfig {
  const out: LogConfig = { ...base };
  for (const [name, raw] of Object.entries(overrides)) {
    const spec = TOPIC_CONFIG_KEYS[name];
    const refused = REFUSED_CONFIG_KEYS[name];
    if (refused) throw new KafkaError(ErrorCode.INVALID_CONFIG, `topic config ${name} is not supported: ${refused}`);
    if (!spec) throw new KafkaError(ErrorCode.INVALID_CONFIG, `unknown topic config ${name}`);
    try {
      if ('inert' in spec) out.inert = { ...out.inert, [name]: spec.parse(raw) };
      else (out as unknown as Record<string, unknown>)[spec.field] = spec.parse(raw);
    } catch (err) {
      throw new KafkaError(ErrorCode.INVALID_CONFIG, `invalid value ${JSON.stringify(raw)} for ${name}: ${(err as Error).message}`);
    }
  }
  return out;
}

/**
 * Kafka's broker-wide name for a topic config (its synonym in DescribeConfigs): `log.` and the topic name unless
 * listed here; null for the topic-only ones.
 */
const BROKER_NAMES: Readonly<Record<string, string | null>> = {
  'segment.ms': 'log.roll.ms',
  'segment.jitter.ms': 'log.roll.jitter.ms',
  'segment.index.bytes': 'log.index.size.max.bytes',
  'max.message.bytes': 'message.max.bytes',
  'delete.retention.ms': 'log.cleaner.delete.retention.ms',
  'min.compaction.lag.ms': 'log.cleaner.min.compaction.lag.ms',
  'max.compaction.lag.ms': 'log.cleaner.max.compaction.lag.ms',
  'min.cleanable.dirty.ratio': 'log.cleaner.min.cleanable.ratio',
  'flush.ms': 'log.flush.interval.ms',
  'flush.messages': 'log.flush.interval.messages',
  'file.delete.delay.ms': 'log.segment.delete.delay.ms',
  'compression.type': 'compression.type',
  'compression.gzip.level': 'compression.gzip.level',
  'compression.zstd.level': 'compression.zstd.level',
  'min.insync.replicas': 'min.insync.replicas',
  'unclean.leader.election.enable': 'unclean.leader.election.enable',
  'leader.replication.throttled.replicas': null,
  'follower.replication.throttled.replicas': null,
  'remote.storage.enable': null,
  'remote.log.copy.disable': null,
  'remote.log.delete.on.disable': null,
};

export function brokerConfigName(topicConfig: string): string | null {
  const listed = BROKER_NAMES[topicConfig];
  return listed === undefined ? `log.${topicConfig}` : listed;
}

/** The topic config a broker-wide name stands for, or null. */
export function topicConfigForBrokerName(brokerName: string): string | null {
  for (const name of Object.keys(TOPIC_CONFIG_KEYS)) if (brokerConfigName(name) === brokerName) return name;
  return null;
}

/** The topic config names a partial config (a broker's `--log-config` settings) sets. */
export function configNamesSet(partial: Readonly<Partial<LogConfig>>): Set<string> {
  const out = new Set<string>();
  for (const [name, spec] of Object.entries(TOPIC_CONFIG_KEYS)) {
    if ('inert' in spec ? partial.inert?.[name] !== undefined : partial[spec.field] !== undefined) out.add(name);
  }
  return out;
}

/** The config as Kafka-style strings, for DescribeConfigs. */
export function describeLogConfig(config: Readonly<LogConfig>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(TOPIC_CONFIG_KEYS)) {
    out[name] = 'inert' in spec ? (config.inert[name] ?? spec.inert) : describeValue(config[spec.field]);
  }
  return out;
}

/**
 * What produce must check of each record on a topic with `config` at time `now`: keys on compacted topics, and
 * on CreateTime topics the timestamp bounds (each of before/after.max.ms, left at its default, falls back to
 * message.timestamp.difference.max.ms, as in Kafka).
 */
export function recordRules(config: Readonly<LogConfig>, now: number): Readonly<RecordRules> {
  const keysRequired = config.cleanupPolicy.includes('compact');
  // no object per produce request in the usual case: timestamps unbounded
  const unbounded = keysRequired ? KEYS_ONLY : NO_RECORD_RULES;
  if (config.timestampType !== 'CreateTime') return unbounded;
  const before = config.timestampBeforeMaxMs !== Number.MAX_SAFE_INTEGER ? config.timestampBeforeMaxMs : config.timestampDifferenceMaxMs;
  const after = config.timestampAfterMaxMs !== Number.MAX_SAFE_INTEGER ? config.timestampAfterMaxMs : config.timestampDifferenceMaxMs;
  if (before === Number.MAX_SAFE_INTEGER && after === Number.MAX_SAFE_INTEGER) return unbounded;
  return { keysRequired, timestamps: { earliest: now - before, latest: now + after } };
}

const KEYS_ONLY: Readonly<RecordRules> = { keysRequired: true, timestamps: null };
