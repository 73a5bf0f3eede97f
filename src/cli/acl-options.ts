// The ACL commands' options (as Kafka's kafka-acls tool spells them), made into bindings and filters.
import type { ParseArgsConfig } from 'node:util';
import {
  AclOperation, AclPermission, CLUSTER_NAME, PatternType, ResourceType, operationName, patternTypeName, permissionName, resourceTypeName,
  type AclBinding, type AclFilter,
} from '../protocol/acl.js';
import { UsageError } from './usage-error.js';

export const ACL_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  topic: { type: 'string', multiple: true },
  group: { type: 'string', multiple: true },
  'transactional-id': { type: 'string', multiple: true },
  cluster: { type: 'boolean' },
  'resource-pattern-type': { type: 'string' },
  'allow-principal': { type: 'string', multiple: true },
  'deny-principal': { type: 'string', multiple: true },
  principal: { type: 'string' },
  operation: { type: 'string', multiple: true },
  host: { type: 'string' },
};

export const ACL_HELP: Record<string, string> = {
  topic: 'a topic the ACLs are on (repeatable)',
  group: 'a consumer group (repeatable)',
  'transactional-id': 'a transactional id (repeatable)',
  cluster: 'the cluster (creating topics, idempotent producers, managing ACLs and broker configs)',
  'resource-pattern-type': 'literal (default; * for every name) or prefixed: the names are prefixes; list and remove also take any and match',
  'allow-principal': 'who is allowed, e.g. User:alice, User:CN=alice (from a TLS certificate), User:* (repeatable)',
  'deny-principal': 'who is denied; a DENY wins over any ALLOW (repeatable)',
  principal: 'list only the ACLs of this principal',
  operation: 'read, write, create, delete, alter, describe, describe-configs, alter-configs, idempotent-write, cluster-action or all (repeatable)',
  host: 'the client address the ACLs apply to (default *, every host)',
};

type Values = Record<string, any>;

/** Kafka's names in any of their spellings: Read, READ, describe-configs, DescribeConfigs, DESCRIBE_CONFIGS. */
function codeOf(codes: Record<string, number>, raw: string, what: string): number {
  const wanted = raw.replace(/[^a-z]/gi, '').toUpperCase();
  const found = Object.entries(codes).find(([name]) => name.replace(/_/g, '') === wanted);
  if (!found || found[1] <= 1) throw new UsageError(`unknown ${what} ${JSON.stringify(raw)}`);
  return found[1];
}

/** The resources named by --topic, --group, --transactional-id and --cluster. */
function resources(v: Values): { resourceType: number; resourceName: string }[] {
  const named = (type: number, names: string[] | undefined) => (names ?? []).map((resourceName) => ({ resourceType: type, resourceName }));
  return [
    ...named(ResourceType.TOPIC, v.topic),
    ...named(ResourceType.GROUP, v.group),
    ...named(ResourceType.TRANSACTIONAL_ID, v['transactional-id']),
    ...(v.cluster ? [{ resourceType: ResourceType.CLUSTER, resourceName: CLUSTER_NAME }] : []),
  ];
}

function patternType(v: Values, fallback: number): number {
  return v['resource-pattern-type'] === undefined ? fallback : codeOf(PatternType, v['resource-pattern-type'], 'resource pattern type');
}

function principals(v: Values): { principal: string; permission: number }[] {
  return [
    ...((v['allow-principal'] as string[] | undefined) ?? []).map((principal) => ({ principal, permission: AclPermission.ALLOW })),
    ...((v['deny-principal'] as string[] | undefined) ?? []).map((principal) => ({ principal, permission: AclPermission.DENY })),
  ];
}

const operations = (v: Values): number[] => ((v.operation as string[] | undefined) ?? []).map((op) => codeOf(AclOperation, op, 'operation'));

/** `acls add`: every combination of the resources, principals and operations given. */
export function bindingsToAdd(v: Values): AclBinding[] {
  const [on, who, ops] = [resources(v), principals(v), operations(v)];
  if (on.length === 0) throw new UsageError('name what the ACLs are on: --topic, --group, --transactional-id or --cluster');
  if (who.length === 0) throw new UsageError('name who: --allow-principal or --deny-principal');
  if (ops.length === 0) throw new UsageError('name what they may or may not do: --operation');
  const pattern = patternType(v, PatternType.LITERAL);
  return on.flatMap((r) => who.flatMap((p) => ops.map((operation) => ({ ...r, patternType: pattern, ...p, host: v.host ?? '*', operation }))));
}

/** `acls remove`: the resources given, narrowed by any principals and operations given. */
export function filtersToRemove(v: Values): AclFilter[] {
  const on = resources(v);
  if (on.length === 0) throw new UsageError('name what the ACLs to remove are on: --topic, --group, --transactional-id or --cluster');
  const who = principals(v);
  const ops = operations(v);
  const pattern = patternType(v, PatternType.LITERAL);
  return on.flatMap((r) =>
    (who.length > 0 ? who : [{ principal: null, permission: AclPermission.ANY }]).flatMap((p) =>
      (ops.length > 0 ? ops : [AclOperation.ANY]).map((operation) => ({
        resourceType: r.resourceType, resourceName: r.resourceName, patternType: pattern, principal: p.principal, host: v.host ?? null, operation, permission: p.permission,
      })),
    ),
  );
}

/** `acls list`: every ACL, or those on the resources given, or of the principal given. */
export function filtersToList(v: Values): AclFilter[] {
  const on = resources(v);
  const every = { principal: (v.principal as string | undefined) ?? null, host: v.host ?? null, operation: AclOperation.ANY, permission: AclPermission.ANY };
  if (on.length === 0) return [{ resourceType: ResourceType.ANY, resourceName: null, patternType: patternType(v, PatternType.ANY), ...every }];
  return on.map((r) => ({ ...r, patternType: patternType(v, PatternType.LITERAL), ...every }));
}

/** One line per ACL: resource type, pattern type, name, principal, host, operation, permission. */
export function aclLine(b: AclBinding): string {
  return [resourceTypeName(b.resourceType), patternTypeName(b.patternType), b.resourceName, b.principal, b.host, operationName(b.operation), permissionName(b.permission)].join('\t');
}
