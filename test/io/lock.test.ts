import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { test } from 'node:test';
import { nodeFileSystem } from '../../src/io/file-system.js';
import { processIdentity } from '../../src/io/process-identity.js';
import { withTempDir } from '../helpers/temp-dir.js';

/**
 * A process that stays a zombie: `sh` starts a background `sleep`, prints its pid and becomes a `sleep` itself,
 * which never reaps it; killing the inner one then leaves it dead and unreaped. The outer one is returned for cleanup.
 */
async function zombie(): Promise<{ pid: number; stop: () => void }> {
  const parent = spawn('sh', ['-c', 'sleep 60 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
  const pid = Number(line.toString().trim());
  // the shell may reap its child until it has become `sleep`: kill the child only after that
  for (let i = 0; i < 100 && (await readFile(`/proc/${parent.pid}/comm`, 'utf8')) !== 'sleep\n'; i++) await new Promise((r) => setTimeout(r, 5));
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]![0] !== 'Z'; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return { pid, stop: () => parent.kill('SIGKILL') };
}

async function lockedBy(dir: string, content: string): Promise<string> {
  await writeFile(join(dir, '.lock'), content);
  try {
    const release = await nodeFileSystem.lockDir(dir);
    const now = await readFile(join(dir, '.lock'), 'utf8');
    await release();
    return `taken over: ${now === (await processIdentity(process.pid)) ? 'by us' : now}`;
  } catch (err) {
    return `refused: ${(err as Error).message.replace(dir, 'DIR')}`;
  }
}

test('a data dir lock is taken over from a dead, zombie or pid-reusing holder, never from the live one it names', { skip: process.platform !== 'linux' && 'identities need /proc' }, () =>
  withTempDir(async (dir) => {
    const live = spawn('sleep', ['60'], { stdio: 'ignore' });
    const dead = await zombie();
    try {
      const liveId = (await processIdentity(live.pid!))!;
      assert.match(liveId, new RegExp(`^${live.pid} \\d+ [0-9a-f-]{36}$`));
      assert.equal(await processIdentity(dead.pid), null, 'a zombie does not run');
      const [, startTime, boot] = liveId.split(' ');
      assert.equal(await lockedBy(dir, liveId), `refused: data dir DIR is in use by process ${live.pid}`);
      // the same pid started at another time, or in another boot, is another process
      assert.equal(await lockedBy(dir, `${live.pid} ${Number(startTime) - 1} ${boot}`), 'taken over: by us');
      assert.equal(await lockedBy(dir, `${live.pid} ${startTime} 00000000-0000-0000-0000-000000000000`), 'taken over: by us');
      assert.equal(await lockedBy(dir, `${dead.pid} 1 ${boot}`), 'taken over: by us');
      // a bare pid, as older versions wrote: held while that pid runs, not by a zombie
      assert.equal(await lockedBy(dir, String(live.pid)), `refused: data dir DIR is in use by process ${live.pid}`);
      assert.equal(await lockedBy(dir, String(dead.pid)), 'taken over: by us');
    } finally {
      live.kill('SIGKILL');
      dead.stop();
    }
  }));
