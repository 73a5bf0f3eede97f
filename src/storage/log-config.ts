import { ErrorCode, KafkaError } from '../protocol/errors.js';

/** Durability of an append: `fsync` acknowledges after the bytes are on disk, `none` after they reach the OS. */
export type FlushPolicy = 'fsync' | 'none';

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
  producerIdExpirationMs: 24 * 3600 * 1000,
};

interface ConfigKeySpec {
  field: keyof LogConfig;
  parse: (raw: string) => LogConfig[keyof LogConfig];
}

function integer(min: number): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min) throw new Error(`expected an integer >= ${min}`);
    return n;
  };
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
  'segment.bytes': { field: 'segmentBytes', parse: integer(14) },
  'segment.ms': { field: 'segmentMs', parse: integer(1) },
  'retention.ms': { field: 'retentionMs', parse: integer(-1) },
  'retention.bytes': { field: 'retentionBytes', parse: integer(-1) },
  'max.message.bytes': { field: 'maxMessageBytes', parse: integer(0) },
  'cleanup.policy': {
    field: 'cleanupPolicy',
    parse: (raw) => {
      const parts = raw.split(',').map((p) => p.trim()).filter(Boolean).sort();
      const joined = parts.join(',');
      if (joined === 'delete' || joined === 'compact' || joined === 'compact,delete') return joined;
      throw new Error('expected delete, compact or compact,delete');
    },
  },
  'delete.retention.ms': { field: 'deleteRetentionMs', parse: integer(0) },
  'flush.policy': { field: 'flushPolicy', parse: oneOf('fsync', 'none') },
  'flush.ms': { field: 'flushMs', parse: integer(1) },
  'message.timestamp.type': { field: 'timestampType', parse: oneOf('CreateTime', 'LogAppendTime') },
  'index.interval.bytes': { field: 'indexIntervalBytes', parse: integer(0) },
};

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
  for (const [name, spec] of Object.entries(TOPIC_CONFIG_KEYS)) out[name] = String(config[spec.field]);
  return out;
}
