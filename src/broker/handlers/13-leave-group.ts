// LeaveGroup (key 13), v0-5. v0-2 name one member; v3+ a batch, by member id or group.instance.id. The client
// needs READ on the group (GROUP_AUTHORIZATION_FAILED).
import type { LeaveGroupRequest, LeaveGroupResponse } from '../../protocol/messages.generated.js';
import { ErrorCode } from '../../protocol/errors.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import type { ApiHandler } from '../handler.js';

export const leaveGroup: ApiHandler<LeaveGroupRequest, LeaveGroupResponse> = {
  apiKey: 13,
  minVersion: 0,
  maxVersion: 5,
  handle({ broker, version, connection }, req) {
    if (!broker.allows(connection, AclOperation.READ, ResourceType.GROUP, req.groupId)) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, members: [] };
    const leaving = version >= 3
      ? (req.members ?? []).map((m) => ({ memberId: m.memberId ?? '', groupInstanceId: m.groupInstanceId ?? null }))
      : [{ memberId: req.memberId ?? '', groupInstanceId: null }];
    const res = broker.groups.leave(req.groupId, leaving);
    return { throttleTimeMs: 0, errorCode: version >= 3 ? 0 : res.errorCode, members: res.members };
  },
};
