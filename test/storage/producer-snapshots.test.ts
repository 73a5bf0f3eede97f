// A partition's producer snapshot files: a write keeps the two newest, a start restores the newest readable one at or
// below the log's end and removes those past it, a rollback drops those past its point, a rewrite changes files in place.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { nodeFileSystem } from '../../src/io/file-system.js';
import { ProducerSnapshots } from '../../src/storage/producer-snapshots.js';
import { withTempDir } from '../helpers/temp-dir.js';

const snapshotsIn = (dir: string) => new ProducerSnapshots(nodeFileSystem, dir, (path, json) => nodeFileSystem.writeFileAtomic(path, json));
const filesIn = async (dir: string) => (await readdir(dir)).sort();
const name = (offset: number) => `${String(offset).padStart(20, '0')}.snapshot`;

test('a write keeps the snapshot written and the newest one older than it, and removes the rest', async () => {
  await withTempDir(async (dir) => {
    const snapshots = snapshotsIn(dir);
    for (const offset of [10, 20, 30, 40]) await snapshots.write(offset, `{"at":${offset}}`);
    assert.deepEqual(await filesIn(dir), [name(30), name(40)]);
    assert.equal(snapshots.has(30), true);
    assert.equal(snapshots.has(20), false);
    // written again at an older offset (a rebuilt snapshot): the one newer than it stays
    await snapshots.write(35, '{"at":35}');
    assert.deepEqual(await filesIn(dir), [name(30), name(35), name(40)]);
  });
});

test('a restore takes the newest snapshot its callback accepts at or below the end, removing those past it', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, name(5)), 'five');
    await writeFile(join(dir, name(8)), 'unreadable');
    await writeFile(join(dir, name(12)), 'past the end');
    const snapshots = snapshotsIn(dir);
    snapshots.adopt([12, 5, 8]);
    const tried: string[] = [];
    const at = await snapshots.restoreNewest(10, (json) => {
      tried.push(json);
      return json === 'five';
    });
    assert.equal(at, 5);
    assert.deepEqual(tried, ['unreadable', 'five']);
    assert.deepEqual(await filesIn(dir), [name(5), name(8)]);
    assert.equal(snapshots.has(12), false);
    assert.equal(await snapshots.restoreNewest(10, () => false), null);
  });
});

test('a rollback drops the snapshots past its point and says whether there were any', async () => {
  await withTempDir(async (dir) => {
    const snapshots = snapshotsIn(dir);
    await snapshots.write(10, '{}');
    await snapshots.write(20, '{}');
    assert.equal(await snapshots.dropAfter(20), false);
    assert.equal(await snapshots.dropAfter(15), true);
    assert.deepEqual(await filesIn(dir), [name(10)]);
    assert.equal(snapshots.has(20), false);
    assert.equal(snapshots.has(10), true);
  });
});

test('a rewrite writes the files whose JSON the change alters, and passes over those it cannot parse and those gone', async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, name(10)), '{"n":1}');
    await writeFile(join(dir, name(20)), 'unreadable');
    await writeFile(join(dir, name(30)), '{"n":3}');
    const snapshots = snapshotsIn(dir);
    snapshots.adopt([10, 20, 30, 40]); // 40: its file is gone
    const seen: string[] = [];
    await snapshots.rewrite((json) => {
      seen.push(json);
      const { n } = JSON.parse(json) as { n: number };
      return n === 3 ? JSON.stringify({ n: 4 }) : json;
    });
    assert.deepEqual(seen, ['{"n":1}', 'unreadable', '{"n":3}']);
    assert.deepEqual(await Promise.all([10, 20, 30].map((o) => readFile(join(dir, name(o)), 'utf8'))), ['{"n":1}', 'unreadable', '{"n":4}']);
  });
});
