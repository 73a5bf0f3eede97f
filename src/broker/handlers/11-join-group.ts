// JoinGroup (key 11), v0-9. Behavior: see GroupCoordinator.join. v4+ new dynamic members first get
// MEMBER_ID_REQUIRED with their member id; v5+ carry group.instance.id (static membership); v0 has no
// rebalance timeout (the session timeout stands in). The client needs READ on the group (GROUP_AUTHORIZATION_FAILED).
import type { JoinGroupRequest, JoinGroupResponse } from '../../protocol/messages.generated.js';
import { ErrorCode } from '../../protocol/errors.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import type { ApiHandler } from '../handler.js';

export const joinGroup: ApiHandler<JoinGroupRequest, JoinGroupResponse> = {
  apiKey: 11,
  minVersion: 0,
  maxVersion: 9,
  async handle({ broker, version, header, connection }, req) {
    if (!broker.allows(connection, AclOperation.READ, ResourceType.GROUP, req.groupId)) {
      return {
        throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, generationId: -1, protocolType: null, protocolName: version >= 7 ? null : '',
        leader: '', skipAssignment: false, memberId: req.memberId, members: [],
      };
    }
    const r = await broker.groups.join({
      groupId: req.groupId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId ?? null,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: version >= 1 ? req.rebalanceTimeoutMs! : req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols,
      clientId: header.clientId ?? '',
      clientHost: connection.remoteHost,
      requireKnownMemberId: version >= 4,
    });
    return {
      throttleTimeMs: 0, errorCode: r.errorCode, generationId: r.generationId, protocolType: r.protocolType,
      protocolName: version >= 7 ? r.protocolName : r.protocolName ?? '', leader: r.leader, skipAssignment: false,
      memberId: r.memberId, members: r.members,
    };
  },
};
