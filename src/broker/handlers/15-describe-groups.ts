// DescribeGroups (key 15), v0-5: state, protocol and members (metadata; assignment once Stable).
// An unknown group is described as Dead with no error, as Kafka does. A group the client may not DESCRIBE gets
// GROUP_AUTHORIZATION_FAILED.
import type { DescribeGroupsRequest, DescribeGroupsResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import { ErrorCode } from '../../protocol/errors.js';
import { authorizedOperations, NOT_ASKED } from './acls.js';

export const describeGroups: ApiHandler<DescribeGroupsRequest, DescribeGroupsResponse> = {
  apiKey: 15,
  minVersion: 0,
  maxVersion: 5,
  handle({ broker, connection }, req) {
    return {
      throttleTimeMs: 0,
      groups: req.groups.map((id) => {
        if (!broker.allows(connection, AclOperation.DESCRIBE, ResourceType.GROUP, id)) {
          return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, groupId: id, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: NOT_ASKED };
        }
        const d = broker.groups.describe(id);
        return {
          errorCode: 0, groupId: id, groupState: d.state, protocolType: d.protocolType, protocolData: d.protocolName,
          members: d.members.map((m) => ({
            memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost,
            memberMetadata: m.metadata, memberAssignment: m.assignment,
          })),
          authorizedOperations: authorizedOperations(broker, connection, ResourceType.GROUP, id, req.includeAuthorizedOperations),
        };
      }),
    };
  },
};
