// DescribeTransactions (key 65), v0: the state of transactional ids, for operators (TRANSACTIONAL_ID_NOT_FOUND
// for unknown ones). It needs DESCRIBE on the transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); the
// transaction's partitions are listed only for topics the client may DESCRIBE.
import { ErrorCode } from '../../protocol/errors.js';
import type { DescribeTransactionsRequest, DescribeTransactionsResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';

export const describeTransactions: ApiHandler<DescribeTransactionsRequest, DescribeTransactionsResponse> = {
  apiKey: 65,
  minVersion: 0,
  maxVersion: 0,
  handle({ broker, connection }, req) {
    return {
      throttleTimeMs: 0,
      transactionStates: req.transactionalIds.map((transactionalId) => {
        const none = { transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1, topics: [] };
        if (!broker.allows(connection, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, transactionalId)) return { ...none, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED };
        const d = broker.transactions.describe(transactionalId);
        if (!d) return { ...none, errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND };
        return {
          errorCode: 0, transactionalId, transactionState: d.state, transactionTimeoutMs: d.timeoutMs, transactionStartTimeMs: d.startMs,
          producerId: d.producerId, producerEpoch: d.producerEpoch,
          topics: d.topics.filter((t) => broker.allows(connection, AclOperation.DESCRIBE, ResourceType.TOPIC, t.topic, false)),
        };
      }),
    };
  },
};
