import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { applyTopicConfigs, describeLogConfig } from '../../storage/log-config.js';
import type { TopicState } from '../../storage/log-manager.js';
import type { Broker } from '../broker.js';
import { toErrorCode } from './errors.js';

export const ResourceType = { TOPIC: 2, BROKER: 4 } as const;
/** DescribeConfigs config sources. */
export const ConfigSource = { DYNAMIC_TOPIC_CONFIG: 1, STATIC_BROKER_CONFIG: 4, DEFAULT_CONFIG: 5 } as const;

export interface DescribedConfig {
  name: string;
  value: string;
  source: number;
  readOnly: boolean;
}

export function describeTopicConfigs(topic: TopicState): DescribedConfig[] {
  return Object.entries(describeLogConfig(topic.config)).map(([name, value]) => ({
    name,
    value,
    source: name in topic.overrides ? ConfigSource.DYNAMIC_TOPIC_CONFIG : ConfigSource.DEFAULT_CONFIG,
    readOnly: false,
  }));
}

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
  const logs = describeLogConfig(broker.logs.defaults);
  return [...Object.entries(own), ...Object.entries(logs)].map(([name, value]) => ({
    name,
    value,
    source: ConfigSource.STATIC_BROKER_CONFIG,
    readOnly: true,
  }));
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
