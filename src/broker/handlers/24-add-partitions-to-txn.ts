// AddPartitionsToTxn (key 24), v0-5. A producer adds partitions to its open transaction before producing to
// them. v0-3 carry one transaction (clients); v4+ carry several and may only verify membership (the shape
// brokers use among themselves, KIP-890). Unknown partitions fail the request with UNKNOWN_TOPIC_OR_PARTITION
// and the rest get OPERATION_NOT_ATTEMPTED, as in Kafka. PRODUCER_FENCED from v2. v0-3 need WRITE on the
// transactional id (else every partition gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and on each topic (its
// partitions TOPIC_AUTHORIZATION_FAILED, the others OPERATION_NOT_ATTEMPTED); v4+ CLUSTER_ACTION on the cluster.
import type {
  AddPartitionsToTxnRequest,
  AddPartitionsToTxnRequestAddPartitionsToTxnTopic,
  AddPartitionsToTxnResponse,
  AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult,
} from '../../protocol/messages.generated.js';
import type { Broker } from '../broker.js';
import type { ApiHandler } from '../handler.js';
import { fencedCode } from './fenced.js';
import { ErrorCode } from '../../protocol/errors.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../../protocol/acl.js';
import type { Requester } from '../authorizer.js';

async function addAll(
  broker: Broker, who: Requester, version: number, transactionalId: string, producerId: number, producerEpoch: number, topics: AddPartitionsToTxnRequestAddPartitionsToTxnTopic[], verifyOnly: boolean,
): Promise<AddPartitionsToTxnResponseAddPartitionsToTxnTopicResult[]> {
  const all = (codeOf: (topic: string) => number) =>
    topics.map((t) => ({ name: t.name, resultsByPartition: t.partitions.map((partitionIndex) => ({ partitionIndex, partitionErrorCode: codeOf(t.name) })) }));
  if (!broker.allows(who, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, transactionalId)) return all(() => ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  const refused = new Set(topics.filter((t) => !broker.allows(who, AclOperation.WRITE, ResourceType.TOPIC, t.name)).map((t) => t.name));
  if (refused.size > 0) return all((topic) => (refused.has(topic) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.OPERATION_NOT_ATTEMPTED));
  const flat = topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition })));
  const errors = await broker.transactions.addPartitions(transactionalId, producerId, producerEpoch, flat, verifyOnly, fencedCode(version, 2));
  let i = 0;
  return topics.map((t) => ({ name: t.name, resultsByPartition: t.partitions.map((partitionIndex) => ({ partitionIndex, partitionErrorCode: errors[i++]! })) }));
}

export const addPartitionsToTxn: ApiHandler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse> = {
  apiKey: 24,
  minVersion: 0,
  maxVersion: 5,
  async handle({ broker, version, connection }, req) {
    if (version <= 3) {
      const results = await addAll(broker, connection, version, req.v3AndBelowTransactionalId ?? '', req.v3AndBelowProducerId ?? -1, req.v3AndBelowProducerEpoch ?? -1, req.v3AndBelowTopics ?? [], false);
      return { throttleTimeMs: 0, resultsByTopicV3AndBelow: results };
    }
    if (!broker.allows(connection, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, resultsByTransaction: [] };
    }
    const resultsByTransaction = await Promise.all(
      (req.transactions ?? []).map(async (t) => ({
        transactionalId: t.transactionalId ?? '',
        topicResults: await addAll(broker, connection, version, t.transactionalId ?? '', t.producerId ?? -1, t.producerEpoch ?? -1, t.topics ?? [], t.verifyOnly ?? false),
      })),
    );
    return { throttleTimeMs: 0, errorCode: 0, resultsByTransaction };
  },
};
