// What the three ACL APIs answer. Sluice authenticates no one, so, like a Kafka broker without an authorizer, it
// keeps no ACLs: each request is answered SECURITY_DISABLED (rather than left unadvertised, which clients
// report as an API the broker does not know).
export const NO_AUTHORIZER = 'no authorizer is configured on the broker: Sluice has no authentication, so no ACLs';

// Kafka's AclOperation codes, as the bits of the authorized-operations fields.
const READ = 3, WRITE = 4, CREATE = 5, DELETE = 6, ALTER = 7, DESCRIBE = 8, CLUSTER_ACTION = 9, DESCRIBE_CONFIGS = 10, ALTER_CONFIGS = 11, IDEMPOTENT_WRITE = 12;
const bitField = (operations: number[]) => operations.reduce((field, op) => field | (1 << op), 0);

/** The authorized-operations field when the request did not ask for it. */
export const NOT_ASKED = -2147483648;

/**
 * What Metadata, DescribeCluster, DescribeGroups and ConsumerGroupDescribe answer when asked which operations the
 * client may do on a resource. With no authorizer anyone may do everything, so, as Kafka without one does, the
 * answer is every operation the resource type supports (admin tools read it to offer their actions).
 */
export const authorizedOperations = {
  topic: (asked: boolean | undefined) => (asked ? bitField([READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS]) : NOT_ASKED),
  group: (asked: boolean | undefined) => (asked ? bitField([READ, DESCRIBE, DELETE]) : NOT_ASKED),
  cluster: (asked: boolean | undefined) => (asked ? bitField([CREATE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE, ALTER, DESCRIBE]) : NOT_ASKED),
};
