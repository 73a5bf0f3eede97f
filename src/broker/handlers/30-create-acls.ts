// CreateAcls (key 30), v0-3: adds ACLs (v0 has no pattern type: LITERAL), all of a request's valid ones in one
// durable write; one already there is kept once. It needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED for
// each); a binding Kafka would refuse (an ANY or UNKNOWN in it, an operation its resource type lacks, a principal
// not Type:name) gets INVALID_REQUEST and the others are still created. Without an authorizer, SECURITY_DISABLED.
import { ErrorCode } from '../../protocol/errors.js';
import type { CreateAclsRequest, CreateAclsResponse, CreateAclsResponseAclCreationResult } from '../../protocol/messages.generated.js';
import { AclOperation, PatternType, invalidBinding, type AclBinding } from '../../protocol/acl.js';
import type { ApiHandler } from '../handler.js';
import { NO_AUTHORIZER, describeBinding, requireClusterAllowed } from './acls.js';
import { toErrorCode } from './errors.js';

export const createAcls: ApiHandler<CreateAclsRequest, CreateAclsResponse> = {
  apiKey: 30,
  minVersion: 0,
  maxVersion: 3,
  async handle({ broker, connection }, req) {
    const authorizer = broker.authorizer;
    const each = (result: CreateAclsResponseAclCreationResult) => ({ throttleTimeMs: 0, results: req.creations.map(() => ({ ...result })) });
    if (authorizer === null) return each({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER });
    try {
      requireClusterAllowed(broker, connection, AclOperation.ALTER);
    } catch (err) {
      return each(toErrorCode(err));
    }
    const results: CreateAclsResponseAclCreationResult[] = [];
    const valid: AclBinding[] = [];
    for (const c of req.creations) {
      const binding: AclBinding = {
        resourceType: c.resourceType, resourceName: c.resourceName, patternType: c.resourcePatternType ?? PatternType.LITERAL,
        principal: c.principal, host: c.host, operation: c.operation, permission: c.permissionType,
      };
      const invalid = invalidBinding(binding);
      results.push(invalid === null ? { errorCode: ErrorCode.NONE, errorMessage: null } : { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: invalid });
      if (invalid === null) valid.push(binding);
    }
    try {
      await authorizer.create(valid);
      if (valid.length > 0) broker.logger.info({ by: connection.principal, acls: valid.map(describeBinding) }, 'ACLs created');
    } catch (err) {
      broker.logger.error({ err }, 'writing the ACL file failed: no ACL of the request was created');
      const failed = toErrorCode(err);
      for (const r of results) if (r.errorCode === ErrorCode.NONE) Object.assign(r, failed);
    }
    return { throttleTimeMs: 0, results };
  },
};
