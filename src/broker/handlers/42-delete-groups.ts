// DeleteGroups (key 42), v0-2: Empty groups only (NON_EMPTY_GROUP otherwise, GROUP_ID_NOT_FOUND if unknown). It
// needs DELETE on the group (GROUP_AUTHORIZATION_FAILED).
import type { DeleteGroupsRequest, DeleteGroupsResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { toErrorCode } from './errors.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import { requireAllowed } from './acls.js';

export const deleteGroups: ApiHandler<DeleteGroupsRequest, DeleteGroupsResponse> = {
  apiKey: 42,
  minVersion: 0,
  maxVersion: 2,
  async handle({ broker, connection }, req) {
    const results = [];
    for (const groupId of req.groupsNames) {
      let errorCode: number;
      try {
        requireAllowed(broker, connection, AclOperation.DELETE, ResourceType.GROUP, groupId);
        errorCode = await broker.groups.deleteGroup(groupId);
      } catch (err) {
        errorCode = toErrorCode(err).errorCode;
      }
      results.push({ groupId, errorCode });
    }
    return { throttleTimeMs: 0, results };
  },
};
