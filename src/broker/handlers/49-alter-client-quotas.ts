// AlterClientQuotas (key 49), v0-1: sets or removes client quotas. An entity is a user, a client id, both, or an
// address (ip), each by name or as the default (a null name). Keys: producer_byte_rate, consumer_byte_rate,
// request_percentage and controller_mutation_rate for users and client ids, connection_creation_rate for addresses;
// values positive, whole for the byte and connection rates. Each entity's changes apply all or none (its error:
// INVALID_REQUEST with the reason); those that pass are written to the data dir's client-quotas.json before the
// answer, and apply to the next request of every client they cover. validate_only checks without applying. It needs
// ALTER_CONFIGS on the cluster (CLUSTER_AUTHORIZATION_FAILED for every entity).
import type { AlterClientQuotasRequest, AlterClientQuotasResponse } from '../../protocol/messages.generated.js';
import { AclOperation } from '../../protocol/acl.js';
import type { ApiHandler } from '../handler.js';
import { requireClusterAllowed } from './acls.js';
import { toErrorCode } from './errors.js';

export const alterClientQuotas: ApiHandler<AlterClientQuotasRequest, AlterClientQuotasResponse> = {
  apiKey: 49,
  minVersion: 0,
  maxVersion: 1,
  async handle({ broker, connection }, req) {
    const answer = (errorOf: (i: number) => { errorCode: number; errorMessage: string | null }) => ({
      throttleTimeMs: 0,
      entries: req.entries.map((e, i) => ({ ...errorOf(i), entity: e.entity.map((p) => ({ entityType: p.entityType, entityName: p.entityName ?? null })) })),
    });
    try {
      requireClusterAllowed(broker, connection, AclOperation.ALTER_CONFIGS);
    } catch (err) {
      return answer(() => toErrorCode(err));
    }
    try {
      const results = await broker.throttling.quotas.alter(req.entries, req.validateOnly);
      if (!req.validateOnly && results.some((r) => r === null)) {
        broker.logger.info({ principal: connection.principal, entities: req.entries.filter((_, i) => results[i] === null).map((e) => e.entity) }, 'client quotas changed');
      }
      return answer((i) => (results[i] === null ? { errorCode: 0, errorMessage: null } : toErrorCode(results[i])));
    } catch (err) {
      // the quotas file could not be written: nothing changed
      return answer(() => toErrorCode(err));
    }
  },
};
