// CreateAcls (key 30), v0-3: SECURITY_DISABLED for each creation, nothing kept (see acls.ts).
import { ErrorCode } from '../../protocol/errors.js';
import type { CreateAclsRequest, CreateAclsResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { NO_AUTHORIZER } from './acls.js';

export const createAcls: ApiHandler<CreateAclsRequest, CreateAclsResponse> = {
  apiKey: 30,
  minVersion: 0,
  maxVersion: 3,
  handle(_ctx, req) {
    return { throttleTimeMs: 0, results: req.creations.map(() => ({ errorCode: ErrorCode.SECURITY_DISABLED, errorMessage: NO_AUTHORIZER })) };
  },
};
