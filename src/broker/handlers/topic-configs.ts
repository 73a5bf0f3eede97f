import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { DEFAULT_LOG_CONFIG, applyTopicConfigs, brokerConfigName, configNamesSet, describeLogConfig } from '../../storage/log-config.js';
import type { TopicState } from '../../storage/log-manager.js';
import type { Broker } from '../broker.js';
import { toErrorCode } from './errors.js';

export const ResourceType = { TOPIC: 2, BROKER: 4 } as const;
/** DescribeConfigs config sources. */
export const ConfigSource = { DYNAMIC_TOPIC_CONFIG: 1, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 } as const;

export interface ConfigSynonym {
  name: string;
  value: string;
  source: number;
}

export interface DescribedConfig extends ConfigSynonym {
  readOnly: boolean;
  /** Where the value could come from, highest precedence first (DescribeConfigs v1+ include_synonyms), as Kafka lists them. */
  synonyms: ConfigSynonym[];
}

/** The broker's topic config defaults: their values, and which of them its settings chose (the rest are built in). */
function brokerLogDefaults(broker: Broker) {
  return {
    values: describeLogConfig(broker.logs.defaults),
    setByBroker: configNamesSet(broker.config.logDefaults),
    builtIn: describeLogConfig(DEFAULT_LOG_CONFIG),
  };
}

/** A topic config's broker-wide synonyms: the broker's own setting if it has one, then the built-in default. */
function brokerSynonyms(name: string, defaults: ReturnType<typeof brokerLogDefaults>): ConfigSynonym[] {
  const brokerName = brokerConfigName(name);
  if (!brokerName) return [];
  const out: ConfigSynonym[] = [];
  if (defaults.setByBroker.has(name)) out.push({ name: brokerName, value: defaults.values[name]!, source: ConfigSource.STATIC_BROKER_CONFIG });
  out.push({ name: brokerName, value: defaults.builtIn[name]!, source: ConfigSource.DEFAULT_CONFIG });
  return out;
}

export function describeTopicConfigs(broker: Broker, topic: TopicState): DescribedConfig[] {
  const defaults = brokerLogDefaults(broker);
  return Object.entries(describeLogConfig(topic.config)).map(([name, value]) => {
    const synonyms = brokerSynonyms(name, defaults);
    if (name in topic.overrides) synonyms.unshift({ name, value, source: ConfigSource.DYNAMIC_TOPIC_CONFIG });
    return { name, value, source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG, readOnly: false, synonyms };
  });
}

/** The broker's settings (read-only: they come from `sluice start`), topic defaults under Kafka's broker-wide names. */
export function describeBrokerConfigs(broker: Broker): DescribedConfig[] {
  const c = broker.config;
  const own: Record<string, string> = {
    'broker.id': String(c.nodeId),
    'auto.create.topics.enable': String(c.autoCreateTopics),
    'num.partitions': String(c.defaultPartitions),
    'socket.request.max.bytes': String(c.maxRequestBytes),
    'connections.max.idle.ms': String(c.idleTimeoutMs),
    'log.dirs': c.dataDir,
  };
  const out: DescribedConfig[] = Object.entries(own).map(([name, value]) => {
    const source = ConfigSource.STATIC_BROKER_CONFIG;
    return { name, value, source, readOnly: true, synonyms: [{ name, value, source }] };
  });
  const defaults = brokerLogDefaults(broker);
  for (const name of Object.keys(defaults.values)) {
    const synonyms = brokerSynonyms(name, defaults);
    if (synonyms.length === 0) continue; // topic-only
    out.push({ name: synonyms[0]!.name, value: defaults.values[name]!, source: synonyms[0]!.source, readOnly: true, synonyms });
  }
  return out;
}

/** The topic named by a config resource, or a KafkaError for unknown topics and unsupported resource types. */
function topicResource(broker: Broker, resourceType: number, resourceName: string): TopicState {
  if (resourceType !== ResourceType.TOPIC) {
    throw new KafkaError(ErrorCode.INVALID_REQUEST, `altering resource type ${resourceType} is not supported; only topics (2) are`);
  }
  return broker.logs.requireTopic(resourceName);
}

export interface ConfigResourceResult {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
}

/**
 * AlterConfigs and IncrementalAlterConfigs: for each topic resource, `overridesFor` computes the topic's new
 * overrides, which are validated as a whole and then stored (or only validated). One answer per resource.
 */
export async function alterTopicResources<R extends { resourceType: number; resourceName: string }>(
  broker: Broker,
  resources: R[],
  validateOnly: boolean,
  overridesFor: (topic: TopicState, resource: R) => Record<string, string>,
): Promise<ConfigResourceResult[]> {
  const out: ConfigResourceResult[] = [];
  for (const res of resources) {
    const result: ConfigResourceResult = { errorCode: 0, errorMessage: null, resourceType: res.resourceType, resourceName: res.resourceName };
    out.push(result);
    try {
      const topic = topicResource(broker, res.resourceType, res.resourceName);
      const overrides = overridesFor(topic, res);
      if (validateOnly) applyTopicConfigs(broker.logs.defaults, overrides);
      else await broker.logs.setTopicOverrides(topic.name, overrides);
    } catch (err) {
      Object.assign(result, toErrorCode(err));
    }
  }
  return out;
}
