import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { ConfigType } from './log-config.js';

/** Compaction's broker-wide settings, which Kafka lets an operator change while the broker runs. */
export interface CleanerSettings {
  /** Bytes a second a pass may read and write together; Infinity: no bound. */
  ioBytesPerSecond: number;
  /** Memory for a round's key map. */
  mapBytes: number;
}

/** The built-in values: no bound on I/O, and Kafka's 128 MiB key map. */
export const DEFAULT_CLEANER_SETTINGS: Readonly<CleanerSettings> = { ioBytesPerSecond: Infinity, mapBytes: 128 * 1024 * 1024 };

interface SettingSpec {
  field: keyof CleanerSettings;
  /** Kafka's value type (ConfigType). */
  type: number;
  parse(raw: string): number;
  describe(value: number): string;
}

const DECIMAL = /^\s*\d+(\.\d*)?([eE][+-]?\d+)?\s*$/;

/** The settings by Kafka's broker config names. */
const SETTINGS: Record<string, SettingSpec> = {
  'log.cleaner.io.max.bytes.per.second': {
    field: 'ioBytesPerSecond',
    type: ConfigType.DOUBLE,
    parse: (raw) => {
      const n = Number(raw);
      if (!DECIMAL.test(raw) || !(n >= 1024)) throw new Error('must be a number of bytes of at least 1024');
      return n >= Number.MAX_VALUE ? Infinity : n; // Kafka's default, Java's largest double, is no bound
    },
    describe: (value) => javaDouble(value === Infinity ? Number.MAX_VALUE : value),
  },
  'log.cleaner.dedupe.buffer.size': {
    field: 'mapBytes',
    type: ConfigType.LONG,
    parse: (raw) => {
      const n = Number(raw);
      if (!/^\s*\d+\s*$/.test(raw) || n < 1024 * 1024 || n > Number.MAX_SAFE_INTEGER) throw new Error('must be a whole number of bytes of at least 1048576');
      return n;
    },
    describe: String,
  },
};

export const cleanerSettingNames = (): string[] => Object.keys(SETTINGS);

export const isCleanerSetting = (name: string): boolean => name in SETTINGS;

export const cleanerSettingType = (name: string): number => SETTINGS[name]!.type;

/** `base` with the cleaner settings among `overrides` (by Kafka's names; other names are passed over); a bad value throws INVALID_CONFIG. */
export function applyCleanerSettings(base: Readonly<CleanerSettings>, overrides: Readonly<Record<string, string>>): CleanerSettings {
  const out = { ...base };
  for (const [name, raw] of Object.entries(overrides)) {
    const spec = SETTINGS[name];
    if (spec === undefined) continue;
    try {
      out[spec.field] = spec.parse(raw);
    } catch (err) {
      throw new KafkaError(ErrorCode.INVALID_CONFIG, `invalid value ${JSON.stringify(raw)} for ${name}: ${(err as Error).message}`);
    }
  }
  return out;
}

/** The settings as DescribeConfigs gives them, by Kafka's names. */
export function describeCleanerSettings(settings: Readonly<CleanerSettings>): Record<string, string> {
  return Object.fromEntries(Object.entries(SETTINGS).map(([name, spec]) => [name, spec.describe(settings[spec.field])]));
}

/**
 * A double as Java's Double.toString writes it, as Kafka's tools show a DOUBLE config: a decimal point always, and
 * from 10^7 up (or below 10^-3) a mantissa and an exponent (1048576 is "1048576.0", 104857600 "1.048576E8").
 */
function javaDouble(x: number): string {
  if (x === 0 || (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e7)) return Number.isInteger(x) ? `${x}.0` : String(x);
  const [mantissa, exponent] = x.toExponential().split('e') as [string, string];
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
}
