import type { AddressInfo, Server } from 'node:net';
import pino, { type Logger } from 'pino';
import { listen, type AcceptedSocket, type TlsFiles, type TlsMaterial, type TlsSettings } from '../io/tcp.js';
import { TlsKeys, type CertificateSummary } from './tls-keys.js';
import type { LogConfig } from '../storage/log-config.js';
import { DEFAULT_INDEX_CACHE_BYTES, LogManager, type TopicState } from '../storage/log-manager.js';
import { DEFAULT_CLEANER_SETTINGS } from '../storage/cleaner-settings.js';
import { DEFAULT_GROUP_CONFIG, GroupCoordinator, type GroupCoordinatorConfig } from '../coordinator/group-coordinator.js';
import { ProducerIdManager } from '../coordinator/producer-ids.js';
import { DEFAULT_TRANSACTION_CONFIG, TransactionCoordinator, type TransactionConfig } from '../coordinator/transaction-coordinator.js';
import { Connection } from './connection.js';
import { dispatchFrame } from './dispatch.js';
import { HANDLERS } from './handlers/index.js';
import { AppendOrder } from './append-order.js';
import { BufferPool } from './buffer-pool.js';
import { OAuthBearerValidator, type OAuthBearerConfig } from './oauth-bearer.js';
import { SASL_MECHANISMS, SaslUsers, type SaslMechanism } from './sasl-credentials.js';
import { QueuedRequestBytes } from './queued-request-bytes.js';
import { FetchMemory } from './fetch-memory.js';
import type { ApiHandler } from './handler.js';
import { loadClusterId } from './cluster-identity.js';
import { StorageErrorLog } from './storage-error-log.js';
import type { FileSystem } from '../io/file-system.js';
import { Authorizer, type AuthorizerConfig, type Requester } from './authorizer.js';
import { ScramCredentialStore } from './scram-store.js';
import type { Operation, Resource } from '../protocol/acl.js';
import { ClientQuotaStore } from './client-quotas.js';
import { ClientThrottling } from './client-throttling.js';
import { DEFAULT_PRINCIPAL_MAPPING, principalMapper, type PrincipalMapper } from './principal-mapping.js';
import { ConnectionLimits, NO_CONNECTION_LIMIT } from './connection-limits.js';
import { DynamicBrokerSettings } from './dynamic-broker-settings.js';
import { BrokerMetrics } from './broker-metrics.js';
import { exposition, METRICS_CONTENT_TYPE, type MetricFamily } from './metrics-exposition.js';
import { stateFamilies } from './state-metrics.js';
import { serveHttp, type HttpEndpoint } from '../io/http-endpoint.js';
import { ProcessMetrics } from '../io/process-metrics.js';
import { basicAuthorizer } from './metrics-access.js';
import { advertisedOf, listenerTlsSettings, listenersRefusal, securityProtocol, usesSasl, usesTls, type Listener, type ListenerConfig } from './listeners.js';

export interface BrokerConfig {
  /** The listener's host and port where `listeners` is null. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** The host clients are told to connect to (Metadata); defaults to `host`, or 127.0.0.1 when host is a wildcard. */
  advertisedHost?: string;
  advertisedPort?: number;
  dataDir: string;
  /** The file system the data dir is used through (default: Node's); an embedding test can make it fail. */
  fileSystem?: FileSystem;
  nodeId: number;
  clusterId?: string;
  autoCreateTopics: boolean;
  /** Whether DeleteTopics may delete topics (Kafka's delete.topic.enable); false: each is refused with TOPIC_DELETION_DISABLED. */
  deleteTopicEnable: boolean;
  defaultPartitions: number;
  maxRequestBytes: number;
  idleTimeoutMs: number;
  maxInFlightPerConnection: number;
  /** Bytes of requests read but not yet answered, over all connections, past which no more are read (queued.max.request.bytes). */
  queuedMaxRequestBytes: number;
  /** Memory fetch responses may hold over all connections until written, past which fetches read less (see FetchMemory). */
  fetchMemoryBytes: number;
  /** Broker-wide topic config defaults (Kafka's `log.*` / `message.max.bytes` equivalents). */
  logDefaults: Partial<LogConfig>;
  retentionCheckMs: number;
  maxOpenFiles: number;
  /** Memory for one compaction round's key map (Kafka's log.cleaner.dedupe.buffer.size). */
  compactionMapBytes: number;
  /** Bytes a second compaction may read and write together (Kafka's log.cleaner.io.max.bytes.per.second); Infinity: no bound. */
  compactionIoBytesPerSecond: number;
  /** Memory for closed segments' indexes; past it, the least recently used are read back from their files on use. */
  indexCacheBytes: number;
  shutdownTimeoutMs: number;
  /** Consumer group settings (session timeout bounds, initial rebalance delay, offsets retention). */
  groups: Partial<GroupCoordinatorConfig>;
  /** Transaction settings (largest timeout, timeout check interval, transactional id expiration). */
  transactions: Partial<TransactionConfig>;
  /**
   * SASL authentication: the users and their passwords, OAUTHBEARER's token settings, and the mechanisms offered.
   * Without `listeners`, the one listener's security protocol is then SASL_PLAINTEXT (SASL_SSL with `tls`); with them,
   * the SASL listeners ask for it. Null: none, every client is served.
   */
  sasl: SaslConfig | null;
  /**
   * The certificate TLS is served with. Without `listeners`, the one listener then speaks TLS (SSL, or SASL_SSL with
   * `sasl`); with them, the TLS listeners do. Null: none.
   */
  tls: TlsSettings | null;
  /** How often the TLS files (`tls.files`) are looked at for a renewed certificate; 0: only when reloadTls() is called. */
  tlsFileCheckMs: number;
  /**
   * The ports the broker listens on, each with its own security protocol (TLS with `tls`, SASL with `sasl`); null:
   * one, on `host` and `port`, advertised as `advertisedHost` and `advertisedPort`, TLS if `tls` is set, SASL if `sasl` is.
   */
  listeners: ListenerConfig[] | null;
  /** Whether ACLs decide what each principal may do (kept in the data dir, managed with the ACL APIs); off: anyone may do anything. */
  acls: AclsConfig;
  /** How a TLS client certificate's distinguished name becomes its principal's name (Kafka's ssl.principal.mapping.rules). */
  principalMappingRules: string;
  /**
   * Connections served at once; past it new ones wait, unread, until one closes (Kafka's max.connections). This and
   * the two below are where the dynamic broker configs of the same names start from.
   */
  maxConnections: number;
  /** Connections one client address may hold; past it new ones are refused (Kafka's max.connections.per.ip). */
  maxConnectionsPerIp: number;
  /** Addresses with limits of their own (Kafka's max.connections.per.ip.overrides). */
  maxConnectionsPerIpOverrides: Readonly<Record<string, number>>;
  /** Where an HTTP endpoint serves the broker's metrics to Prometheus, and what it asks of scrapers; null for none. */
  metrics: MetricsEndpointConfig | null;
}

export interface MetricsEndpointConfig {
  /** Where it listens (port 0: any free one); it serves GET /metrics. */
  host: string;
  port: number;
  /** Speak HTTPS with the broker's TLS certificate (`tls`), and its renewals. */
  tls?: boolean;
  /**
   * Scrapers must give one of these users' passwords (HTTP Basic, Prometheus' `basic_auth`). Without them the endpoint
   * asks for nothing, as Kafka's JMX exporter does not by default: keep it on an address only monitoring reaches.
   */
  users?: Readonly<Record<string, string>>;
}

export interface AclsConfig extends AuthorizerConfig {
  enabled: boolean;
}

export interface SaslConfig {
  /** Users and their passwords, for PLAIN and SCRAM (more can be added through AlterUserScramCredentials). */
  users?: Readonly<Record<string, string>>;
  /** Default: PLAIN and SCRAM when there are users, OAUTHBEARER when `oauthBearer` is set. */
  mechanisms?: readonly SaslMechanism[];
  /** How OAUTHBEARER tokens are validated: the issuer's keys, and what a token must say. */
  oauthBearer?: OAuthBearerConfig;
  /**
   * How long an authenticated session lasts before the client must authenticate again on its connection (KIP-368,
   * Kafka's connections.max.reauth.ms); a connection that sends anything else once it has passed is closed. 0: forever.
   */
  maxReauthMs?: number;
}

export const DEFAULT_BROKER_CONFIG: BrokerConfig = {
  host: '127.0.0.1',
  port: 9092,
  dataDir: './data',
  nodeId: 1,
  autoCreateTopics: true,
  deleteTopicEnable: true,
  defaultPartitions: 1,
  maxRequestBytes: 100 * 1024 * 1024,
  idleTimeoutMs: 10 * 60 * 1000,
  maxInFlightPerConnection: 128,
  queuedMaxRequestBytes: 64 * 1024 * 1024,
  fetchMemoryBytes: 256 * 1024 * 1024,
  logDefaults: {},
  retentionCheckMs: 30_000,
  maxOpenFiles: 16384,
  compactionMapBytes: DEFAULT_CLEANER_SETTINGS.mapBytes,
  compactionIoBytesPerSecond: DEFAULT_CLEANER_SETTINGS.ioBytesPerSecond,
  indexCacheBytes: DEFAULT_INDEX_CACHE_BYTES,
  shutdownTimeoutMs: 10_000,
  groups: {},
  transactions: {},
  sasl: null,
  tls: null,
  tlsFileCheckMs: 10_000,
  listeners: null,
  acls: { enabled: false },
  principalMappingRules: DEFAULT_PRINCIPAL_MAPPING,
  maxConnections: NO_CONNECTION_LIMIT,
  maxConnectionsPerIp: NO_CONNECTION_LIMIT,
  maxConnectionsPerIpOverrides: {},
  metrics: null,
};

/**
 * A single-node Kafka-protocol broker: a TCP listener, the API handlers, and the log manager. Start with
 * Broker.start(); close() stops accepting, lets in-flight requests finish, then flushes and closes the logs.
 */
export class Broker {
  readonly handlers: ReadonlyMap<number, ApiHandler>;
  readonly connections = new Set<Connection>();
  /** Memory for large produce requests and fetch reads, shared by all connections (see BufferPool). */
  readonly bufferPool = new BufferPool();
  /** Keeps each partition's appends in their requests' order while some wait on the records thread. */
  readonly appendOrder = new AppendOrder();
  readonly queuedRequests: QueuedRequestBytes;
  readonly fetchMemory: FetchMemory;
  readonly storageErrors: StorageErrorLog;
  readonly producerIds: ProducerIdManager;
  readonly transactions: TransactionCoordinator;
  private readonly servers: Server[] = [];
  /** The listeners as bound, in the order configured. */
  private readonly bound: BoundListener[] = [];
  private closing: Promise<void> | null = null;
  private metricsEndpoint: HttpEndpoint | null = null;
  private readonly topicCreations = new Map<string, Promise<TopicState>>();
  private readonly closingListeners = new Set<() => void>();
  /** Connections over their address's connection_creation_rate, held until their throttle ends, then closed. */
  private readonly heldConnections = new Map<AcceptedSocket, () => void>();
  /** The client quotas, and each client's usage of them. */
  readonly throttling: ClientThrottling;
  private readonly certificateName: PrincipalMapper;
  private readonly connectionLimits: ConnectionLimits;

  private constructor(
    readonly config: BrokerConfig,
    readonly clusterId: string,
    readonly logs: LogManager,
    readonly groups: GroupCoordinator,
    readonly logger: Logger,
    /** What SASL clients must authenticate with (on SASL listeners), or null without SASL. */
    readonly sasl: { mechanisms: readonly SaslMechanism[]; users: SaslUsers; oauthBearer: OAuthBearerValidator | null; maxReauthMs: number } | null,
    /** The ACLs that decide what each principal may do, or null when anyone may do anything. */
    readonly authorizer: Authorizer | null,
    /** The SCRAM credentials managed through AlterUserScramCredentials (kept whether or not the listener asks for SASL). */
    readonly scramCredentials: ScramCredentialStore,
    clientQuotas: ClientQuotaStore,
    /** The certificates the TLS listeners serve: the broker's, and listeners' own. */
    private readonly tlsKeys: ListenerKeys,
    /** The broker's settings changed while it runs (the connection limits), over the start's. */
    readonly dynamicSettings: DynamicBrokerSettings,
    /** What the metrics endpoint reports: counts kept as requests are served. */
    readonly metrics: BrokerMetrics,
  ) {
    this.throttling = new ClientThrottling(clientQuotas, logs.clock);
    this.certificateName = principalMapper(config.principalMappingRules);
    this.connectionLimits = new ConnectionLimits(dynamicSettings.connectionLimits);
    dynamicSettings.onChange = (limits) => {
      this.connectionLimits.update(limits);
      logger.info({ maxConnections: limits.maxConnections, maxConnectionsPerIp: limits.maxConnectionsPerIp, maxConnectionsPerIpOverrides: limits.maxConnectionsPerIpOverrides }, 'connection limits changed');
    };
    this.handlers = new Map(HANDLERS.map((h) => [h.apiKey, h]));
    this.queuedRequests = new QueuedRequestBytes(config.queuedMaxRequestBytes);
    this.fetchMemory = new FetchMemory(config.fetchMemoryBytes);
    this.storageErrors = new StorageErrorLog(logger, logs.clock);
    this.producerIds = new ProducerIdManager(logs.beside, logs.dataDir);
    this.transactions = new TransactionCoordinator(
      {
        logs,
        clock: logs.clock,
        nextProducerId: () => this.producerIds.nextId(),
        // offsets for a topic deleted while the transaction was open were dropped with it (forgetDeletedTopics); a
        // deletion that finished while the commit was already under way is caught here
        commitOffsets: (groupId, offsets) => groups.storeOffsets(groupId, offsets.filter((o) => logs.topics.has(o.topic))),
        onError: (err, what) => logger.error({ err }, `transactions: ${what} failed`),
      },
      { ...DEFAULT_TRANSACTION_CONFIG, ...config.transactions },
    );
  }

  static async start(config: Partial<BrokerConfig> = {}, logger: Logger = pino({ level: 'silent' })): Promise<Broker> {
    const full: BrokerConfig = { ...DEFAULT_BROKER_CONFIG, ...config };
    // refused before the data dir is opened
    principalMapper(full.principalMappingRules);
    const listeners = listenerConfigs(full);
    const refusal = listenersRefusal(listeners, full.tls, full.sasl !== null);
    if (refusal !== null) throw new Error(refusal);
    const tlsKeys = tlsKeysOf(listeners, full.tls, logger);
    const opening = performance.now();
    const metrics = new BrokerMetrics();
    const logs = await LogManager.open({
      dataDir: full.dataDir,
      fs: full.fileSystem,
      defaults: full.logDefaults,
      retentionCheckMs: full.retentionCheckMs,
      maxOpenFiles: full.maxOpenFiles,
      compactionMapBytes: full.compactionMapBytes,
      compactionIoBytesPerSecond: full.compactionIoBytesPerSecond,
      indexCacheBytes: full.indexCacheBytes,
      onError: (err, what) => logger.error({ err }, `storage: ${what} failed`),
      onCompacted: (log, result, ms) => logger.info({ topic: log.topic, partition: log.partition, ...result, ms: Math.round(ms) }, 'compacted'),
      onSync: (kind, seconds) => metrics.syncObserved(kind, seconds),
      onOpenFilesCut: (maxOpen) => logger.warn({ maxOpen }, 'out of file descriptors: segment files kept open cut to maxOpen, so partitions past it reopen theirs on every use; raise the process limit (ulimit -n) above the partitions in use plus connections, or lower --max-open-files'),
    });
    if (logs.recoveredTruncatedBytes > 0) logger.warn({ bytes: logs.recoveredTruncatedBytes }, 'recovery truncated torn log tails');
    if (logs.journalSkipped > 0) logger.warn({ entries: logs.journalSkipped }, 'recovery skipped journal entries past their partition\'s end (appends not acknowledged before a power loss)');
    for (const cut of logs.recoveredCuts) logger.warn(cut, 'recovery cut a partition where a power loss took unsynced appends (later ones that survived were removed too)');
    const opened = performance.now();
    void logs.recoveryFinished.then(({ sealed, unsealed }) => {
      const ms = Math.round(performance.now() - opened);
      if (sealed > 0 && unsealed === 0) logger.info({ segments: sealed, ms }, 'recovery wrote the index files of the closed segments found without them, in the background');
      if (unsealed > 0) logger.info({ sealed, unsealed, ms }, 'shutdown stopped recovery writing index files of closed segments found without them: the next start goes on');
    });
    let clusterId: string;
    let authorizer: Authorizer | null = null;
    let scramCredentials: ScramCredentialStore;
    let clientQuotas: ClientQuotaStore;
    let dynamicSettings: DynamicBrokerSettings;
    let sasl: Broker['sasl'] = null;
    try {
      clusterId = await loadClusterId(logs.beside, full.dataDir, full);
      if (full.acls.enabled) authorizer = await Authorizer.open(logs.beside, full.dataDir, full.acls, logger);
      scramCredentials = await ScramCredentialStore.open(logs.beside, full.dataDir);
      clientQuotas = await ClientQuotaStore.open(logs.beside, full.dataDir);
      dynamicSettings = await DynamicBrokerSettings.open(logs.beside, full.dataDir, full);
      if (full.sasl !== null) sasl = await saslOf(full.sasl, scramCredentials, listeners);
      if (sasl?.oauthBearer) await loadIssuerKeys(sasl.oauthBearer, logger);
    } catch (err) {
      await logs.close();
      throw err;
    }
    const groups = new GroupCoordinator(logs, logs.clock, { ...DEFAULT_GROUP_CONFIG, ...full.groups }, (err, what) => logger.error({ err }, `groups: ${what} failed`));
    const broker = new Broker(full, clusterId, logs, groups, logger, sasl, authorizer, scramCredentials, clientQuotas, tlsKeys, dynamicSettings, metrics);
    try {
      await broker.producerIds.load();
      await groups.load();
      await broker.transactions.load();
      for (const l of listeners) {
        const listener: BoundListener = { name: l.name, securityProtocol: l.securityProtocol, saslMechanisms: l.saslMechanisms, tlsClientAuth: l.tlsClientAuth, tlsFiles: l.tls?.files, host: l.host, port: 0, advertised: { host: '', port: 0 } };
        const server = await listen(
          l.host,
          l.port,
          (socket) => broker.accept(socket, listener),
          {
            onAcceptError: (err) => logger.error({ err, listener: l.name }, 'accepting a connection failed; still listening'),
            onTlsError: (remote, err) => {
              const code = (err as NodeJS.ErrnoException).code;
              // what a plaintext Kafka client's first bytes look like to a TLS listener
              const reason = code === 'ERR_SSL_WRONG_VERSION_NUMBER' ? 'the client does not speak TLS' : err.message.trim();
              logger.info({ remote, listener: l.name, code, reason }, 'closing connection: TLS handshake failed');
            },
          },
          usesTls(l.securityProtocol) ? { context: (tlsKeys.own.get(l.name) ?? tlsKeys.shared!).context, clientAuth: l.tlsClientAuth ?? full.tls?.clientAuth ?? 'none' } : null,
        );
        broker.servers.push(server);
        // kept from the listen: once closing, a server no longer has an address, and requests still get answers
        listener.port = (server.address() as AddressInfo).port;
        listener.advertised = advertisedOf(l, listener.port);
        broker.bound.push(listener);
      }
      if (full.metrics !== null) broker.metricsEndpoint = await broker.serveMetrics(full.metrics, tlsKeys.shared);
    } catch (err) {
      for (const server of broker.servers) server.close();
      broker.throttling.close();
      broker.transactions.close();
      groups.close();
      await logs.close();
      throw err;
    }
    const anonymous = listeners.filter((l) => !usesSasl(l.securityProtocol) && (!usesTls(l.securityProtocol) || (l.tlsClientAuth ?? full.tls?.clientAuth) === 'none'));
    if (authorizer !== null && anonymous.length > 0) {
      logger.warn({ listeners: anonymous.map((l) => l.name) }, 'ACLs are on, but clients cannot say who they are (no SASL, no TLS client certificates): every client is User:ANONYMOUS');
    }
    if (full.sasl !== null && !listeners.some((l) => usesSasl(l.securityProtocol))) logger.warn('SASL is configured, but no listener asks for SASL');
    if (full.tls !== null && !listeners.some((l) => usesTls(l.securityProtocol)) && !full.metrics?.tls) logger.warn('a TLS certificate is configured, but no listener speaks TLS');
    for (const keys of allKeys(tlsKeys)) keys.watch(full.tlsFileCheckMs);
    const [first, ...more] = broker.bound;
    const others = more.length === 0 ? undefined : more.map((l) => `${l.name} ${l.securityProtocol} port ${l.port}`);
    logger.info({ host: listeners[0]!.host, port: first!.port, securityProtocol: first!.securityProtocol, otherListeners: others, acls: authorizer?.size, clientQuotas: clientQuotas.size, clusterId, metrics: broker.metricsAddress ?? undefined, dataDir: full.dataDir, topics: logs.topics.size, cleanStart: logs.cleanStart, journalEntriesReplayed: logs.journalReplayed, dataDirOpenMs: Math.round(opened - opening) }, 'broker started');
    return broker;
  }

  /** Where Prometheus scrapes the broker's metrics (GET /metrics), or null where no metrics endpoint was asked for. */
  get metricsAddress(): { host: string; port: number } | null {
    return this.metricsEndpoint && { host: this.metricsEndpoint.host, port: this.metricsEndpoint.port };
  }

  private serveMetrics({ host, port, tls, users }: MetricsEndpointConfig, keys: TlsKeys | null): Promise<HttpEndpoint> {
    if (tls && keys === null) throw new Error('the metrics endpoint is to speak TLS, but the broker has no TLS certificate');
    if (users !== undefined && Object.keys(users).length === 0) throw new Error('the metrics endpoint is to ask for a password, but names no user');
    const routes = new Map([['/metrics', () => ({ contentType: METRICS_CONTENT_TYPE, body: this.metricsText() })]]);
    const access = { tls: tls ? keys!.context : null, authorized: users === undefined ? null : basicAuthorizer(users), realm: 'Sluice metrics' };
    return serveHttp(
      host,
      port,
      routes,
      (err, path) => this.logger.error({ err, path }, 'metrics endpoint: answering a scrape failed'),
      access,
      (remote, err) => this.logger.info({ remote, reason: err.message.trim() }, 'metrics endpoint: closing connection: TLS handshake failed'),
    );
  }

  /**
   * Every metric in Prometheus' text format, a piece at a time: the broker's counts, what its state shows, and the
   * process's. Each family is built as it is written, and requests are served between pieces: written whole, a family
   * of every partition held the event loop 10-20 ms at 10,000 partitions.
   */
  private async *metricsText(): AsyncGenerator<string> {
    const connections = new Map(this.bound.map((l) => [l.name, 0]));
    for (const c of this.connections) connections.set(c.listener.name, (connections.get(c.listener.name) ?? 0) + 1);
    // a filesystem that cannot say its space leaves those two gauges out, not the page
    const disk = await this.logs.fs.diskSpace(this.logs.dataDir).catch(() => null);
    const memory = { queuedRequests: { bytes: this.queuedRequests.bytes, limit: this.queuedRequests.limit }, fetchResponses: { bytes: this.fetchMemory.bytes, limit: this.fetchMemory.limit } };
    const state = { nodeId: this.config.nodeId, disk, storageErrors: this.storageErrors, memory, topics: this.logs.topics, groups: this.groups, connections };
    const sources: Iterable<MetricFamily>[] = [this.metrics.families(this.logs.clock.now()), stateFamilies(state)];
    for (const families of sources) {
      for (const family of families) {
        for (const piece of exposition(family)) {
          yield piece;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    }
    yield await ProcessMetrics.get().text();
  }

  /** The first listener's port. */
  get port(): number {
    return this.bound[0]!.port;
  }

  /** The host:port clients of the first listener should connect to. */
  get advertised(): { host: string; port: number } {
    return this.bound[0]!.advertised;
  }

  /** Every listener, with the port it is bound to. */
  get listeners(): readonly BoundListener[] {
    return this.bound;
  }

  private accept(accepted: AcceptedSocket, listener: Listener): void {
    if (this.closing) {
      accepted.refuse();
      return;
    }
    const { host } = accepted;
    const counted = this.connectionLimits.take(host, {
      admit: () => this.serve(accepted, listener),
      refuse: () => accepted.refuse(),
    });
    if (!counted) {
      this.logger.info({ host, limit: this.connectionLimits.limitOf(host) }, 'closing connection: its address holds the most connections it may (max-connections-per-ip)');
      accepted.refuse();
    } else if (this.connectionLimits.waitingCount === 1) {
      this.logger.warn({ maxConnections: this.connectionLimits.maxConnections }, 'the broker holds the most connections it may (max-connections): new ones wait, unread, until one closes');
    }
  }

  /** A connection the limits let in: held and closed if its address opens them too fast, else served. */
  private serve(accepted: AcceptedSocket, listener: Listener): void {
    if (this.closing) {
      accepted.refuse();
      this.connectionLimits.release(accepted.host);
      return;
    }
    const throttleMs = this.throttling.recordConnection(accepted.host);
    if (throttleMs > 0) {
      // as Kafka: held unread for the throttle, then closed, so a client reconnecting in a loop is slowed too
      this.logger.info({ host: accepted.host, throttleMs }, 'closing connection: its address went past its connection_creation_rate quota');
      const cancel = this.logs.clock.after(throttleMs, () => this.closeHeld(accepted));
      this.heldConnections.set(accepted, cancel);
      return;
    }
    const { host } = accepted;
    const connection = new Connection(
      accepted,
      (frame, conn, taken) => dispatchFrame(this, frame, conn, taken),
      {
        maxRequestBytes: this.config.maxRequestBytes,
        idleTimeoutMs: this.config.idleTimeoutMs,
        maxInFlight: this.config.maxInFlightPerConnection,
        buffers: this.bufferPool,
        queued: this.queuedRequests,
        logger: this.logger,
        saslRequired: usesSasl(listener.securityProtocol),
        certificateName: this.certificateName,
        listener,
        traffic: this.metrics.traffic(listener.name),
      },
      (c) => {
        this.connections.delete(c);
        this.connectionLimits.release(host);
      },
    );
    this.connections.add(connection);
    this.metrics.connectionAccepted(listener.name);
  }

  private closeHeld(accepted: AcceptedSocket): void {
    this.heldConnections.get(accepted)?.();
    this.heldConnections.delete(accepted);
    accepted.refuse();
    this.connectionLimits.release(accepted.host);
  }

  /**
   * Whether the client may do `operation` on the resource: always without an authorizer. A refusal of what a request
   * names is logged; `logDenied` false is for filtering what a listing shows.
   */
  allows(who: Requester, operation: Operation, type: Resource, name: string, logDenied = true): boolean {
    return this.authorizer === null || this.authorizer.authorize(who, operation, type, name, logDenied);
  }

  /** Whether the client may do `operation` on some resource of the type (see Authorizer.authorizeAny). */
  allowsAny(who: Requester, operation: Operation, type: Resource): boolean {
    return this.authorizer === null || this.authorizer.authorizeAny(who, operation, type);
  }

  /** The topic, created with broker defaults when auto-creation is on; null when it does not exist. */
  async topicOrAutoCreate(name: string, allowAutoCreate = true): Promise<TopicState | null> {
    const existing = this.logs.topics.get(name);
    // one being created is answered once it is (or, created some other way, as it stands)
    if (existing) return existing.partitions.length > 0 ? existing : (this.topicCreations.get(name) ?? existing);
    if (!this.config.autoCreateTopics || !allowAutoCreate || name.startsWith('__')) return null;
    return this.createTopic(name, this.config.defaultPartitions, {});
  }

  /** Creates a topic; concurrent creations of the same name share one attempt. */
  createTopic(name: string, partitions: number, overrides: Record<string, string>): Promise<TopicState> {
    const inProgress = this.topicCreations.get(name);
    if (inProgress) return inProgress;
    const creation = this.logs.createTopic(name, partitions, overrides).finally(() => this.topicCreations.delete(name));
    this.topicCreations.set(name, creation);
    creation.then(
      (t) => this.logger.info({ topic: name, partitions: t.partitions.length }, 'topic created'),
      () => undefined,
    );
    return creation;
  }

  topicById(id: string): TopicState | undefined {
    for (const t of this.logs.topics.values()) if (t.id === id) return t;
    return undefined;
  }

  /** Calls `fn` when shutdown begins (long-poll fetches answer at once); returns a function that cancels it. */
  onClosing(fn: () => void): () => void {
    this.closingListeners.add(fn);
    return () => this.closingListeners.delete(fn);
  }

  get isClosing(): boolean {
    return this.closing !== null;
  }

  /**
   * Serves renewed TLS certificates from the next connection on: what the TLS files (the broker's, and listeners'
   * own) hold now, or `material` in place of the broker's own. Throws, keeping the current certificate, when one
   * cannot be used (logged too).
   */
  reloadTls(material?: TlsMaterial): Promise<CertificateSummary[]> {
    const keys = material === undefined ? allKeys(this.tlsKeys) : this.tlsKeys.shared === null ? [] : [this.tlsKeys.shared];
    if (keys.length === 0) return Promise.reject(new Error(material === undefined ? 'this broker has no TLS certificate to reload' : 'this broker has no TLS certificate of its own to replace (its listeners have their own)'));
    return Promise.all(keys.map((k) => k.reload(material)));
  }

  /** Graceful shutdown: stop accepting, finish in-flight requests, flush and close the logs. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.logger.info('broker shutting down');
    const serversClosed = Promise.all(this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    for (const listener of this.closingListeners) listener();
    this.connectionLimits.refuseWaiting();
    for (const held of [...this.heldConnections.keys()]) this.closeHeld(held);
    this.closingListeners.clear();
    await Promise.all([...this.connections].map((c) => c.drain(this.config.shutdownTimeoutMs)));
    for (const c of this.connections) c.close();
    await serversClosed;
    await this.metricsEndpoint?.close();
    for (const keys of allKeys(this.tlsKeys)) keys.close();
    this.throttling.close();
    this.transactions.close();
    this.groups.close();
    await this.logs.close();
    this.logger.info('broker stopped');
  }
}

/**
 * The SASL settings checked, and the configured users' passwords made into credentials (which a start takes some
 * milliseconds per user for), beside those managed through the API. Every mechanism offered, by the broker or by a
 * listener of its own, needs what it checks: users for PLAIN and SCRAM, token settings for OAUTHBEARER.
 */
async function saslOf(config: SaslConfig, managed: ScramCredentialStore, listeners: readonly ListenerConfig[]): Promise<NonNullable<Broker['sasl']>> {
  const oauthBearer = config.oauthBearer === undefined ? null : OAuthBearerValidator.fromConfig(config.oauthBearer);
  const passwords = config.users ?? {};
  const hasUsers = Object.keys(passwords).length > 0 || managed.users().length > 0;
  const mechanisms = config.mechanisms ?? SASL_MECHANISMS.filter((m) => (m === 'OAUTHBEARER' ? oauthBearer !== null : hasUsers || oauthBearer === null));
  const offered = [...mechanisms, ...listeners.flatMap((l) => (usesSasl(l.securityProtocol) ? (l.saslMechanisms ?? []) : []))];
  const unknown = offered.filter((m) => !(SASL_MECHANISMS as readonly string[]).includes(m));
  if (unknown.length > 0 || mechanisms.length === 0) throw new Error(`SASL mechanisms must be some of ${SASL_MECHANISMS.join(', ')}; got ${mechanisms.join(', ') || 'none'}`);
  if (offered.includes('OAUTHBEARER') && oauthBearer === null) throw new Error('OAUTHBEARER needs its token settings: the issuer\'s key set (a JWKS URL, or the keys), or unsecured tokens');
  if (offered.some((m) => m !== 'OAUTHBEARER') && !hasUsers) {
    throw new Error('SASL needs at least one user: in the users given, or added through AlterUserScramCredentials before');
  }
  const maxReauthMs = config.maxReauthMs ?? 0;
  if (!Number.isInteger(maxReauthMs) || maxReauthMs < 0) throw new Error(`SASL's maxReauthMs must be a whole number of milliseconds, 0 for sessions that never end; got ${maxReauthMs}`);
  return { mechanisms, users: await SaslUsers.fromPasswords(passwords, managed), oauthBearer, maxReauthMs };
}

/**
 * Reads or fetches the OAUTHBEARER issuer's keys at start: a key set in a file must be readable, or the start fails;
 * one behind an http(s) URL is fetched again as tokens need it, so a start while its server is down is only logged.
 */
async function loadIssuerKeys(validator: OAuthBearerValidator, logger: Logger): Promise<void> {
  const url = validator.settings.jwksUrl;
  try {
    await validator.load();
  } catch (err) {
    if (url === undefined || url.startsWith('file:')) throw new Error(`OAUTHBEARER: the issuer's key set cannot be read: ${(err as Error).message}`);
    logger.warn({ url, reason: (err as Error).message }, 'OAUTHBEARER: the issuer\'s key set could not be fetched; tokens are refused until it can be');
  }
}

/** The certificates the TLS listeners serve: the broker's, shared by listeners without their own, and listeners' own. */
interface ListenerKeys {
  shared: TlsKeys | null;
  own: ReadonlyMap<string, TlsKeys>;
}

const allKeys = (keys: ListenerKeys): TlsKeys[] => [...(keys.shared === null ? [] : [keys.shared]), ...keys.own.values()];

/** Each TLS setting's context, checked (a start with a certificate and key that cannot be used fails, naming it). */
function tlsKeysOf(listeners: readonly ListenerConfig[], tls: TlsSettings | null, logger: Logger): ListenerKeys {
  const shared = tls === null ? null : TlsKeys.open(tls, logger);
  const own = new Map<string, TlsKeys>();
  for (const l of listeners) {
    if (l.tls === undefined) continue;
    const log = logger.child({ listener: l.name });
    try {
      own.set(l.name, TlsKeys.open(listenerTlsSettings(l, tls)!, log));
    } catch (err) {
      throw new Error(`listener ${l.name}: ${(err as Error).message}`);
    }
  }
  return { shared, own };
}

/** A listener as bound: its host and the port it got, and its own client certificate setting and TLS files. */
export type BoundListener = Listener & { host: string; port: number; tlsClientAuth?: ListenerConfig['tlsClientAuth']; tlsFiles?: Partial<TlsFiles> };

/** The listeners configured, or the one `host`, `port`, `tls` and `sasl` make. */
function listenerConfigs(config: BrokerConfig): ListenerConfig[] {
  if (config.listeners !== null) return config.listeners;
  const protocol = securityProtocol(config.sasl !== null, config.tls !== null);
  return [{ name: protocol, securityProtocol: protocol, host: config.host, port: config.port, advertisedHost: config.advertisedHost, advertisedPort: config.advertisedPort }];
}
