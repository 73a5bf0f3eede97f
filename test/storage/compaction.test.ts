import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { Compression } from '../../src/protocol/compression.js';
import { Attributes, Batch, batchSizeAt, readInt64, validateBatches } from '../../src/protocol/record-batch.js';
import { buildControlBatch, buildRecordBatch, decodeBatchRecords, decodeRecordBatches } from '../../src/protocol/records.js';
import { batchWithPayload, zstdRleFrame } from '../helpers/compressed-payloads.js';
import type { Clock } from '../../src/io/clock.js';
import { Cleaner, stopCleanerThread } from '../../src/storage/cleaner.js';
import { compactLog } from '../../src/storage/compaction.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import { OFFSET_MAP_SLOT_BYTES, OffsetMap } from '../../src/storage/offset-map.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { offsetForTimestamp } from '../../src/storage/timestamp-lookup.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { clockAt, crash, holdFirstAtomicWrite, openLogs, pathRecordingOpen, snapshotFiles, waitUntil } from './helpers.js';

function put(log: PartitionLog, records: { key: string | null; value: string | null }[], timestamp: number, compression = 0) {
  const batch = buildRecordBatch(records.map((r) => ({ ...r, timestamp })), { compression });
  return log.append(batch, validateBatches(batch, 1 << 20)).durable;
}

async function contents(log: PartitionLog): Promise<[number, string | null, string | null][]> {
  const out: [number, string | null, string | null][] = [];
  let offset = log.logStartOffset;
  while (offset < log.highWatermark) {
    const { records } = await log.read(offset, 1 << 20);
    if (records.length === 0) break;
    for (const b of decodeRecordBatches(records)) {
      for (const r of b.records) if (r.offset >= offset) out.push([r.offset, r.key?.toString() ?? null, r.value?.toString() ?? null]);
      offset = b.info.baseOffset + b.info.lastOffsetDelta + 1;
    }
  }
  return out;
}

/** The tombstone at `offset`, with its batch's delete horizon attribute and base timestamp; null if it is gone. */
async function tombstoneAt(log: PartitionLog, offset: number): Promise<{ horizon: boolean; baseTimestamp: number; timestamp: number } | null> {
  const { records } = await log.read(offset, 1 << 20);
  for (const b of decodeRecordBatches(records)) {
    const r = b.records.find((x) => x.offset === offset && x.value === null);
    if (r) return { horizon: (b.info.attributes & Attributes.DELETE_HORIZON) !== 0, baseTimestamp: b.info.baseTimestamp, timestamp: r.timestamp };
  }
  return null;
}

/**
 * The batches of a log from offset 0 through `last`, each as [base offset, its keys or 'empty' or its marker type,
 * whether it carries a delete horizon].
 */
async function batchesThrough(log: PartitionLog, last: number): Promise<[number, string, boolean][]> {
  const out: [number, string, boolean][] = [];
  for (let offset = 0; offset <= last; ) {
    const { records } = await log.read(offset, 1 << 20);
    for (const b of decodeRecordBatches(records)) {
      offset = b.info.baseOffset + b.info.lastOffsetDelta + 1;
      if (b.info.baseOffset > last) continue;
      const what = (b.info.attributes & Attributes.CONTROL) === 0 ? b.records.map((r) => r.key!.toString()).join() || 'empty' : b.records[0]!.key!.readInt16BE(2) === 1 ? 'COMMIT' : 'ABORT';
      out.push([b.info.baseOffset, what, (b.info.attributes & Attributes.DELETE_HORIZON) !== 0]);
    }
  }
  return out;
}

/** A compacted topic of small segments that is cleaned at every pass where a segment closed (dirty ratio 0). */
async function setup(dir: string, clock: { now: () => number }, overrides: Record<string, string> = {}, fs = nodeFileSystem): Promise<{ logs: LogManager; log: PartitionLog }> {
  const logs = await openLogs(dir, { fs, clock: clockAt(clock.now) });
  await logs.createTopic('c', 1, { 'cleanup.policy': 'compact', 'segment.bytes': '300', 'delete.retention.ms': '1000', 'min.cleanable.dirty.ratio': '0', ...overrides });
  return { logs, log: logs.getLog('c', 0)! };
}

test('compaction keeps the latest record per key in closed segments, keeps offsets, and drops old tombstones', () =>
  withTempDir(async (dir) => {
    let now = 1_000_000;
    const { logs, log } = await setup(dir, { now: () => now });
    for (let round = 0; round < 6; round++) {
      await put(log, [{ key: 'a', value: `a${round}` }, { key: 'b', value: `b${round}` }], now);
      await put(log, [{ key: null, value: `nokey${round}` }], now, Compression.GZIP);
    }
    await put(log, [{ key: 'b', value: null }], now); // tombstone for b
    await put(log, [{ key: 'c', value: 'c0' }], now);
    await put(log, [{ key: 'a', value: 'a-last' }, { key: 'd', value: 'd0' }], now);
    const before = await contents(log);
    assert.ok(log.segments.length > 3);
    await logs.runRetention();
    const after = await contents(log);
    const active = log.activeSegment.baseOffset;
    // in closed segments: every key appears once, at its latest offset there (a record of the active segment
    // supersedes nothing yet, as in Kafka); unkeyed records all stay
    const latest = new Map<string, number>();
    for (const [o, k] of before) if (k !== null && o < active) latest.set(k, o);
    assert.ok(after.some(([o, k, v]) => o < active && k === 'a' && v === 'a5'), 'a5 stays while a-last is in the active segment');
    for (const [o, k, v] of after) {
      if (o >= active) continue;
      if (k === null) assert.match(v!, /^nokey/);
      else assert.equal(latest.get(k), o, `key ${k} at ${o} is not its latest`);
    }
    assert.deepEqual(after.filter(([, k]) => k === null).map(([, , v]) => v), Array.from({ length: 6 }, (_, i) => `nokey${i}`));
    // offsets are preserved: every surviving record sits at its original offset
    const original = new Map(before.map(([o, k, v]) => [o, `${k}:${v}`]));
    for (const [o, k, v] of after) assert.equal(original.get(o), `${k}:${v}`);
    assert.equal(log.logEndOffset, before.length);
    // the tombstone for b, still in the active segment, was not looked at
    const tombstone = 18;
    assert.ok(active <= tombstone && (await tombstoneAt(log, tombstone)) !== null);
    // once its segment is closed, the first pass that keeps it gives its batch a delete horizon (KIP-534):
    // delete.retention.ms from that pass, however old the tombstone's own timestamp is (here 5 s)
    now += 5000;
    await put(log, [{ key: 'e', value: 'roll' }], now);
    await put(log, [{ key: 'e', value: 'roll2'.repeat(60) }], now);
    await logs.runRetention();
    assert.ok(log.activeSegment.baseOffset > tombstone);
    assert.deepEqual(await tombstoneAt(log, tombstone), { horizon: true, baseTimestamp: now + 1000, timestamp: 1_000_000 });
    now += 999;
    await logs.runRetention();
    assert.deepEqual(await tombstoneAt(log, tombstone), { horizon: true, baseTimestamp: now + 1, timestamp: 1_000_000 }, 'kept until its horizon');
    now += 1;
    await logs.runRetention();
    assert.equal(await tombstoneAt(log, tombstone), null, 'removed at its horizon');
    const final = await contents(log);
    assert.equal(final.filter(([o, k]) => o < log.activeSegment.baseOffset && k === 'b').length, 0);
    await logs.close();
    const again = await openLogs(dir);
    assert.deepEqual(await contents(again.getLog('c', 0)!), final);
    await again.close();
  }));

test('a log with more keys than the key map holds is compacted in several rounds, to the same result', () =>
  withTempDir(async (dir) => {
    const { logs, log } = await setup(dir, { now: () => 1_000_000 }, { 'segment.bytes': '16384' });
    const keys = 3000;
    for (const version of ['v1', 'v2']) {
      for (let first = 0; first < keys; first += 100) {
        await put(log, Array.from({ length: 100 }, (_, i) => ({ key: `key-${first + i}`, value: `${version}-${first + i}` })), 1_000_000);
      }
    }
    while (log.activeSegment.baseOffset < 2 * keys) await put(log, [{ key: 'filler', value: 'x'.repeat(500) }], 1_000_000);
    const closedEnd = log.activeSegment.baseOffset;
    // 10 slots: 9 keys a round
    const result = await compactLog(log, nodeFileSystem, logs.cleaner, 1_000_000, 10 * OFFSET_MAP_SLOT_BYTES);
    assert.ok(result.rounds >= (2 * keys) / 9, `${result.rounds} rounds`);
    assert.equal(result.recordsRemoved, keys + (closedEnd - 2 * keys - 1));
    const closed = (await contents(log)).filter(([o]) => o < closedEnd);
    const expected = Array.from({ length: keys }, (_, i): [number, string, string] => [keys + i, `key-${i}`, `v2-${i}`]);
    assert.deepEqual(closed.slice(0, -1), expected);
    assert.deepEqual(closed.at(-1)!.slice(0, 2), [closedEnd - 1, 'filler']);
    // everything is clean now: the next pass finds nothing to do
    assert.deepEqual(await compactLog(log, nodeFileSystem, logs.cleaner, 1_000_000, 10 * OFFSET_MAP_SLOT_BYTES), { segmentsRewritten: 0, segmentsMerged: 0, recordsRemoved: 0, rounds: 0, bytesRead: 0, bytesWritten: 0 });
    await logs.close();
  }));

test('a pass hashes no key on the event loop: the key map and the work on records are the cleaner thread\'s', () =>
  withTempDir(async (dir) => {
    const { logs, log } = await setup(dir, { now: () => 1_000_000 });
    for (let round = 0; round < 10; round++) await put(log, [{ key: 'a', value: `a${round}` }, { key: `k${round}`, value: `v${round}` }], 1_000_000);
    const closedEnd = log.activeSegment.baseOffset;
    const { get, put: putKey } = OffsetMap.prototype;
    let used = 0;
    OffsetMap.prototype.get = function (...args) {
      used++;
      return get.apply(this, args);
    };
    OffsetMap.prototype.put = function (...args) {
      used++;
      return putKey.apply(this, args);
    };
    let result;
    try {
      result = await compactLog(log, nodeFileSystem, logs.cleaner, 1_000_000, 1 << 20);
    } finally {
      OffsetMap.prototype.get = get;
      OffsetMap.prototype.put = putKey;
    }
    assert.equal(used, 0);
    // every record of the closed segments stays but the latest `a` before the active segment's
    assert.equal(result.recordsRemoved, closedEnd / 2 - 1);
    const closed = (await contents(log)).filter(([o]) => o < closedEnd);
    const expected = Array.from({ length: closedEnd / 2 }, (_, r): [number, string, string] => [2 * r + 1, `k${r}`, `v${r}`]);
    expected.splice(-1, 0, [closedEnd - 2, 'a', `a${closedEnd / 2 - 1}`]);
    assert.deepEqual(closed, expected);
    await logs.close();
  }));

test('a pass whose cleaner thread is stopped part-way fails and changes nothing; the next pass starts another thread', () =>
  withTempDir(async (dir) => {
    let stopAtRead = -1;
    const fs: FileSystem = {
      ...nodeFileSystem,
      read: (fd, into, length, position, mayMissCache) => {
        if (stopAtRead >= 0 && stopAtRead-- === 0) void stopCleanerThread();
        return nodeFileSystem.read(fd, into, length, position, mayMissCache);
      },
    };
    const { logs, log } = await setup(dir, { now: () => 1_000_000 }, { 'segment.bytes': String(1 << 20) }, fs);
    // 3 MiB in segments of 1 MiB: a pass reads several chunks, and stops at the first read or the second
    const value = 'x'.repeat(60 * 1024);
    for (let i = 0; i < 50; i++) await put(log, [{ key: `k${i % 5}`, value: `${i}:${value}` }], 1_000_000);
    const before = await contents(log);
    for (const at of [0, 1]) {
      stopAtRead = at;
      await assert.rejects(compactLog(log, fs, logs.cleaner, 1_000_000, 1 << 20), /cleaner thread/);
      assert.deepEqual(await contents(log), before, `stopped at read ${at}`);
      assert.deepEqual((await readdir(join(dir, 'c-0'))).filter((f) => f.endsWith('.cleaned')), []);
    }
    const result = await compactLog(log, fs, logs.cleaner, 1_000_000, 1 << 20);
    const closedEnd = log.activeSegment.baseOffset;
    assert.equal(result.recordsRemoved, closedEnd - 5);
    assert.deepEqual(
      (await contents(log)).filter(([o]) => o < closedEnd).map(([o, k]) => `${o}:${k}`),
      Array.from({ length: 5 }, (_, i) => `${closedEnd - 5 + i}:k${(closedEnd - 5 + i) % 5}`),
    );
    await logs.close();
  }));

test('a pass counts every byte it reads and writes, and keeps them within the compaction I/O rate', () =>
  withTempDir(async (dir) => {
    const { logs, log } = await setup(dir, { now: () => 1_000_000 }, { 'segment.bytes': '100000' });
    for (let i = 0; i < 20; i++) await put(log, [{ key: 'a', value: `a${i}`.padEnd(200, '.') }], 1_000_000);
    log.roll();
    await put(log, [{ key: 'end', value: 'x' }], 1_000_000);
    const before = log.segments[0]!.size;
    let now = 0;
    let waited = 0;
    const clock: Clock = {
      now: () => now,
      every: () => () => undefined,
      after: (ms, fn) => {
        waited += ms;
        now += ms;
        setImmediate(fn);
        return () => undefined;
      },
    };
    // 1000 bytes a second: a byte is a millisecond
    const cleaner = new Cleaner({ ioBytesPerSecond: 1000, clock });
    const result = await compactLog(log, nodeFileSystem, cleaner, 1_000_000, 1 << 20);
    cleaner.close();
    assert.deepEqual([result.segmentsRewritten, result.recordsRemoved], [1, 19]);
    // the segment read twice (its keys mapped, then cleaned), its copy written once
    const after = log.segments[0]!.size;
    assert.deepEqual([result.bytesRead, result.bytesWritten], [2 * before, after]);
    assert.equal(waited, 2 * before + after);
    await logs.close();
  }));

test('a record is removed only once the record superseding it is durable in its own segment file (flush.policy=none)', () =>
  withTempDir(async (dir) => {
    const events: string[] = [];
    const paths = new Map<number, string>();
    const fs: FileSystem = {
      ...nodeFileSystem,
      open: async (path, flags) => {
        const fd = await nodeFileSystem.open(path, flags);
        paths.set(fd, basename(path));
        return fd;
      },
      // a segment's sync (the one at roll) takes a while; a .cleaned file's does not
      fdatasync: async (fd) => {
        const name = paths.get(fd) ?? '';
        if (name.endsWith('.log')) await new Promise((resolve) => setTimeout(resolve, 300));
        await nodeFileSystem.fdatasync(fd);
        events.push(`synced ${name}`);
      },
      rename: async (from, to) => {
        events.push(`renamed ${basename(to)}`);
        return nodeFileSystem.rename(from, to);
      },
    };
    const { logs, log } = await setup(dir, { now: () => 1_000_000 }, { 'flush.policy': 'none' }, fs);
    await put(log, [{ key: 'a', value: 'old' }], 1_000_000);
    while (log.segments.length < 2) await put(log, [{ key: null, value: 'x'.repeat(40) }], 1_000_000);
    const newer = basename(log.activeSegment.logPath);
    await put(log, [{ key: 'a', value: 'new' }], 1_000_000);
    while (log.segments.length < 3) await put(log, [{ key: null, value: 'x'.repeat(40) }], 1_000_000);
    // the segment holding 'new' has just closed: its sync at roll is still running
    await logs.runRetention();
    const renamed = events.indexOf('renamed 00000000000000000000.log');
    assert.ok(renamed > 0, `the first segment was rewritten: ${events.join(', ')}`);
    assert.ok(events.slice(0, renamed).includes(`synced ${newer}`), `${newer} synced before the rewrite: ${events.join(', ')}`);
    assert.deepEqual((await contents(log)).filter(([, k]) => k === 'a').map(([, , v]) => v), ['new']);
    await logs.close();
  }));

test('a large segment is cleaned a few MiB at a time: unchanged batches before the first change are read again, not held', () =>
  withTempDir(async (dir) => {
    const writes: number[] = [];
    const cleanedFds = new Set<number>();
    const fs: FileSystem = {
      ...nodeFileSystem,
      writev: (fd, buffers, position) => {
        const bytes = buffers.reduce((n, b) => n + b.length, 0);
        return nodeFileSystem.writev(fd, buffers, position).then((n) => (n === bytes && cleanedFds.has(fd) && writes.push(n), n));
      },
      open: async (path, flags) => {
        const fd = await nodeFileSystem.open(path, flags);
        if (path.endsWith('.cleaned')) cleanedFds.add(fd);
        else cleanedFds.delete(fd);
        return fd;
      },
    };
    const { logs, log } = await setup(dir, { now: () => 1_000_000 }, { 'segment.bytes': String(16 << 20) }, fs);
    const big = 'u'.repeat(64 * 1024);
    // 10 MiB of unique keys, then a record that a later segment supersedes, then more unique keys
    for (let i = 0; i < 160; i++) await put(log, [{ key: `u${i}`, value: big }], 1_000_000);
    await put(log, [{ key: 'a', value: 'old' }], 1_000_000);
    for (let i = 160; i < 200; i++) await put(log, [{ key: `u${i}`, value: big }], 1_000_000);
    log.roll();
    await put(log, [{ key: 'a', value: 'new' }], 1_000_000);
    log.roll();
    await put(log, [{ key: 'end', value: 'x' }], 1_000_000);
    const result = await compactLog(log, fs, logs.cleaner, 1_000_000, 1 << 20);
    assert.deepEqual([result.segmentsRewritten, result.recordsRemoved], [1, 1]);
    const after = await contents(log);
    assert.deepEqual(after.map(([o, k]) => `${o}:${k}`), [
      ...Array.from({ length: 160 }, (_, i) => `${i}:u${i}`),
      ...Array.from({ length: 40 }, (_, i) => `${161 + i}:u${160 + i}`),
      '201:a',
      '202:end',
    ]);
    assert.ok(after.every(([, k, v]) => !k!.startsWith('u') || v === big));
    // the copy went out in writes of about 4 MiB, never the whole 12.5 MiB at once
    assert.ok(writes.length >= 3, `${writes.length} writes`);
    assert.ok(Math.max(...writes) <= (4 << 20) + 70 * 1024, `largest write ${Math.max(...writes)} bytes`);
    await logs.close();
  }));

/** Every record of the log read from its own offset: what a consumer fetching at that offset gets first. */
async function eachFromItsOffset(log: PartitionLog, offsets: number[]): Promise<string[]> {
  const out: string[] = [];
  for (const offset of offsets) {
    const { records } = await log.read(offset, 1 << 20);
    const first = decodeRecordBatches(records).flatMap((b) => b.records).find((r) => r.offset >= offset)!;
    out.push(`${first.offset}:${first.key}:${first.value}`);
  }
  return out;
}

test('compaction merges small consecutive segments into one of at most segment.bytes, as Kafka\'s cleaner does', () =>
  withTempDir(async (dir) => {
    const { logs, log } = await setup(dir, { now: () => 1_000_000 }, { 'segment.bytes': '2000' });
    // 40 segments of about 2,000 bytes, each record superseded but the last of each key (there are 20 keys)
    const putMany = async (from: number, to: number) => {
      for (let i = from; i < to; i++) await put(log, [{ key: `k${i % 20}`, value: `v${i}`.padEnd(60, '.') }], 1_000_000);
    };
    await putMany(0, 800);
    // the first pass cleans each full segment alone (a group is sized by what its segments hold before cleaning)
    const first = await compactLog(log, nodeFileSystem, logs.cleaner, 1_000_000, 1 << 20);
    assert.equal(first.segmentsMerged, 0);
    const closedBefore = log.segments.length - 1;
    assert.ok(closedBefore >= 30, `${closedBefore} closed segments`);
    // the next, once more segments closed, merges what the first left
    await putMany(800, 900);
    const closedBeforeSecond = log.segments.length - 1;
    const sizesBefore = log.segments.slice(0, -1).map((s) => s.size);
    const before = await contents(log);
    const second = await compactLog(log, nodeFileSystem, logs.cleaner, 1_000_000, 1 << 20);
    const closedEnd = log.activeSegment.baseOffset;
    const latest = new Map<string, number>();
    for (const [o, k] of before) if (o < closedEnd) latest.set(k!, o);
    const expected = before.filter(([o, k]) => o >= closedEnd || latest.get(k!) === o);
    assert.deepEqual(await contents(log), expected);
    const closed = log.segments.slice(0, -1);
    // consecutive segments whose bytes before the pass add up to at most segment.bytes became one each (here the
    // ones the first pass emptied, with the next; each full one stays alone)
    let groups = 0;
    let bytes = Infinity;
    for (const size of sizesBefore) {
      if (bytes + size > 2000) {
        groups++;
        bytes = 0;
      }
      bytes += size;
    }
    assert.ok(groups < closedBeforeSecond / 4, `${groups} groups of ${closedBeforeSecond} segments`);
    assert.equal(closed.length, groups);
    assert.ok(closed.every((s) => s.size <= 2000));
    assert.equal(second.segmentsMerged, closedBeforeSecond - closed.length);
    const files = (await readdir(join(dir, 'c-0'))).filter((n) => n.endsWith('.log')).sort();
    assert.deepEqual(files, log.segments.map((s) => basename(s.logPath)));
    // look-ups land on each record through the merged segments' indexes
    const survivors = expected.map(([o]) => o);
    const want = expected.map(([o, k, v]) => `${o}:${k}:${v}`);
    assert.deepEqual(await eachFromItsOffset(log, survivors), want);
    await logs.close();
    const again = await openLogs(dir);
    assert.deepEqual(await contents(again.getLog('c', 0)!), expected);
    assert.deepEqual(await eachFromItsOffset(again.getLog('c', 0)!, survivors), want);
    await again.close();
  }));

test('a crash in the middle of a merged copy\'s swap is finished by the next start: nothing lost, nothing back, no file left', () =>
  withTempDir(async (dir) => {
    let crashed = false;
    let unlinked = 0;
    const fs: FileSystem = {
      ...nodeFileSystem,
      // the second unlink of a segment file in a merged copy's swap fails (the disk), and then the process dies
      unlink: async (path) => {
        if (path.endsWith('.log') && !crashed && ++unlinked === 2) {
          crashed = true;
          throw Object.assign(new Error('killed'), { code: 'EIO' });
        }
        return nodeFileSystem.unlink(path);
      },
    };
    const { logs, log } = await setup(dir, { now: () => 1_000_000 }, { 'segment.bytes': '2000' }, fs);
    for (let i = 0; i < 400; i++) await put(log, [{ key: `k${i % 10}`, value: `v${i}`.padEnd(60, '.') }], 1_000_000);
    // the first pass shrinks the segments (it merges none: see above), the second merges them
    crashed = true;
    await compactLog(log, fs, logs.cleaner, 1_000_000, 1 << 20);
    crashed = false;
    unlinked = 0;
    for (let i = 400; i < 500; i++) await put(log, [{ key: `k${i % 10}`, value: `v${i}`.padEnd(60, '.') }], 1_000_000);
    const closedEnd = log.activeSegment.baseOffset;
    const before = await contents(log);
    await assert.rejects(compactLog(log, fs, logs.cleaner, 1_000_000, 1 << 20), /killed/);
    assert.ok(crashed);
    // until then, reads go on from the old files (one of them already deleted), and no other swap starts
    assert.deepEqual(await contents(log), before);
    assert.equal((await compactLog(log, fs, logs.cleaner, 1_000_000, 1 << 20)).rounds, 0);
    await crash(logs);
    const leftovers = (await readdir(join(dir, 'c-0'))).filter((n) => n.endsWith('.log'));
    assert.ok(leftovers.length > 2, 'the merged-away segments are still there');
    assert.equal((await readdir(join(dir, 'c-0'))).filter((n) => n.endsWith('.swap')).length, 1, 'the copy waits as a .swap file');
    const again = await openLogs(dir);
    const log2 = again.getLog('c', 0)!;
    // the merged copy stands for the first group, the other segments are as the pass left them: every record
    // read is the one written at its offset, once, and every key's latest record is there
    const latest = new Map<string, number>();
    for (const [o, k] of before) if (o < closedEnd) latest.set(k!, o);
    const compacted = before.filter(([o, k]) => o >= closedEnd || latest.get(k!) === o);
    const original = new Map(before.map(([o, k, v]) => [o, `${k}:${v}`]));
    const got = await contents(log2);
    for (let i = 1; i < got.length; i++) assert.ok(got[i]![0] > got[i - 1]![0], `offsets go up at ${got[i]![0]}`);
    for (const [o, k, v] of got) assert.equal(`${k}:${v}`, original.get(o), `offset ${o}`);
    const offsets = new Set(got.map(([o]) => o));
    for (const [o] of compacted) assert.ok(offsets.has(o), `offset ${o} kept`);
    for (let i = 1; i < log2.segments.length; i++) assert.ok(log2.segments[i - 1]!.nextOffset <= log2.segments[i]!.baseOffset, 'no segment overlaps the next');
    const files = (await readdir(join(dir, 'c-0'))).filter((n) => n.endsWith('.log')).sort();
    assert.deepEqual(files, log2.segments.map((s) => basename(s.logPath)), 'the merged-away files are gone');
    assert.ok(files.length < leftovers.length);
    assert.deepEqual((await readdir(join(dir, 'c-0'))).filter((n) => n.endsWith('.swap')), []);
    // and the next pass finishes the work
    await compactLog(log2, nodeFileSystem, again.cleaner, 1_000_000, 1 << 20);
    assert.deepEqual(await contents(log2), compacted);
    await again.close();
  }));

/**
 * A compacted topic of 2,000-byte segments on `fs`, one descriptor kept open at a time (a segment read after
 * another must open its file again, by name), and 300 records in it, noted by offset as `key:value` in `original`.
 */
async function mergingSetup(dir: string, fs: FileSystem, original: Map<number, string>): Promise<{ logs: LogManager; merging: PartitionLog }> {
  const logs = await openLogs(dir, { fs, maxOpenFiles: 1, clock: clockAt(() => 1_000_000) });
  await logs.createTopic('c', 1, { 'cleanup.policy': 'compact', 'segment.bytes': '2000', 'min.cleanable.dirty.ratio': '0' });
  const merging = logs.getLog('c', 0)!;
  await putMergeable(merging, 0, 300, original);
  return { logs, merging };
}

/** Appends records from..to-1; every 20th has a key of its own, so each segment keeps one after a pass, for the next pass to merge. */
async function putMergeable(log: PartitionLog, from: number, to: number, original: Map<number, string>): Promise<void> {
  for (let i = from; i < to; i++) {
    const [key, value] = [i % 20 === 0 ? `u${i}` : `k${i % 10}`, `v${i}`.padEnd(60, '.')];
    await put(log, [{ key, value }], 1_000_000);
    original.set(i, `${key}:${value}`);
  }
}

/** A first pass, then 100 more records: the next pass merges segments. Returns the offsets the log holds before it. */
async function passThenMore(logs: LogManager, log: PartitionLog, fs: FileSystem, original: Map<number, string>): Promise<number[]> {
  await compactLog(log, fs, logs.cleaner, 1_000_000, 1 << 20);
  await putMergeable(log, 300, 400, original);
  return (await contents(log)).map(([o]) => o);
}

/** Each [offset read at, offset first returned] of reads made during a pass found a record the log held before it, and skipped none the pass kept. */
async function checkReadsAcrossPass(log: PartitionLog, reads: [number, number][], before: number[]): Promise<void> {
  const after = (await contents(log)).map(([o]) => o);
  for (const [at, got] of reads) {
    assert.ok(before.includes(got), `read at ${at} got ${got}, not in the log`);
    const skipped = after.find((o) => o >= at && o < got);
    assert.equal(skipped, undefined, `read at ${at} got ${got}, skipping ${skipped}`);
  }
}

test('a read in the middle of a swap gets each record from a whole file, old or new, even with its descriptor closed', () =>
  withTempDir(async (dir) => {
    let log: PartitionLog | null = null;
    const original = new Map<number, string>();
    /** [offset read at, offset of the first record returned], for every read made during the swaps. */
    const reads: [number, number][] = [];
    const readAll = async () => {
      if (!log) return;
      const reading: PartitionLog = log;
      for (const offset of original.keys()) {
        if (offset < reading.logStartOffset || offset >= reading.activeSegment.baseOffset) continue;
        const { records } = await reading.read(offset, 1 << 20);
        const first = decodeRecordBatches(records).flatMap((b) => b.records).find((r) => r.offset >= offset)!;
        assert.equal(`${first.key}:${first.value}`, original.get(first.offset), `read at ${offset} during a swap`);
        reads.push([offset, first.offset]);
      }
    };
    const fs: FileSystem = {
      ...nodeFileSystem,
      rename: async (from, to) => {
        // right before and after each rename of a swap, read across everything closed, from every offset
        await readAll();
        await nodeFileSystem.rename(from, to);
        await readAll();
      },
    };
    const { logs, merging } = await mergingSetup(dir, fs, original);
    log = merging;
    const before = await passThenMore(logs, merging, fs, original);
    reads.length = 0;
    const second = await compactLog(merging, fs, logs.cleaner, 1_000_000, 1 << 20);
    assert.ok(second.segmentsMerged > 0 && reads.length > 0);
    await checkReadsAcrossPass(merging, reads, before);
    await logs.close();
  }));

test('a read begun just before a swap and answered after it gets records the log holds, skipping none the pass keeps', () =>
  withTempDir(async (dir) => {
    let log: PartitionLog | null = null;
    const original = new Map<number, string>();
    /** Reads from every closed offset, issued right before each swap takes the segment's name, settled after it. */
    const inFlight: Promise<[number, number | string]>[] = [];
    const fs: FileSystem = {
      ...nodeFileSystem,
      rename: async (from, to) => {
        if (log && from.endsWith('.swap')) {
          const reading: PartitionLog = log;
          for (const offset of original.keys()) {
            if (offset < reading.logStartOffset || offset >= reading.activeSegment.baseOffset) continue;
            inFlight.push(
              reading.read(offset, 1 << 20).then(
                ({ records }) => [offset, decodeRecordBatches(records).flatMap((b) => b.records).find((r) => r.offset >= offset)?.offset ?? -1],
                (err: Error) => [offset, err.message],
              ),
            );
          }
        }
        await nodeFileSystem.rename(from, to);
      },
    };
    // each read opens its segment's file by name (one descriptor kept open), after the rename
    const { logs, merging } = await mergingSetup(dir, fs, original);
    log = merging;
    const before = await passThenMore(logs, merging, fs, original);
    inFlight.length = 0;
    const second = await compactLog(merging, fs, logs.cleaner, 1_000_000, 1 << 20);
    const reads = await Promise.all(inFlight);
    assert.ok(second.segmentsMerged > 0 && reads.length > 0);
    for (const [at, got] of reads) assert.equal(typeof got, 'number', `read at ${at} failed: ${got}`);
    await checkReadsAcrossPass(merging, reads as [number, number][], before);
    await logs.close();
  }));

for (const madeAgain of [false, true]) {
  test(`a compaction whose topic is deleted while it writes its copy stops without reporting an error, and leaves no file${madeAgain ? ' in the topic made again under its name' : ''}`, () =>
    withTempDir(async (dir) => {
      const errors: string[] = [];
      let releaseOpen!: () => void;
      const released = new Promise<void>((resolve) => (releaseOpen = resolve));
      let copyOpening = false;
      const fs: FileSystem = {
        ...nodeFileSystem,
        open: async (path, flags) => {
          if (path.endsWith('.cleaned') && !copyOpening) {
            copyOpening = true;
            await released;
          }
          return nodeFileSystem.open(path, flags);
        },
      };
      const logs = await openLogs(dir, { fs, onError: (err, what) => errors.push(`${what}: ${(err as Error).message}`) });
      const config = { 'cleanup.policy': 'compact', 'segment.bytes': '300', 'min.cleanable.dirty.ratio': '0' };
      await logs.createTopic('c', 1, config);
      const log = logs.getLog('c', 0)!;
      for (let round = 0; round < 4; round++) {
        for (const key of ['a', 'b', 'c']) await put(log, [{ key, value: `${key}${round}`.padEnd(40, '.') }], 1_000_000);
      }
      const pass = logs.runRetention();
      await waitUntil('the compaction opens its copy', () => copyOpening);
      await logs.deleteTopic('c');
      if (madeAgain) await logs.createTopic('c', 1, config);
      releaseOpen();
      await pass;
      assert.deepEqual(errors, []);
      assert.deepEqual(await readdir(join(dir, 'c-0')).catch(() => 'none'), madeAgain ? ['00000000000000000000.log'] : 'none');
      await logs.close();
    }));
}

test('after a crash, the journal does not bring back what compaction removed from a segment', () =>
  withTempDir(async (dir) => {
    const errors: string[] = [];
    // every acknowledgement goes through the journal, whose file outlives the crash
    const logs = await openLogs(dir, { directSyncMax: 0, onError: (err, what) => errors.push(`${what}: ${(err as Error).message}`) });
    await logs.createTopic('c', 1, { 'cleanup.policy': 'compact', 'segment.bytes': '300', 'min.cleanable.dirty.ratio': '0' });
    const log = logs.getLog('c', 0)!;
    for (let round = 0; round < 4; round++) {
      for (const key of ['a', 'b', 'c']) await put(log, [{ key, value: `${key}${round}`.padEnd(40, '.') }], 1_000_000);
    }
    const result = await compactLog(log, nodeFileSystem, logs.cleaner, 1_000_000, 1 << 20);
    assert.ok(result.recordsRemoved >= 6, `${result.recordsRemoved} removed`);
    const compacted = await contents(log);
    assert.ok(log.segments[0]!.nextOffset > 0 && compacted[0]![0] > 0, 'the first segment lost its records');
    await crash(logs); // the process dies: no clean shutdown, the journal stays
    const again = await openLogs(dir, { onError: (err, what) => errors.push(`${what}: ${(err as Error).message}`) });
    assert.deepEqual(await contents(again.getLog('c', 0)!), compacted);
    assert.deepEqual(errors, []);
    await again.close();
  }));

test('after a crash in the middle of a swap, the journal does not bring back what the swapped-in copy removed', () =>
  withTempDir(async (dir) => {
    let swapRenames = 0;
    const fs: FileSystem = {
      ...nodeFileSystem,
      // the copy's last rename (to the segment's own name) fails, and then the process dies
      rename: async (from, to) => {
        if (from.endsWith('.swap') && ++swapRenames === 1) throw Object.assign(new Error('killed'), { code: 'EIO' });
        return nodeFileSystem.rename(from, to);
      },
    };
    // every acknowledgement goes through the journal, whose file outlives the crash
    const logs = await openLogs(dir, { fs, directSyncMax: 0 });
    await logs.createTopic('c', 1, { 'cleanup.policy': 'compact', 'segment.bytes': '300', 'min.cleanable.dirty.ratio': '0' });
    const log = logs.getLog('c', 0)!;
    for (let round = 0; round < 4; round++) {
      for (const key of ['a', 'b', 'c']) await put(log, [{ key, value: `${key}${round}`.padEnd(40, '.') }], 1_000_000);
    }
    const before = await contents(log);
    const closedEnd = log.activeSegment.baseOffset;
    await assert.rejects(compactLog(log, fs, logs.cleaner, 1_000_000, 1 << 20), /killed/);
    assert.equal(swapRenames, 1);
    await crash(logs); // no clean shutdown: the journal stays, and the start finishes the swap
    const again = await openLogs(dir);
    const latest = new Map<string, number>();
    for (const [o, k] of before) if (o < closedEnd) latest.set(k!, o);
    const got = await contents(again.getLog('c', 0)!);
    const original = new Map(before.map(([o, k, v]) => [o, `${k}:${v}`]));
    for (const [o, k, v] of got) assert.equal(`${k}:${v}`, original.get(o), `offset ${o}`);
    // the first segment's copy went in; none of the records it dropped is back
    const firstEnd = got.findIndex(([o]) => o >= again.getLog('c', 0)!.segments[1]!.baseOffset);
    for (const [o, k] of got.slice(0, firstEnd)) assert.equal(latest.get(k!), o, `superseded record at ${o} (key ${k}) came back`);
    assert.ok(got.length < before.length, 'the swap was finished');
    await again.close();
  }));

test('compressed batches stay compressed with their codec after compaction', () =>
  withTempDir(async (dir) => {
    const { logs, log } = await setup(dir, { now: () => 1_000_000 });
    for (let i = 0; i < 8; i++) await put(log, [{ key: 'k', value: `v${i}` }, { key: `u${i}`, value: 'x' }], 1_000_000, Compression.ZSTD);
    await logs.runRetention();
    const { records } = await log.read(log.logStartOffset, 1 << 20);
    for (const b of decodeRecordBatches(records)) assert.equal(b.info.attributes & 7, Compression.ZSTD);
    await logs.close();
  }));

test('a crash during compaction loses nothing: a leftover .cleaned file is discarded, a failed swap keeps the original', () =>
  withTempDir(async (dir) => {
    const { logs, log } = await setup(dir, { now: () => 1_000_000 });
    for (let i = 0; i < 10; i++) await put(log, [{ key: 'k', value: `v${i}` }], 1_000_000);
    const before = await contents(log);
    const first = join(dir, 'c-0', '00000000000000000000.log.cleaned');
    await writeFile(first, 'half-written garbage');
    await crash(logs);
    const failing = await openLogs(dir, { fs: { ...nodeFileSystem, rename: async () => Promise.reject(Object.assign(new Error('EIO'), { code: 'EIO' })) } });
    assert.deepEqual((await readdir(join(dir, 'c-0'))).filter((f) => f.endsWith('.cleaned')), []);
    await failing.runRetention();
    assert.deepEqual(await contents(failing.getLog('c', 0)!), before);
    await crash(failing);
    const healthy = await openLogs(dir);
    assert.deepEqual(await contents(healthy.getLog('c', 0)!), before);
    await healthy.runRetention();
    const compacted = await contents(healthy.getLog('c', 0)!);
    assert.ok(compacted.length < before.length);
    assert.deepEqual(compacted[compacted.length - 1], before[before.length - 1]);
    await healthy.close();
  }));

test('compaction removes aborted transactional records, keeps markers, and never cleans past the last stable offset', () =>
  withTempDir(async (dir) => {
    const now = 1_000_000;
    const { logs, log } = await setup(dir, { now: () => now });
    const txn = (producerId: number, seq: number, records: { key: string; value: string }[]) => {
      const batch = buildRecordBatch(records.map((r) => ({ ...r, timestamp: now })), { producerId, producerEpoch: 0, baseSequence: seq, transactional: true });
      return log.append(batch, validateBatches(batch, 1 << 20)).durable;
    };
    const end = (producerId: number, commit: boolean) => {
      const batch = buildControlBatch(commit, producerId, 0);
      return log.append(batch, validateBatches(batch, 1 << 20)).durable;
    };
    await txn(1, 0, [{ key: 'k', value: 'committed-'.padEnd(80, 'x') }]); // 0
    await end(1, true); // 1
    await txn(2, 0, [{ key: 'k', value: 'aborted-'.padEnd(80, 'x') }, { key: 'only-aborted', value: 'gone' }]); // 2-3
    await end(2, false); // 4
    await txn(3, 0, [{ key: 'k', value: 'open-'.padEnd(80, 'x') }]); // 5: still open
    for (let i = 0; i < 8; i++) await put(log, [{ key: `filler-${i}`, value: 'f'.repeat(80) }], now); // 6-13
    assert.ok(log.segments.length > 3);
    assert.equal(log.lastStableOffset, 5);
    await logs.runRetention();
    const after = await contents(log);
    const below = after.filter(([o]) => o < 5).map(([o, k]) => [o, k]);
    assert.deepEqual(below, [[0, 'k'], [1, '\0\0\0\x01'], [4, '\0\0\0\0']], 'k keeps its committed value, aborted records are gone, both markers stay');
    assert.ok(after.some(([o, k]) => o === 5 && k === 'k'), 'the open transaction is untouched');
    await logs.close();
  }));

test('a COMMIT marker whose transaction has no record left gets a delete horizon and then goes; a producer\'s last batch stays as its header, and so does the ABORT marker of its transaction', () =>
  withTempDir(async (dir) => {
    let now = 1_000_000;
    const { logs, log } = await setup(dir, { now: () => now });
    const append = (batch: Buffer) => log.append(batch, validateBatches(batch, 1 << 20)).durable;
    const txn = (producerId: number, baseSequence: number, key: string) =>
      append(buildRecordBatch([{ key, value: `${key}-in-txn`.padEnd(80, 'x'), timestamp: now }], { producerId, producerEpoch: 0, baseSequence, transactional: true }));
    await txn(1, 0, 'a'); // 0
    await append(buildControlBatch(true, 1, 0)); // 1
    await put(log, [{ key: 'a', value: 'a-newer'.padEnd(80, 'x') }], now); // 2: supersedes 0
    await txn(2, 0, 'b'); // 3: producer 2's last batch
    await append(buildControlBatch(false, 2, 0)); // 4
    await txn(3, 0, 'c'); // 5: its transaction keeps its record
    await append(buildControlBatch(true, 3, 0)); // 6
    await txn(1, 1, 'd'); // 7: producer 1's last batch
    await append(buildControlBatch(true, 1, 0)); // 8
    for (let i = 0; i < 8; i++) await put(log, [{ key: `filler-${i}`, value: 'f'.repeat(80) }], now);
    const batches = () => batchesThrough(log, 8);
    await logs.runRetention();
    // the pass that removed the record of producer 1's first transaction gave its marker a delete horizon; the
    // aborted record of producer 2 went, its batch's header stays
    const after = [[2, 'a', false], [3, 'empty', false], [4, 'ABORT', false], [5, 'c', false], [6, 'COMMIT', false], [7, 'd', false], [8, 'COMMIT', false]];
    assert.deepEqual(await batches(), [[1, 'COMMIT', true], ...after]);
    now += 999;
    await logs.runRetention();
    assert.deepEqual(await batches(), [[1, 'COMMIT', true], ...after], 'kept until its horizon');
    now += 1;
    await logs.runRetention();
    assert.deepEqual(await batches(), after);
    // rebuilt from the log alone (no snapshot), producers and transactions come back the same: nothing open, the
    // aborted transaction known, producer 2's sequence kept by the header
    await crash(logs);
    for (const name of await readdir(join(dir, 'c-0'))) if (name.endsWith('.snapshot')) await rm(join(dir, 'c-0', name));
    const again = await openLogs(dir);
    const reopened = again.getLog('c', 0)!;
    assert.equal(reopened.lastStableOffset, reopened.highWatermark);
    assert.deepEqual(reopened.transactions.abortedBetween(0, 9).map((t) => [t.producerId, t.firstOffset, t.lastOffset]), [[2, 3, 4]]);
    const next = buildRecordBatch([{ key: 'e', value: 'e', timestamp: now }], { producerId: 2, producerEpoch: 0, baseSequence: 1, transactional: true });
    await reopened.append(next, validateBatches(next, 1 << 20)).durable;
    await again.close();
  }));

test('an ABORT marker goes once a pass meets no batch of its transaction: the aborted transaction is forgotten, in memory and in snapshots, and its marker gets a delete horizon, then goes', () =>
  withTempDir(async (dir) => {
    let now = 1_000_000;
    const { logs, log } = await setup(dir, { now: () => now });
    const append = (l: PartitionLog, batch: Buffer) => l.append(batch, validateBatches(batch, 1 << 20)).durable;
    const txn = (l: PartitionLog, baseSequence: number, key: string) =>
      append(l, buildRecordBatch([{ key, value: `${key}-in-txn`.padEnd(80, 'x'), timestamp: now }], { producerId: 2, producerEpoch: 0, baseSequence, transactional: true }));
    await txn(log, 0, 'a'); // 0
    await append(log, buildControlBatch(false, 2, 0)); // 1
    await txn(log, 1, 'b'); // 2: producer 2's last batch, committed
    await append(log, buildControlBatch(true, 2, 0)); // 3
    for (let i = 0; i < 8; i++) await put(log, [{ key: `filler-${i}`, value: 'f'.repeat(80) }], now);
    const batches = (l: PartitionLog) => batchesThrough(l, 3);
    const aborted = (l: PartitionLog) => l.transactions.abortedBetween(0, l.highWatermark).map((t) => [t.producerId, t.firstOffset, t.lastOffset]);
    const snapshotsOnDisk = async () => {
      const names = (await readdir(join(dir, 'c-0'))).filter((n) => n.endsWith('.snapshot'));
      // a roll's seal, still running, may delete a snapshot between the listing and its read (a partition keeps the two
      // newest; seen under a loaded full run): one gone names nothing
      const read = async (n: string) => readFile(join(dir, 'c-0', n), 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? null : Promise.reject(err)));
      const found = await Promise.all(names.map(read));
      return found.filter((json) => json !== null).map((json) => JSON.parse(json).transactions.aborted as number[][]);
    };
    assert.ok((await snapshotsOnDisk()).some((a) => a.length === 1), 'the rolls wrote the aborted transaction into a snapshot');
    // the first pass removes the aborted record; its marker stays, as the pass met a batch of its transaction
    await logs.runRetention();
    assert.deepEqual((await batches(log)).slice(0, 1), [[1, 'ABORT', false]]);
    assert.deepEqual(aborted(log), [[2, 0, 1]]);
    // nothing new: no pass is due, and the marker waits for one, as in Kafka
    await logs.runRetention();
    assert.deepEqual((await batches(log)).slice(0, 1), [[1, 'ABORT', false]]);
    // the next pass forgets the transaction and stamps the marker
    for (let i = 0; i < 4; i++) await put(log, [{ key: `more-${i}`, value: 'm'.repeat(80) }], now);
    await logs.runRetention();
    assert.deepEqual(await batches(log), [[1, 'ABORT', true], [2, 'b', false], [3, 'COMMIT', false]]);
    assert.deepEqual(aborted(log), []);
    assert.deepEqual((await snapshotsOnDisk()).flat(), [], 'no snapshot names it');
    await crash(logs);
    const again = await openLogs(dir, { clock: clockAt(() => now) });
    const reopened = again.getLog('c', 0)!;
    assert.deepEqual(aborted(reopened), [], 'a start from the snapshots does not know it again');
    now += 999;
    await again.runRetention();
    assert.deepEqual((await batches(reopened)).slice(0, 1), [[1, 'ABORT', true]], 'kept until its horizon');
    now += 1;
    await again.runRetention();
    assert.deepEqual(await batches(reopened), [[2, 'b', false], [3, 'COMMIT', false]]);
    assert.deepEqual(aborted(reopened), []);
    // producer 2 goes on in sequence, and nothing is open
    await txn(reopened, 2, 'c');
    await append(reopened, buildControlBatch(true, 2, 0));
    assert.equal(reopened.lastStableOffset, reopened.highWatermark);
    await again.close();
  }));

test('a roll\'s snapshot taken before compaction forgets an aborted transaction, and written after, does not name it', () =>
  withTempDir(async (dir) => {
    // markers carry the real time: the clock runs a minute ahead, so that they are old enough for min.compaction.lag.ms
    const now = Date.now() + 60_000;
    const files = pathRecordingOpen();
    let heldPath = '';
    const fs: FileSystem = {
      ...nodeFileSystem,
      open: files.open,
      fdatasync: async (fd) => {
        while (heldPath !== '' && files.pathOf(fd) === heldPath) await new Promise((r) => setTimeout(r, 5));
        return nodeFileSystem.fdatasync(fd);
      },
    };
    const { logs, log } = await setup(dir, { now: () => now }, { 'flush.policy': 'none', 'min.compaction.lag.ms': '30000' }, fs);
    const append = (batch: Buffer) => log.append(batch, validateBatches(batch, 1 << 20)).durable;
    const txn = (baseSequence: number, key: string) =>
      append(buildRecordBatch([{ key, value: `${key}-in-txn`.padEnd(80, 'x'), timestamp: now - 60_000 }], { producerId: 2, producerEpoch: 0, baseSequence, transactional: true }));
    await txn(0, 'a'); // 0
    await append(buildControlBatch(false, 2, 0)); // 1
    await txn(1, 'b'); // 2
    await append(buildControlBatch(true, 2, 0)); // 3
    for (let i = 0; i < 8; i++) await put(log, [{ key: `filler-${i}`, value: 'f'.repeat(80) }], now - 60_000);
    await logs.runRetention(); // removes the aborted record
    assert.equal(log.transactions.abortedBetween(0, 2).length, 1);
    // segments to clean, then a segment of young records alone, whose roll's seal waits for its sync, with the
    // aborted transaction in its snapshot
    const rollWith = async (key: string, timestamp: number) => {
      const from = log.activeSegment.baseOffset;
      while (log.activeSegment.baseOffset === from) await put(log, [{ key, value: key.repeat(40) }], timestamp);
    };
    await rollWith('old', now - 60_000);
    await rollWith('young', now);
    heldPath = log.activeSegment.logPath;
    await rollWith('young', now);
    const sealAt = log.activeSegment.baseOffset;
    await logs.runRetention(); // forgets it and stamps the marker; the young segment is left alone
    assert.equal(log.transactions.abortedBetween(0, 2).length, 0);
    assert.ok(!(await snapshotFiles(join(dir, 'c-0'))).includes(`${String(sealAt).padStart(20, '0')}.snapshot`), 'the seal is still waiting');
    heldPath = '';
    await waitUntil('the seal writes its snapshot', async () => (await snapshotFiles(join(dir, 'c-0'))).includes(`${String(sealAt).padStart(20, '0')}.snapshot`));
    await crash(logs);
    const again = await openLogs(dir, { clock: clockAt(() => now) });
    assert.deepEqual(again.getLog('c', 0)!.transactions.abortedBetween(0, 2), []);
    await again.close();
  }));

test('min.compaction.lag.ms leaves young records alone; min.cleanable.dirty.ratio waits until enough is new; max.compaction.lag.ms rolls and cleans', () =>
  withTempDir(async (dir) => {
    let now = 1_000_000;
    const { logs, log } = await setup(dir, { now: () => now }, { 'min.compaction.lag.ms': '10000', 'min.cleanable.dirty.ratio': '0.5' });
    // six closed segments of three records (about 100 bytes each): a version of k and two keys written once
    for (let i = 0; i < 18; i++) await put(log, [{ key: i % 3 === 0 ? 'k' : `u${i}`, value: `v${i}`.padEnd(60, '.') }], now + i);
    await put(log, [{ key: 'other', value: 'x' }], now + 18);
    const segments = log.segments.length;
    const versions = async () => (await contents(log)).filter(([, k]) => k === 'k').length;
    assert.equal(await versions(), 6);
    now += 5000;
    await logs.runRetention();
    assert.equal(await versions(), 6, 'records younger than min.compaction.lag.ms are not compacted');
    now += 10_000;
    await logs.runRetention();
    const afterFirst = await versions();
    assert.equal(afterFirst, 1, 'compacted once old enough');
    assert.equal(log.segments.length, segments);
    // one more closed segment is far less than half of the cleanable bytes: no pass yet
    for (let i = 0; i < 3; i++) await put(log, [{ key: 'k', value: `w${i}`.padEnd(60, '.') }], now);
    now += 20_000;
    const beforeRatio = await versions();
    await logs.runRetention();
    assert.equal(await versions(), beforeRatio, 'dirty ratio below min.cleanable.dirty.ratio: not cleaned');
    await logs.setTopicOverrides('c', { 'cleanup.policy': 'compact', 'segment.bytes': '300', 'min.cleanable.dirty.ratio': '0.5', 'max.compaction.lag.ms': '1000' });
    await logs.runRetention();
    assert.ok((await versions()) < beforeRatio, 'a dirty segment older than max.compaction.lag.ms is cleaned whatever the ratio');
    // the active segment rolls once its first record is older than max.compaction.lag.ms, so it becomes cleanable
    const active = log.activeSegment.baseOffset;
    now += 2000;
    await put(log, [{ key: 'k', value: 'late' }], now);
    assert.notEqual(log.activeSegment.baseOffset, active, 'rolled by max.compaction.lag.ms');
    await logs.close();
  }));

test('records without timestamps (-1) are aged by their file modification time: min.compaction.lag.ms counts from it, and a rewritten copy keeps it', () =>
  withTempDir(async (dir) => {
    let now = 1_000_000;
    const { logs, log } = await setup(dir, { now: () => now }, { 'min.compaction.lag.ms': '500' });
    // the clock's "now" is far in the past of the files' real times: files are dated as the clock sees them
    const dateFiles = async (ms: number) => {
      for (const s of log.segments) await utimes(s.logPath, new Date(ms), new Date(ms));
    };
    for (let i = 0; i < 4; i++) await put(log, [{ key: 'a', value: `a${i}`.padEnd(60, '.') }, { key: `u${i}`, value: 'x' }], -1);
    await put(log, [{ key: 'a', value: null }], -1);
    while (log.segments.length < 4 || log.closedSegments().at(-1)!.nextOffset <= 9) await put(log, [{ key: 'other', value: 'y'.repeat(60) }], -1);
    const keysOf = async () => (await contents(log)).filter(([o]) => o < 9).map(([o, k, v]) => `${o}:${k}=${v === null ? 'null' : v.slice(0, 2)}`);
    const all = await keysOf();
    await dateFiles(now);
    const first = await stat(log.segments[0]!.logPath);
    await logs.runRetention();
    assert.deepEqual(await keysOf(), all, 'written just now by their files: younger than min.compaction.lag.ms');
    now += 600;
    await logs.runRetention();
    // the tombstone, first kept by this pass, stays until its delete horizon (see the first test)
    assert.deepEqual(await keysOf(), ['1:u0=x', '3:u1=x', '5:u2=x', '7:u3=x', '8:a=null']);
    assert.deepEqual(await tombstoneAt(log, 8), { horizon: true, baseTimestamp: now + 1000, timestamp: -1 });
    const copy = await stat(log.segments[0]!.logPath);
    assert.notEqual(copy.ino, first.ino, 'rewritten');
    assert.equal(copy.mtimeMs, now - 600, 'the rewritten copy keeps its sources\' modification time');
    now += 1000;
    await logs.runRetention();
    assert.deepEqual(await keysOf(), ['1:u0=x', '3:u1=x', '5:u2=x', '7:u3=x']);
    await logs.close();
  }));

test('records without timestamps (-1) make no segment overdue for max.compaction.lag.ms, as in Kafka', () =>
  withTempDir(async (dir) => {
    const now = 1_000_000;
    const { logs, log } = await setup(dir, { now: () => now }, { 'min.cleanable.dirty.ratio': '0.5', 'max.compaction.lag.ms': '1000' });
    for (let i = 0; i < 18; i++) await put(log, [{ key: i % 3 === 0 ? 'k' : `u${i}`, value: `v${i}`.padEnd(60, '.') }], -1);
    await put(log, [{ key: 'other', value: 'x' }], -1);
    const versions = async () => (await contents(log)).filter(([, k]) => k === 'k').length;
    await logs.runRetention();
    assert.equal(await versions(), 1, 'the first pass finds every segment dirty');
    // one more closed segment is far less than half of the cleanable bytes
    for (let i = 0; i < 4; i++) await put(log, [{ key: 'k', value: `w${i}`.padEnd(60, '.') }], -1);
    const before = await versions();
    assert.ok(before > 1);
    await logs.runRetention();
    assert.equal(await versions(), before, 'no timestamp is older than max.compaction.lag.ms: the dirty ratio decides, and it is too low');
    await logs.close();
  }));

test('a segment compacted as soon as it closes ends with the copy\'s index files, not those its roll was still writing', () =>
  withTempDir(async (dir) => {
    const first = `${'0'.repeat(20)}.index`;
    // the first segment's roll is slow to write its index files (a loaded disk)
    const roll = holdFirstAtomicWrite((path) => basename(path) === first);
    const fs: FileSystem = { ...nodeFileSystem, writeFileAtomic: roll.writeFileAtomic };
    const { logs, log } = await setup(dir, { now: () => 1_000_000 }, { 'index.interval.bytes': '1' }, fs);
    while (log.segments.length < 2) await put(log, [{ key: 'k', value: `v${log.logEndOffset}` }], 1_000_000);
    await put(log, [{ key: 'other', value: 'x' }], 1_000_000);
    await roll.held;
    const pass = logs.runRetention();
    // the pass may not finish before the roll's write (it waits for it); if it does, the write must not win
    await Promise.race([pass, new Promise((r) => setTimeout(r, 200))]);
    roll.release();
    await pass;
    const compacted = log.segments[0]!;
    assert.equal((await contents(log)).filter(([o]) => o < compacted.nextOffset).length, 1, 'one record of k left in the first segment');
    await logs.close();
    assert.deepEqual(await readFile(join(dir, 'c-0', first)), compacted.offsetIndex.serialize(), 'the index on disk is the copy\'s');
    assert.deepEqual(await readFile(join(dir, 'c-0', `${'0'.repeat(20)}.timeindex`)), compacted.timeIndex.serialize());
  }));

test('a crash after a compacted segment is swapped in, before its new indexes are written, reads the compacted bytes on restart', () =>
  withTempDir(async (dir) => {
    const { logs, log } = await setup(dir, { now: () => 1_000_000 }, { 'index.interval.bytes': '1' });
    for (let i = 0; i < 12; i++) await put(log, [{ key: 'k', value: `v${i}` }, { key: `once${i}`, value: 'x' }], 1_000_000);
    const before = await contents(log);
    await logs.close(); // every segment gets index files
    // the broker dies right after the first segment's swap: writing its new indexes is the first thing that fails
    const dying = await openLogs(dir, {
      fs: { ...nodeFileSystem, writeFileAtomic: async (path, data, durable) => {
        if (path.includes('00000000000000000000.')) throw Object.assign(new Error('EIO'), { code: 'EIO' });
        return nodeFileSystem.writeFileAtomic(path, data, durable);
      } },
    });
    await dying.runRetention();
    await crash(dying);
    const again = await openLogs(dir);
    const after = await contents(again.getLog('c', 0)!);
    const original = new Map(before.map(([o, k, v]) => [o, `${k}:${v}`]));
    for (const [o, k, v] of after) assert.equal(original.get(o), `${k}:${v}`, `offset ${o} unchanged`);
    assert.ok(after.length < before.length, 'the first segment was compacted');
    assert.deepEqual(after.filter(([, k]) => k?.startsWith('once')).length, 12, 'records written once all stay');
    assert.deepEqual(after.filter(([, k]) => k === 'k').at(-1), before.filter(([, k]) => k === 'k').at(-1));
    await again.close();
  }));

test('a stored batch that cannot be decoded (past the decompression cap) is kept whole; compaction and timestamp look-ups go on around it', () =>
  withTempDir(async (dir) => {
    const now = 1_000_000;
    const { logs, log } = await setup(dir, { now: () => now });
    for (let round = 0; round < 3; round++) await put(log, [{ key: 'a', value: `a${round}` }, { key: 'b', value: `b${round}` }], 1000);
    // 4.4 KB of Zstandard that decodes to 137.5 MiB: nothing in its framing says so, so a producer could store it
    const bomb = batchWithPayload(Compression.ZSTD, zstdRleFrame(1100, 0), 2000);
    const bombOffset = log.append(bomb, validateBatches(bomb, 1 << 20)).baseOffset;
    for (let round = 3; round < 6; round++) await put(log, [{ key: 'a', value: `a${round}` }, { key: 'b', value: `b${round}` }], 3000);
    await put(log, [{ key: 'c', value: 'roll' }], 3000);
    await logs.runRetention();

    const kept: [number, string][] = [];
    let bombBytes: Buffer | null = null;
    for (let offset = log.logStartOffset; offset < log.highWatermark; ) {
      const { records } = await log.read(offset, 1 << 20);
      for (let at = 0; at < records.length; ) {
        const size = batchSizeAt(records, at);
        const raw = records.subarray(at, at + size);
        const decoded = decodeBatchRecords(raw);
        if (decoded === null) bombBytes = raw;
        else for (const r of decoded) kept.push([r.offset, `${r.key}=${r.value}`]);
        offset = readInt64(raw, Batch.BASE_OFFSET) + raw.readInt32BE(Batch.LAST_OFFSET_DELTA) + 1;
        at += size;
      }
    }
    // superseded records went on both sides of the batch (offsets 0-5 and 7-10); the batch itself is byte for byte what was appended
    assert.equal(bombOffset, 6);
    assert.deepEqual(kept, [[11, 'a=a5'], [12, 'b=b5'], [13, 'c=roll']]);
    assert.ok(bombBytes, 'the undecodable batch is kept');
    assert.deepEqual(bombBytes.subarray(Batch.HEADER_BYTES), bomb.subarray(Batch.HEADER_BYTES));
    assert.equal(readInt64(bombBytes, Batch.BASE_OFFSET), 6);
    // ListOffsets by time lands on the batch it cannot look into, at the batch's own max timestamp
    assert.deepEqual(await offsetForTimestamp(log, 1500), { offset: bombOffset, timestamp: 2000 });
    assert.deepEqual(await offsetForTimestamp(log, 2500), { offset: 11, timestamp: 3000 });
    await logs.close();
  }));

test('retention passes never overlap: one asked for while another runs shares it, and close waits for it', () =>
  withTempDir(async (dir) => {
    let now = 1_000_000;
    // every rewrite of a segment goes through its .cleaned file
    const rewrites = new Map<string, number>();
    const fs: FileSystem = {
      ...nodeFileSystem,
      open: (path, flags) => {
        if (path.endsWith('.cleaned') && flags === 'w') rewrites.set(path, (rewrites.get(path) ?? 0) + 1);
        return nodeFileSystem.open(path, flags);
      },
    };
    const { logs, log } = await setup(dir, { now: () => now }, {}, fs);
    for (let round = 0; round < 8; round++) await put(log, [{ key: 'a', value: `a${round}` }, { key: `k${round}`, value: `v${round}` }], now);
    const expected = await (async () => {
      const all = await contents(log);
      const latest = new Map<string, number>();
      const closedEnd = log.activeSegment.baseOffset;
      for (const [o, k] of all) if (o < closedEnd) latest.set(k!, o);
      return all.filter(([o, k]) => o >= closedEnd || latest.get(k!) === o);
    })();
    // a pass asked for again (by the timer, while a slow compaction outlasts its interval) before it is done
    const slow = logs.runRetention();
    const again = logs.runRetention();
    await Promise.all([slow, again]);
    assert.ok(rewrites.size > 0, 'segments were compacted');
    assert.deepEqual([...rewrites.values()].filter((n) => n > 1), [], 'each once: the second request shared the running pass');
    assert.deepEqual(await contents(log), expected);
    const names = await readdir(join(dir, 'c-0'));
    assert.deepEqual(names.filter((n) => n.endsWith('.cleaned')), [], 'no rewrite left behind');
    // a pass still running when the manager closes is finished (or stopped) before close returns
    for (let round = 8; round < 12; round++) await put(log, [{ key: 'a', value: `a${round}` }], now);
    now += 1000;
    void logs.runRetention();
    await logs.close();
    const after = await readdir(join(dir, 'c-0'));
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await readdir(join(dir, 'c-0')), after, 'no file changed after close returned');
  }));

test('a topic deleted while a retention pass runs is skipped by it, and its directory is removed', () =>
  withTempDir(async (dir) => {
    const errors: string[] = [];
    const logs = await openLogs(dir, { onError: (err, what) => errors.push(`${what}: ${(err as Error).message}`) });
    const config = { 'cleanup.policy': 'compact', 'segment.bytes': '300', 'min.cleanable.dirty.ratio': '0' };
    await logs.createTopic('a', 1, config);
    await logs.createTopic('b', 1, config);
    for (const t of ['a', 'b']) for (let i = 0; i < 12; i++) await put(logs.getLog(t, 0)!, [{ key: `k${i % 3}`, value: `${t}${i}` }], Date.now());
    const pass = logs.runRetention();
    await logs.deleteTopic('b');
    await pass;
    assert.deepEqual(errors, []);
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('b-')), []);
    const kept = (await contents(logs.getLog('a', 0)!)).filter(([, k]) => k === 'k0').length;
    assert.ok(kept < 4, `a was compacted: ${kept} of 4 records of k0 left`);
    await logs.close();
  }));

test('a segment that DeleteRecords removes while compaction rewrites it stays removed', () =>
  withTempDir(async (dir) => {
    let now = 1_000_000;
    let logs: LogManager | null = null;
    let deletion: Promise<unknown> | null = null;
    const fs: FileSystem = {
      ...nodeFileSystem,
      rename: async (from, to) => {
        // the first swap of a compacted segment: DeleteRecords comes in meanwhile, and waits for it
        if (from.endsWith('.cleaned') && !deletion) {
          const log = logs!.getLog('c', 0)!;
          deletion = logs!.deleteRecords('c', 0, log.segments[2]!.baseOffset);
        }
        return nodeFileSystem.rename(from, to);
      },
    };
    const setUp = await setup(dir, { now: () => now }, {}, fs);
    logs = setUp.logs;
    const { log } = setUp;
    for (let round = 0; round < 10; round++) await put(log, [{ key: 'a', value: `a${round}` }, { key: `k${round}`, value: `v${round}` }], now);
    await logs.runRetention();
    assert.ok(deletion, 'a swap happened');
    await deletion;
    const onDisk = (await readdir(join(dir, 'c-0'))).filter((n) => n.endsWith('.log') || n.endsWith('.index'));
    const expected = log.segments.flatMap((s) => [s.logPath, ...(s === log.activeSegment ? [] : [s.indexPath])]).map((p) => p.slice(p.lastIndexOf('/') + 1));
    assert.deepEqual(onDisk.sort(), expected.sort(), 'no file of a removed segment came back');
    assert.ok(log.segments[0]!.baseOffset >= 0 && log.logStartOffset === log.segments[0]!.baseOffset);
    await logs.close();
    const again = await openLogs(dir);
    assert.equal(again.getLog('c', 0)!.segments[0]!.baseOffset, log.logStartOffset, 'the next start loads no segment below the log start');
    await again.close();
  }));

test('a swap left half-way whose segments DeleteRecords then removed is dropped at the next start, not brought back below the log start', () =>
  withTempDir(async (dir) => {
    let failSwap = true;
    const fs: FileSystem = {
      ...nodeFileSystem,
      // the copy's last rename fails (the disk): the swap waits for the next start
      rename: async (from, to) => {
        if (from.endsWith('.swap') && failSwap) {
          failSwap = false;
          throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
        }
        return nodeFileSystem.rename(from, to);
      },
    };
    const { logs, log } = await setup(dir, { now: () => 1_000_000 }, {}, fs);
    for (let round = 0; round < 10; round++) await put(log, [{ key: 'a', value: `a${round}` }, { key: `k${round}`, value: `v${round}` }], 1_000_000);
    await assert.rejects(compactLog(log, fs, logs.cleaner, 1_000_000, 1 << 20), /EIO/);
    assert.equal((await readdir(join(dir, 'c-0'))).filter((n) => n.endsWith('.swap')).length, 1);
    const start = log.segments[2]!.baseOffset;
    await logs.deleteRecords('c', 0, start);
    const kept = await contents(log);
    assert.ok(kept.length > 0 && kept[0]![0] >= start);
    await crash(logs); // the process dies
    const again = await openLogs(dir);
    const log2 = again.getLog('c', 0)!;
    assert.equal(log2.logStartOffset, start);
    assert.equal(log2.segments[0]!.baseOffset, log.segments[0]!.baseOffset, 'no segment below the first one kept');
    assert.deepEqual(await contents(log2), kept);
    const names = await readdir(join(dir, 'c-0'));
    assert.deepEqual(names.filter((n) => n.endsWith('.swap')), []);
    assert.deepEqual(names.filter((n) => n.endsWith('.log')).sort(), log2.segments.map((s) => basename(s.logPath)));
    await again.close();
  }));

test('a swap the start finishes leaves the copy\'s index files: a crash after that start does not take it for a lost tail', () =>
  withTempDir(async (dir) => {
    const clock = { now: () => 1_000_000 };
    const { logs, log } = await setup(dir, clock);
    for (let i = 0; log.segments.length < 2; i++) await put(log, [{ key: `k${i}`, value: 'v'.repeat(40) }], 1_000_000);
    await put(log, [{ key: 'later', value: 'acknowledged' }], 1_000_000);
    const before = await contents(log);
    const end = log.activeSegment.baseOffset;
    await crash(logs);
    // what a crash in the middle of a pass leaves: the first segment's copy, committed as a .swap file, holding
    // only its first batch (as if the others' keys were superseded), so it ends before the next segment begins
    const partitionDir = join(dir, 'c-0');
    const first = await readFile(join(partitionDir, '00000000000000000000.log'));
    const swap = `00000000000000000000.${String(end).padStart(20, '0')}.swap`;
    await writeFile(join(partitionDir, swap), first.subarray(0, batchSizeAt(first, 0)));
    const expected = [before[0]!, ...before.filter(([o]) => o >= end)];
    let again = await openLogs(dir);
    assert.deepEqual(await contents(again.getLog('c', 0)!), expected, 'the swap was finished');
    await crash(again);
    again = await openLogs(dir);
    assert.deepEqual(await contents(again.getLog('c', 0)!), expected, 'nothing after the copy was cut');
    assert.deepEqual(again.recoveredCuts, []);
    await again.close();
  }));
