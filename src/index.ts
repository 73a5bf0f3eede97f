import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { Broker, type BrokerConfig } from './broker/broker.js';

export { Broker, DEFAULT_BROKER_CONFIG, type BrokerConfig } from './broker/broker.js';
export { ErrorCode, KafkaError } from './protocol/errors.js';
export type { LogConfig, FlushPolicy } from './storage/log-config.js';

export interface StartBrokerOptions extends Partial<BrokerConfig> {
  /** Where logs go; silent unless given. */
  logger?: Logger;
}

export interface RunningBroker {
  /** `host:port` to give a Kafka client as its bootstrap server (the first listener's). */
  bootstrap: string;
  /** Every listener's `host:port`, by listener name. */
  listeners: Readonly<Record<string, string>>;
  host: string;
  port: number;
  dataDir: string;
  /** Where Prometheus scrapes the broker's metrics, with `metrics` given (e.g. `{ host: '127.0.0.1', port: 0 }`); else null. */
  metricsUrl: string | null;
  broker: Broker;
  /** Stops the broker; a temporary data dir created by startBroker is removed. */
  close(): Promise<void>;
}

/**
 * Starts a broker inside this process, on 127.0.0.1 and a free port unless told otherwise, with a fresh
 * temporary data dir (removed on close) unless `dataDir` is given.
 */
export async function startBroker(options: StartBrokerOptions = {}): Promise<RunningBroker> {
  const { logger = pino({ level: 'silent' }), ...config } = options;
  const ownDir = config.dataDir === undefined;
  const dataDir = config.dataDir ?? (await mkdtemp(join(tmpdir(), 'sluice-')));
  let broker: Broker;
  try {
    broker = await Broker.start({ host: '127.0.0.1', port: 0, ...config, dataDir }, logger);
  } catch (err) {
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const { host, port } = broker.advertised;
  const metrics = broker.metricsAddress;
  return {
    bootstrap: `${host}:${port}`,
    listeners: Object.fromEntries(broker.listeners.map((l) => [l.name, `${l.advertised.host}:${l.advertised.port}`])),
    host,
    port,
    dataDir,
    metricsUrl: metrics && `${broker.config.metrics?.tls ? 'https' : 'http'}://${metrics.host.includes(':') ? `[${metrics.host}]` : metrics.host}:${metrics.port}/metrics`,
    broker,
    async close() {
      await broker.close();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
