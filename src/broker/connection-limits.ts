import { isIpAddress } from '../io/tcp.js';

/** The largest limit, which is none: Kafka's default for each (Java's largest int). */
export const NO_CONNECTION_LIMIT = 2 ** 31 - 1;

/** How many connections the broker, and each client address, may hold (Kafka's max.connections and max.connections.per.ip). */
export interface ConnectionLimitsConfig {
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Limits of particular addresses, above or below the default (Kafka's max.connections.per.ip.overrides). */
  maxConnectionsPerIpOverrides: Readonly<Record<string, number>>;
}

/**
 * The connections held, counted per address and in all. An address at its limit is refused at once, as Kafka refuses
 * it; past the broker's limit a new connection waits, unread, until one closes, as Kafka's acceptor stops accepting.
 */
export class ConnectionLimits {
  private readonly perHost = new Map<string, number>();
  private served = 0;
  private readonly waiting: { host: string; pending: PendingConnection }[] = [];

  constructor(private config: ConnectionLimitsConfig) {}

  get maxConnections(): number {
    return this.config.maxConnections;
  }

  /**
   * New limits, as a dynamic config changes them: connections already served stay (as in Kafka); waiting ones are let
   * in as far as a higher limit has room.
   */
  update(config: ConnectionLimitsConfig): void {
    this.config = config;
    this.admitWaiting();
  }

  limitOf(host: string): number {
    return this.config.maxConnectionsPerIpOverrides[host] ?? this.config.maxConnectionsPerIp;
  }

  /** Connections waiting for the broker to have room. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /**
   * Counts a new connection from `host`: false when its address already holds its limit (it is to be refused);
   * otherwise it is admitted once the broker has room for it, at once or when a connection closes.
   */
  take(host: string, pending: PendingConnection): boolean {
    const count = this.perHost.get(host) ?? 0;
    if (count >= this.limitOf(host)) return false;
    this.perHost.set(host, count + 1);
    if (this.served < this.config.maxConnections) {
      this.served++;
      pending.admit();
    } else {
      this.waiting.push({ host, pending });
    }
    return true;
  }

  /** A connection from `host` closed, or was never served: its room goes to the longest waiting, if any. */
  release(host: string): void {
    this.uncount(host);
    this.served--;
    this.admitWaiting();
  }

  private admitWaiting(): void {
    while (this.served < this.config.maxConnections && this.waiting.length > 0) {
      this.served++;
      this.waiting.shift()!.pending.admit();
    }
  }

  /** Refuses every connection still waiting (shutdown). */
  refuseWaiting(): void {
    for (const { host, pending } of this.waiting.splice(0)) {
      this.uncount(host);
      pending.refuse();
    }
  }

  private uncount(host: string): void {
    const count = (this.perHost.get(host) ?? 1) - 1;
    if (count > 0) this.perHost.set(host, count);
    else this.perHost.delete(host);
  }
}

/** A connection accepted but not yet served. */
export interface PendingConnection {
  admit(): void;
  refuse(): void;
}

/**
 * `address:count,...` (Kafka's max.connections.per.ip.overrides; IP addresses only), checked: throws saying what is
 * wrong.
 */
export function parseConnectionOverrides(text: string): Record<string, number> {
  const overrides: Record<string, number> = {};
  for (const item of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const at = item.lastIndexOf(':');
    const [address, count] = [item.slice(0, at), item.slice(at + 1)];
    if (at < 1 || !isIpAddress(address) || !/^\d+$/.test(count) || Number(count) > NO_CONNECTION_LIMIT) {
      throw new Error(`max.connections.per.ip.overrides must be address:count pairs separated by commas, e.g. 10.0.0.7:500; got ${JSON.stringify(item)}`);
    }
    overrides[address] = Number(count);
  }
  return overrides;
}

