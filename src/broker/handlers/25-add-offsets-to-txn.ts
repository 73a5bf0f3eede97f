// AddOffsetsToTxn (key 25), v0-4: the transaction will commit consumer offsets of a group (sendOffsetsToTransaction
// sends this, then TxnOffsetCommit). PRODUCER_FENCED from v2.
import type { AddOffsetsToTxnRequest, AddOffsetsToTxnResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { fencedCode } from './fenced.js';

export const addOffsetsToTxn: ApiHandler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse> = {
  apiKey: 25,
  minVersion: 0,
  maxVersion: 4,
  async handle({ broker, version }, req) {
    const errorCode = await broker.transactions.addOffsetsGroup(req.transactionalId, req.producerId, req.producerEpoch, req.groupId, fencedCode(version, 2));
    return { throttleTimeMs: 0, errorCode };
  },
};
