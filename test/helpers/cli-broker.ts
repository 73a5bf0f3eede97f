import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withTempDir } from './temp-dir.js';

/** The `sluice` command (tests run from dist/; bin/ stays at the project root). */
export const SLUICE_BIN = fileURLToPath(new URL('../../../bin/sluice.js', import.meta.url));

/** Starts `sluice start` on a free port and resolves with its bootstrap address once it logs that it is ready. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; bootstrap: string; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SLUICE_BIN, 'start', '--port', '0', '--log-format', 'json', ...args], { env: { ...process.env, ...env } });
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

/** Sends `signal` (SIGTERM: a clean stop) and resolves with the exit code, or the signal's name if it killed it. */
export function stopCli(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | string | null> {
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
    let failed = false;
    try {
      return await fn({ bootstrap, dataDir });
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      const code = await stopCli(child);
      // the test's own failure says more than the stop's
      if (code !== 0 && !failed) throw new Error(`sluice start exited ${code}: ${output().slice(-3000)}`);
    }
  });
}
