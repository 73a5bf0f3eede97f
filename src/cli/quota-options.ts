// The client quota commands' options (as Kafka's kafka-configs tool names the entities), made into entities and filters.
import type { ParseArgsConfig } from 'node:util';
import type { DescribeComponent, QuotaEntityPart, QuotaEntityType } from '../broker/client-quotas.js';
import { UsageError } from './usage-error.js';

const TYPES: readonly QuotaEntityType[] = ['user', 'client-id', 'ip'];

export const QUOTA_OPTIONS: NonNullable<ParseArgsConfig['options']> = Object.fromEntries(
  TYPES.flatMap((t) => [[t, { type: 'string' }], [`${t}-default`, { type: 'boolean' }]]),
);

export const QUOTA_HELP: Record<string, string> = {
  user: 'a user, as its principal names it without User: (alice, CN=alice from a TLS certificate, ANONYMOUS)',
  'user-default': 'the default user: every user without a quota of its own',
  'client-id': 'a client id',
  'client-id-default': 'the default client id',
  ip: 'a client address (connection_creation_rate only)',
  'ip-default': 'the default address',
};

type Values = Record<string, any>;

/** The entity the options name: a user, a client id, both, or an address, each by name or as the default. */
export function quotaEntity(v: Values): QuotaEntityPart[] {
  const parts: QuotaEntityPart[] = [];
  for (const t of TYPES) {
    if (v[t] !== undefined && v[`${t}-default`]) throw new UsageError(`give --${t} or --${t}-default, not both`);
    if (v[t] !== undefined) parts.push({ entityType: t, entityName: v[t] });
    else if (v[`${t}-default`]) parts.push({ entityType: t, entityName: null });
  }
  if (parts.length === 0) throw new UsageError('name the entity: --user, --client-id, --ip or their --*-default');
  return parts;
}

/** What `quotas list` shows: everything, or the entities with the parts named (each by name or the default). */
export function quotaFilter(v: Values): DescribeComponent[] {
  return quotaEntityOrNone(v).map((p) => (p.entityName === null ? { entityType: p.entityType, matchType: 1, match: null } : { entityType: p.entityType, matchType: 0, match: p.entityName }));
}

function quotaEntityOrNone(v: Values): QuotaEntityPart[] {
  return TYPES.some((t) => v[t] !== undefined || v[`${t}-default`]) ? quotaEntity(v) : [];
}

/** `key=value` settings as numbers. */
export function quotaValues(list: string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of list ?? []) {
    const match = /^([a-z_]+)=(.+)$/.exec(item);
    const value = match ? Number(match[2]) : NaN;
    if (!match || !Number.isFinite(value)) throw new UsageError(`a quota is key=number, e.g. producer_byte_rate=1048576; got ${JSON.stringify(item)}`);
    out[match[1]!] = value;
  }
  return out;
}

/** One line per entity: `user=alice,client-id=<default>` and its quotas. */
export function quotaLine(entry: { entity: QuotaEntityPart[]; values: Record<string, number> }): string {
  const entity = entry.entity.map((p) => `${p.entityType}=${p.entityName ?? '<default>'}`).join(',');
  const values = Object.entries(entry.values).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',');
  return `${entity}\t${values}`;
}
