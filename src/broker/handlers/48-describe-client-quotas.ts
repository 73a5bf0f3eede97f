// DescribeClientQuotas (key 48), v0-1: the client quotas whose entities the filter matches, with their values. A
// component matches an entity by name (exact), by its default (null name), or by any name the type has (specified);
// `strict` leaves out entities with parts the filter does not name; no component and not strict: every entity. A
// bad filter is INVALID_REQUEST, an unknown entity type UNSUPPORTED_VERSION, as Kafka answers. It needs
// DESCRIBE_CONFIGS on the cluster (CLUSTER_AUTHORIZATION_FAILED).
import type { DescribeClientQuotasRequest, DescribeClientQuotasResponse } from '../../protocol/messages.generated.js';
import { AclOperation } from '../../protocol/acl.js';
import type { ApiHandler } from '../handler.js';
import { entityParts } from '../client-quotas.js';
import { requireClusterAllowed } from './acls.js';
import { toErrorCode } from './errors.js';

export const describeClientQuotas: ApiHandler<DescribeClientQuotasRequest, DescribeClientQuotasResponse> = {
  apiKey: 48,
  minVersion: 0,
  maxVersion: 1,
  handle({ broker, connection }, req) {
    try {
      requireClusterAllowed(broker, connection, AclOperation.DESCRIBE_CONFIGS);
      const entries = broker.throttling.quotas.describe(req.components, req.strict).map(({ entity, values }) => ({
        entity: entityParts(entity),
        values: [...values].map(([key, value]) => ({ key, value })),
      }));
      return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, entries };
    } catch (err) {
      return { throttleTimeMs: 0, ...toErrorCode(err), entries: null };
    }
  },
};
