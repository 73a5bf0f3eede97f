// AddOffsetsToTxn (key 25), v0-4: the transaction will commit consumer offsets of a group (sendOffsetsToTransaction
// sends this, then TxnOffsetCommit). PRODUCER_FENCED from v2. It needs WRITE on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and READ on the group (GROUP_AUTHORIZATION_FAILED).
import type { AddOffsetsToTxnRequest, AddOffsetsToTxnResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { fencedCode } from './fenced.js';
import { ErrorCode } from '../../protocol/errors.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';

export const addOffsetsToTxn: ApiHandler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse> = {
  apiKey: 25,
  minVersion: 0,
  maxVersion: 4,
  async handle({ broker, version, connection }, req) {
    if (!broker.allows(connection, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED };
    if (!broker.allows(connection, AclOperation.READ, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED };
    const errorCode = await broker.transactions.addOffsetsGroup(req.transactionalId, req.producerId, req.producerEpoch, req.groupId, fencedCode(version, 2));
    return { throttleTimeMs: 0, errorCode };
  },
};
