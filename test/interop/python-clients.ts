import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DEBIAN_PYTHON, run } from '../helpers/run.js';
import type { ConsumedMessage, TestMessage } from './dataset.js';

// tests run from dist/; the script stays in the source tree
const SCRIPT = fileURLToPath(new URL('../../../test/interop/clients.py', import.meta.url));

/** Starts one command of clients.py with Debian's Python as a child process, for output read while it runs. */
export function spawnPython(command: string, args: string[]): ChildProcessWithoutNullStreams {
  return spawn(DEBIAN_PYTHON, [SCRIPT, command, ...args]);
}

/** Runs one command of clients.py with Debian's Python and returns its JSON-lines output. */
export async function python(command: string, args: string[], input: unknown[] = [], expectedExit = 0): Promise<unknown[]> {
  const res = await run(DEBIAN_PYTHON, [SCRIPT, command, ...args], {
    input: input.map((m) => JSON.stringify(m)).join('\n'),
    timeoutMs: 180_000,
  });
  if (res.code !== expectedExit) throw new Error(`${command} exited ${res.code}, expected ${expectedExit}: ${res.stderr.slice(-2000)}`);
  return res.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

export interface ProduceReport {
  errors: string[];
  unflushed: number;
}

export async function pythonProduce(client: 'confluent' | 'kp', bootstrap: string, topic: string, messages: TestMessage[], codec = 'none'): Promise<ProduceReport> {
  const [report] = await python(`${client}-produce`, [bootstrap, topic, codec], messages);
  return report as ProduceReport;
}

export async function pythonConsume(
  client: 'confluent' | 'kp', bootstrap: string, topic: string, partitions: number, expected: number, isolation: 'read_committed' | 'read_uncommitted' = 'read_uncommitted',
): Promise<ConsumedMessage[]> {
  const extra = isolation === 'read_committed' ? [isolation] : [];
  return (await python(`${client}-consume`, [bootstrap, topic, String(partitions), String(expected), ...extra])) as ConsumedMessage[];
}
