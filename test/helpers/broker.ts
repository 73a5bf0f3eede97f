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
