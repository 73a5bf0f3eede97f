// Metadata (key 3), v0-12. Single node: this broker leads every partition with leader epoch 0. Auto-creates
// requested topics when the broker allows it and (v4+) the request does. v0's empty topic list means all.
// Authorization: a topic the client may not DESCRIBE is left out of a listing of all, and answers
// TOPIC_AUTHORIZATION_FAILED when named; so does one it would auto-create without CREATE (on the cluster or the topic).
import { isInternalTopic } from '../../coordinator/internal-topic.js';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { MetadataRequest, MetadataResponse, MetadataResponseMetadataResponseTopic } from '../../protocol/messages.generated.js';
import type { TopicState } from '../../storage/log-manager.js';
import type { ApiHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import { authorizedOperations, clusterOperations, mayCreateTopic } from './acls.js';
import { toErrorCode } from './errors.js';

const NULL_TOPIC_ID = '00000000000000000000000000000000';

export const metadata: ApiHandler<MetadataRequest, MetadataResponse> = {
  apiKey: 3,
  minVersion: 0,
  maxVersion: 12,
  async handle({ broker, version, connection }, req) {
    const nodeId = broker.config.nodeId;
    const described = (name: string, logDenied: boolean) => broker.allows(connection, AclOperation.DESCRIBE, ResourceType.TOPIC, name, logDenied);
    const describe = (t: TopicState): MetadataResponseMetadataResponseTopic => ({
      // a topic whose creation is not durable yet has no partitions to serve: clients retry, as with Kafka
      errorCode: t.partitions.length === 0 ? ErrorCode.LEADER_NOT_AVAILABLE : 0,
      name: t.name,
      topicId: t.id,
      isInternal: isInternalTopic(t.name),
      partitions: t.partitions.map((_, i) => ({
        errorCode: 0, partitionIndex: i, leaderId: nodeId, leaderEpoch: 0, replicaNodes: [nodeId], isrNodes: [nodeId], offlineReplicas: [],
      })),
      topicAuthorizedOperations: authorizedOperations(broker, connection, ResourceType.TOPIC, t.name, req.includeTopicAuthorizedOperations),
    });
    const refused = (name: string | null, topicId: string): MetadataResponseMetadataResponseTopic => ({
      errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, name, topicId, isInternal: false, partitions: [],
    });
    const allTopics = req.topics === null || (version === 0 && req.topics.length === 0);
    const topics: MetadataResponseMetadataResponseTopic[] = [];
    if (allTopics) {
      for (const t of broker.logs.topics.values()) if (described(t.name, false)) topics.push(describe(t));
    } else {
      const allowAuto = version < 4 || req.allowAutoTopicCreation !== false;
      for (const wanted of req.topics!) {
        let name = wanted.name;
        if (name === null && wanted.topicId && wanted.topicId !== NULL_TOPIC_ID) name = broker.topicById(wanted.topicId)?.name ?? null;
        if (name === null) {
          topics.push({ errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, topicId: wanted.topicId ?? NULL_TOPIC_ID, isInternal: false, partitions: [] });
          continue;
        }
        if (!described(name, true)) {
          // asked for by id: its name is not told
          topics.push(wanted.name === null ? refused(null, wanted.topicId ?? NULL_TOPIC_ID) : refused(name, NULL_TOPIC_ID));
          continue;
        }
        if (allowAuto && !broker.logs.topics.has(name) && broker.config.autoCreateTopics && !mayCreateTopic(broker, connection, name)) {
          topics.push(refused(name, NULL_TOPIC_ID));
          continue;
        }
        try {
          const t = await broker.topicOrAutoCreate(name, allowAuto);
          if (!t) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic ${name}`);
          topics.push(describe(t));
        } catch (err) {
          topics.push({ errorCode: toErrorCode(err).errorCode, name, topicId: NULL_TOPIC_ID, isInternal: false, partitions: [] });
        }
      }
    }
    const { host, port } = connection.listener.advertised;
    return {
      throttleTimeMs: 0,
      brokers: [{ nodeId, host, port, rack: null }],
      clusterId: broker.clusterId,
      controllerId: nodeId,
      topics,
      clusterAuthorizedOperations: clusterOperations(broker, connection, req.includeClusterAuthorizedOperations),
    };
  },
};
