import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { describeLogConfig } from '../../storage/log-config.js';
import type { TopicState } from '../../storage/log-manager.js';
import type { Broker } from '../broker.js';

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
export function topicResource(broker: Broker, resourceType: number, resourceName: string): TopicState {
  if (resourceType !== ResourceType.TOPIC) {
    throw new KafkaError(ErrorCode.INVALID_REQUEST, `altering resource type ${resourceType} is not supported; only topics (2) are`);
  }
  return broker.logs.requireTopic(resourceName);
}
