import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { withCleanup } from './cleanup.js';
import { withTempDir } from './temp-dir.js';

/** A process that has not ended (a zombie has ended; nobody may be left to reap it). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** The `sluice` command (tests run from dist/; bin/ stays at the project root). */
export const SLUICE_BIN = fileURLToPath(new URL('../../../bin/sluice.js', import.meta.url));

/**
 * Every broker started here and not yet seen to stop. A test that fails before its stop would leave its broker
 * running: its pipes would hold the test process open for good, and a runner stopped by a signal would leave it
 * orphaned. Those are killed once the file's tests are done, or when the test process is told to stop.
 */
const running = new Set<ChildProcess>();
const killRunning = () => {
  for (const child of running) child.kill('SIGKILL');
};
after(killRunning);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killRunning();
    // this listener is gone now: the signal again takes its default course
    process.kill(process.pid, signal);
  });
}

/** Starts `sluice start` on a free port and resolves with its bootstrap address once it logs that it is ready. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; bootstrap: string; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SLUICE_BIN, 'start', '--port', '0', '--log-format', 'json', ...args], { env: { ...process.env, ...env } });
    running.add(child);
    // not 'exit' listeners: stopCli and some tests replace those
    child.once('close', () => running.delete(child));
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      const m = /bootstrap server (\S+?),/.exec(out);
      if (m) resolve({ child, bootstrap: m[1]!, output: () => out });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d) => (out += d));
    child.on('exit', (code) => reject(new Error(`sluice start exited ${code}: ${out}`)));
  });
}

/**
 * Sends `signal` (SIGTERM: a clean stop) and resolves with the exit code, or the signal's name if it killed it; for a
 * broker that had already ended, with how it ended.
 */
export function stopCli(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode);
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', (code, killedBy) => resolve(code ?? killedBy));
    child.kill(signal);
  });
}

/**
 * Runs `fn` against `sluice start` in a child process with a fresh data dir (removed afterwards), then stops it,
 * which must be clean. For clients whose native addon holds libuv's threads while it waits for the broker
 * (@confluentinc/kafka-javascript's admin calls): in the same process, they starve an embedded broker's file operations.
 */
export async function withCliBroker<T>(args: string[], fn: (b: { bootstrap: string; dataDir: string }) => Promise<T>): Promise<T> {
  return withTempDir(async (dataDir) => {
    const { child, bootstrap, output } = await startCli(['--data-dir', dataDir, ...args]);
    return withCleanup(
      () => fn({ bootstrap, dataDir }),
      async () => {
        const code = await stopCli(child);
        if (code !== 0) throw new Error(`sluice start exited ${code}: ${output().slice(-3000)}`);
      },
    );
  });
}

/**
 * `sluice start` on a free port that kill() ends with SIGKILL and starts again on the same port and data dir, where
 * the clients already connect; stop() ends it cleanly.
 */
export async function restartableBroker(args: string[]): Promise<{ bootstrap: string; kill: () => Promise<void>; stop: () => Promise<void> }> {
  const first = await startCli(args);
  const port = first.bootstrap.split(':')[1]!;
  let current: ChildProcess = first.child;
  return {
    bootstrap: first.bootstrap,
    kill: async () => {
      assert.equal(await stopCli(current, 'SIGKILL'), 'SIGKILL');
      current = (await startCli([...args, '--port', port])).child;
    },
    stop: async () => assert.equal(await stopCli(current), 0),
  };
}
