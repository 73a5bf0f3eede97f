// SyncGroup (key 14), v0-5. The leader's assignments are stored as given and handed to each member once
// they are durable; v5 checks the protocol type and name against the group's. The client needs READ on the group
// (GROUP_AUTHORIZATION_FAILED).
import type { SyncGroupRequest, SyncGroupResponse } from '../../protocol/messages.generated.js';
import { ErrorCode } from '../../protocol/errors.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import type { ApiHandler } from '../handler.js';

export const syncGroup: ApiHandler<SyncGroupRequest, SyncGroupResponse> = {
  apiKey: 14,
  minVersion: 0,
  maxVersion: 5,
  async handle({ broker, connection }, req) {
    if (!broker.allows(connection, AclOperation.READ, ResourceType.GROUP, req.groupId)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, protocolType: null, protocolName: null, assignment: Buffer.alloc(0) };
    }
    const r = await broker.groups.sync(
      { groupId: req.groupId, generationId: req.generationId, memberId: req.memberId, groupInstanceId: req.groupInstanceId ?? null },
      req.protocolType ?? null,
      req.protocolName ?? null,
      req.assignments,
    );
    return { throttleTimeMs: 0, errorCode: r.errorCode, protocolType: r.protocolType, protocolName: r.protocolName, assignment: r.assignment };
  },
};
