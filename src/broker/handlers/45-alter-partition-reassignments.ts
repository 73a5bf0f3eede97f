// AlterPartitionReassignments (key 45), v0. One broker holds every replica, so the only valid target is that broker
// alone, which is where each partition already is: accepted, with nothing to move. Any other broker id, an empty
// or repeated list is INVALID_REPLICA_ASSIGNMENT; a cancellation (null replicas) is NO_REASSIGNMENT_IN_PROGRESS.
// It needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED).
import { ErrorCode } from '../../protocol/errors.js';
import type { AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse } from '../../protocol/messages.generated.js';
import type { Broker } from '../broker.js';
import type { ApiHandler } from '../handler.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../../protocol/acl.js';

function outcome(broker: Broker, topic: string, partition: number, replicas: number[] | null | undefined): { errorCode: number; errorMessage: string | null } {
  const fail = (errorCode: number, errorMessage: string) => ({ errorCode, errorMessage });
  const name = `${topic}-${partition}`;
  if (!broker.logs.getLog(topic, partition)) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown partition ${name}`);
  if (!replicas) return fail(ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, `no reassignment of ${name} is in progress`);
  if (replicas.length === 0) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `the replica list for ${name} is empty`);
  if (new Set(replicas).size !== replicas.length) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `the replica list for ${name} names a broker twice`);
  const { nodeId } = broker.config;
  const unknown = replicas.find((id) => id !== nodeId);
  if (unknown !== undefined) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `broker ${unknown} does not exist: this cluster is broker ${nodeId} alone`);
  return { errorCode: 0, errorMessage: null };
}

export const alterPartitionReassignments: ApiHandler<AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse> = {
  apiKey: 45,
  minVersion: 0,
  maxVersion: 0,
  handle({ broker, connection }, req) {
    if (!broker.allows(connection, AclOperation.ALTER, ResourceType.CLUSTER, CLUSTER_NAME)) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, errorMessage: 'not authorized to ALTER the cluster', responses: [] };
    }
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      responses: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, ...outcome(broker, t.name, p.partitionIndex, p.replicas) })),
      })),
    };
  },
};
