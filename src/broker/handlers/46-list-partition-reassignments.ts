// ListPartitionReassignments (key 46), v0: none is ever in progress (see AlterPartitionReassignments), so the
// list is empty, for every topic or the ones named. It needs DESCRIBE on the cluster (CLUSTER_AUTHORIZATION_FAILED).
import type { ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse } from '../../protocol/messages.generated.js';
import { ErrorCode } from '../../protocol/errors.js';
import type { ApiHandler } from '../handler.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../../protocol/acl.js';

export const listPartitionReassignments: ApiHandler<ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse> = {
  apiKey: 46,
  minVersion: 0,
  maxVersion: 0,
  handle({ broker, connection }) {
    if (!broker.allows(connection, AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'not authorized to DESCRIBE the cluster', topics: [] };
    }
    return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, topics: [] };
  },
};
