// sarama, the Go Kafka client, as Debian packages it (golang-github-shopify-sarama-dev, 1.22), driven through
// sarama/clients.go. The program is built once per test file with Debian's Go, from Debian's copies of sarama and
// its dependencies (GOPATH mode: no module download).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/run.js';
import { tempDir } from '../helpers/temp-dir.js';
import type { TestMessage } from './dataset.js';

// tests run from dist/; the Go source stays in the source tree
const SOURCE = fileURLToPath(new URL('../../../test/interop/sarama/clients.go', import.meta.url));
/** Where Debian installs the Go libraries it packages. */
const DEBIAN_GOPATH = '/usr/share/gocode';

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
  const { dir, cleanup } = await tempDir('sluice-sarama-');
  const binary = join(dir, 'clients');
  try {
    const built = await run('go', ['build', '-o', binary, SOURCE], {
      env: { GO111MODULE: 'off', GOPATH: DEBIAN_GOPATH, GOCACHE: join(dir, 'cache'), GOFLAGS: '' },
      timeoutMs: 300_000,
    });
    if (built.code !== 0) throw new Error(`go build of the sarama clients failed: ${built.stderr.slice(-3000)}`);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return {
    async run(command, bootstrap, version, args, input = []) {
      const res = await run(binary, [command, bootstrap, version, ...args], { input: input.map((m) => JSON.stringify(m)).join('\n'), timeoutMs: 180_000 });
      if (res.code !== 0) throw new Error(`sarama ${command} exited ${res.code}: ${res.stderr.slice(-2000)}`);
      return res.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    },
    spawn: (command, bootstrap, version, args) => spawn(binary, [command, bootstrap, version, ...args]),
    remove: cleanup,
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
