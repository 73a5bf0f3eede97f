// DescribeTransactions (key 65), v0: the state of transactional ids, for operators (TRANSACTIONAL_ID_NOT_FOUND
// for unknown ones).
import { ErrorCode } from '../../protocol/errors.js';
import type { DescribeTransactionsRequest, DescribeTransactionsResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';

export const describeTransactions: ApiHandler<DescribeTransactionsRequest, DescribeTransactionsResponse> = {
  apiKey: 65,
  minVersion: 0,
  maxVersion: 0,
  handle({ broker }, req) {
    return {
      throttleTimeMs: 0,
      transactionStates: req.transactionalIds.map((transactionalId) => {
        const d = broker.transactions.describe(transactionalId);
        if (!d) {
          return { errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1, producerId: -1, producerEpoch: -1, topics: [] };
        }
        return {
          errorCode: 0, transactionalId, transactionState: d.state, transactionTimeoutMs: d.timeoutMs, transactionStartTimeMs: d.startMs,
          producerId: d.producerId, producerEpoch: d.producerEpoch, topics: d.topics,
        };
      }),
    };
  },
};
