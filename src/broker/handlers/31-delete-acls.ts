// DeleteAcls (key 31), v0-3: removes the ACLs each filter selects, in one durable write, and answers each
// filter with what it removed. It needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED for each filter); a
// filter with an UNKNOWN in it gets INVALID_REQUEST and removes nothing. Without an authorizer, SECURITY_DISABLED.
import { ErrorCode } from '../../protocol/errors.js';
import type { DeleteAclsRequest, DeleteAclsResponse, DeleteAclsResponseDeleteAclsFilterResult } from '../../protocol/messages.generated.js';
import { AclOperation, invalidFilter, type AclFilter } from '../../protocol/acl.js';
import type { ApiHandler } from '../handler.js';
import { NO_AUTHORIZER, aclFilterOf, describeBinding, requireClusterAllowed } from './acls.js';
import { toErrorCode } from './errors.js';

export const deleteAcls: ApiHandler<DeleteAclsRequest, DeleteAclsResponse> = {
  apiKey: 31,
  minVersion: 0,
  maxVersion: 3,
  async handle({ broker, connection }, req) {
    const authorizer = broker.authorizer;
    const each = (errorCode: number, errorMessage: string) => ({ throttleTimeMs: 0, filterResults: req.filters.map(() => ({ errorCode, errorMessage, matchingAcls: [] })) });
    if (authorizer === null) return each(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER);
    try {
      requireClusterAllowed(broker, connection, AclOperation.ALTER);
    } catch (err) {
      const { errorCode, errorMessage } = toErrorCode(err);
      return each(errorCode, errorMessage);
    }
    const results: DeleteAclsResponseDeleteAclsFilterResult[] = [];
    const valid: { filter: AclFilter; result: DeleteAclsResponseDeleteAclsFilterResult }[] = [];
    for (const f of req.filters) {
      const filter = aclFilterOf(f);
      const invalid = invalidFilter(filter);
      const result: DeleteAclsResponseDeleteAclsFilterResult = { errorCode: invalid === null ? ErrorCode.NONE : ErrorCode.INVALID_REQUEST, errorMessage: invalid, matchingAcls: [] };
      results.push(result);
      if (invalid === null) valid.push({ filter, result });
    }
    try {
      const removed = await authorizer.delete(valid.map((v) => v.filter));
      valid.forEach(({ result }, i) => {
        result.matchingAcls = removed[i]!.map((b) => ({
          errorCode: ErrorCode.NONE, errorMessage: null, resourceType: b.resourceType, resourceName: b.resourceName, patternType: b.patternType,
          principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permission,
        }));
      });
      const gone = removed.flat();
      if (gone.length > 0) broker.logger.info({ by: connection.principal, acls: gone.map(describeBinding) }, 'ACLs deleted');
    } catch (err) {
      broker.logger.error({ err }, 'writing the ACL file failed: no ACL of the request was deleted');
      const failed = toErrorCode(err);
      for (const { result } of valid) Object.assign(result, failed);
    }
    return { throttleTimeMs: 0, filterResults: results };
  },
};
