// sarama, the Go Kafka client, as Debian packages it (golang-github-shopify-sarama-dev, 1.22), driven through
// sarama/clients.go, built once per test file (see debian-go.ts).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildDebianGo, runJsonLines } from './debian-go.js';
import type { TestMessage } from './dataset.js';

// tests run from dist/; the Go source stays in the source tree
const SOURCE = fileURLToPath(new URL('../../../test/interop/sarama/clients.go', import.meta.url));

/** The Kafka versions sarama is told to speak: from the first with record batches to the newest it knows. */
export const SARAMA_VERSIONS = ['0.11.0.0', '1.0.0', '2.0.0', '2.2.0'] as const;

export interface Sarama {
  /** Runs one command of clients.go and returns its JSON-lines output. */
  run(command: string, bootstrap: string, version: string, args: string[], input?: unknown[]): Promise<unknown[]>;
  /** Starts one command of clients.go, for output read while it runs. */
  spawn(command: string, bootstrap: string, version: string, args: string[]): ChildProcessWithoutNullStreams;
  remove(): Promise<void>;
}

/** Builds clients.go into a temp dir, removed by `remove()`. */
export async function buildSarama(): Promise<Sarama> {
  const { binary, remove } = await buildDebianGo(SOURCE, 'sarama');
  return {
    run: (command, bootstrap, version, args, input = []) => runJsonLines(binary, `sarama ${command}`, [command, bootstrap, version, ...args], input),
    spawn: (command, bootstrap, version, args) => spawn(binary, [command, bootstrap, version, ...args]),
    remove,
  };
}

export interface SaramaProduceReport {
  errors: string[];
  /** Each message's offset, -1 for one that failed. */
  offsets: number[];
}

export async function saramaProduce(sarama: Sarama, bootstrap: string, version: string, topic: string, messages: TestMessage[], codec: string, idempotent = true): Promise<SaramaProduceReport> {
  const [report] = await sarama.run('produce', bootstrap, version, [topic, codec, idempotent ? 'idempotent' : 'plain'], messages);
  return report as SaramaProduceReport;
}
