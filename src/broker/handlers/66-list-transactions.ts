// ListTransactions (key 66), v0-1: transactional ids filtered by state and producer id, and (v1) by how long
// their transaction has been open. State filters that name no state come back in unknown_state_filters. Only
// transactional ids the client may DESCRIBE are listed.
import { TXN_STATES } from '../../coordinator/transaction-coordinator.js';
import type { ListTransactionsRequest, ListTransactionsResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';

const KNOWN = new Set<string>(TXN_STATES);

export const listTransactions: ApiHandler<ListTransactionsRequest, ListTransactionsResponse> = {
  apiKey: 66,
  minVersion: 0,
  maxVersion: 1,
  handle({ broker, connection }, req) {
    const unknownStateFilters = req.stateFilters.filter((s) => !KNOWN.has(s));
    const states = req.stateFilters.filter((s) => KNOWN.has(s));
    const transactionStates =
      unknownStateFilters.length > 0 && states.length === 0
        ? []
        : broker.transactions.list(states, req.producerIdFilters, req.durationFilter ?? -1)
          .filter((t) => broker.allows(connection, AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, t.transactionalId, false))
          .map((t) => ({ transactionalId: t.transactionalId, producerId: t.producerId, transactionState: t.state }));
    return { throttleTimeMs: 0, errorCode: 0, unknownStateFilters, transactionStates };
  },
};
