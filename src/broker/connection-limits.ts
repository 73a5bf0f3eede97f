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

  constructor(private readonly config: ConnectionLimitsConfig) {}

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
    const next = this.waiting.shift();
    if (next) next.pending.admit();
    else this.served--;
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
