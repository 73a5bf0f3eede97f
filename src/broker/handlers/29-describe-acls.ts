// DescribeAcls (key 29), v0-3: SECURITY_DISABLED, no ACLs (see acls.ts).
import { ErrorCode } from '../../protocol/errors.js';
import type { DescribeAclsRequest, DescribeAclsResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { NO_AUTHORIZER } from './acls.js';

export const describeAcls: ApiHandler<DescribeAclsRequest, DescribeAclsResponse> = {
  apiKey: 29,
  minVersion: 0,
  maxVersion: 3,
  handle() {
    return { throttleTimeMs: 0, errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER, resources: [] };
  },
};
