// DescribeAcls (key 29), v0-3: the ACLs the filter selects, grouped by resource pattern. v0 has no pattern type:
// its filter selects LITERAL patterns only. It needs DESCRIBE on the cluster (CLUSTER_AUTHORIZATION_FAILED); an
// UNKNOWN in the filter is INVALID_REQUEST. Without an authorizer, SECURITY_DISABLED, as Kafka answers.
import { ErrorCode } from '../../protocol/errors.js';
import type { DescribeAclsRequest, DescribeAclsResponse, DescribeAclsResponseDescribeAclsResource } from '../../protocol/messages.generated.js';
import { AclOperation, invalidFilter } from '../../protocol/acl.js';
import type { ApiHandler } from '../handler.js';
import { NO_AUTHORIZER, aclFilterOf, requireClusterAllowed } from './acls.js';
import { toErrorCode } from './errors.js';

export const describeAcls: ApiHandler<DescribeAclsRequest, DescribeAclsResponse> = {
  apiKey: 29,
  minVersion: 0,
  maxVersion: 3,
  handle({ broker, connection }, req) {
    const answer = (errorCode: number, errorMessage: string | null, resources: DescribeAclsResponseDescribeAclsResource[] = []) => ({ throttleTimeMs: 0, errorCode, errorMessage, resources });
    if (broker.authorizer === null) return answer(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER);
    try {
      requireClusterAllowed(broker, connection, AclOperation.DESCRIBE);
    } catch (err) {
      const { errorCode, errorMessage } = toErrorCode(err);
      return answer(errorCode, errorMessage);
    }
    const filter = aclFilterOf(req);
    const invalid = invalidFilter(filter);
    if (invalid !== null) return answer(ErrorCode.INVALID_REQUEST, invalid);
    const resources = new Map<string, DescribeAclsResponseDescribeAclsResource>();
    for (const b of broker.authorizer.list(filter)) {
      const key = `${b.resourceType}\0${b.patternType}\0${b.resourceName}`;
      let resource = resources.get(key);
      if (!resource) resources.set(key, (resource = { resourceType: b.resourceType, resourceName: b.resourceName, patternType: b.patternType, acls: [] }));
      resource.acls.push({ principal: b.principal, host: b.host, operation: b.operation, permissionType: b.permission });
    }
    return answer(ErrorCode.NONE, null, [...resources.values()]);
  },
};
