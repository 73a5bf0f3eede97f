// What the handlers share about authorization: refusals, and the authorized-operations fields.
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import {
  AclOperation, CLUSTER_NAME, OPERATIONS_OF, PatternType, ResourceType, operationName, patternTypeName, permissionName, resourceTypeName,
  type AclBinding, type AclFilter, type Operation, type Resource,
} from '../../protocol/acl.js';
import type { Requester } from '../authorizer.js';
import type { Broker } from '../broker.js';

/** What the ACL APIs answer without an authorizer (SECURITY_DISABLED, as a Kafka broker without one does). */
export const NO_AUTHORIZER = 'no authorizer is configured on the broker: start it with ACLs on (--acls) to manage them';

/** The authorized-operations field when the request did not ask for it. */
export const NOT_ASKED = -2147483648;

const REFUSAL: Readonly<Record<Resource, number>> = {
  [ResourceType.TOPIC]: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
  [ResourceType.GROUP]: ErrorCode.GROUP_AUTHORIZATION_FAILED,
  [ResourceType.CLUSTER]: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
  [ResourceType.TRANSACTIONAL_ID]: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
};
const NOUN: Readonly<Record<Resource, string>> = {
  [ResourceType.TOPIC]: 'topic',
  [ResourceType.GROUP]: 'group',
  [ResourceType.CLUSTER]: 'cluster',
  [ResourceType.TRANSACTIONAL_ID]: 'transactional id',
};

/** The error Kafka answers when the operation on the resource is not authorized. */
export function notAuthorized(operation: Operation, type: Resource, name: string): KafkaError {
  const what = type === ResourceType.CLUSTER ? 'the cluster' : `${NOUN[type]} ${name}`;
  return new KafkaError(REFUSAL[type], `not authorized to ${operationName(operation)} ${what}`);
}

/** Throws notAuthorized unless the client may do the operation on the resource. */
export function requireAllowed(broker: Broker, who: Requester, operation: Operation, type: Resource, name: string): void {
  if (!broker.allows(who, operation, type, name)) throw notAuthorized(operation, type, name);
}

/** Throws CLUSTER_AUTHORIZATION_FAILED unless the client may do the operation on the cluster. */
export function requireClusterAllowed(broker: Broker, who: Requester, operation: Operation): void {
  requireAllowed(broker, who, operation, ResourceType.CLUSTER, CLUSTER_NAME);
}

/**
 * What Metadata, DescribeCluster, DescribeGroups and ConsumerGroupDescribe answer when asked which operations the
 * client may do on a resource: those the ACLs allow, or every operation of the resource type without an
 * authorizer (admin tools read it to offer their actions).
 */
export function authorizedOperations(broker: Broker, who: Requester, type: Resource, name: string, asked: boolean | undefined): number {
  if (!asked) return NOT_ASKED;
  if (broker.authorizer !== null) return broker.authorizer.operations(who, type, name);
  return OPERATIONS_OF[type]!.reduce<number>((bits, op) => bits | (1 << op), 0);
}

/** The cluster's authorized operations where asked: 0 to a client that may not DESCRIBE the cluster, as Kafka answers. */
export function clusterOperations(broker: Broker, who: Requester, asked: boolean | undefined): number {
  if (asked && !broker.allows(who, AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME, false)) return 0;
  return authorizedOperations(broker, who, ResourceType.CLUSTER, CLUSTER_NAME, asked);
}

/** Whether the client may create the topic: CREATE on the cluster or on the topic. A refusal is logged. */
export function mayCreateTopic(broker: Broker, who: Requester, name: string): boolean {
  return broker.allows(who, AclOperation.CREATE, ResourceType.CLUSTER, CLUSTER_NAME, false) || broker.allows(who, AclOperation.CREATE, ResourceType.TOPIC, name);
}

/** The filter a DescribeAcls request or a DeleteAcls filter carries (v0 has no pattern type: LITERAL). */
export function aclFilterOf(f: {
  resourceTypeFilter: number; resourceNameFilter?: string | null; patternTypeFilter?: number; principalFilter?: string | null; hostFilter?: string | null;
  operation: number; permissionType: number;
}): AclFilter {
  return {
    resourceType: f.resourceTypeFilter, resourceName: f.resourceNameFilter ?? null, patternType: f.patternTypeFilter ?? PatternType.LITERAL,
    principal: f.principalFilter ?? null, host: f.hostFilter ?? null, operation: f.operation, permission: f.permissionType,
  };
}

/** An ACL as a line of the log, in the words of Kafka's tools. */
export function describeBinding(b: AclBinding): string {
  return `${permissionName(b.permission)} ${b.principal} from ${b.host} ${operationName(b.operation)} on ${resourceTypeName(b.resourceType)}:${patternTypeName(b.patternType)}:${b.resourceName}`;
}
