// The broker's own settings that change while it runs, as Kafka's dynamic broker configs: the connection limits
// (max.connections, max.connections.per.ip, max.connections.per.ip.overrides), set cluster-wide (the '' broker
// resource) or for this broker (its id; it wins), over what `sluice start` gave. Kept in the data dir's
// broker-settings.json. The storage engine's dynamic configs (the topic defaults, compaction's settings) are the log
// manager's, in broker-configs.json beside it.
import { join } from 'node:path';
import type { FileSystem } from '../io/file-system.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { NO_CONNECTION_LIMIT, parseConnectionOverrides, type ConnectionLimitsConfig } from './connection-limits.js';
import { DurableState, readStateFile, type StateFileKind } from './durable-state.js';

const SETTINGS_FILE = 'broker-settings.json';

/** Each dynamic setting's Kafka name, and the field of the connection limits it sets. */
const SETTINGS = {
  'max.connections': 'maxConnections',
  'max.connections.per.ip': 'maxConnectionsPerIp',
  'max.connections.per.ip.overrides': 'maxConnectionsPerIpOverrides',
} as const satisfies Record<string, keyof ConnectionLimitsConfig>;

export type DynamicSettingName = keyof typeof SETTINGS;
export const DYNAMIC_SETTING_NAMES = Object.keys(SETTINGS) as DynamicSettingName[];
export const isDynamicSetting = (name: string): name is DynamicSettingName => name in SETTINGS;

/** The values set in each scope, by name, as the client wrote them. */
export interface SettingLayers {
  cluster: Readonly<Record<string, string>>;
  broker: Readonly<Record<string, string>>;
}

/** `value` as `name` takes it; throws INVALID_CONFIG saying why not. */
function parsed(name: DynamicSettingName, value: string): number | Record<string, number> {
  try {
    if (name === 'max.connections.per.ip.overrides') return parseConnectionOverrides(value);
    if (!/^\d+$/.test(value.trim()) || Number(value) > NO_CONNECTION_LIMIT) throw new Error(`${name} must be a whole number from 0 to ${NO_CONNECTION_LIMIT}, got ${JSON.stringify(value)}`);
    return Number(value);
  } catch (err) {
    throw new KafkaError(ErrorCode.INVALID_CONFIG, (err as Error).message);
  }
}

/** The limits `layers` make of `start`'s: each setting's broker value, else its cluster-wide one, else the start's. */
function layered(start: ConnectionLimitsConfig, layers: SettingLayers): ConnectionLimitsConfig {
  const { maxConnections, maxConnectionsPerIp, maxConnectionsPerIpOverrides } = start;
  const out: Record<keyof ConnectionLimitsConfig, unknown> = { maxConnections, maxConnectionsPerIp, maxConnectionsPerIpOverrides };
  for (const name of DYNAMIC_SETTING_NAMES) {
    const value = layers.broker[name] ?? layers.cluster[name];
    if (value !== undefined) out[SETTINGS[name]] = parsed(name, value);
  }
  const limits = out as unknown as ConnectionLimitsConfig;
  if (limits.maxConnectionsPerIp === 0 && Object.keys(limits.maxConnectionsPerIpOverrides).length === 0) {
    throw new KafkaError(ErrorCode.INVALID_CONFIG, 'max.connections.per.ip 0 refuses every address: set max.connections.per.ip.overrides for the ones to let in');
  }
  return limits;
}

export class DynamicBrokerSettings {
  /** Called with the limits in force after each change. */
  onChange: (limits: ConnectionLimitsConfig) => void = () => undefined;

  private constructor(
    private readonly stored: DurableState<SettingLayers>,
    private readonly start: ConnectionLimitsConfig,
  ) {
    stored.onChange = (layers) => this.onChange(layered(this.start, layers));
  }

  /** The settings the data dir holds over `start`'s; a file that cannot be read stops the start. */
  static async open(fs: FileSystem, dataDir: string, start: ConnectionLimitsConfig): Promise<DynamicBrokerSettings> {
    const path = join(dataDir, SETTINGS_FILE);
    const layers = (await fs.exists(path)) ? parseLayers((await fs.readFile(path)).toString('utf8'), path, start) : { cluster: {}, broker: {} };
    return new DynamicBrokerSettings(new DurableState<SettingLayers>(fs, path, layers, (l) => JSON.stringify({ version: 1, ...l }, null, 1) + '\n'), start);
  }

  get layers(): SettingLayers {
    return this.stored.current;
  }

  /** The connection limits in force. */
  get connectionLimits(): ConnectionLimitsConfig {
    return layered(this.start, this.stored.current);
  }

  /** What `sluice start` gave for `name`, as Kafka writes it. */
  startValue(name: DynamicSettingName): string {
    const value = this.start[SETTINGS[name]];
    return typeof value === 'number' ? String(value) : Object.entries(value).map(([address, count]) => `${address}:${count}`).join(',');
  }

  /**
   * Replaces `scope`'s values with `values` (each checked, and the limits they make with the other scope's); written
   * durably before they apply. With `validateOnly`, checked only.
   */
  async set(scope: keyof SettingLayers, values: Record<string, string>, validateOnly: boolean): Promise<void> {
    for (const [name, value] of Object.entries(values)) {
      if (!isDynamicSetting(name)) throw new KafkaError(ErrorCode.INVALID_CONFIG, `${name} is not a dynamic broker setting`);
      parsed(name, value);
    }
    layered(this.start, { ...this.stored.current, [scope]: values });
    if (validateOnly) return;
    // unchanged (an AlterConfigs of the storage engine's configs alone): nothing written
    const same = (a: Readonly<Record<string, string>>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(values).sort());
    await this.stored.change((current) => ({ state: same(current[scope]) ? null : { ...current, [scope]: { ...values } }, result: undefined }));
  }
}

const SETTINGS_FILE_KIND: StateFileKind<{ version?: unknown; cluster?: Record<string, string>; broker?: Record<string, string> }> = {
  kind: 'broker settings',
  without: 'with the settings sluice start gives',
  valid: () => true,
};

function parseLayers(text: string, path: string, start: ConnectionLimitsConfig): SettingLayers {
  return readStateFile(text, path, SETTINGS_FILE_KIND, (stored, refuse) => {
    const layers = { cluster: { ...stored.cluster }, broker: { ...stored.broker } };
    try {
      for (const scope of [layers.cluster, layers.broker]) {
        for (const [name, value] of Object.entries(scope)) {
          if (!isDynamicSetting(name)) throw new Error(`unknown setting ${name}`);
          parsed(name, value);
        }
      }
      layered(start, layers);
    } catch (err) {
      refuse((err as Error).message);
    }
    return layers;
  });
}
