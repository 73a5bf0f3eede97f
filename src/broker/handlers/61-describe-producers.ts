// DescribeProducers (key 61), v0: the idempotent and transactional producers a partition holds state for (epoch,
// last sequence, last append time, where an open transaction begins), for operators looking for hanging
// transactions. UNKNOWN_TOPIC_OR_PARTITION per partition for ones that do not exist; the coordinator epoch of
// the last marker is not kept, so it is -1. It needs READ on the topic (TOPIC_AUTHORIZATION_FAILED).
import { ErrorCode } from '../../protocol/errors.js';
import type { DescribeProducersRequest, DescribeProducersResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';

export const describeProducers: ApiHandler<DescribeProducersRequest, DescribeProducersResponse> = {
  apiKey: 61,
  minVersion: 0,
  maxVersion: 0,
  handle({ broker, connection }, req) {
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => {
        const refused = !broker.allows(connection, AclOperation.READ, ResourceType.TOPIC, t.name);
        return {
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => {
          if (refused) return { partitionIndex, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: `not authorized to READ topic ${t.name}`, activeProducers: [] };
          const log = broker.logs.getLog(t.name, partitionIndex);
          if (!log) return { partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `unknown partition ${t.name}-${partitionIndex}`, activeProducers: [] };
          return {
            partitionIndex,
            errorCode: 0,
            errorMessage: null,
            activeProducers: log.producers.describe().map((p) => ({
              producerId: p.producerId,
              producerEpoch: p.epoch,
              lastSequence: p.lastSequence,
              lastTimestamp: p.lastTimestampMs,
              coordinatorEpoch: -1,
              currentTxnStartOffset: log.transactions.openTransactionStart(p.producerId),
            })),
          };
        }),
        };
      }),
    };
  },
};
