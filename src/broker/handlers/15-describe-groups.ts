// DescribeGroups (key 15), v0-5: state, protocol and members (metadata; assignment once Stable).
// An unknown group is described as Dead with no error, as Kafka does.
import type { DescribeGroupsRequest, DescribeGroupsResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { authorizedOperations } from './acls.js';

export const describeGroups: ApiHandler<DescribeGroupsRequest, DescribeGroupsResponse> = {
  apiKey: 15,
  minVersion: 0,
  maxVersion: 5,
  handle({ broker }, req) {
    return {
      throttleTimeMs: 0,
      groups: req.groups.map((id) => {
        const d = broker.groups.describe(id);
        return {
          errorCode: 0, groupId: id, groupState: d.state, protocolType: d.protocolType, protocolData: d.protocolName,
          members: d.members.map((m) => ({
            memberId: m.memberId, groupInstanceId: m.groupInstanceId, clientId: m.clientId, clientHost: m.clientHost,
            memberMetadata: m.metadata, memberAssignment: m.assignment,
          })),
          authorizedOperations: authorizedOperations.group(req.includeAuthorizedOperations),
        };
      }),
    };
  },
};
