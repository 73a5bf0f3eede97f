// The helper that runs `sluice start` for tests leaves no broker running when a test fails before stopping its own,
// nor when the test run is stopped by a signal.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { processAlive as alive } from './cli-broker.js';
import { run } from './run.js';
import { withTempDir } from './temp-dir.js';
import { until } from './until.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/broker-left-running.js', import.meta.url));


/** Runs `fn` with the fixture's environment; whatever happens, neither the fixture's process nor its broker outlives it. */
async function withFixture(fn: (env: NodeJS.ProcessEnv, pids: () => number[]) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const pidFile = join(dir, 'pids');
    const pids = () => readFileSync(pidFile, 'utf8').split(' ').map(Number);
    // a runner nested in a test file would otherwise report to this one's runner in its format
    const env = { NODE_TEST_CONTEXT: undefined, DATA_DIR: join(dir, 'data'), PID_FILE: pidFile };
    try {
      await fn(env, pids);
    } finally {
      if (existsSync(pidFile)) for (const pid of pids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
}

test("a broker its test failed to stop is killed once the file's tests are done, so the test run ends", () =>
  withFixture(async (env, pids) => {
    const res = await run(process.execPath, ['--test', FIXTURE], { env, timeoutMs: 60_000 });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stdout, /^# fail 1$/m);
    const [, broker] = pids();
    await until(() => !alive(broker!), `broker ${broker} to end`);
  }));

test('a broker left running is killed when the test run is stopped by a signal', () =>
  withFixture(async (env, pids) => {
    const runner = spawn(process.execPath, ['--test', FIXTURE], { env: { ...process.env, ...env, HANG: '1' }, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => runner.once('exit', () => resolve()));
    try {
      await until(() => existsSync(env.PID_FILE!) && pids().length === 2, 'the fixture to start its broker', 30_000);
    } finally {
      runner.kill('SIGTERM');
      await exited;
    }
    const [file, broker] = pids();
    await until(() => !alive(file!) && !alive(broker!), `the fixture ${file} and its broker ${broker} to end`);
  }));
