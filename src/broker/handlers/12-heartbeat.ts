// Heartbeat (key 12), v0-4: keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin.
import type { HeartbeatRequest, HeartbeatResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';

export const heartbeat: ApiHandler<HeartbeatRequest, HeartbeatResponse> = {
  apiKey: 12,
  minVersion: 0,
  maxVersion: 4,
  handle({ broker }, req) {
    return { throttleTimeMs: 0, errorCode: broker.groups.heartbeat({ ...req, groupInstanceId: req.groupInstanceId ?? null }) };
  },
};
