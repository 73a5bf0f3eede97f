import { KafkaClient } from '../../src/admin/kafka-client.js';
import { startBroker, type RunningBroker, type StartBrokerOptions } from '../../src/index.js';

/** Runs `fn` against a freshly started broker on 127.0.0.1 and an ephemeral port, then closes it. */
export async function withBroker<T>(fn: (b: RunningBroker) => Promise<T>, options: StartBrokerOptions = {}): Promise<T> {
  const broker = await startBroker(options);
  try {
    return await fn(broker);
  } finally {
    await broker.close();
  }
}

/** Runs `fn` with a freshly started broker and our own protocol client connected to it, then closes both. */
export async function withClient(fn: (c: KafkaClient, b: RunningBroker) => Promise<void>, options: StartBrokerOptions = {}): Promise<void> {
  await withBroker(async (b) => {
    const c = await KafkaClient.connectTo(b.bootstrap);
    try {
      await fn(c, b);
    } finally {
      c.close();
    }
  }, options);
}

/** Runs `fn` with a fresh connection of our own client to `bootstrap` (over TLS if `tls` is given), closed after. */
export async function connected<T>(bootstrap: string, fn: (c: KafkaClient) => Promise<T>, tls?: Parameters<typeof KafkaClient.connectTo>[2]): Promise<T> {
  const c = await KafkaClient.connectTo(bootstrap, 'sluice-test', tls);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}
