// Servers the interop tests start beside the broker (ZooKeeper, Burrow, Prometheus), each from its Debian package and
// on 127.0.0.1, and what they share: a free port to write into a config file, a process kept by its pid, polling.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A port free on 127.0.0.1 a moment ago, for the servers that take theirs from a config file or flag. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface StartedProcess {
  child: ChildProcess;
  /** What it has written to stdout and stderr so far. */
  output(): string;
  /** Kills it by its pid and waits for its exit. */
  stop(): Promise<void>;
}

/** Starts a process whose output is kept. */
export function startProcess(cmd: string, args: string[]): StartedProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => out.push(d));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    child,
    output: () => Buffer.concat(out).toString('utf8'),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** `attempt`'s first value that is not undefined (a throw counts as undefined), tried every 200 ms; fails naming `what` after `timeoutMs`. */
export async function poll<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
