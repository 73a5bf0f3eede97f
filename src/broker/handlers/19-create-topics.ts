// CreateTopics (key 19), v0-7. Single node: replication factor must be -1 (default) or 1, and manual
// assignments may only name this broker. Configs are validated before anything is created; validate_only
// checks without creating. v5+ echo the partition count, replication factor and resulting configs. Creating needs
// CREATE on the cluster or the topic (TOPIC_AUTHORIZATION_FAILED); the configs are echoed to a client that may
// DESCRIBE_CONFIGS the topic (to others topic_config_error_code TOPIC_AUTHORIZATION_FAILED). The partitions created
// count toward the client's controller_mutation_rate: from v6 a topic that comes once the quota is spent gets
// THROTTLING_QUOTA_EXCEEDED; before v6 every topic is created and the client waits afterwards (KIP-599).
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type {
  CreateTopicsRequest,
  CreateTopicsRequestCreatableTopic,
  CreateTopicsResponse,
  CreateTopicsResponseCreatableTopicResult,
} from '../../protocol/messages.generated.js';
import { inParallel } from '../../storage/in-parallel.js';
import { applyTopicConfigs } from '../../storage/log-config.js';
import { validateTopicName } from '../../storage/log-manager.js';
import type { Broker } from '../broker.js';
import type { ApiHandler } from '../handler.js';
import { refuseMutations, toErrorCode } from './errors.js';
import { describeTopicConfigs } from './config-resources.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import { mayCreateTopic, notAuthorized } from './acls.js';

function plan(broker: Broker, t: CreateTopicsRequestCreatableTopic): { partitions: number; overrides: Record<string, string> } {
  validateTopicName(t.name);
  if (broker.logs.topics.has(t.name)) throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${t.name} already exists`);
  if (t.replicationFactor !== -1 && t.replicationFactor !== 1 && t.assignments.length === 0) {
    throw new KafkaError(ErrorCode.INVALID_REPLICATION_FACTOR, `replication factor ${t.replicationFactor} is larger than the 1 available broker`);
  }
  let partitions = t.numPartitions === -1 ? broker.config.defaultPartitions : t.numPartitions;
  if (t.assignments.length > 0) {
    if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
      throw new KafkaError(ErrorCode.INVALID_REQUEST, 'give either assignments or partition count and replication factor, not both');
    }
    const indexes = t.assignments.map((a) => a.partitionIndex).sort((a, b) => a - b);
    if (indexes.some((p, i) => p !== i)) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'assignments must cover partitions 0..n-1');
    for (const a of t.assignments) {
      if (a.brokerIds.length !== 1 || a.brokerIds[0] !== broker.config.nodeId) {
        throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `partition ${a.partitionIndex} must be assigned to broker ${broker.config.nodeId} only`);
      }
    }
    partitions = t.assignments.length;
  }
  if (partitions < 1) throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `number of partitions must be at least 1, got ${partitions}`);
  const overrides: Record<string, string> = {};
  for (const c of t.configs) {
    if (c.value === null || c.value === undefined) throw new KafkaError(ErrorCode.INVALID_CONFIG, `config ${c.name} has a null value`);
    overrides[c.name] = c.value;
  }
  applyTopicConfigs(broker.logs.defaults, overrides);
  return { partitions, overrides };
}

export const createTopics: ApiHandler<CreateTopicsRequest, CreateTopicsResponse> = {
  apiKey: 19,
  minVersion: 0,
  maxVersion: 7,
  async handle({ broker, version, connection }, req) {
    const mutations = broker.throttling.mutationsFor(connection, version >= 6);
    const topics: CreateTopicsResponseCreatableTopicResult[] = [];
    const seen = new Set<string>();
    const creations: (() => Promise<void>)[] = [];
    for (const t of req.topics) {
      const out: CreateTopicsResponseCreatableTopicResult = {
        name: t.name, topicId: '00000000000000000000000000000000', errorCode: 0, errorMessage: null,
        numPartitions: -1, replicationFactor: -1, configs: null,
      };
      topics.push(out);
      try {
        if (seen.has(t.name)) throw new KafkaError(ErrorCode.INVALID_REQUEST, `topic ${t.name} appears twice in the request`);
        seen.add(t.name);
        if (!mayCreateTopic(broker, connection, t.name)) throw notAuthorized(AclOperation.CREATE, ResourceType.TOPIC, t.name);
        const { partitions, overrides } = plan(broker, t);
        out.numPartitions = partitions;
        out.replicationFactor = 1;
        if (req.validateOnly) continue;
        if (!mutations.take(partitions)) throw refuseMutations();
        creations.push(async () => {
          try {
            const created = await broker.createTopic(t.name, partitions, overrides);
            out.topicId = created.id;
            if (!broker.allows(connection, AclOperation.DESCRIBE_CONFIGS, ResourceType.TOPIC, t.name, false)) {
              out.topicConfigErrorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
              return;
            }
            out.configs = describeTopicConfigs(broker, created).map((c) => ({
              name: c.name, value: c.value, readOnly: c.readOnly, configSource: c.source, isSensitive: false,
            }));
          } catch (err) {
            Object.assign(out, toErrorCode(err));
          }
        });
      } catch (err) {
        Object.assign(out, toErrorCode(err));
      }
    }
    // topics of one request are created side by side, so they share catalogue writes instead of one each
    await inParallel(creations, (create) => create());
    return { throttleTimeMs: mutations.throttleTimeMs, topics };
  },
};
