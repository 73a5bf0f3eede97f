// SyncGroup (key 14), v0-5. The leader's assignments are stored as given and handed to each member once
// they are durable; v5 checks the protocol type and name against the group's.
import type { SyncGroupRequest, SyncGroupResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';

export const syncGroup: ApiHandler<SyncGroupRequest, SyncGroupResponse> = {
  apiKey: 14,
  minVersion: 0,
  maxVersion: 5,
  async handle({ broker }, req) {
    const r = await broker.groups.sync(
      { groupId: req.groupId, generationId: req.generationId, memberId: req.memberId, groupInstanceId: req.groupInstanceId ?? null },
      req.protocolType ?? null,
      req.protocolName ?? null,
      req.assignments,
    );
    return { throttleTimeMs: 0, errorCode: r.errorCode, protocolType: r.protocolType, protocolName: r.protocolName, assignment: r.assignment };
  },
};
