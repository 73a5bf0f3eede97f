// FindCoordinator (key 10), v0-6. This broker coordinates every group and transactional id; v4+ answer a
// batch of keys. Group ids must be non-empty (INVALID_GROUP_ID). The client needs DESCRIBE on the group or the
// transactional id (else GROUP_ / TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
import { ErrorCode } from '../../protocol/errors.js';
import type { FindCoordinatorRequest, FindCoordinatorResponse } from '../../protocol/messages.generated.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import type { ApiHandler } from '../handler.js';
import { notAuthorized } from './acls.js';

const GROUP_KEY = 0;

export const findCoordinator: ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse> = {
  apiKey: 10,
  minVersion: 0,
  maxVersion: 6,
  handle({ broker, version, connection }, req) {
    const { host, port } = connection.listener.advertised;
    const nodeId = broker.config.nodeId;
    const group = (req.keyType ?? GROUP_KEY) === GROUP_KEY;
    const type = group ? ResourceType.GROUP : ResourceType.TRANSACTIONAL_ID;
    const answer = (key: string) => {
      const none = { key, nodeId: -1, host: '', port: -1 };
      if (group && key === '') return { ...none, errorCode: ErrorCode.INVALID_GROUP_ID, errorMessage: 'group id must not be empty' };
      if (!broker.allows(connection, AclOperation.DESCRIBE, type, key)) {
        const refusal = notAuthorized(AclOperation.DESCRIBE, type, key);
        return { ...none, errorCode: refusal.code, errorMessage: refusal.message };
      }
      return { key, nodeId, host, port, errorCode: 0, errorMessage: null };
    };
    if (version >= 4) return { throttleTimeMs: 0, coordinators: (req.coordinatorKeys ?? []).map(answer) };
    const one = answer(req.key ?? '');
    return { throttleTimeMs: 0, errorCode: one.errorCode, errorMessage: one.errorMessage, nodeId: one.nodeId, host: one.host, port: one.port };
  },
};
