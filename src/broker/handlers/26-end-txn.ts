// EndTxn (key 26), v0-4: commit or abort. Answered once the outcome is durable and the markers are written
// (a retry of a finished end succeeds). v5 belongs to transactions v2 (KIP-890), whose feature flag Sluice
// does not advertise, so clients never send it. PRODUCER_FENCED from v2. It needs WRITE on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
import type { EndTxnRequest, EndTxnResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { fencedCode } from './fenced.js';
import { ErrorCode } from '../../protocol/errors.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';

export const endTxn: ApiHandler<EndTxnRequest, EndTxnResponse> = {
  apiKey: 26,
  minVersion: 0,
  maxVersion: 4,
  async handle({ broker, version, connection }, req) {
    if (!broker.allows(connection, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED };
    const errorCode = await broker.transactions.endTransaction(req.transactionalId, req.producerId, req.producerEpoch, req.committed, fencedCode(version, 2));
    return { throttleTimeMs: 0, errorCode };
  },
};
