// Configs of the two resource types that have them: topics (their overrides over the topic defaults) and brokers
// (their settings, and the topic defaults by Kafka's broker-wide names, in layers: dynamic per broker, dynamic
// cluster-wide, static, built in). Shared by CreateTopics, DescribeConfigs, AlterConfigs and IncrementalAlterConfigs.
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { ConfigType, DEFAULT_LOG_CONFIG, applyTopicConfigs, brokerConfigName, configNamesSet, describeLogConfig, topicConfigForBrokerName, topicConfigType } from '../../storage/log-config.js';
import { applyCleanerSettings, cleanerSettingNames, cleanerSettingType, DEFAULT_CLEANER_SETTINGS, describeCleanerSettings, isCleanerSetting } from '../../storage/cleaner-settings.js';
import type { TopicState } from '../../storage/log-manager.js';
import type { Broker } from '../broker.js';
import { toErrorCode } from './errors.js';
import { NO_CONNECTION_LIMIT } from '../connection-limits.js';
import { DYNAMIC_SETTING_NAMES, isDynamicSetting } from '../dynamic-broker-settings.js';
import { AclOperation, ResourceType as AclResource, type Operation } from '../../protocol/acl.js';
import type { Requester } from '../authorizer.js';
import { requireAllowed, requireClusterAllowed } from './acls.js';

export const ResourceType = { TOPIC: 2, BROKER: 4 } as const;
/** DescribeConfigs config sources. */
export const ConfigSource = { DYNAMIC_TOPIC_CONFIG: 1, DYNAMIC_BROKER_CONFIG: 2, DYNAMIC_DEFAULT_BROKER_CONFIG: 3, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 } as const;

export interface ConfigSynonym {
  name: string;
  value: string;
  source: number;
}

export interface DescribedConfig extends ConfigSynonym {
  readOnly: boolean;
  /** Kafka's value type (ConfigType), for DescribeConfigs v3+. */
  type: number;
  /** Where the value could come from, highest precedence first (DescribeConfigs v1+ include_synonyms), as Kafka lists them. */
  synonyms: ConfigSynonym[];
}

/**
 * The broker's topic config defaults: their values, and where each layer sets them: this broker's and the
 * cluster-wide dynamic configs, the static settings of `sluice start`, the built-in defaults.
 */
function brokerLogDefaults(broker: Broker) {
  return {
    values: describeLogConfig(broker.logs.defaults),
    dynamic: broker.logs.dynamicDefaults,
    setByBroker: configNamesSet(broker.config.logDefaults),
    staticValues: describeLogConfig({ ...DEFAULT_LOG_CONFIG, ...broker.config.logDefaults }),
    builtIn: describeLogConfig(DEFAULT_LOG_CONFIG),
  };
}

/** A topic config's broker-wide synonyms, highest precedence first, each layer that sets it, down to the built-in default. */
function brokerSynonyms(name: string, defaults: ReturnType<typeof brokerLogDefaults>): ConfigSynonym[] {
  const brokerName = brokerConfigName(name);
  if (!brokerName) return [];
  const out: ConfigSynonym[] = [];
  const { broker, cluster } = defaults.dynamic;
  // values as described (Long.MAX_VALUE for "forever"), through the same parsing as the layer they come from
  const described = (value: string) => describeLogConfig(applyTopicConfigs(DEFAULT_LOG_CONFIG, { [name]: value }))[name]!;
  if (broker[name] !== undefined) out.push({ name: brokerName, value: described(broker[name]), source: ConfigSource.DYNAMIC_BROKER_CONFIG });
  if (cluster[name] !== undefined) out.push({ name: brokerName, value: described(cluster[name]), source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG });
  if (defaults.setByBroker.has(name)) out.push({ name: brokerName, value: defaults.staticValues[name]!, source: ConfigSource.STATIC_BROKER_CONFIG });
  out.push({ name: brokerName, value: defaults.builtIn[name]!, source: ConfigSource.DEFAULT_CONFIG });
  return out;
}

export function describeTopicConfigs(broker: Broker, topic: TopicState): DescribedConfig[] {
  const defaults = brokerLogDefaults(broker);
  return Object.entries(describeLogConfig(topic.config)).map(([name, value]) => {
    const synonyms = brokerSynonyms(name, defaults);
    if (name in topic.overrides) synonyms.unshift({ name, value, source: ConfigSource.DYNAMIC_TOPIC_CONFIG });
    return { name, value, source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG, readOnly: false, type: topicConfigType(name), synonyms };
  });
}

/** The broker's own settings (from `sluice start`) and their types: read-only here, as the ones Kafka cannot change at run time. */
/** `host:port`, an IPv6 host in brackets (as Kafka writes listeners). */
const hostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

function ownBrokerSettings(broker: Broker): Record<string, [string, number]> {
  const c = broker.config;
  return {
    'broker.id': [String(c.nodeId), ConfigType.INT],
    'auto.create.topics.enable': [String(c.autoCreateTopics), ConfigType.BOOLEAN],
    'delete.topic.enable': [String(c.deleteTopicEnable), ConfigType.BOOLEAN],
    'num.partitions': [String(c.defaultPartitions), ConfigType.INT],
    'socket.request.max.bytes': [String(c.maxRequestBytes), ConfigType.INT],
    'queued.max.request.bytes': [String(c.queuedMaxRequestBytes), ConfigType.LONG],
    'connections.max.idle.ms': [String(c.idleTimeoutMs), ConfigType.LONG],
    'log.dirs': [c.dataDir, ConfigType.STRING],
    listeners: [broker.listeners.map((l) => `${l.name}://${hostPort(l.host, l.port)}`).join(','), ConfigType.STRING],
    'advertised.listeners': [broker.listeners.map((l) => `${l.name}://${hostPort(l.advertised.host, l.advertised.port)}`).join(','), ConfigType.STRING],
    'listener.security.protocol.map': [broker.listeners.map((l) => `${l.name}:${l.securityProtocol}`).join(','), ConfigType.STRING],
    'connections.max.reauth.ms': [String(broker.sasl?.maxReauthMs ?? 0), ConfigType.LONG],
    'sasl.enabled.mechanisms': [(broker.sasl?.mechanisms ?? []).join(','), ConfigType.LIST],
    ...oauthBearerSettings(broker),
    'ssl.principal.mapping.rules': [c.principalMappingRules, ConfigType.STRING],
    ...(c.tls === null ? {} : {
      'ssl.client.auth': [c.tls.clientAuth, ConfigType.STRING],
      'ssl.enabled.protocols': [c.tls.minVersion === 'TLSv1.3' ? 'TLSv1.3' : 'TLSv1.2,TLSv1.3', ConfigType.LIST],
      'ssl.cipher.suites': [c.tls.ciphers ?? '', ConfigType.LIST],
    }),
    ...Object.fromEntries(broker.listeners.flatMap((l) => {
      const prefix = `listener.name.${l.name.toLowerCase()}`;
      return [
        ...(l.tlsClientAuth === undefined ? [] : [[`${prefix}.ssl.client.auth`, [l.tlsClientAuth, ConfigType.STRING]]]),
        ...(l.saslMechanisms === undefined ? [] : [[`${prefix}.sasl.enabled.mechanisms`, [l.saslMechanisms.join(','), ConfigType.LIST]]]),
        ...Object.entries(l.tlsFiles ?? {}).map(([which, path]) => [`${prefix}.ssl.${which === 'cert' ? 'certificate' : which}.location`, [path, ConfigType.STRING]]),
      ];
    })),
  };
}

/** OAUTHBEARER's settings that are set, by Kafka's names (an embedded key set has no URL). */
function oauthBearerSettings(broker: Broker): Record<string, [string, number]> {
  const settings = broker.sasl?.oauthBearer?.settings;
  if (settings === undefined) return {};
  const all: [string, string | undefined, number][] = [
    ['sasl.oauthbearer.jwks.endpoint.url', settings.jwksUrl, ConfigType.STRING],
    ['sasl.oauthbearer.expected.issuer', settings.expectedIssuer, ConfigType.STRING],
    ['sasl.oauthbearer.expected.audience', settings.expectedAudience?.join(','), ConfigType.LIST],
    ['sasl.oauthbearer.sub.claim.name', settings.subClaimName, ConfigType.STRING],
    ['sasl.oauthbearer.clock.skew.seconds', String(settings.clockSkewSeconds), ConfigType.INT],
    ['sasl.oauthbearer.jwks.endpoint.refresh.ms', String(settings.jwksRefreshMs), ConfigType.LONG],
    ['sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms', String(settings.jwksRetryBackoffMaxMs), ConfigType.LONG],
  ];
  return Object.fromEntries(all.filter(([, value]) => value !== undefined).map(([name, value, type]) => [name, [value!, type]]));
}

/**
 * Compaction's settings (Kafka's log cleaner configs) in the same layers as the topic defaults: each one's
 * synonyms, highest precedence first, and the value in force.
 */
function cleanerSettingsDescribed(broker: Broker): DynamicSettingDescribed[] {
  const { cluster, broker: own } = broker.logs.dynamicDefaults;
  const described = (layer: Record<string, string>) => describeCleanerSettings(applyCleanerSettings(DEFAULT_CLEANER_SETTINGS, layer));
  const fromStart = { ioBytesPerSecond: broker.config.compactionIoBytesPerSecond, mapBytes: broker.config.compactionMapBytes };
  const [staticValues, builtIn, inForce] = [describeCleanerSettings(fromStart), describeCleanerSettings(DEFAULT_CLEANER_SETTINGS), describeCleanerSettings(broker.logs.cleanerSettings)];
  return cleanerSettingNames().map((name) => {
    const synonyms: ConfigSynonym[] = [];
    if (own[name] !== undefined) synonyms.push({ name, value: described({ [name]: own[name] })[name]!, source: ConfigSource.DYNAMIC_BROKER_CONFIG });
    if (cluster[name] !== undefined) synonyms.push({ name, value: described({ [name]: cluster[name] })[name]!, source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG });
    if (staticValues[name] !== builtIn[name]) synonyms.push({ name, value: staticValues[name]!, source: ConfigSource.STATIC_BROKER_CONFIG });
    synonyms.push({ name, value: builtIn[name]!, source: ConfigSource.DEFAULT_CONFIG });
    return { name, value: inForce[name]!, synonyms, type: cleanerSettingType(name) };
  });
}

interface DynamicSettingDescribed {
  name: string;
  /** The value in force. */
  value: string;
  /** Highest precedence first. */
  synonyms: ConfigSynonym[];
  type: number;
}

/** The broker's own dynamic settings (the connection limits), in the same layers. */
function brokerSettingsDescribed(broker: Broker): DynamicSettingDescribed[] {
  const { cluster, broker: own } = broker.dynamicSettings.layers;
  const inForce = broker.dynamicSettings.connectionLimits;
  return DYNAMIC_SETTING_NAMES.map((name) => {
    const synonyms: ConfigSynonym[] = [];
    if (own[name] !== undefined) synonyms.push({ name, value: own[name], source: ConfigSource.DYNAMIC_BROKER_CONFIG });
    if (cluster[name] !== undefined) synonyms.push({ name, value: cluster[name], source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG });
    const start = broker.dynamicSettings.startValue(name);
    const builtIn = name === 'max.connections.per.ip.overrides' ? '' : String(NO_CONNECTION_LIMIT);
    if (start !== builtIn) synonyms.push({ name, value: start, source: ConfigSource.STATIC_BROKER_CONFIG });
    synonyms.push({ name, value: builtIn, source: ConfigSource.DEFAULT_CONFIG });
    const value = name === 'max.connections' ? String(inForce.maxConnections) : name === 'max.connections.per.ip' ? String(inForce.maxConnectionsPerIp) : synonyms[0]!.value;
    return { name, value, synonyms, type: name === 'max.connections.per.ip.overrides' ? ConfigType.STRING : ConfigType.INT };
  });
}

/**
 * A broker resource: this broker (its id) lists its settings and the topic defaults under Kafka's broker-wide
 * names, the latter changeable at run time; the cluster-wide default resource ('') lists only what was set there.
 */
export function describeBrokerConfigs(broker: Broker, clusterDefault: boolean): DescribedConfig[] {
  const defaults = brokerLogDefaults(broker);
  const out: DescribedConfig[] = [];
  if (!clusterDefault) {
    for (const [name, [value, type]] of Object.entries(ownBrokerSettings(broker))) {
      const source = ConfigSource.STATIC_BROKER_CONFIG;
      out.push({ name, value, source, readOnly: true, type, synonyms: [{ name, value, source }] });
    }
  }
  for (const name of Object.keys(defaults.values)) {
    const all = brokerSynonyms(name, defaults);
    const synonyms = clusterDefault ? all.filter((syn) => syn.source === ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG) : all;
    if (synonyms.length === 0) continue; // topic-only, or not set cluster-wide
    const value = clusterDefault ? synonyms[0]!.value : defaults.values[name]!;
    out.push({ name: synonyms[0]!.name, value, source: synonyms[0]!.source, readOnly: false, type: topicConfigType(name), synonyms });
  }
  for (const { name, value, synonyms: all, type } of [...cleanerSettingsDescribed(broker), ...brokerSettingsDescribed(broker)]) {
    const synonyms = clusterDefault ? all.filter((syn) => syn.source === ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG) : all;
    if (synonyms.length === 0) continue;
    out.push({ name, value: clusterDefault ? synonyms[0]!.value : value, source: synonyms[0]!.source, readOnly: false, type, synonyms });
  }
  return out;
}

/** Which dynamic layer a broker resource names: '' the cluster-wide defaults, this broker's id its own. */
function brokerScope(broker: Broker, resourceName: string): 'cluster' | 'broker' {
  if (resourceName === '') return 'cluster';
  if (resourceName === String(broker.config.nodeId)) return 'broker';
  throw new KafkaError(ErrorCode.INVALID_REQUEST, `unknown broker ${resourceName}`);
}

/**
 * A request's broker-wide config names as the dynamic broker configs store them: the topic configs they set the
 * defaults of, and compaction's settings by their own names.
 */
function dynamicConfigsOf(broker: Broker, byBrokerName: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [brokerName, value] of Object.entries(byBrokerName)) {
    const name = isCleanerSetting(brokerName) ? brokerName : topicConfigForBrokerName(brokerName);
    if (name) out[name] = value;
    else if (brokerName in ownBrokerSettings(broker)) throw new KafkaError(ErrorCode.INVALID_REQUEST, `${brokerName} cannot be changed while the broker runs (a sluice start setting)`);
    else throw new KafkaError(ErrorCode.INVALID_CONFIG, `unknown broker config ${brokerName}: the ones changeable at run time are the topic defaults (log.retention.ms, log.segment.bytes, ...), ${cleanerSettingNames().join(', ')} and ${DYNAMIC_SETTING_NAMES.join(', ')}`);
  }
  return out;
}

export interface ConfigResourceResult {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
}

/** A resource's configs as set now, by the names its requests use, and the value in force of a list config. */
export interface ConfigsInForce {
  set: Readonly<Record<string, string>>;
  listValue(name: string): string;
}

/**
 * AlterConfigs and IncrementalAlterConfigs: for each resource, `overridesFor` computes what it sets from now on:
 * a topic's overrides, or a broker resource's dynamic topic defaults (by Kafka's broker-wide names: '' for the
 * cluster-wide ones, this broker's id for its own). They are validated as a whole, then stored (or only
 * validated). One answer per resource.
 */
/**
 * Throws the refusal Kafka answers unless the client may do `operation` (DESCRIBE_CONFIGS, ALTER_CONFIGS) on the
 * resource: a topic's configs are the topic's (TOPIC_AUTHORIZATION_FAILED), a broker's the cluster's
 * (CLUSTER_AUTHORIZATION_FAILED).
 */
export function requireConfigAccess(broker: Broker, who: Requester, operation: Operation, resourceType: number, name: string): void {
  if (resourceType === ResourceType.TOPIC) requireAllowed(broker, who, operation, AclResource.TOPIC, name);
  else if (resourceType === ResourceType.BROKER) requireClusterAllowed(broker, who, operation);
}

export async function alterConfigResources<R extends { resourceType: number; resourceName: string }>(
  broker: Broker,
  who: Requester,
  resources: R[],
  validateOnly: boolean,
  overridesFor: (inForce: ConfigsInForce, resource: R) => Record<string, string>,
): Promise<ConfigResourceResult[]> {
  const out: ConfigResourceResult[] = [];
  for (const res of resources) {
    const result: ConfigResourceResult = { errorCode: 0, errorMessage: null, resourceType: res.resourceType, resourceName: res.resourceName };
    out.push(result);
    try {
      requireConfigAccess(broker, who, AclOperation.ALTER_CONFIGS, res.resourceType, res.resourceName);
      if (res.resourceType === ResourceType.TOPIC) {
        const topic = broker.logs.requireTopic(res.resourceName);
        const overrides = overridesFor({ set: topic.overrides, listValue: () => topic.config.cleanupPolicy }, res);
        if (validateOnly) applyTopicConfigs(broker.logs.defaults, overrides);
        else await broker.logs.setTopicOverrides(topic.name, overrides);
      } else if (res.resourceType === ResourceType.BROKER) {
        const scope = brokerScope(broker, res.resourceName);
        const set = {
          ...Object.fromEntries(Object.entries(broker.logs.dynamicDefaults[scope]).map(([name, value]) => [isCleanerSetting(name) ? name : brokerConfigName(name)!, value])),
          ...broker.dynamicSettings.layers[scope],
        };
        const overrides = overridesFor({ set, listValue: () => broker.logs.defaults.cleanupPolicy }, res);
        // the broker's own (the connection limits) and the storage engine's, each checked before either is written
        const own = Object.fromEntries(Object.entries(overrides).filter(([name]) => isDynamicSetting(name)));
        const storage = dynamicConfigsOf(broker, Object.fromEntries(Object.entries(overrides).filter(([name]) => !isDynamicSetting(name))));
        await broker.dynamicSettings.set(scope, own, true);
        await broker.logs.setDynamicDefaults(scope, storage, true);
        if (!validateOnly) {
          await broker.dynamicSettings.set(scope, own, false);
          await broker.logs.setDynamicDefaults(scope, storage, false);
        }
      } else {
        throw new KafkaError(ErrorCode.INVALID_REQUEST, `altering resource type ${res.resourceType} is not supported; only topics (2) and brokers (4) are`);
      }
    } catch (err) {
      Object.assign(result, toErrorCode(err));
    }
  }
  return out;
}
