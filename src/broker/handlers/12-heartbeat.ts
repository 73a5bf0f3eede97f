// Heartbeat (key 12), v0-4: keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin. The client
// needs READ on the group (GROUP_AUTHORIZATION_FAILED).
import type { HeartbeatRequest, HeartbeatResponse } from '../../protocol/messages.generated.js';
import { ErrorCode } from '../../protocol/errors.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import type { ApiHandler } from '../handler.js';

export const heartbeat: ApiHandler<HeartbeatRequest, HeartbeatResponse> = {
  apiKey: 12,
  minVersion: 0,
  maxVersion: 4,
  handle({ broker, connection }, req) {
    if (!broker.allows(connection, AclOperation.READ, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED };
    return { throttleTimeMs: 0, errorCode: broker.groups.heartbeat({ ...req, groupInstanceId: req.groupInstanceId ?? null }) };
  },
};
