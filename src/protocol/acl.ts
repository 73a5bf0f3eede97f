// Kafka's ACL vocabulary (the codes its ACL APIs carry), ACL bindings, and the filters that select them.

export const ResourceType = { UNKNOWN: 0, ANY: 1, TOPIC: 2, GROUP: 3, CLUSTER: 4, TRANSACTIONAL_ID: 5, DELEGATION_TOKEN: 6, USER: 7 } as const;
export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;
export const AclOperation = {
  UNKNOWN: 0, ANY: 1, ALL: 2, READ: 3, WRITE: 4, CREATE: 5, DELETE: 6, ALTER: 7, DESCRIBE: 8, CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10, ALTER_CONFIGS: 11, IDEMPOTENT_WRITE: 12, CREATE_TOKENS: 13, DESCRIBE_TOKENS: 14,
} as const;
export const AclPermission = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;

export type Operation = (typeof AclOperation)[keyof typeof AclOperation];
/** The resource types a check is made on. */
export type Resource = typeof ResourceType.TOPIC | typeof ResourceType.GROUP | typeof ResourceType.CLUSTER | typeof ResourceType.TRANSACTIONAL_ID;

/** The one name of the cluster resource, as Kafka names it. */
export const CLUSTER_NAME = 'kafka-cluster';
/** A literal resource name, principal or host that matches every one. */
export const WILDCARD = '*';

const O = AclOperation;
/** The operations each resource type has (ALL stands for them all); what authorized-operations fields report. */
export const OPERATIONS_OF: Readonly<Record<number, readonly Operation[]>> = {
  [ResourceType.TOPIC]: [O.READ, O.WRITE, O.CREATE, O.DELETE, O.ALTER, O.DESCRIBE, O.DESCRIBE_CONFIGS, O.ALTER_CONFIGS],
  [ResourceType.GROUP]: [O.READ, O.DESCRIBE, O.DELETE],
  [ResourceType.CLUSTER]: [O.CREATE, O.CLUSTER_ACTION, O.DESCRIBE_CONFIGS, O.ALTER_CONFIGS, O.IDEMPOTENT_WRITE, O.ALTER, O.DESCRIBE],
  [ResourceType.TRANSACTIONAL_ID]: [O.DESCRIBE, O.WRITE],
  [ResourceType.DELEGATION_TOKEN]: [O.DESCRIBE],
  [ResourceType.USER]: [O.CREATE_TOKENS, O.DESCRIBE_TOKENS],
};

/** One ACL: who (principal, host) may or may not (permission) do what (operation) on which resources (pattern). */
export interface AclBinding {
  resourceType: number;
  resourceName: string;
  patternType: number;
  principal: string;
  host: string;
  operation: number;
  permission: number;
}

/** What DescribeAcls and DeleteAcls select by; null and ANY match everything. */
export interface AclFilter {
  resourceType: number;
  resourceName: string | null;
  patternType: number;
  principal: string | null;
  host: string | null;
  operation: number;
  permission: number;
}

const nameOf = (codes: Record<string, number>) => {
  const names = new Map(Object.entries(codes).map(([name, code]) => [code, name]));
  return (code: number) => names.get(code) ?? `UNKNOWN(${code})`;
};
export const resourceTypeName = nameOf(ResourceType);
export const patternTypeName = nameOf(PatternType);
export const operationName = nameOf(AclOperation);
export const permissionName = nameOf(AclPermission);

/** Whether `principal` has Kafka's form, `Type:name` (`User:alice`). */
export const isPrincipal = (principal: string): boolean => /^[^:]+:.+$/s.test(principal);

/** Why Kafka would refuse to create `b` (INVALID_REQUEST), or null when it may be created. */
export function invalidBinding(b: AclBinding): string | null {
  const operations = OPERATIONS_OF[b.resourceType];
  if (!operations) return `resource type ${resourceTypeName(b.resourceType)} cannot hold ACLs`;
  if (b.patternType !== PatternType.LITERAL && b.patternType !== PatternType.PREFIXED) return `pattern type must be LITERAL or PREFIXED, got ${patternTypeName(b.patternType)}`;
  if (b.resourceName === '') return 'the resource name is empty';
  if (b.resourceType === ResourceType.CLUSTER && (b.patternType !== PatternType.LITERAL || b.resourceName !== CLUSTER_NAME)) {
    return `the cluster resource is the literal name ${CLUSTER_NAME}`;
  }
  if (b.operation !== AclOperation.ALL && !operations.includes(b.operation as Operation)) {
    return `operation ${operationName(b.operation)} does not apply to resource type ${resourceTypeName(b.resourceType)}`;
  }
  if (b.permission !== AclPermission.ALLOW && b.permission !== AclPermission.DENY) return `permission must be ALLOW or DENY, got ${permissionName(b.permission)}`;
  if (!isPrincipal(b.principal)) return `principal must be Type:name (User:alice), got ${JSON.stringify(b.principal)}`;
  if (b.host === '') return 'the host is empty (use * for every host)';
  return null;
}

/** Why Kafka would refuse the filter (INVALID_REQUEST), or null. */
export function invalidFilter(f: AclFilter): string | null {
  if (f.resourceType === ResourceType.UNKNOWN) return 'resource type filter is UNKNOWN';
  if (f.patternType === PatternType.UNKNOWN) return 'pattern type filter is UNKNOWN';
  if (f.operation === AclOperation.UNKNOWN) return 'operation filter is UNKNOWN';
  if (f.permission === AclPermission.UNKNOWN) return 'permission filter is UNKNOWN';
  return null;
}

/** Whether a binding's pattern selects the resource named `name` (of its type). */
export function patternCovers(b: Pick<AclBinding, 'patternType' | 'resourceName'>, name: string): boolean {
  if (b.patternType === PatternType.PREFIXED) return name.startsWith(b.resourceName);
  return b.resourceName === WILDCARD || b.resourceName === name;
}

/** Whether the filter selects the binding. */
export function filterMatches(f: AclFilter, b: AclBinding): boolean {
  if (f.resourceType !== ResourceType.ANY && f.resourceType !== b.resourceType) return false;
  if (!patternMatches(f, b)) return false;
  if (f.principal !== null && f.principal !== b.principal) return false;
  if (f.host !== null && f.host !== b.host) return false;
  if (f.operation !== AclOperation.ANY && f.operation !== b.operation) return false;
  return f.permission === AclPermission.ANY || f.permission === b.permission;
}

function patternMatches(f: AclFilter, b: AclBinding): boolean {
  switch (f.patternType) {
    case PatternType.ANY:
      return f.resourceName === null || f.resourceName === b.resourceName;
    case PatternType.MATCH:
      // every pattern that would apply to a resource of this name
      return f.resourceName === null || patternCovers(b, f.resourceName);
    default:
      return f.patternType === b.patternType && (f.resourceName === null || f.resourceName === b.resourceName);
  }
}

export const sameBinding = (a: AclBinding, b: AclBinding): boolean =>
  a.resourceType === b.resourceType && a.resourceName === b.resourceName && a.patternType === b.patternType &&
  a.principal === b.principal && a.host === b.host && a.operation === b.operation && a.permission === b.permission;
