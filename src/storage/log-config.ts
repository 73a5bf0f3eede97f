import { COMPRESSION_NAMES } from '../protocol/compression.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { Compression } from '../protocol/compression.js';

/** Durability of an append: `fsync` acknowledges after the bytes are on disk, `none` after they reach the OS. */
export type FlushPolicy = 'fsync' | 'none';

export const COMPRESSION_TYPES = ['producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CompressionType = (typeof COMPRESSION_TYPES)[number];

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
};

interface ConfigKeySpec {
  field: keyof LogConfig;
  parse: (raw: string) => LogConfig[keyof LogConfig];
}

const INT_MAX = 2 ** 31 - 1;
const LONG_MAX = 2n ** 63n - 1n;

/** An int config (Kafka's INT type), at least `min`. */
function int(min: number): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || n < min || n > INT_MAX) throw new Error(`expected an integer from ${min} to ${INT_MAX}`);
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

function oneOf<T extends string>(...values: T[]): (raw: string) => T {
  return (raw) => {
    const v = raw.trim() as T;
    if (!values.includes(v)) throw new Error(`expected one of ${values.join(', ')}`);
    return v;
  };
}

/** Topic config names (Kafka's where Kafka has one) and how to parse them. */
export const TOPIC_CONFIG_KEYS: Readonly<Record<string, ConfigKeySpec>> = {
  'segment.bytes': { field: 'segmentBytes', parse: int(14) },
  'segment.ms': { field: 'segmentMs', parse: long(1) },
  'retention.ms': { field: 'retentionMs', parse: long(-1) },
  'retention.bytes': { field: 'retentionBytes', parse: long(-1) },
  'max.message.bytes': { field: 'maxMessageBytes', parse: int(0) },
  'cleanup.policy': {
    field: 'cleanupPolicy',
    parse: (raw) => {
      const parts = raw.split(',').map((p) => p.trim()).filter(Boolean).sort();
      const joined = parts.join(',');
      if (joined === 'delete' || joined === 'compact' || joined === 'compact,delete') return joined;
      throw new Error('expected delete, compact or compact,delete');
    },
  },
  'delete.retention.ms': { field: 'deleteRetentionMs', parse: long(0) },
  'min.compaction.lag.ms': { field: 'minCompactionLagMs', parse: long(0) },
  'max.compaction.lag.ms': { field: 'maxCompactionLagMs', parse: long(1) },
  'min.cleanable.dirty.ratio': { field: 'minCleanableDirtyRatio', parse: ratio },
  'flush.policy': { field: 'flushPolicy', parse: oneOf('fsync', 'none') },
  'flush.ms': { field: 'flushMs', parse: long(1) },
  'message.timestamp.type': { field: 'timestampType', parse: oneOf('CreateTime', 'LogAppendTime') },
  'index.interval.bytes': { field: 'indexIntervalBytes', parse: int(0) },
  'compression.type': { field: 'compressionType', parse: oneOf(...COMPRESSION_TYPES) },
  'min.insync.replicas': { field: 'minInsyncReplicas', parse: int(1) },
};

/** Long configs whose value was held at Number.MAX_SAFE_INTEGER are described as Kafka's Long.MAX_VALUE. */
const describeValue = (v: unknown) => (v === Number.MAX_SAFE_INTEGER ? String(LONG_MAX) : String(v));

/** Applies `name=value` overrides on top of `base`; unknown names or bad values throw INVALID_CONFIG. */
export function applyTopicConfigs(base: Readonly<LogConfig>, overrides: Readonly<Record<string, string>>): LogConfig {
  const out: LogConfig = { ...base };
  for (const [name, raw] of Object.entries(overrides)) {
    const spec = TOPIC_CONFIG_KEYS[name];
    if (!spec) throw new KafkaError(ErrorCode.INVALID_CONFIG, `unknown topic config ${name}`);
    try {
      (out as unknown as Record<string, unknown>)[spec.field] = spec.parse(raw);
    } catch (err) {
      throw new KafkaError(ErrorCode.INVALID_CONFIG, `invalid value ${JSON.stringify(raw)} for ${name}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** The config as Kafka-style strings, for DescribeConfigs. */
export function describeLogConfig(config: Readonly<LogConfig>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(TOPIC_CONFIG_KEYS)) out[name] = describeValue(config[spec.field]);
  return out;
}
