import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FileSystemSyncer } from '../../src/io/syncfs.js';
import { withTempDir } from '../helpers/temp-dir.js';

/** This process's minor page faults so far (/proc/self/stat, field 10). */
function minorFaults(): number {
  return Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[7]);
}

/** Writes every page of `memory` once; returns the page faults that took. */
function faultsWriting(memory: Buffer): number {
  const chunk = Buffer.alloc(1024, 7);
  const before = minorFaults();
  for (let at = 0; at < memory.length; at += chunk.length) chunk.copy(memory, at);
  return minorFaults() - before;
}

test('syncfs runs in one long-lived shell: concurrent calls answered in order, one pid, and this process is not forked', () =>
  withTempDir(async (dir) => {
    const syncer = new FileSystemSyncer();
    const memory = Buffer.alloc(64 << 20);
    faultsWriting(memory);
    assert.equal(await syncer.sync(dir), true);
    const pid = syncer.pid;
    // a spawn forks this process: every page written after it faults again (copy on write)
    await new Promise((resolve) => execFile('true', resolve));
    const afterSpawn = faultsWriting(memory);
    const results = await Promise.all([dir, dir, '/', dir, dir].map((p) => syncer.sync(p)));
    const afterSyncs = faultsWriting(memory);
    assert.ok(afterSyncs * 4 < afterSpawn, `${afterSyncs} page faults after five syncs, ${afterSpawn} after one spawn`);
    assert.deepEqual(results, [true, true, true, true, true]);
    assert.ok(pid !== undefined && pid > 0);
    assert.equal(syncer.pid, pid);
    process.kill(pid, 'SIGKILL');
  }));

test('prepare starts the shell before any sync, the first sync uses it, and it keeps no process alive', async () => {
  const syncer = new FileSystemSyncer();
  assert.equal(syncer.pid, undefined);
  syncer.prepare();
  const pid = syncer.pid;
  assert.ok(pid !== undefined && pid > 0);
  syncer.prepare();
  assert.equal(syncer.pid, pid);
  assert.equal(await syncer.sync('/'), true);
  assert.equal(syncer.pid, pid);
  process.kill(pid, 'SIGKILL');

  // a process that only prepared exits by itself: the idle shell does not hold it
  const module = new URL('../../src/io/syncfs.js', import.meta.url).href;
  const script = `import { FileSystemSyncer } from '${module}'; const s = new FileSystemSyncer(); s.prepare(); console.log(s.pid > 0);`;
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  assert.equal(out.trim(), 'true');
});

test('a failed sync rejects with EIO and the reason; the calls after it are answered', async () => {
  const syncer = new FileSystemSyncer();
  const failing = syncer.sync('/nonexistent-dir-of-a-syncfs-test/x');
  const next = syncer.sync('/');
  await assert.rejects(failing, (err: NodeJS.ErrnoException) => err.code === 'EIO' && /No such file or directory/.test(err.message));
  assert.equal(await next, true);
  process.kill(syncer.pid!, 'SIGKILL');
});

test('the shell is started again after it dies; without a sync command, syncfs is reported unavailable', async () => {
  const syncer = new FileSystemSyncer();
  assert.equal(await syncer.sync('/'), true);
  const first = syncer.pid!;
  process.kill(first, 'SIGKILL');
  while (syncer.pid === first) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(await syncer.sync('/'), true);
  assert.notEqual(syncer.pid, first);
  process.kill(syncer.pid!, 'SIGKILL');

  const withoutSync = new FileSystemSyncer({ PATH: '/nonexistent-dir-of-a-syncfs-test' });
  assert.equal(await withoutSync.sync('/'), false);
  process.kill(withoutSync.pid!, 'SIGKILL');
});

test('an idle shell does not keep the process alive', async () => {
  const script = `import { FileSystemSyncer } from ${JSON.stringify(new URL('../../src/io/syncfs.js', import.meta.url).href)};
console.log(await new FileSystemSyncer().sync('/'));`;
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 }, (_err, out) => resolve({ code: child.exitCode, stdout: out }));
  });
  assert.equal(stdout.trim(), 'true');
  assert.equal(code, 0, 'the process ended on its own');
});
