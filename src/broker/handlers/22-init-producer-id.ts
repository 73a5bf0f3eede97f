// InitProducerId (key 22), v0-5. Idempotent producers (no transactional id) get a fresh producer id, never
// reused across restarts, with epoch 0; a producer bumping its epoch (KIP-360, v3+) also gets a fresh id, as
// Kafka does for non-transactional producers. Transactional producers go to the transaction coordinator,
// which bumps the epoch of a known transactional id (fencing older instances) after aborting its open
// transaction. PRODUCER_FENCED from v4 (KIP-588).
import type { InitProducerIdRequest, InitProducerIdResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { fencedCode } from './fenced.js';

export const initProducerId: ApiHandler<InitProducerIdRequest, InitProducerIdResponse> = {
  apiKey: 22,
  minVersion: 0,
  maxVersion: 5,
  async handle({ broker, version }, req) {
    if (req.transactionalId) {
      const expected = { producerId: req.producerId ?? -1, producerEpoch: req.producerEpoch ?? -1 };
      const res = await broker.transactions.initProducerId(req.transactionalId, req.transactionTimeoutMs, expected, fencedCode(version, 4));
      return { throttleTimeMs: 0, ...res };
    }
    return { throttleTimeMs: 0, errorCode: 0, producerId: await broker.producerIds.nextId(), producerEpoch: 0 };
  },
};
