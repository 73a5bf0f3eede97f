// The bounded cache of open segment files: many partitions are written, read and synced through a few descriptors,
// and running out of descriptors (EMFILE) shrinks the cache instead of failing appends, with a report, until it grows back.
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';
import { appendValues, clockAt, openLogs, readAll } from './helpers.js';

/** A file system that tracks which segment files are open, and can refuse opens past a descriptor limit. */
function trackingFs(limit = Infinity) {
  const open = new Map<number, string>();
  let segmentFds = 0;
  const state = { peak: 0, emfiles: 0, syncedPaths: new Set<string>() };
  const fs: FileSystem = {
    ...nodeFileSystem,
    open: async (path, flags) => {
      if (!path.endsWith('.log')) return nodeFileSystem.open(path, flags);
      // counted before the open completes: concurrent opens must see each other
      if (segmentFds >= limit) {
        state.emfiles++;
        throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
      }
      state.peak = Math.max(state.peak, ++segmentFds);
      const fd = await nodeFileSystem.open(path, flags).catch((err) => {
        segmentFds--;
        throw err;
      });
      open.set(fd, path);
      return fd;
    },
    close: async (fd) => {
      if (open.get(fd)?.endsWith('.log')) segmentFds--;
      open.delete(fd);
      await nodeFileSystem.close(fd);
    },
    fdatasync: async (fd) => {
      state.syncedPaths.add(open.get(fd)!);
      await nodeFileSystem.fdatasync(fd);
    },
  };
  const openSegments = () => segmentFds;
  return { fs, state, openSegments };
}

test('segment files of many partitions are written, synced and read through at most maxOpenFiles idle descriptors', () =>
  withTempDir(async (dir) => {
    const disk = trackingFs();
    const logs = await openLogs(dir, { fs: disk.fs, maxOpenFiles: 8, directSyncMax: 64 });
    await logs.createTopic('t', 40, { 'segment.bytes': '400' });
    // created side by side, each file open while its partition loads; then the idle ones are closed
    assert.ok(disk.openSegments() <= 8, `${disk.openSegments()} open after creating 40 partitions`);
    disk.state.peak = disk.openSegments();
    // one partition at a time: every write, sync and roll needs the files of partitions evicted before
    for (let round = 0; round < 4; round++) {
      for (let p = 0; p < 40; p++) {
        await appendValues(logs.getLog('t', p)!, [`r${round}p${p}-${'x'.repeat(60)}`]).durable;
        assert.ok(disk.openSegments() <= 8, `${disk.openSegments()} open after an append`);
      }
    }
    // past the bound only by the files in use: a roll syncs the old segment while the new one is written
    assert.ok(disk.state.peak <= 10, `at most two past the bound (peak ${disk.state.peak})`);
    for (let p = 0; p < 40; p++) {
      const log = logs.getLog('t', p)!;
      assert.ok(log.segments.length > 1, 'rolled');
      // each append was made durable in its own segment file (a direct round), through whatever descriptor was open
      for (const s of log.segments) if (s.size > 0) assert.ok(disk.state.syncedPaths.has(s.logPath), `${s.logPath} synced`);
      assert.deepEqual((await readAll(log, 0)).map(([, v]) => v.slice(0, 8)), [0, 1, 2, 3].map((r) => `r${r}p${p}-`.padEnd(8, 'x').slice(0, 8)));
      assert.ok(disk.openSegments() <= 8, `${disk.openSegments()} open after a read`);
    }
    await logs.close();
    assert.equal(disk.openSegments(), 0, 'all closed');
  }));

test('running out of descriptors (EMFILE) halves the cache and retries the open: appends and reads go on', () =>
  withTempDir(async (dir) => {
    // a process limit below the configured cache size; partitions load 64 at a time, so it must exceed that
    const disk = trackingFs(80);
    const logs = await openLogs(dir, { fs: disk.fs, maxOpenFiles: 1000 });
    await logs.createTopic('t', 200);
    assert.ok(disk.state.emfiles > 0, 'the limit was hit while creating');
    await Promise.all(Array.from({ length: 200 }, (_, p) => appendValues(logs.getLog('t', p)!, [`v${p}`]).durable));
    assert.ok(disk.openSegments() <= 80);
    for (let p = 0; p < 200; p++) assert.deepEqual(await readAll(logs.getLog('t', p)!, 0), [[0, `v${p}`]]);
    await logs.close();
    const again = await openLogs(dir, { fs: disk.fs, maxOpenFiles: 1000 });
    for (let p = 0; p < 200; p++) assert.deepEqual(await readAll(again.getLog('t', p)!, 0), [[0, `v${p}`]]);
    await again.close();
  }));

test('a segment file in steady use stays open while the files of other partitions come and go', () =>
  withTempDir(async (dir) => {
    const opens = new Map<string, number>();
    const fs: FileSystem = {
      ...nodeFileSystem,
      open: (path, flags) => {
        opens.set(path, (opens.get(path) ?? 0) + 1);
        return nodeFileSystem.open(path, flags);
      },
    };
    const logs = await openLogs(dir, { fs, maxOpenFiles: 4 });
    await logs.createTopic('t', 10);
    const hot = logs.getLog('t', 0)!;
    await appendValues(hot, ['first']).durable;
    const opensBefore = opens.get(hot.activeSegment.logPath)!;
    for (let i = 0; i < 40; i++) {
      await appendValues(hot, [`hot${i}`]).durable;
      await appendValues(logs.getLog('t', 1 + (i % 9))!, [`cold${i}`]).durable;
    }
    assert.equal(opens.get(hot.activeSegment.logPath), opensBefore, 'never opened again');
    assert.ok([...opens.values()].reduce((a, b) => a + b) > 40, 'the other files were closed and opened again');
    await logs.close();
  }));

/**
 * A file system with one limit for every descriptor: segment files, directories opened to sync, files written whole.
 * The limit can be changed on the fly (`state.limit`); `state.open` counts the descriptors taken.
 */
function descriptorLimitedFs(limit: number) {
  const state = { limit, open: 0, emfiles: 0 };
  const take = () => {
    if (state.open >= state.limit) {
      state.emfiles++;
      throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
    }
    state.open++;
  };
  const holding = async <T>(op: () => Promise<T>): Promise<T> => {
    take();
    try {
      return await op();
    } finally {
      state.open--;
    }
  };
  const fs: FileSystem = {
    ...nodeFileSystem,
    open: async (path, flags) => {
      take();
      return nodeFileSystem.open(path, flags).catch((err) => {
        state.open--;
        throw err;
      });
    },
    close: async (fd) => {
      state.open--;
      await nodeFileSystem.close(fd);
    },
    fsyncDir: (path) => holding(() => nodeFileSystem.fsyncDir(path)),
    writeFileAtomic: (path, data, durable) => holding(() => nodeFileSystem.writeFileAtomic(path, data, durable)),
  };
  return { fs, state };
}

test('out of descriptors, the directory syncs of new segments and the files of a roll make room in the cache instead of failing appends', () =>
  withTempDir(async (dir) => {
    const { fs, state } = descriptorLimitedFs(120);
    const logs = await openLogs(dir, { fs, maxOpenFiles: 1000 });
    await logs.createTopic('t', 100, { 'segment.bytes': '200' });
    const all = Array.from({ length: 100 }, (_, p) => logs.getLog('t', p)!);
    // every partition rolls at its second append, all at once: 100 new segment files, each with a directory sync,
    // beside 100 older ones still open and 300 index and snapshot files to write
    for (let round = 0; round < 3; round++) await Promise.all(all.map((log, p) => appendValues(log, [`r${round}-p${p}-${'x'.repeat(120)}`]).durable));
    assert.ok(state.emfiles > 0, 'the limit was hit');
    for (const [p, log] of all.entries()) {
      assert.ok(log.segments.length >= 3, 'rolled');
      assert.deepEqual((await readAll(log, 0)).map(([, v]) => v.slice(0, 10)), [0, 1, 2].map((r) => `r${r}-p${p}-`.padEnd(10, 'x').slice(0, 10)));
    }
    await logs.close();
  }));

test('out of descriptors, the catalogue and the log start offsets make room in the cache instead of failing topic changes and DeleteRecords', () =>
  withTempDir(async (dir) => {
    // the limit set to what is open before each step (the room the cache made before is taken by other files,
    // connections say): no descriptor is left, and the next file the engine opens is the first to hit it
    const { fs, state } = descriptorLimitedFs(Infinity);
    const logs = await openLogs(dir, { fs, maxOpenFiles: 1000 });
    await logs.createTopic('t', 200);
    const all = Array.from({ length: 200 }, (_, p) => logs.getLog('t', p)!);
    for (let round = 0; round < 3; round++) await Promise.all(all.map((log, p) => appendValues(log, [`r${round}-p${p}`]).durable));
    const atTheLimit = async (step: string, op: () => Promise<unknown>) => {
      state.limit = state.open;
      const before = state.emfiles;
      await op();
      assert.ok(state.emfiles > before, `${step} hit the limit`);
    };
    await atTheLimit('DeleteRecords', async () => {
      for (let p = 0; p < 200; p++) assert.equal(await logs.deleteRecords('t', p, 1), 1);
    });
    await atTheLimit('creating a topic', () => logs.createTopic('u', 2));
    await atTheLimit('deleting a topic', () => logs.deleteTopic('u'));
    await logs.close();
    const again = await openLogs(dir);
    for (let p = 0; p < 200; p++) assert.equal(again.getLog('t', p)!.logStartOffset, 1);
    assert.deepEqual([...again.topics.keys()], ['t']);
    await again.close();
  }));

/** Segment files of `dir` this process holds open, from the descriptors' links (Linux). */
function segmentFilesOpen(dir: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir) && target.endsWith('.log')) n++;
    } catch {
      // closed meanwhile (the descriptor readdir itself used)
    }
  }
  return n;
}

test('out of descriptors, each cut of the cache is reported, and the cache grows back a step a minute once they are free', () =>
  withTempDir(async (dir) => {
    const { fs, state } = descriptorLimitedFs(60);
    let now = 0;
    const clock = clockAt(() => now);
    const cuts: number[] = [];
    const logs = await openLogs(dir, { fs, clock, maxOpenFiles: 1000, onOpenFilesCut: (maxOpen) => cuts.push(maxOpen) });
    await logs.createTopic('t', 200);
    const all = Array.from({ length: 200 }, (_, p) => logs.getLog('t', p)!);
    let rounds = 0;
    const appendToAll = async () => {
      const round = rounds++;
      await Promise.all(all.map((log, p) => appendValues(log, [`r${round}-p${p}`]).durable));
    };
    // idle files are closed as appends release them, a close completing a moment later
    const filesOpen = (n: number) => until(() => segmentFilesOpen(dir) === n, `${n} segment files open (${segmentFilesOpen(dir)} now)`);
    await appendToAll();
    assert.ok(cuts.length > 0, 'the cut was reported');
    for (let i = 1; i < cuts.length; i++) assert.ok(cuts[i]! < cuts[i - 1]!, `each report a lower bound: ${cuts.join(', ')}`);
    const cutTo = cuts.at(-1)!;
    assert.ok(cutTo < 60, `cut below the limit, to ${cutTo}`);
    // the descriptors come back (the connections that held them closed): for a minute the cache keeps to its cut...
    state.limit = Infinity;
    await appendToAll();
    await filesOpen(cutTo);
    now += 59_999;
    await appendToAll();
    await filesOpen(cutTo);
    // ...then doubles once a minute, until every partition's file stays open
    now += 1;
    await appendToAll();
    await filesOpen(2 * cutTo);
    await appendToAll();
    await filesOpen(2 * cutTo); // one step a minute
    for (let minute = 0; minute < 4; minute++) {
      now += 60_000;
      await appendToAll();
    }
    await filesOpen(200);
    const reported = cuts.length;
    // short of descriptors again: cut again, and told again
    state.limit = state.open;
    await logs.createTopic('u', 20);
    assert.ok(cuts.length > reported, 'the new cut was reported');
    assert.ok(cuts.at(-1)! < 200);
    for (const [p, log] of all.entries()) {
      assert.deepEqual((await readAll(log, 0)).map(([, v]) => v), Array.from({ length: rounds }, (_, r) => `r${r}-p${p}`));
    }
    await logs.close();
  }));
