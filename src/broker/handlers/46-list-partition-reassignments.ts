// ListPartitionReassignments (key 46), v0: none is ever in progress (see AlterPartitionReassignments), so the
// list is empty, for every topic or the ones named.
import type { ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';

export const listPartitionReassignments: ApiHandler<ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse> = {
  apiKey: 46,
  minVersion: 0,
  maxVersion: 0,
  handle() {
    return { throttleTimeMs: 0, errorCode: 0, errorMessage: null, topics: [] };
  },
};
