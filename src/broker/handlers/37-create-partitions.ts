// CreatePartitions (key 37), v0-3. Grows a topic's partition count; assignments may only name this broker.
// Internal topics keep theirs (INVALID_TOPIC_EXCEPTION): their entities are placed by it. It needs ALTER on the
// topic (TOPIC_AUTHORIZATION_FAILED). The partitions added count toward the client's controller_mutation_rate: from
// v3 a topic that comes once the quota is spent gets THROTTLING_QUOTA_EXCEEDED, before v3 the client waits afterwards.
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { CreatePartitionsRequest, CreatePartitionsResponse } from '../../protocol/messages.generated.js';
import { refuseInternalTopicChange } from '../../coordinator/internal-topic.js';
import type { ApiHandler } from '../handler.js';
import { refuseMutations, toErrorCode } from './errors.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import { requireAllowed } from './acls.js';

export const createPartitions: ApiHandler<CreatePartitionsRequest, CreatePartitionsResponse> = {
  apiKey: 37,
  minVersion: 0,
  maxVersion: 3,
  async handle({ broker, version, connection }, req) {
    const mutations = broker.throttling.mutationsFor(connection, version >= 3);
    const results = [];
    for (const t of req.topics) {
      const out = { name: t.name, errorCode: 0, errorMessage: null as string | null };
      results.push(out);
      try {
        requireAllowed(broker, connection, AclOperation.ALTER, ResourceType.TOPIC, t.name);
        const topic = broker.logs.requireTopic(t.name);
        refuseInternalTopicChange(t.name, 'add partitions to');
        if (t.count <= topic.partitions.length) {
          throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `topic ${t.name} has ${topic.partitions.length} partitions; the new count must be larger, got ${t.count}`);
        }
        const added = t.count - topic.partitions.length;
        if (t.assignments && (t.assignments.length !== added || t.assignments.some((a) => a.brokerIds.length !== 1 || a.brokerIds[0] !== broker.config.nodeId))) {
          throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `assignments must give broker ${broker.config.nodeId} for each of the ${added} new partitions`);
        }
        if (req.validateOnly) continue;
        if (!mutations.take(added)) throw refuseMutations();
        await broker.logs.createPartitions(t.name, t.count);
      } catch (err) {
        Object.assign(out, toErrorCode(err));
      }
    }
    return { throttleTimeMs: mutations.throttleTimeMs, results };
  },
};
