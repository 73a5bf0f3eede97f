// sarama, the Go Kafka client, as Debian packages it (golang-github-shopify-sarama-dev, 1.22), driven through
// go/sarama-clients.go, built once per test file (see debian-go.ts).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { buildDebianGo, runJsonLines } from './debian-go.js';
import type { TestMessage } from './dataset.js';

/** The Kafka versions sarama is told to speak: from the first with record batches to the newest it knows. */
export const SARAMA_VERSIONS = ['0.11.0.0', '1.0.0', '2.0.0', '2.2.0'] as const;

export interface Sarama {
  /** Runs one command of sarama-clients.go and returns its JSON-lines output. */
  run(command: string, bootstrap: string, version: string, args: string[], input?: unknown[]): Promise<unknown[]>;
  /** Starts one command of sarama-clients.go, for output read while it runs. */
  spawn(command: string, bootstrap: string, version: string, args: string[]): ChildProcessWithoutNullStreams;
  remove(): Promise<void>;
}

/** Builds sarama-clients.go into a temp dir, removed by `remove()`. */
export async function buildSarama(): Promise<Sarama> {
  const { binary, remove } = await buildDebianGo('sarama');
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
