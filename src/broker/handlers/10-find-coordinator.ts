// FindCoordinator (key 10), v0-6. This broker coordinates every group and transactional id; v4+ answer a
// batch of keys. Group ids must be non-empty (INVALID_GROUP_ID).
import { ErrorCode } from '../../protocol/errors.js';
import type { FindCoordinatorRequest, FindCoordinatorResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';

const GROUP_KEY = 0;

export const findCoordinator: ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse> = {
  apiKey: 10,
  minVersion: 0,
  maxVersion: 6,
  handle({ broker, version }, req) {
    const { host, port } = broker.advertised;
    const nodeId = broker.config.nodeId;
    const answer = (key: string) => {
      const invalid = (req.keyType ?? GROUP_KEY) === GROUP_KEY && key === '';
      return invalid
        ? { key, nodeId: -1, host: '', port: -1, errorCode: ErrorCode.INVALID_GROUP_ID, errorMessage: 'group id must not be empty' }
        : { key, nodeId, host, port, errorCode: 0, errorMessage: null };
    };
    if (version >= 4) return { throttleTimeMs: 0, coordinators: (req.coordinatorKeys ?? []).map(answer) };
    const one = answer(req.key ?? '');
    return { throttleTimeMs: 0, errorCode: one.errorCode, errorMessage: one.errorMessage, nodeId: one.nodeId, host: one.host, port: one.port };
  },
};
