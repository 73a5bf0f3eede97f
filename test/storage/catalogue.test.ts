// The topic catalogue: a snapshot plus a log of changes, one append and sync per write whatever the number of
// topics; torn or failed writes leave nothing behind; folding the log into a new snapshot is safe at any point.
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { Catalogue, type TopicRecord } from '../../src/storage/catalogue.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { onCatalogueWrite, openLogs } from './helpers.js';

/** A catalogue over an in-memory set of topics, as the log manager keeps them. */
async function openCatalogue(dir: string, fs: FileSystem = nodeFileSystem, foldMinBytes?: number) {
  const topics = new Map<string, TopicRecord>();
  const catalogue = new Catalogue(fs, dir, (name) => topics.get(name) ?? null, () => [...topics.values()], foldMinBytes);
  for (const t of await catalogue.load()) topics.set(t.name, t);
  const put = (name: string, partitions: number, overrides: Record<string, string> = {}) => {
    topics.set(name, { name, id: `${name}-id`.padEnd(32, '0'), partitions, overrides });
    return catalogue.record([name]);
  };
  const remove = (name: string) => {
    topics.delete(name);
    return catalogue.record([name]);
  };
  return { catalogue, topics, put, remove };
}

const names = async (dir: string) => (await Catalogue.read(nodeFileSystem, dir)).topics.map((t) => `${t.name}:${t.partitions}`).sort();

test('each change is appended to the log; a start replays it over the snapshot, also the first version\'s topics.json alone', () =>
  withTempDir(async (dir) => {
    // a data dir of the first version: the whole catalogue in topics.json, no log
    await writeFile(join(dir, 'topics.json'), JSON.stringify({ version: 1, topics: [{ name: 'old', id: 'f'.repeat(32), partitions: 3, overrides: { 'retention.ms': '1000' } }] }));
    const { catalogue, put, remove } = await openCatalogue(dir);
    const snapshot = await readFile(join(dir, 'topics.json'));
    await put('a', 1);
    await put('b', 2, { 'cleanup.policy': 'compact' });
    await put('a', 4);
    await remove('old');
    assert.deepEqual(await readFile(join(dir, 'topics.json')), snapshot, 'the snapshot is not rewritten for a change');
    assert.deepEqual(await names(dir), ['a:4', 'b:2']);
    await catalogue.close();
    const again = await openCatalogue(dir);
    assert.deepEqual([...again.topics.values()].sort((x, y) => x.name.localeCompare(y.name)), [
      { name: 'a', id: 'a-id'.padEnd(32, '0'), partitions: 4, overrides: {} },
      { name: 'b', id: 'b-id'.padEnd(32, '0'), partitions: 2, overrides: { 'cleanup.policy': 'compact' } },
    ]);
    await again.catalogue.close();
  }));

test('changes asked for while a write runs share the next write', () =>
  withTempDir(async (dir) => {
    let writes = 0;
    const fs: FileSystem = { ...nodeFileSystem, writev: (fd, buffers, position) => (writes++, nodeFileSystem.writev(fd, buffers, position)) };
    const { catalogue, put } = await openCatalogue(dir, fs);
    await Promise.all(Array.from({ length: 200 }, (_, i) => put(`t${i}`, 1)));
    assert.ok(writes <= 3, `${writes} writes for 200 changes`);
    assert.equal((await names(dir)).length, 200);
    await catalogue.close();
  }));

test('a torn last change is left out at start and cut before the next write', () =>
  withTempDir(async (dir) => {
    const first = await openCatalogue(dir);
    await first.put('a', 1);
    await first.put('b', 1);
    await first.catalogue.close();
    const log = join(dir, 'topics.changes');
    const whole = await readFile(log);
    for (let cut = 1; cut < 40; cut += 7) {
      await writeFile(log, whole.subarray(0, whole.length - cut));
      assert.deepEqual(await names(dir), ['a:1'], `cut ${cut} bytes`);
    }
    // a flipped byte in the last change: its CRC fails
    const flipped = Buffer.from(whole);
    flipped[flipped.length - 3] ^= 0x20;
    await writeFile(log, flipped);
    const again = await openCatalogue(dir);
    assert.deepEqual([...again.topics.keys()], ['a']);
    await again.put('c', 2);
    assert.deepEqual(await names(dir), ['a:1', 'c:2'], 'the torn change was cut, not left before the new one');
    const read = await Catalogue.read(nodeFileSystem, dir);
    assert.equal(read.logBytes, read.logFileBytes, 'nothing but whole changes');
    await again.catalogue.close();
  }));

test('a write whose sync fails is cut from the log: the change is refused, and the next write records it again', () =>
  withTempDir(async (dir) => {
    let failSyncs = 0;
    const fs: FileSystem = {
      ...nodeFileSystem,
      fdatasync: async (fd) => {
        if (failSyncs > 0) {
          failSyncs--;
          throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
        }
        return nodeFileSystem.fdatasync(fd);
      },
    };
    const { catalogue, put, topics } = await openCatalogue(dir, fs);
    await put('a', 1);
    const before = (await stat(join(dir, 'topics.changes'))).size;
    failSyncs = 1;
    await assert.rejects(put('b', 1), /EIO/);
    assert.equal((await stat(join(dir, 'topics.changes'))).size, before, 'the failed write was cut');
    assert.deepEqual(await names(dir), ['a:1']);
    // the change is still in memory: the next write, for another topic, records it too
    assert.ok(topics.has('b'));
    await put('c', 1);
    assert.deepEqual(await names(dir), ['a:1', 'b:1', 'c:1']);
    await catalogue.close();
  }));

test('the log is folded into a new snapshot once it outgrows it, and then emptied', () =>
  withTempDir(async (dir) => {
    const { catalogue, put, remove } = await openCatalogue(dir, nodeFileSystem, 2048);
    for (let i = 0; i < 40; i++) await put(`t${i % 10}`, 1 + i);
    for (let i = 0; i < 5; i++) await remove(`t${i}`);
    const expected = Array.from({ length: 5 }, (_, i) => `t${i + 5}:${36 + i}`);
    assert.deepEqual(await names(dir), expected);
    assert.ok((await stat(join(dir, 'topics.changes'))).size < 2048 + 200, 'the log was emptied by a fold');
    const snapshot = JSON.parse((await readFile(join(dir, 'topics.json'))).toString()) as { topics: unknown[] };
    assert.ok(snapshot.topics.length > 0, 'a snapshot was written');
    await catalogue.close();
    const again = await openCatalogue(dir);
    assert.deepEqual([...again.topics.keys()].sort(), ['t5', 't6', 't7', 't8', 't9']);
    await again.catalogue.close();
  }));

test('a crash between a fold\'s new snapshot and the emptying of the log loses nothing: the old log replays over it', () =>
  withTempDir(async (dir) => {
    const first = await openCatalogue(dir);
    await first.put('a', 1);
    await first.put('b', 1);
    await first.put('c', 1);
    await first.remove('b');
    await first.put('a', 5);
    await first.catalogue.close();
    const log = await readFile(join(dir, 'topics.changes'));
    // the next write folds first: a snapshot of a, c and u, then an empty log, then u's change
    const second = await openCatalogue(dir, nodeFileSystem, 1);
    await second.put('u', 7);
    await second.catalogue.close();
    assert.deepEqual(JSON.parse((await readFile(join(dir, 'topics.json'))).toString()).topics.map((t: TopicRecord) => t.name).sort(), ['a', 'c', 'u']);
    // as the log was before it was emptied
    await writeFile(join(dir, 'topics.changes'), log);
    assert.deepEqual(await names(dir), ['a:5', 'c:1', 'u:7']);
  }));

test('creating topics one at a time appends one change each, whatever the number of topics', () =>
  withTempDir(async (dir) => {
    const written: string[] = [];
    const fs = onCatalogueWrite(
      {
        ...nodeFileSystem,
        writeFileAtomic: async (path, data, durable) => {
          if (path.endsWith('topics.json')) written.push('snapshot');
          return nodeFileSystem.writeFileAtomic(path, data, durable);
        },
      },
      (changes) => written.push(...changes.map((c) => ('put' in c ? `put ${c.put.name}` : `delete ${c.delete}`))),
    );
    const logs = await openLogs(dir, { fs });
    for (let i = 0; i < 300; i++) {
      written.length = 0;
      const name = `topic-${String(i).padStart(3, '0')}`;
      await logs.createTopic(name, 1);
      assert.deepEqual(written, [`put ${name}`]);
    }
    written.length = 0;
    await logs.deleteTopic('topic-007');
    assert.deepEqual(written, ['delete topic-007']);
    await logs.close();
    const again = await openLogs(dir);
    assert.equal(again.topics.size, 299);
    await again.close();
  }));
