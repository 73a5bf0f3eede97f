import { join } from 'node:path';
import type { Logger } from 'pino';
import type { FileSystem } from '../io/file-system.js';
import { DurableState, readStateFile, type StateFileKind } from './durable-state.js';
import {
  AclOperation, AclPermission, OPERATIONS_OF, PatternType, ResourceType, WILDCARD, filterMatches, invalidBinding, isPrincipal, operationName, patternCovers,
  patternTypeName, permissionName, resourceTypeName, sameBinding, type AclBinding, type AclFilter, type Operation, type Resource,
} from '../protocol/acl.js';

/** Where a data dir keeps its ACLs: JSON, with the codes' names, for operators to read. */
export const ACL_FILE = 'acls.json';

export interface AuthorizerConfig {
  /** Principals allowed everything whatever the ACLs say (Kafka's super.users), e.g. `User:admin`. */
  superUsers?: readonly string[];
  /** Whether a resource no ACL names is open to everyone (Kafka's allow.everyone.if.no.acl.found; default false). */
  allowEveryoneIfNoAclFound?: boolean;
}

/** Who asks: the connection's principal (`User:alice`, `User:ANONYMOUS`) and the client's address. */
export interface Requester {
  readonly principal: string;
  readonly host: string;
}

const WILDCARD_PRINCIPAL = 'User:*';

/** Allowing any of these implies allowing DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS. */
const IMPLYING: Readonly<Partial<Record<number, readonly number[]>>> = {
  [AclOperation.DESCRIBE]: [AclOperation.DESCRIBE, AclOperation.READ, AclOperation.WRITE, AclOperation.DELETE, AclOperation.ALTER],
  [AclOperation.DESCRIBE_CONFIGS]: [AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS],
};

/**
 * Kafka's ACL authorizer (as `AclAuthorizer` and `StandardAuthorizer` decide): a super user may do anything; a
 * resource no ACL names is closed unless allowEveryoneIfNoAclFound; otherwise a matching DENY wins over any ALLOW,
 * and an ALLOW of the operation (or of ALL, or of one that implies it) is needed. A binding matches a resource by
 * its literal name, the literal wildcard `*`, or a prefix; a principal by name or `User:*`; a host by address or `*`.
 * Changes are written to the data dir's ACL file before they take effect, one at a time.
 */
export class Authorizer {
  /** LITERAL bindings by resource type and name (the wildcard `*` included). */
  private literal = new Map<string, AclBinding[]>();
  /** PREFIXED bindings by resource type. */
  private prefixed = new Map<number, AclBinding[]>();
  private readonly superUsers: ReadonlySet<string>;

  private constructor(
    private readonly stored: DurableState<readonly AclBinding[]>,
    private readonly config: AuthorizerConfig,
    private readonly logger: Logger,
  ) {
    this.superUsers = new Set(config.superUsers ?? []);
    this.index(stored.current);
    stored.onChange = (bindings) => this.index(bindings);
  }

  /** The authorizer with the ACLs the data dir holds; a file that cannot be read stops the start (no ACL is dropped). */
  static async open(fs: FileSystem, dataDir: string, config: AuthorizerConfig, logger: Logger): Promise<Authorizer> {
    const bad = (config.superUsers ?? []).find((p) => !isPrincipal(p));
    if (bad !== undefined) throw new Error(`super users must be principals, Type:name (User:admin), got ${JSON.stringify(bad)}`);
    const path = join(dataDir, ACL_FILE);
    const bindings: readonly AclBinding[] = (await fs.exists(path)) ? parseAclFile((await fs.readFile(path)).toString('utf8'), path) : [];
    return new Authorizer(new DurableState(fs, path, bindings, renderAclFile), config, logger);
  }

  private get bindings(): readonly AclBinding[] {
    return this.stored.current;
  }

  get size(): number {
    return this.bindings.length;
  }

  /**
   * Whether `who` may do `operation` on the resource. A refusal of what a request names is logged (Kafka's audit
   * log); `logDenied` false is for filtering what a listing shows.
   */
  authorize(who: Requester, operation: Operation, type: Resource, name: string, logDenied = true): boolean {
    const allowed = this.decide(who, operation, type, name);
    if (!allowed && logDenied) {
      this.logger.info({ principal: who.principal, host: who.host, operation: operationName(operation), resource: `${resourceTypeName(type)}:${name}` }, 'denied by ACLs');
    }
    return allowed;
  }

  private decide(who: Requester, operation: Operation, type: Resource, name: string): boolean {
    if (this.superUsers.has(who.principal)) return true;
    const matching = this.matching(type, name);
    if (matching.length === 0) return this.config.allowEveryoneIfNoAclFound === true;
    if (matching.some((b) => b.permission === AclPermission.DENY && applies(b, who, [operation]))) return false;
    const allowing = IMPLYING[operation] ?? [operation];
    return matching.some((b) => b.permission === AclPermission.ALLOW && applies(b, who, allowing));
  }

  /**
   * Whether `who` may do `operation` on some resource of the type, as Kafka decides an idempotent producer's
   * right to write (KIP-679: WRITE on any topic): an ALLOW for it that no DENY covers whole.
   */
  authorizeAny(who: Requester, operation: Operation, type: Resource): boolean {
    if (this.superUsers.has(who.principal)) return true;
    const applying = (permission: number, pattern: number) =>
      this.bindings.filter((b) => b.resourceType === type && b.patternType === pattern && b.permission === permission && applies(b, who, [operation]));
    const deniedLiterals = new Set(applying(AclPermission.DENY, PatternType.LITERAL).map((b) => b.resourceName));
    if (deniedLiterals.has(WILDCARD)) return false;
    if (this.config.allowEveryoneIfNoAclFound === true) return true;
    const deniedPrefixes = applying(AclPermission.DENY, PatternType.PREFIXED).map((b) => b.resourceName);
    const coveredByDeny = (name: string) => deniedPrefixes.some((prefix) => name.startsWith(prefix));
    return (
      applying(AclPermission.ALLOW, PatternType.PREFIXED).some((b) => !coveredByDeny(b.resourceName)) ||
      applying(AclPermission.ALLOW, PatternType.LITERAL).some((b) => b.resourceName === WILDCARD || (!deniedLiterals.has(b.resourceName) && !coveredByDeny(b.resourceName)))
    );
  }

  /** The operations `who` may do on the resource, as the bits of an authorized-operations field. */
  operations(who: Requester, type: Resource, name: string): number {
    let bits = 0;
    for (const op of OPERATIONS_OF[type]!) if (this.decide(who, op, type, name)) bits |= 1 << op;
    return bits;
  }

  /** The bindings the filter selects. */
  list(filter: AclFilter): AclBinding[] {
    return this.bindings.filter((b) => filterMatches(filter, b));
  }

  /** Adds the bindings (checked by invalidBinding), once they are durable; ones already there stay once. */
  create(bindings: readonly AclBinding[]): Promise<void> {
    return this.change((current) => {
      const next = [...current];
      for (const b of bindings) if (!next.some((n) => sameBinding(n, b))) next.push({ ...b });
      return next;
    });
  }

  /** Removes what each filter selects, once that is durable; returns each filter's removals. */
  async delete(filters: readonly AclFilter[]): Promise<AclBinding[][]> {
    let removed: AclBinding[][] = [];
    await this.change((current) => {
      removed = filters.map((f) => current.filter((b) => filterMatches(f, b)));
      return current.filter((b) => !filters.some((f) => filterMatches(f, b)));
    });
    return removed;
  }

  private async change(next: (current: readonly AclBinding[]) => AclBinding[]): Promise<void> {
    const changed = await this.stored.change((current) => {
      const bindings = next(current);
      const same = bindings.length === current.length && bindings.every((b, i) => b === current[i]);
      return { state: same ? null : bindings, result: !same };
    });
    if (changed) this.logger.info({ acls: this.bindings.length }, 'ACLs changed');
  }

  private index(bindings: readonly AclBinding[]): void {
    const literal = new Map<string, AclBinding[]>();
    const prefixed = new Map<number, AclBinding[]>();
    for (const b of bindings) {
      if (b.patternType === PatternType.PREFIXED) pushTo(prefixed, b.resourceType, b);
      else pushTo(literal, literalKey(b.resourceType, b.resourceName), b);
    }
    this.literal = literal;
    this.prefixed = prefixed;
  }

  private matching(type: number, name: string): AclBinding[] {
    const found = [...(this.literal.get(literalKey(type, name)) ?? [])];
    if (name !== WILDCARD) found.push(...(this.literal.get(literalKey(type, WILDCARD)) ?? []));
    for (const b of this.prefixed.get(type) ?? []) if (patternCovers(b, name)) found.push(b);
    return found;
  }
}

function applies(b: AclBinding, who: Requester, operations: readonly number[]): boolean {
  return (
    (b.principal === who.principal || b.principal === WILDCARD_PRINCIPAL) &&
    (b.host === WILDCARD || b.host === who.host) &&
    (b.operation === AclOperation.ALL || operations.includes(b.operation))
  );
}

const literalKey = (type: number, name: string) => `${type}\0${name}`;

function pushTo<K>(map: Map<K, AclBinding[]>, key: K, b: AclBinding): void {
  const list = map.get(key);
  if (list) list.push(b);
  else map.set(key, [b]);
}

interface StoredAcl {
  resourceType: string;
  resourceName: string;
  patternType: string;
  principal: string;
  host: string;
  operation: string;
  permission: string;
}

function renderAclFile(bindings: readonly AclBinding[]): string {
  const acls: StoredAcl[] = bindings.map((b) => ({
    resourceType: resourceTypeName(b.resourceType),
    resourceName: b.resourceName,
    patternType: patternTypeName(b.patternType),
    principal: b.principal,
    host: b.host,
    operation: operationName(b.operation),
    permission: permissionName(b.permission),
  }));
  return JSON.stringify({ version: 1, acls }, null, 1) + '\n';
}

const ACL_FILE_KIND: StateFileKind<{ version?: unknown; acls?: unknown }> = { kind: 'ACL', without: 'with no ACLs', valid: (parsed) => Array.isArray(parsed.acls) };

function parseAclFile(text: string, path: string): AclBinding[] {
  return readStateFile(text, path, ACL_FILE_KIND, (parsed, refuse) => (parsed.acls as StoredAcl[]).map((raw, i) => {
    const code = (codes: Record<string, number>, name: string) => codes[name] ?? refuse(`ACL ${i} has an unknown value ${JSON.stringify(name)}`);
    const b: AclBinding = {
      resourceType: code(ResourceType, raw.resourceType),
      resourceName: String(raw.resourceName),
      patternType: code(PatternType, raw.patternType),
      principal: String(raw.principal),
      host: String(raw.host),
      operation: code(AclOperation, raw.operation),
      permission: code(AclPermission, raw.permission),
    };
    const invalid = invalidBinding(b);
    return invalid === null ? b : refuse(`ACL ${i}: ${invalid}`);
  }));
}
