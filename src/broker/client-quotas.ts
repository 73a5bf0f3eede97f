import { join } from 'node:path';
import type { FileSystem } from '../io/file-system.js';
import { isIpAddress } from '../io/tcp.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { DurableState, readStateFile, type StateFileKind } from './durable-state.js';

/** Where a data dir keeps the client quotas set through AlterClientQuotas. */
export const CLIENT_QUOTAS_FILE = 'client-quotas.json';

export type QuotaEntityType = 'user' | 'client-id' | 'ip';
/**
 * What a quota applies to: a name for each of its types, null naming the type's default (every user, client id
 * or address without a quota of its own). A user is named as its principal is, without `User:`.
 */
export type QuotaEntity = { user?: string | null; 'client-id'?: string | null; ip?: string | null };

/** The quotas a user or client id may have, each limiting a rate of the clients it covers. */
export type ClientQuotaKey = 'producer_byte_rate' | 'consumer_byte_rate' | 'request_percentage' | 'controller_mutation_rate';
export type QuotaKey = ClientQuotaKey | 'connection_creation_rate';

/** Each key, and whether its value must be a whole number (Kafka's long and int quota configs). */
const CLIENT_KEYS: ReadonlyMap<string, boolean> = new Map([
  ['producer_byte_rate', true],
  ['consumer_byte_rate', true],
  ['request_percentage', false],
  ['controller_mutation_rate', false],
]);
const IP_KEYS: ReadonlyMap<string, boolean> = new Map([['connection_creation_rate', true]]);

const ENTITY_TYPES: readonly QuotaEntityType[] = ['user', 'client-id', 'ip'];

export interface QuotaEntityPart {
  entityType: string;
  entityName?: string | null;
}

interface Entry {
  entity: QuotaEntity;
  values: ReadonlyMap<string, number>;
}
type Quotas = ReadonlyMap<string, Entry>;

/** One change AlterClientQuotas asks for: keys set (a number) or removed (null). */
export interface QuotaChange {
  entity: QuotaEntityPart[];
  ops: { key: string; value: number; remove: boolean }[];
}

/** A limit that applies to a client, and the name of the usage it limits: everything the limit's entity covers shares it. */
export interface ResolvedLimit {
  limit: number;
  usage: string;
}

/** The same entity, however its parts were ordered: the key quotas are kept under. */
export function entityKey(entity: QuotaEntity): string {
  return JSON.stringify({ user: entity.user, 'client-id': entity['client-id'], ip: entity.ip });
}

/** The entity's parts in a fixed order, as requests and answers name entities. */
export function entityParts(entity: QuotaEntity): { entityType: QuotaEntityType; entityName: string | null }[] {
  return ENTITY_TYPES.filter((t) => entity[t] !== undefined).map((t) => ({ entityType: t, entityName: entity[t]! }));
}

const invalid = (why: string) => new KafkaError(ErrorCode.INVALID_REQUEST, why);

/** The entity a request names, checked as Kafka checks it: known types, each once, in one of the combinations quotas have. */
export function entityOf(parts: readonly QuotaEntityPart[]): QuotaEntity {
  if (parts.length === 0) throw invalid('a quota entity needs at least one part');
  const entity: QuotaEntity = {};
  for (const { entityType, entityName } of parts) {
    if (!(ENTITY_TYPES as readonly string[]).includes(entityType)) throw invalid(`unknown quota entity type ${entityType} (user, client-id or ip)`);
    const type = entityType as QuotaEntityType;
    if (entity[type] !== undefined) throw invalid(`quota entity type ${type} appears twice`);
    const name = entityName ?? null;
    if (name === '') throw invalid(`an empty ${type} is not an entity; a null name is the default`);
    entity[type] = name;
  }
  if (entity.ip !== undefined) {
    if (entity.user !== undefined || entity['client-id'] !== undefined) throw invalid('an ip quota entity cannot be combined with user or client-id');
    if (entity.ip !== null && !isIpAddress(entity.ip)) throw invalid(`${entity.ip} is not a valid IP address`);
  }
  return entity;
}

/** The value a key may take for the entity: a known key, a positive finite number, whole for the byte and connection rates. */
function checkValue(entity: QuotaEntity, key: string, value: number): void {
  const keys = entity.ip !== undefined ? IP_KEYS : CLIENT_KEYS;
  const whole = keys.get(key);
  if (whole === undefined) throw invalid(`invalid quota key ${key} for ${entity.ip !== undefined ? 'an ip' : 'a user or client-id'} entity (${[...keys.keys()].join(', ')})`);
  if (!Number.isFinite(value) || value <= 0) throw invalid(`quota ${key} must be a positive number, got ${value}`);
  if (whole && Math.abs(Math.round(value) - value) > 1e-6) throw invalid(`quota ${key} must be a whole number, got ${value}`);
}

export interface DescribeComponent {
  entityType: string;
  matchType: number;
  match?: string | null;
}

const MATCH_EXACT = 0;
const MATCH_DEFAULT = 1;
const MATCH_SPECIFIED = 2;

/**
 * The client quotas the broker enforces (Kafka keeps them in its metadata; Sluice in the data dir's
 * `client-quotas.json`). Changes are durable before they apply, and each bumps `version`, so what a connection
 * resolved can be kept until the next change.
 */
export class ClientQuotaStore {
  version = 0;
  /** The keys some entity sets: a quota no entity sets costs nothing per request. */
  private keysInUse = new Set<string>();

  private constructor(private readonly stored: DurableState<Quotas>) {
    this.indexed(stored.current);
    stored.onChange = (quotas) => this.indexed(quotas);
  }

  /** The quotas the data dir holds; a file that cannot be read stops the start (no quota is dropped). */
  static async open(fs: FileSystem, dataDir: string): Promise<ClientQuotaStore> {
    const path = join(dataDir, CLIENT_QUOTAS_FILE);
    const quotas = (await fs.exists(path)) ? parseQuotas((await fs.readFile(path)).toString('utf8'), path) : new Map<string, Entry>();
    return new ClientQuotaStore(new DurableState<Quotas>(fs, path, quotas, renderQuotas));
  }

  private indexed(quotas: Quotas): void {
    this.version++;
    this.keysInUse = new Set([...quotas.values()].flatMap((e) => [...e.values.keys()]));
  }

  inUse(key: QuotaKey): boolean {
    return this.keysInUse.has(key);
  }

  get size(): number {
    return this.stored.current.size;
  }

  /**
   * Applies AlterClientQuotas' entries: each entity's changes all or none (an error per entity), every entity's
   * that passed in one durable write; `validateOnly` checks without writing.
   */
  alter(changes: readonly QuotaChange[], validateOnly: boolean): Promise<(KafkaError | null)[]> {
    return this.stored.change((current) => {
      const next = new Map(current);
      const seen = new Set<string>();
      const results = changes.map((change): KafkaError | null => {
        try {
          const entity = entityOf(change.entity);
          const key = entityKey(entity);
          if (seen.has(key)) throw invalid('the entity appears twice in the request');
          seen.add(key);
          const values = new Map(next.get(key)?.values);
          const keys = new Set<string>();
          for (const op of change.ops) {
            if (keys.has(op.key)) throw invalid(`quota key ${op.key} appears twice for the entity`);
            keys.add(op.key);
            if (op.remove) {
              values.delete(op.key);
            } else {
              checkValue(entity, op.key, op.value);
              values.set(op.key, op.value);
            }
          }
          if (values.size === 0) next.delete(key);
          else next.set(key, { entity, values });
          return null;
        } catch (err) {
          if (err instanceof KafkaError) return err;
          throw err;
        }
      });
      return { state: validateOnly || results.every((r) => r !== null) ? null : next, result: results };
    });
  }

  /** DescribeClientQuotas: the entities the filter matches (strict: those with no other parts), with their quotas. */
  describe(components: readonly DescribeComponent[], strict: boolean): { entity: QuotaEntity; values: ReadonlyMap<string, number> }[] {
    const exact = new Map<QuotaEntityType, string | null>();
    const specified = new Set<QuotaEntityType>();
    for (const c of components) {
      if (!(ENTITY_TYPES as readonly string[]).includes(c.entityType)) {
        throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, `unsupported quota entity type ${c.entityType}`);
      }
      const type = c.entityType as QuotaEntityType;
      if (exact.has(type) || specified.has(type)) throw invalid(`entity type ${type} appears more than once in the filter`);
      const match = c.match ?? null;
      if (c.matchType === MATCH_EXACT) {
        if (match === null) throw invalid('an exact match needs a name to match');
        exact.set(type, match);
      } else if (c.matchType === MATCH_DEFAULT || c.matchType === MATCH_SPECIFIED) {
        if (match !== null) throw invalid(`match type ${c.matchType} takes no name to match`);
        if (c.matchType === MATCH_DEFAULT) exact.set(type, null);
        else specified.add(type);
      } else {
        throw invalid(`unknown match type ${c.matchType}`);
      }
    }
    const named = (t: QuotaEntityType) => exact.has(t) || specified.has(t);
    if (named('ip') && (named('user') || named('client-id'))) throw invalid('an ip filter cannot be combined with user or client-id filters');
    const parts = exact.size + specified.size;
    return [...this.stored.current.values()].filter(({ entity }) => {
      for (const [type, name] of exact) if (entity[type] !== name) return false;
      for (const type of specified) if (entity[type] === undefined) return false;
      return !strict || Object.values(entity).length === parts;
    });
  }

  /**
   * The limit of `key` for a client, by Kafka's order of precedence: user and client id, user and default client
   * id, user alone, default user and client id, default user and default client id, default user alone, client id
   * alone, default client id. Clients the entity covers share one usage: all of a user's clients for a quota on the
   * user alone, each client id of the user for one on the user and a client id (or the default one).
   */
  limitFor(key: ClientQuotaKey, user: string, clientId: string): ResolvedLimit | null {
    const quotas = this.stored.current;
    const find = (entity: QuotaEntity) => quotas.get(entityKey(entity))?.values.get(key);
    const both = `${user}\u0000${clientId}`;
    const userOnly = `${user}\u0000`;
    const clientOnly = `\u0000${clientId}`;
    const levels: [QuotaEntity, string][] = [
      [{ user, 'client-id': clientId }, both],
      [{ user, 'client-id': null }, both],
      [{ user }, userOnly],
      [{ user: null, 'client-id': clientId }, both],
      [{ user: null, 'client-id': null }, both],
      [{ user: null }, userOnly],
      [{ 'client-id': clientId }, clientOnly],
      [{ 'client-id': null }, clientOnly],
    ];
    for (const [entity, usage] of levels) {
      const limit = find(entity);
      if (limit !== undefined) return { limit, usage };
    }
    return null;
  }

  /** The connection creation rate an address may have: its own quota, else the default address's. */
  ipLimit(ip: string): number | null {
    const quotas = this.stored.current;
    const find = (entity: QuotaEntity) => quotas.get(entityKey(entity))?.values.get('connection_creation_rate');
    return find({ ip }) ?? find({ ip: null }) ?? null;
  }
}

function renderQuotas(quotas: Quotas): string {
  const entries = [...quotas.values()].map(({ entity, values }) => ({ entity, values: Object.fromEntries(values) }));
  return JSON.stringify({ version: 1, entries }, null, 1) + '\n';
}

const QUOTAS_FILE: StateFileKind<{ version?: unknown; entries?: unknown }> = { kind: 'client quotas', without: 'without the quotas it held', valid: (parsed) => Array.isArray(parsed.entries) };

function parseQuotas(text: string, path: string): Map<string, Entry> {
  return readStateFile(text, path, QUOTAS_FILE, (parsed, refuse) => {
    const quotas = new Map<string, Entry>();
    for (const stored of parsed.entries as { entity?: Record<string, string | null>; values?: Record<string, number> }[]) {
      try {
        const entity = entityOf(Object.entries(stored.entity ?? {}).map(([entityType, entityName]) => ({ entityType, entityName })));
        const values = new Map(Object.entries(stored.values ?? {}));
        for (const [key, value] of values) checkValue(entity, key, value);
        quotas.set(entityKey(entity), { entity, values });
      } catch (err) {
        refuse(`an entry is not valid: ${(err as Error).message}`);
      }
    }
    return quotas;
  });
}
