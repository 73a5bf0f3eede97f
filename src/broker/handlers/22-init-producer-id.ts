// InitProducerId (key 22), v0-5. Idempotent producers (no transactional id) get a fresh producer id, never
// reused across restarts, with epoch 0; a producer bumping its epoch (KIP-360, v3+) also gets a fresh id, as
// Kafka does for non-transactional producers. Transactional producers go to the transaction coordinator,
// which bumps the epoch of a known transactional id (fencing older instances) after aborting its open
// transaction. PRODUCER_FENCED from v4 (KIP-588). A transactional producer needs WRITE on its transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); an idempotent one IDEMPOTENT_WRITE on the cluster or WRITE on some topic
// (KIP-679; CLUSTER_AUTHORIZATION_FAILED).
import { ErrorCode } from '../../protocol/errors.js';
import type { InitProducerIdRequest, InitProducerIdResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { fencedCode } from './fenced.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../../protocol/acl.js';

export const initProducerId: ApiHandler<InitProducerIdRequest, InitProducerIdResponse> = {
  apiKey: 22,
  minVersion: 0,
  maxVersion: 5,
  async handle({ broker, version, connection }, req) {
    const refused = (code: number) => ({ throttleTimeMs: 0, errorCode: code, producerId: -1, producerEpoch: -1 });
    if (req.transactionalId) {
      if (!broker.allows(connection, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) return refused(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      const expected = { producerId: req.producerId ?? -1, producerEpoch: req.producerEpoch ?? -1 };
      const res = await broker.transactions.initProducerId(req.transactionalId, req.transactionTimeoutMs, expected, fencedCode(version, 4));
      return { throttleTimeMs: 0, ...res };
    }
    const idempotent = broker.allows(connection, AclOperation.IDEMPOTENT_WRITE, ResourceType.CLUSTER, CLUSTER_NAME, false) || broker.allowsAny(connection, AclOperation.WRITE, ResourceType.TOPIC);
    if (!idempotent) {
      broker.logger.info({ principal: connection.principal, host: connection.host }, 'denied by ACLs: an idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic');
      return refused(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    }
    return { throttleTimeMs: 0, errorCode: 0, producerId: await broker.producerIds.nextId(), producerEpoch: 0 };
  },
};
