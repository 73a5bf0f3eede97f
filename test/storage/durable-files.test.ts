// Index files and producer snapshots are written in batches: a few durably each, many without a sync of their own
// and then one filesystem sync, so a storm of segment rolls does not take the I/O threads from the appends.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { DurableFiles } from '../../src/storage/durable-files.js';
import { withTempDir } from '../helpers/temp-dir.js';

/**
 * Records every atomic write (path, durable) and filesystem sync. The first write waits for `release`, so the
 * writes asked for meanwhile make one batch. `syncfs` decides what the filesystem sync does.
 */
function recordingFs(syncfs: () => Promise<boolean>, failing = new Set<string>()) {
  const writes: [string, boolean][] = [];
  let syncs = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let first = true;
  const fs: FileSystem = {
    ...nodeFileSystem,
    writeFileAtomic: async (path, data, durable = true) => {
      if (first) {
        first = false;
        await gate;
      }
      writes.push([path.slice(path.lastIndexOf('/') + 1), durable]);
      if (failing.has(path.slice(path.lastIndexOf('/') + 1))) throw Object.assign(new Error('EIO'), { code: 'EIO' });
      return nodeFileSystem.writeFileAtomic(path, data, durable);
    },
    syncFileSystem: async () => {
      syncs++;
      return syncfs();
    },
  };
  return { fs, writes, syncs: () => syncs, release };
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `f${i}`);

test('a batch of many files is written without a sync each, then made durable by one filesystem sync; a few are written durably each', () =>
  withTempDir(async (dir) => {
    const { fs, writes, syncs, release } = recordingFs(async () => true);
    const files = new DurableFiles(fs, dir);
    const first = files.write(join(dir, 'first'), 'one');
    const many = names(40).map((n) => files.write(join(dir, n), `data of ${n}`));
    release();
    await Promise.all([first, ...many]);
    assert.deepEqual(writes, [['first', true], ...names(40).map((n): [string, boolean] => [n, false])]);
    assert.equal(syncs(), 1);
    for (const n of names(40)) assert.equal(await readFile(join(dir, n), 'utf8'), `data of ${n}`);

    const few = names(3).map((n) => files.write(join(dir, n), 'again'));
    await Promise.all(few);
    assert.deepEqual(writes.slice(41), names(3).map((n): [string, boolean] => [n, true]), 'a batch of few: each durable on its own');
    assert.equal(syncs(), 1);
  }));

test('where the filesystem cannot be synced at once, a batch of many is written again, each durably', () =>
  withTempDir(async (dir) => {
    const { fs, writes, syncs, release } = recordingFs(async () => false);
    const files = new DurableFiles(fs, dir);
    const all = ['first', ...names(40)].map((n) => files.write(join(dir, n), n));
    release();
    await Promise.all(all);
    assert.equal(syncs(), 1);
    assert.deepEqual(writes.slice(1, 41), names(40).map((n): [string, boolean] => [n, false]));
    assert.deepEqual(writes.slice(41).sort(), names(40).map((n): [string, boolean] => [n, true]).sort(), 'each written again, durably');
  }));

test('a failed write fails its own file only; a failed filesystem sync fails every file of its batch, and the next batch goes on', () =>
  withTempDir(async (dir) => {
    let syncFails = false;
    const { fs, release } = recordingFs(async () => {
      if (syncFails) throw Object.assign(new Error('EIO'), { code: 'EIO' });
      return true;
    }, new Set(['f7']));
    const files = new DurableFiles(fs, dir);
    let outcomes = ['first', ...names(40)].map((n) => files.write(join(dir, n), n).then(() => 'ok', (err: NodeJS.ErrnoException) => err.code));
    release();
    assert.deepEqual(await Promise.all(outcomes), ['ok', ...names(40).map((n) => (n === 'f7' ? 'EIO' : 'ok'))]);

    syncFails = true;
    const holding = files.write(join(dir, 'holding'), 'x'); // a batch of one, written durably: no filesystem sync
    outcomes = names(40).map((n) => files.write(join(dir, `${n}b`), n).then(() => 'ok', (err: NodeJS.ErrnoException) => err.code));
    await holding;
    assert.deepEqual(await Promise.all(outcomes), names(40).map(() => 'EIO'));
    syncFails = false;
    await files.write(join(dir, 'after'), 'y');
    assert.equal(await readFile(join(dir, 'after'), 'utf8'), 'y');
  }));
