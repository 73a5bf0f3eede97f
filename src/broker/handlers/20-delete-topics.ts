// DeleteTopics (key 20), v0-6. Removes the topic's files at once, and the committed offsets of it; v6 may name topics by
// id. Internal topics get INVALID_TOPIC_EXCEPTION. Deleting needs DELETE on the topic (TOPIC_AUTHORIZATION_FAILED,
// also for a name that does not exist, which a client without the right is not told). The partitions deleted count
// toward the client's controller_mutation_rate: from v5 a topic that comes once the quota is spent gets
// THROTTLING_QUOTA_EXCEEDED, before v5 the client waits afterwards. With delete.topic.enable=false every topic that
// exists gets TOPIC_DELETION_DISABLED, as Kafka answers.
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { DeleteTopicsRequest, DeleteTopicsResponse, DeleteTopicsResponseDeletableTopicResult } from '../../protocol/messages.generated.js';
import { isInternalTopic, refuseInternalTopicChange } from '../../coordinator/internal-topic.js';
import { inParallel } from '../../storage/in-parallel.js';
import type { ApiHandler } from '../handler.js';
import { refuseMutations, toErrorCode } from './errors.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import { notAuthorized } from './acls.js';

const NULL_ID = '00000000000000000000000000000000';

export const deleteTopics: ApiHandler<DeleteTopicsRequest, DeleteTopicsResponse> = {
  apiKey: 20,
  minVersion: 0,
  maxVersion: 6,
  async handle({ broker, version, connection }, req) {
    const mutations = broker.throttling.mutationsFor(connection, version >= 5);
    const wanted = version >= 6 ? (req.topics ?? []) : (req.topicNames ?? []).map((name) => ({ name, topicId: NULL_ID }));
    const responses: DeleteTopicsResponseDeletableTopicResult[] = [];
    const deletions: (() => Promise<void>)[] = [];
    for (const w of wanted) {
      const byId = !w.name && w.topicId && w.topicId !== NULL_ID;
      const topic = byId ? broker.topicById(w.topicId!) : broker.logs.topics.get(w.name ?? '');
      const out: DeleteTopicsResponseDeletableTopicResult = { name: topic?.name ?? w.name ?? null, topicId: topic?.id ?? w.topicId ?? NULL_ID, errorCode: 0, errorMessage: null };
      responses.push(out);
      if (out.name !== null && !broker.allows(connection, AclOperation.DELETE, ResourceType.TOPIC, out.name)) {
        Object.assign(out, toErrorCode(notAuthorized(AclOperation.DELETE, ResourceType.TOPIC, out.name)));
        continue;
      }
      if (!topic) {
        Object.assign(out, toErrorCode(new KafkaError(byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic ${w.name ?? w.topicId}`)));
        continue;
      }
      if (!broker.config.deleteTopicEnable) {
        Object.assign(out, toErrorCode(new KafkaError(ErrorCode.TOPIC_DELETION_DISABLED, 'Topic deletion is disabled (delete.topic.enable=false)')));
        continue;
      }
      if (!isInternalTopic(topic.name) && !mutations.take(topic.partitions.length)) {
        Object.assign(out, toErrorCode(refuseMutations()));
        continue;
      }
      deletions.push(async () => {
        try {
          refuseInternalTopicChange(topic.name, 'delete');
          await broker.logs.deleteTopic(topic.name);
          broker.metrics.forgetTopic(topic.name);
          broker.logger.info({ topic: topic.name }, 'topic deleted');
        } catch (err) {
          Object.assign(out, toErrorCode(err));
        }
      });
    }
    // side by side, so they share catalogue writes instead of one each
    await inParallel(deletions, (remove) => remove());
    if (responses.some((r) => r.errorCode === ErrorCode.NONE)) {
      await broker.groups.forgetDeletedTopics().then(
        (n) => n > 0 && broker.logger.info({ offsets: n }, 'committed offsets of deleted topics deleted'),
        (err) => broker.logger.error({ err }, 'deleting the committed offsets of deleted topics failed (retried at the next deletion or start)'),
      );
      await broker.transactions.forgetDeletedTopics().then(
        (n) => n > 0 && broker.logger.info({ offsets: n }, 'offsets open transactions hold for deleted topics dropped'),
        (err) => broker.logger.error({ err }, 'dropping the offsets open transactions hold for deleted topics failed (retried at the next deletion or start)'),
      );
    }
    return { throttleTimeMs: mutations.throttleTimeMs, responses };
  },
};
