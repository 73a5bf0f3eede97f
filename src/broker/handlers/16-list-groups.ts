// ListGroups (key 16), v0-5: v4 filters by state, v5 by type ("classic" or "consumer", KIP-848). A client that
// may not DESCRIBE the cluster sees the groups it may DESCRIBE.
import type { ListGroupsRequest, ListGroupsResponse } from '../../protocol/messages.generated.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../../protocol/acl.js';
import type { ApiHandler } from '../handler.js';

export const listGroups: ApiHandler<ListGroupsRequest, ListGroupsResponse> = {
  apiKey: 16,
  minVersion: 0,
  maxVersion: 5,
  handle({ broker, connection }, req) {
    const all = broker.allows(connection, AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME, false);
    const groups = broker.groups.list(req.statesFilter ?? [], req.typesFilter ?? [])
      .filter((g) => all || broker.allows(connection, AclOperation.DESCRIBE, ResourceType.GROUP, g.groupId, false));
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      groups: groups.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: g.type })),
    };
  },
};
