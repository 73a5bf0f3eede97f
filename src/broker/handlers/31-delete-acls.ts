// DeleteAcls (key 31), v0-3: SECURITY_DISABLED for each filter, nothing matched (see acls.ts).
import { ErrorCode } from '../../protocol/errors.js';
import type { DeleteAclsRequest, DeleteAclsResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { NO_AUTHORIZER } from './acls.js';

export const deleteAcls: ApiHandler<DeleteAclsRequest, DeleteAclsResponse> = {
  apiKey: 31,
  minVersion: 0,
  maxVersion: 3,
  handle(_ctx, req) {
    return { throttleTimeMs: 0, filterResults: req.filters.map(() => ({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER, matchingAcls: [] })) };
  },
};
