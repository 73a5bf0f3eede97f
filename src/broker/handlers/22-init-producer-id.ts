// InitProducerId (key 22), v0-5. Idempotent producers (no transactional id) get a fresh producer id, never
// reused across restarts, with epoch 0; a producer bumping its epoch (KIP-360, v3+) also gets a fresh id,
// as Kafka does for non-transactional producers. Transactional ids are not supported yet: UNSUPPORTED_VERSION.
import { ErrorCode } from '../../protocol/errors.js';
import type { InitProducerIdRequest, InitProducerIdResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';

export const initProducerId: ApiHandler<InitProducerIdRequest, InitProducerIdResponse> = {
  apiKey: 22,
  minVersion: 0,
  maxVersion: 5,
  async handle({ broker }, req) {
    if (req.transactionalId) {
      broker.logger.warn({ transactionalId: req.transactionalId }, 'transactional producers are not supported yet');
      return { throttleTimeMs: 0, errorCode: ErrorCode.UNSUPPORTED_VERSION, producerId: -1, producerEpoch: -1 };
    }
    return { throttleTimeMs: 0, errorCode: 0, producerId: await broker.producerIds.nextId(), producerEpoch: 0 };
  },
};
