import type { Clock } from '../io/clock.js';
import type { ClientQuotaKey, ClientQuotaStore } from './client-quotas.js';
import { QUOTA_SAMPLES, QUOTA_WINDOW_MS, SampledRate, TokenBucket } from './quota-rates.js';

/** Who a request comes from, as quotas name clients. */
export interface QuotaClient {
  /** `User:` and the name (quotas name users without the prefix). */
  readonly principal: string;
  readonly clientId: string | null;
}

/** Usage idle this long is forgotten (Kafka drops a client's quota sensors after an hour without use). */
const IDLE_USAGE_MS = 60 * 60 * 1000;
/** A request quota's or a connection rate's throttle is at most one window, as Kafka bounds those two. */
const BOUNDED_THROTTLE_MS = QUOTA_WINDOW_MS;

type RateKey = Exclude<ClientQuotaKey, 'controller_mutation_rate'>;

interface Resolved {
  version: number;
  principal: string;
  clientId: string | null;
  limits: Map<ClientQuotaKey, { limit: number; usage: string } | null>;
}

/**
 * What the client quotas allow each client, and how long one that went past them must wait (Kafka's quota
 * managers): byte rates of produce requests and fetch responses, the share of the event loop's time its requests
 * take (request_percentage, 100 = all of it), partitions created and deleted (controller_mutation_rate), and
 * connections opened from an address. Each limit's usage is shared by every client its quota's entity covers.
 */
export class ClientThrottling {
  private readonly rates = new Map<RateKey, Map<string, SampledRate>>([
    ['producer_byte_rate', new Map()],
    ['consumer_byte_rate', new Map()],
    ['request_percentage', new Map()],
  ]);
  private readonly mutations = new Map<string, TokenBucket>();
  private readonly connections = new Map<string, SampledRate>();
  /** What each connection's quotas resolved to, until the quotas, its principal or its client id change. */
  private readonly resolved = new WeakMap<QuotaClient, Resolved>();
  private readonly stopSweeping: () => void;

  constructor(
    readonly quotas: ClientQuotaStore,
    private readonly clock: Clock,
  ) {
    this.stopSweeping = clock.every(60_000, () => this.forgetIdle());
  }

  close(): void {
    this.stopSweeping();
  }

  /** Records a produce request's bytes; returns how long its client must wait (ms, 0 within its quota). */
  recordProduce(client: QuotaClient, bytes: number): number {
    return this.record('producer_byte_rate', client, bytes, Infinity);
  }

  /**
   * The most a fetch may return: past its quota's whole measuring span a response would be throttled however long
   * the client waited (Kafka caps fetch.max.bytes the same way). Infinity without a quota.
   */
  fetchByteCap(client: QuotaClient): number {
    const resolved = this.limit('consumer_byte_rate', client);
    return resolved === null ? Infinity : Math.max(1, Math.floor((resolved.limit * (QUOTA_SAMPLES - 1) * QUOTA_WINDOW_MS) / 1000));
  }

  /**
   * Records a fetch response's bytes; returns how long its client must wait. A throttled fetch is answered empty, so
   * its bytes are then taken back out of the usage.
   */
  recordFetch(client: QuotaClient, bytes: number): number {
    const throttle = this.record('consumer_byte_rate', client, bytes, Infinity);
    if (throttle > 0) this.usageOf('consumer_byte_rate', client)?.record(-bytes, this.clock.now());
    return throttle;
  }

  /** Records the event loop's time a request took, as a percentage of a second; returns how long its client must wait. */
  recordRequestTime(client: QuotaClient, ms: number): number {
    return this.record('request_percentage', client, ms / 10, BOUNDED_THROTTLE_MS);
  }

  /** Whether any client has a request_percentage quota (only then is a request's time measured). */
  get requestTimeLimited(): boolean {
    return this.quotas.inUse('request_percentage');
  }

  /**
   * The partition mutations a request may make (KIP-599): `strict` for the versions that refuse a topic once the
   * quota is spent (CreateTopics v6+, DeleteTopics v5+, CreatePartitions v3+), else every mutation is made and the
   * client waits afterwards.
   */
  mutationsFor(client: QuotaClient, strict: boolean): MutationAllowance {
    const resolved = this.limit('controller_mutation_rate', client);
    if (resolved === null) return UNLIMITED_MUTATIONS;
    const now = this.clock.now();
    let bucket = this.mutations.get(resolved.usage);
    if (!bucket) this.mutations.set(resolved.usage, (bucket = new TokenBucket(resolved.limit, now)));
    else bucket.setRate(resolved.limit, now);
    return new BucketAllowance(bucket, this.clock, strict);
  }

  /**
   * Records a connection from `ip`; returns 0 to take it, or how long to hold it before closing it when its
   * address went past its connection_creation_rate (a refused connection does not count, as in Kafka).
   */
  recordConnection(ip: string): number {
    if (!this.quotas.inUse('connection_creation_rate')) return 0;
    const limit = this.quotas.ipLimit(ip);
    if (limit === null) return 0;
    const now = this.clock.now();
    let rate = this.connections.get(ip);
    if (!rate) this.connections.set(ip, (rate = new SampledRate()));
    rate.record(1, now);
    const throttle = rate.throttleMs(limit, now, BOUNDED_THROTTLE_MS);
    if (throttle > 0) rate.record(-1, now);
    return throttle;
  }

  private record(key: RateKey, client: QuotaClient, value: number, maxThrottleMs: number): number {
    const resolved = this.limit(key, client);
    if (resolved === null) return 0;
    const now = this.clock.now();
    const usage = this.usageOf(key, client)!;
    usage.record(value, now);
    return usage.throttleMs(resolved.limit, now, maxThrottleMs);
  }

  private usageOf(key: RateKey, client: QuotaClient): SampledRate | null {
    const resolved = this.limit(key, client);
    if (resolved === null) return null;
    const usages = this.rates.get(key)!;
    let usage = usages.get(resolved.usage);
    if (!usage) usages.set(resolved.usage, (usage = new SampledRate()));
    return usage;
  }

  private limit(key: ClientQuotaKey, client: QuotaClient): { limit: number; usage: string } | null {
    if (!this.quotas.inUse(key)) return null;
    let resolved = this.resolved.get(client);
    if (!resolved || resolved.version !== this.quotas.version || resolved.clientId !== client.clientId || resolved.principal !== client.principal) {
      resolved = { version: this.quotas.version, principal: client.principal, clientId: client.clientId, limits: new Map() };
      this.resolved.set(client, resolved);
    }
    let limit = resolved.limits.get(key);
    if (limit === undefined) {
      limit = this.quotas.limitFor(key, client.principal.slice('User:'.length), client.clientId ?? '');
      resolved.limits.set(key, limit);
    }
    return limit;
  }

  private forgetIdle(): void {
    const before = this.clock.now() - IDLE_USAGE_MS;
    for (const usages of [...this.rates.values(), this.mutations, this.connections]) {
      for (const [name, usage] of usages) if (usage.lastRecordMs < before) usages.delete(name);
    }
  }
}

/** The partition mutations one request may make, and how long its client must then wait. */
export interface MutationAllowance {
  /** Takes `partitions` mutations; false when a strict quota refuses them (the topic is answered THROTTLING_QUOTA_EXCEEDED). */
  take(partitions: number): boolean;
  readonly throttleTimeMs: number;
}

const UNLIMITED_MUTATIONS: MutationAllowance = { take: () => true, throttleTimeMs: 0 };

class BucketAllowance implements MutationAllowance {
  private refusedMs = 0;

  constructor(
    private readonly bucket: TokenBucket,
    private readonly clock: Clock,
    private readonly strict: boolean,
  ) {}

  take(partitions: number): boolean {
    const now = this.clock.now();
    if (this.strict) {
      // a request may go into debt once, and nothing more is taken until the debt is paid
      const debt = this.bucket.throttleMs(now);
      if (debt > 0) {
        this.refusedMs = debt;
        return false;
      }
    }
    this.bucket.take(partitions, now);
    return true;
  }

  get throttleTimeMs(): number {
    return this.strict ? this.refusedMs : this.bucket.throttleMs(this.clock.now());
  }
}
