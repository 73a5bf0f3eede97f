import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { ErrorCode, type KafkaError } from '../../src/protocol/errors.js';
import { Batch, readInt64, validateBatches } from '../../src/protocol/record-batch.js';
import { Compression } from '../../src/protocol/compression.js';
import { crc32c } from '@node-rs/crc32';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { Catalogue } from '../../src/storage/catalogue.js';
import { maxTimestampRecord, offsetForTimestamp } from '../../src/storage/timestamp-lookup.js';
import { appendValues, clockAt, crash, fullDisk, heldSyncs, holdFirstAtomicWrite, onCatalogueWrite, openLogs, pathRecordingOpen, readAll, untilAcknowledged, waitUntil, whenRecovered } from './helpers.js';

test('append then read returns the same records with assigned offsets, across a restart', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    await logs.createTopic('t', 1);
    const log = logs.getLog('t', 0)!;
    const r1 = appendValues(log, ['a', 'b', 'c']);
    const r2 = appendValues(log, ['d']);
    assert.deepEqual([r1.baseOffset, r1.lastOffset, r2.baseOffset], [0, 2, 3]);
    await r2.durable;
    assert.equal(log.highWatermark, 4);
    assert.deepEqual(await readAll(log, 1), [[1, 'b'], [2, 'c'], [3, 'd']]);
    await logs.close();
    const again = await openLogs(dir);
    assert.equal(again.cleanStart, true);
    assert.deepEqual(await readAll(again.getLog('t', 0)!, 0), [[0, 'a'], [1, 'b'], [2, 'c'], [3, 'd']]);
    await again.close();
  }));

test('segments roll by size, and reads find every offset at every segment boundary', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    await logs.createTopic('t', 1, { 'segment.bytes': '300', 'index.interval.bytes': '100' });
    const log = logs.getLog('t', 0)!;
    for (let i = 0; i < 60; i++) await appendValues(log, [`v${i}`, `w${i}`]).durable;
    assert.ok(log.segments.length >= 10, `${log.segments.length} segments`);
    const files = (await readdir(join(dir, 't-0'))).filter((f) => f.endsWith('.log'));
    assert.deepEqual(files.sort(), log.segments.map((s) => `${String(s.baseOffset).padStart(20, '0')}.log`));
    for (let offset = 0; offset < 120; offset++) {
      const { records } = await log.read(offset, 1);
      const first = decodeRecordBatches(records)[0]!;
      assert.ok(first.info.baseOffset <= offset && offset <= first.info.baseOffset + first.info.lastOffsetDelta, `offset ${offset}`);
    }
    const { records } = await log.read(120, 1000);
    assert.equal(records.length, 0);
    await assert.rejects(log.read(121, 1000), { code: ErrorCode.OFFSET_OUT_OF_RANGE });
    await logs.close();
  }));

test('read returns whole batches up to max bytes, and always at least the first batch', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    await logs.createTopic('t', 1);
    const log = logs.getLog('t', 0)!;
    for (let i = 0; i < 10; i++) await appendValues(log, ['x'.repeat(100)]).durable;
    const one = await log.read(0, 1);
    assert.equal(decodeRecordBatches(one.records).length, 1);
    const size = one.records.length;
    const three = await log.read(0, size * 3 + 10);
    assert.equal(three.records.length, size * 3);
    assert.equal(decodeRecordBatches(three.records).length, 3);
    await logs.close();
  }));

test('reads of bytes this process wrote lately are marked as in the page cache; reads further back, of closed segments, or of bytes found at start, as ones that may wait for the disk', () =>
  withTempDir(async (dir) => {
    const flags: (boolean | undefined)[] = [];
    const fs: FileSystem = { ...nodeFileSystem, read: (fd, into, length, position, mayMissCache) => (flags.push(mayMissCache), nodeFileSystem.read(fd, into, length, position, mayMissCache)) };
    let logs = await openLogs(dir, { fs });
    await logs.createTopic('t', 1, { 'segment.bytes': String(3_100_000) });
    let log = logs.getLog('t', 0)!;
    // batches of 100,076 bytes: offsets 0–29 fill the first segment, 30–59 the second (3.0 MB, the active one)
    for (let i = 0; i < 60; i++) await appendValues(log, [String(i % 10).repeat(50_000)]).durable;
    assert.deepEqual(log.segments.map((s) => s.baseOffset), [0, 30]);
    const mayMissCache = async (offset: number) => {
      flags.length = 0;
      const { records } = await log.read(offset, 1);
      assert.equal(readInt64(records, Batch.BASE_OFFSET), offset);
      assert.ok(flags.length > 0 && flags.every((f) => f === flags[0]), `one mark for every read of offset ${offset}: ${flags}`);
      return flags[0];
    };
    // the first segment is closed: at its start and at its end
    assert.equal(await mayMissCache(0), true);
    assert.equal(await mayMissCache(29), true);
    // the active segment: 3.0 MB and 1.2 MB from its end, then within its last 1 MiB
    assert.equal(await mayMissCache(30), true);
    assert.equal(await mayMissCache(48), true);
    assert.equal(await mayMissCache(50), false);
    assert.equal(await mayMissCache(59), false);
    await logs.close();
    // after a restart the active segment's bytes were found, not written: a reboot may have emptied the cache; the
    // batch appended since is this process's own
    logs = await openLogs(dir, { fs });
    log = logs.getLog('t', 0)!;
    assert.equal(await mayMissCache(59), true);
    await appendValues(log, ['new']).durable;
    assert.equal(await mayMissCache(60), false);
    assert.equal(await mayMissCache(59), true);
    await logs.close();
  }));

test('segments roll by age (segment.ms)', () =>
  withTempDir(async (dir) => {
    let now = 1_000_000;
    const clock = clockAt(() => now);
    const logs = await openLogs(dir, { clock });
    await logs.createTopic('t', 1, { 'segment.ms': '1000' });
    const log = logs.getLog('t', 0)!;
    await appendValues(log, ['a']).durable;
    now += 500;
    await appendValues(log, ['b']).durable;
    assert.equal(log.segments.length, 1);
    now += 600;
    await appendValues(log, ['c']).durable;
    assert.deepEqual(log.segments.map((s) => s.baseOffset), [0, 2]);
    await logs.close();
  }));

test('segment.jitter.ms rolls each segment by age up to that much sooner, chosen per segment', () =>
  withTempDir(async (dir) => {
    let now = 1_000_000;
    const clock = clockAt(() => now);
    const logs = await openLogs(dir, { clock });
    // 40 partitions, each rolling by age somewhere in (0, 1000] ms: after 500 ms, all alike would be 2^-39 likely
    await logs.createTopic('jittered', 40, { 'segment.ms': '1000', 'segment.jitter.ms': '1000' });
    await logs.createTopic('steady', 40, { 'segment.ms': '1000' });
    const all = (topic: string) => Array.from({ length: 40 }, (_, i) => logs.getLog(topic, i)!);
    const appendEverywhere = async (value: string) => {
      for (const topic of ['jittered', 'steady']) await Promise.all(all(topic).map((log) => appendValues(log, [value]).durable));
    };
    await appendEverywhere('a');
    now += 500;
    await appendEverywhere('b');
    const rolled = all('jittered').filter((log) => log.segments.length === 2).length;
    assert.ok(rolled > 0 && rolled < 40, `${rolled} of 40 jittered partitions rolled after half of segment.ms`);
    assert.equal(all('steady').filter((log) => log.segments.length === 2).length, 0);
    now += 500;
    await appendEverywhere('c');
    // by segment.ms every first segment has rolled, jitter or not: a jittered one at 'b' or at 'c'
    for (const log of all('jittered')) assert.ok([1, 2].includes(log.segments[1]?.baseOffset ?? -1), `rolled at ${log.segments[1]?.baseOffset}`);
    assert.ok(all('steady').every((log) => log.segments.length === 2 && log.segments[1]!.baseOffset === 2));
    await logs.close();
  }));

test('segment.index.bytes rolls a segment before its offset or time index would outgrow it', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    // 24 bytes: three offset index entries (8 bytes each) or two time index entries (12 each)
    await logs.createTopic('offsets', 1, { 'segment.index.bytes': '24', 'index.interval.bytes': '0' });
    const byOffset = logs.getLog('offsets', 0)!;
    for (let i = 0; i < 7; i++) await appendValues(byOffset, [`v${i}`], 1000).durable; // one timestamp: one time index entry
    assert.deepEqual(byOffset.segments.map((s) => s.baseOffset), [0, 3, 6]);
    await logs.createTopic('times', 1, { 'segment.index.bytes': '24', 'index.interval.bytes': '0' });
    const byTime = logs.getLog('times', 0)!;
    for (let i = 0; i < 5; i++) await appendValues(byTime, [`v${i}`], 1000 + i).durable; // a new timestamp each: a time index entry each
    assert.deepEqual(byTime.segments.map((s) => s.baseOffset), [0, 2, 4]);
    assert.deepEqual((await readAll(byOffset)).map(([o]) => o), [0, 1, 2, 3, 4, 5, 6]);
    await logs.close();
  }));

test('flush.messages on a `none` topic: the append reaching the count is acknowledged (acks=all) only once its segment is synced', () =>
  withTempDir(async (dir) => {
    const { open, pathOf } = pathRecordingOpen();
    let syncs = 0;
    let releaseSync: () => void = () => undefined;
    let held: Promise<void> = Promise.resolve();
    const fs: FileSystem = {
      ...nodeFileSystem,
      open,
      fdatasync: async (fd) => {
        if (pathOf(fd)?.endsWith('.log')) {
          syncs++;
          await held;
        }
        await nodeFileSystem.fdatasync(fd);
      },
    };
    const logs = await openLogs(dir, { fs });
    // flush.ms of an hour: no background flush comes in between
    await logs.createTopic('t', 1, { 'flush.policy': 'none', 'flush.messages': '3', 'flush.ms': '3600000' });
    const log = logs.getLog('t', 0)!;
    await appendValues(log, ['a']).durable;
    assert.equal(syncs, 0);
    held = new Promise((resolve) => (releaseSync = resolve));
    const third = appendValues(log, ['b', 'c']);
    let acknowledged = false;
    void third.durable.then(() => (acknowledged = true));
    const fourth = appendValues(log, ['d']);
    await third.written;
    await fourth.written;
    while (syncs === 0) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(acknowledged, false, 'acknowledged before its sync finished');
    assert.equal(log.highWatermark, 1, 'records past the sync are not visible before it');
    releaseSync();
    await third.durable;
    await fourth.durable;
    assert.equal(syncs, 1);
    assert.equal(log.highWatermark, 4);
    // 'd', appended in the same turn, went in the same write as 'b' and 'c', so that sync covered it: the count
    // starts again after it, and the third record after 'd' brings the next sync
    await appendValues(log, ['e']).durable;
    await appendValues(log, ['f']).durable;
    assert.equal(syncs, 1);
    await appendValues(log, ['g']).durable;
    assert.equal(syncs, 2);
    await logs.close();
  }));

test('appends to one partition made in one turn are written with one writev, in order, and the next turn\'s with the next', () =>
  withTempDir(async (dir) => {
    const { open, pathOf } = pathRecordingOpen();
    const writes: number[] = [];
    const fs: FileSystem = {
      ...nodeFileSystem,
      open,
      writev: (fd, buffers, position) => {
        if (pathOf(fd)?.endsWith('.log')) writes.push(buffers.length);
        return nodeFileSystem.writev(fd, buffers, position);
      },
    };
    const logs = await openLogs(dir, { fs });
    await logs.createTopic('t', 1);
    const log = logs.getLog('t', 0)!;
    const turn = ['a', 'b', 'c'].map((v) => appendValues(log, [v]));
    await Promise.all(turn.map((r) => r.durable));
    assert.deepEqual(writes, [3]);
    await appendValues(log, ['d']).durable;
    assert.deepEqual(writes, [3, 1]);
    assert.deepEqual(await readAll(log, 0), [[0, 'a'], [1, 'b'], [2, 'c'], [3, 'd']]);
    await logs.close();
  }));

test('a segment write that throws instead of rejecting fails its own partition only; those started in the same pass are written', () =>
  withTempDir(async (dir) => {
    const { open, pathOf } = pathRecordingOpen();
    let throwFor: string | null = null;
    const fs: FileSystem = {
      ...nodeFileSystem,
      open,
      writev: (fd, buffers, position) => {
        if (throwFor !== null && pathOf(fd)?.includes(throwFor)) {
          throwFor = null;
          throw Object.assign(new Error('EIO: the write could not start'), { code: 'EIO', errno: -5 });
        }
        return nodeFileSystem.writev(fd, buffers, position);
      },
    };
    // not through openLogs: its crash-simulating wrapper is async, which would turn the throw into a rejection
    const logs = await LogManager.open({ dataDir: dir, retentionCheckMs: 3_600_000, fs });
    await logs.createTopic('t', 3);
    const parts = [0, 1, 2].map((p) => logs.getLog('t', p)!);
    await Promise.all(parts.map((log) => appendValues(log, ['first']).durable));
    throwFor = '/t-1/';
    // one turn: the three writers start in one pass, the middle one's write throws
    const second = parts.map((log) => appendValues(log, ['second']));
    await assert.rejects(second[1]!.durable, (err: KafkaError) => err.code === ErrorCode.KAFKA_STORAGE_ERROR);
    await second[0]!.durable;
    await second[2]!.durable;
    const retried = await untilAcknowledged(() => whenRecovered(() => appendValues(parts[1]!, ['second again'])).then((r) => r.durable.then(() => r)));
    assert.equal(retried.baseOffset, 1, 'the refused append\'s offset is taken again');
    assert.deepEqual(await readAll(parts[0]!, 0), [[0, 'first'], [1, 'second']]);
    assert.deepEqual(await readAll(parts[1]!, 0), [[0, 'first'], [1, 'second again']]);
    assert.deepEqual(await readAll(parts[2]!, 0), [[0, 'first'], [1, 'second']]);
    await logs.close();
  }));

test('the background flush of `none` topics keeps each topic\'s flush.ms: synced once the first dirty one is due, all together', () =>
  withTempDir(async (dir) => {
    let now = 1_000_000;
    const timers: (() => void)[] = [];
    const clock = { now: () => now, every: (_ms: number, fn: () => void) => (timers.push(fn), () => undefined), after: () => () => undefined };
    const { open, pathOf } = pathRecordingOpen();
    const synced: string[] = [];
    const fs: FileSystem = {
      ...nodeFileSystem,
      open,
      fdatasync: async (fd) => {
        const path = pathOf(fd);
        if (path?.endsWith('.log')) synced.push(path.split('/').at(-2)!);
        await nodeFileSystem.fdatasync(fd);
      },
    };
    const logs = await openLogs(dir, { clock, fs, defaults: { flushPolicy: 'none' } });
    await logs.createTopic('slow', 1, { 'flush.ms': '60000' });
    await logs.createTopic('fast', 1, { 'flush.ms': '200' });
    const tick = async () => {
      for (const fn of timers) fn();
      await new Promise((resolve) => setTimeout(resolve, 30));
    };
    await appendValues(logs.getLog('slow', 0)!, ['a']).durable;
    now += 250;
    await tick();
    assert.deepEqual(synced, [], 'slow is not due for a minute');
    await appendValues(logs.getLog('fast', 0)!, ['b']).durable;
    now += 150;
    await tick();
    assert.deepEqual(synced, [], 'fast is due 200 ms after its write, not 150');
    now += 60;
    await tick();
    assert.deepEqual(synced.sort(), ['fast-0', 'slow-0']);
    now += 5_000;
    await tick();
    assert.equal(synced.length, 2, 'nothing written since, nothing synced');
    await appendValues(logs.getLog('fast', 0)!, ['c']).durable;
    now += 210;
    await tick();
    assert.deepEqual(synced.sort(), ['fast-0', 'fast-0', 'slow-0'], 'written again after its flush: synced again');
    await logs.close();
  }));

test('retention deletes whole old segments by time and by size, and not an active segment holding records still within retention', () =>
  withTempDir(async (dir) => {
    let now = 10_000_000;
    const clock = clockAt(() => now);
    const logs = await openLogs(dir, { clock });
    await logs.createTopic('time', 1, { 'segment.bytes': '200', 'retention.ms': '1000' });
    await logs.createTopic('size', 1, { 'segment.bytes': '200', 'retention.bytes': '400' });
    const timeLog = logs.getLog('time', 0)!;
    const sizeLog = logs.getLog('size', 0)!;
    for (let i = 0; i < 10; i++) {
      await appendValues(timeLog, [`old${i}`], now).durable;
      await appendValues(sizeLog, [`v${i}`], now).durable;
    }
    now += 5000;
    await appendValues(timeLog, ['new'], now).durable;
    const before = timeLog.segments.length;
    await logs.runRetention();
    assert.equal(timeLog.segments.length, 1, `time retention left ${timeLog.segments.length} of ${before}`);
    assert.equal(timeLog.logStartOffset, 10);
    assert.deepEqual(await readAll(timeLog), [[10, 'new']]);
    assert.ok(sizeLog.sizeBytes <= 400 + sizeLog.activeSegment.size, `size ${sizeLog.sizeBytes}`);
    assert.ok(sizeLog.logStartOffset > 0);
    const files = (await readdir(join(dir, 'time-0'))).filter((f) => f.endsWith('.log'));
    assert.equal(files.length, 1);
    await logs.close();
    const again = await openLogs(dir, { clock });
    assert.equal(again.getLog('time', 0)!.logStartOffset, 10);
    await again.close();
  }));

test('time retention ages a segment whose records carry no timestamp (-1) by its file modification time, as Kafka does', () =>
  withTempDir(async (dir) => {
    let now = 10_000_000;
    const clock = clockAt(() => now);
    const logs = await openLogs(dir, { clock });
    await logs.createTopic('untimed', 1, { 'segment.bytes': '200', 'retention.ms': '1000' });
    const log = logs.getLog('untimed', 0)!;
    for (let i = 0; i < 6; i++) await appendValues(log, [`v${i}`], -1).durable;
    const segments = log.segments.slice();
    assert.ok(segments.length >= 3, `${segments.length} segments`);
    assert.ok(segments.every((s) => s.maxTimestamp === -1));
    // the clock's "now" is far in the past of the files' real times: set them as the clock sees them, the first
    // two written 5 s ago, the rest just now
    const at = (ms: number) => new Date(ms);
    for (const [i, s] of segments.entries()) await utimes(s.logPath, at(now), at(i < 2 ? now - 5000 : now));
    assert.equal(await logs.runRetention(), 2);
    assert.equal(log.logStartOffset, segments[2]!.baseOffset);
    assert.deepEqual(
      (await readAll(log)).map(([, v]) => v),
      ['v0', 'v1', 'v2', 'v3', 'v4', 'v5'].slice(segments[2]!.baseOffset),
    );
    // the rest age too, the active segment with them (rolled and deleted, as for stamped records)
    now += 1001;
    assert.equal(await logs.runRetention(), segments.length - 2);
    assert.deepEqual([log.logStartOffset, log.logEndOffset, log.segments.length], [6, 6, 1]);
    await logs.close();
  }));

test('an idle partition whose records all expired loses them too: the active segment rolls and goes, as in Kafka, and the log keeps its end and producer state across a crash', () =>
  withTempDir(async (dir) => {
    let now = 10_000_000;
    const clock = clockAt(() => now);
    // the log start offsets file is never written (as if a crash came first): the log's end must be found from the files
    const writeFileAtomic: FileSystem['writeFileAtomic'] = (path, data, durable) => (path.endsWith('log-start-offsets.json') ? Promise.resolve() : nodeFileSystem.writeFileAtomic(path, data, durable));
    // the roll's seal (its sync first) comes after the old segment went, so it writes no producer snapshot
    let slowSyncs = false;
    const fdatasync: FileSystem['fdatasync'] = async (fd) => {
      if (slowSyncs) await new Promise((r) => setTimeout(r, 300));
      return nodeFileSystem.fdatasync(fd);
    };
    const logs = await openLogs(dir, { clock, fs: { ...nodeFileSystem, writeFileAtomic, fdatasync } });
    await logs.createTopic('idle', 1, { 'retention.ms': '1000' });
    await logs.createTopic('sized', 1, { 'retention.bytes': '0' });
    await logs.createTopic('kept', 1, { 'retention.ms': '1000', 'cleanup.policy': 'compact' });
    const idle = logs.getLog('idle', 0)!;
    const idempotent = buildRecordBatch([{ value: 'a' }, { value: 'b' }, { value: 'c' }].map((r) => ({ ...r, timestamp: now })), { producerId: 7, producerEpoch: 0, baseSequence: 0 });
    await idle.append(idempotent, validateBatches(idempotent, 1 << 20)).durable;
    await appendValues(logs.getLog('sized', 0)!, ['s0', 's1'], now).durable;
    await appendValues(logs.getLog('kept', 0)!, ['k'], now).durable;
    now += 1000;
    assert.equal(await logs.runRetention(), 1, 'only the size-retained topic: idle is not expired yet');
    assert.deepEqual([logs.getLog('sized', 0)!.logStartOffset, logs.getLog('sized', 0)!.logEndOffset], [2, 2]);
    now += 1;
    slowSyncs = true;
    assert.equal(await logs.runRetention(), 1);
    assert.deepEqual([idle.logStartOffset, idle.logEndOffset, idle.highWatermark, idle.segments.length], [3, 3, 3, 1]);
    await assert.rejects(idle.read(0, 1000), { code: ErrorCode.OFFSET_OUT_OF_RANGE });
    assert.deepEqual(await readAll(idle), []);
    assert.deepEqual((await readdir(join(dir, 'idle-0'))).filter((f) => !f.endsWith('.snapshot')), ['00000000000000000003.log']);
    assert.deepEqual(await readAll(logs.getLog('kept', 0)!), [[0, 'k']], 'a compacted topic keeps its records');
    await crash(logs);

    const again = await openLogs(dir, { clock });
    const log = again.getLog('idle', 0)!;
    // before the new segment's file was made durable first, the log began again at 0 here, giving offsets out twice
    assert.deepEqual([log.logStartOffset, log.logEndOffset], [3, 3]);
    const retried = log.append(idempotent, validateBatches(idempotent, 1 << 20));
    assert.equal(retried.baseOffset, 0, 'the producer state outlived the segment: a retry of its batch is known as a duplicate');
    assert.equal(log.logEndOffset, 3, 'and not appended again');
    const next = buildRecordBatch([{ value: 'd' }], { producerId: 7, producerEpoch: 0, baseSequence: 3 });
    assert.equal(await log.append(next, validateBatches(next, 1 << 20)).durable.then(() => log.logEndOffset), 4);
    assert.deepEqual(await readAll(log), [[3, 'd']]);
    await again.close();
  }));

test('a storm of rolls does not hold retention up: seals go in batches, and a batch skips the segments deleted meanwhile', () =>
  withTempDir(async (dir) => {
    let held: (() => void) | null = null;
    let holding = true;
    let indexWrites = 0;
    let indexWritesBeforeDeletion = -1;
    const fs: FileSystem = {
      ...nodeFileSystem,
      writeFileAtomic: async (path, data, durable) => {
        if (holding && held === null && path.endsWith('.index')) await new Promise<void>((resolve) => (held = resolve));
        await nodeFileSystem.writeFileAtomic(path, data, durable);
        if (path.endsWith('.index')) indexWrites++;
      },
      unlink: (path) => {
        if (path.endsWith('.log') && indexWritesBeforeDeletion < 0) indexWritesBeforeDeletion = indexWrites;
        return nodeFileSystem.unlink(path);
      },
    };
    const logs = await openLogs(dir, { fs });
    // every append rolls: the first seal's index write is held while 150 more rolls queue their seals
    await logs.createTopic('storm', 1, { 'segment.bytes': '14', 'retention.bytes': '0' });
    const log = logs.getLog('storm', 0)!;
    const appends = [];
    for (let i = 0; i <= 150; i++) appends.push(appendValues(log, [`v${i}`]).durable);
    await Promise.all(appends);
    await waitUntil('the first seal writes', () => held !== null);
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5)); // every seal's sync is done
    const retention = logs.runRetention();
    holding = false;
    held!();
    assert.equal(await retention, 151, 'every segment went, the active one too (rolled: its records are all below the high watermark)');
    // one at a time, the 150 seals all came first; now retention waits for two batches of 32 at most
    assert.ok(indexWritesBeforeDeletion >= 1 && indexWritesBeforeDeletion <= 64, `${indexWritesBeforeDeletion} index files written before retention deleted`);
    assert.deepEqual([log.logStartOffset, log.logEndOffset, log.segments.length], [151, 151, 1]);
    await logs.close();
    const files = (await readdir(join(dir, 'storm-0'))).filter((f) => !f.endsWith('.snapshot'));
    assert.deepEqual(files, ['00000000000000000151.log'], 'no seal wrote index files for a segment retention had deleted');
    assert.ok(indexWrites < 150, `${indexWrites} index files written: the batches after retention skipped the deleted segments`);
    const again = await openLogs(dir);
    const after = again.getLog('storm', 0)!;
    assert.deepEqual([after.logStartOffset, after.logEndOffset], [151, 151]);
    assert.equal(await appendValues(after, ['next']).durable.then(() => after.logEndOffset), 152);
    assert.deepEqual(await readAll(after), [[151, 'next']]);
    await again.close();
  }));

test('a retention pass cuts partitions back side by side, and does not wait for a partition where nothing is due', () =>
  withTempDir(async (dir) => {
    // a DeleteRecords holds two partitions' changes to their segments (its unlink held): `held`, where retention
    // has more to delete, and `idle`, where it has nothing (by size and time off); `due`, where everything is due
    // too, comes after them in the pass
    const gate = () => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      return { waiting: false, release, released };
    };
    const gates = new Map(['held', 'idle'].map((t) => [join(dir, `${t}-0`), gate()]));
    const fs: FileSystem = {
      ...nodeFileSystem,
      unlink: async (path) => {
        const gate = gates.get(dirname(path));
        if (gate && path.endsWith('.log')) {
          gate.waiting = true;
          await gate.released;
        }
        return nodeFileSystem.unlink(path);
      },
    };
    const logs = await openLogs(dir, { fs });
    // every append rolls
    await logs.createTopic('held', 1, { 'segment.bytes': '14', 'retention.bytes': '0' });
    await logs.createTopic('idle', 1, { 'segment.bytes': '14', 'retention.bytes': '-1', 'retention.ms': '-1' });
    await logs.createTopic('due', 1, { 'segment.bytes': '14', 'retention.bytes': '0' });
    const [held, idle, due] = ['held', 'idle', 'due'].map((t) => logs.getLog(t, 0)!);
    for (const log of [held, idle, due]) for (let i = 0; i < 4; i++) await appendValues(log, [`v${i}`]).durable;
    const deletions = [held, idle].map((log) => log.deleteRecordsBefore(1));
    await waitUntil('both deletions are held', () => [...gates.values()].every((g) => g.waiting));
    const retention = logs.runRetention();
    await waitUntil('the partition after the held one is cut back', () => due.logStartOffset === 4);
    assert.equal(held.logStartOffset, 1, 'the held partition waits for its DeleteRecords');
    let passEnded = false;
    void retention.then(() => (passEnded = true));
    gates.get(join(dir, 'held-0'))!.release();
    await waitUntil('the pass ends with the idle partition still held', () => passEnded);
    // each: the closed segments left, then the active one, rolled (its records are all below the high watermark)
    assert.equal(await retention, 3 + 4);
    assert.deepEqual([held.logStartOffset, idle.logStartOffset, due.logStartOffset], [4, 1, 4]);
    gates.get(join(dir, 'idle-0'))!.release();
    await Promise.all(deletions);
    await logs.close();
  }));

test('while retention deletes segments, a read below the new log start is refused, never served later records', () =>
  withTempDir(async (dir) => {
    let unlinking = false;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const fs: FileSystem = {
      ...nodeFileSystem,
      unlink: async (path) => {
        if (path.endsWith('.log') && !unlinking) {
          unlinking = true;
          await released;
        }
        return nodeFileSystem.unlink(path);
      },
    };
    const logs = await openLogs(dir, { fs });
    await logs.createTopic('t', 1, { 'segment.bytes': '200', 'retention.bytes': '400' });
    const log = logs.getLog('t', 0)!;
    for (let i = 0; i < 12; i++) await appendValues(log, [`v${i}`]).durable;
    const doomed = log.segments.length - 3;
    const firstKept = log.segments[doomed]!.baseOffset;
    assert.ok(doomed >= 2 && firstKept > 2, `${log.segments.length} segments`);
    const retention = logs.runRetention();
    await waitUntil('the first segment file is being deleted', () => unlinking);
    assert.equal(log.logStartOffset, firstKept, 'the log start moved before any file went');
    for (const offset of [0, 1, firstKept - 1]) {
      await assert.rejects(log.read(offset, 100), { code: ErrorCode.OFFSET_OUT_OF_RANGE }, `offset ${offset}`);
    }
    assert.deepEqual((await readAll(log))[0], [firstKept, `v${firstKept}`]);
    release();
    assert.equal(await retention, doomed);
    assert.equal(log.logStartOffset, firstKept);
    assert.deepEqual((await readAll(log)).map(([o]) => o), Array.from({ length: 12 - firstKept }, (_, i) => firstKept + i));
    await logs.close();
  }));

/**
 * A topic `t` of 200-byte segments holding six records, and a read from offset 0 held while it opens the first
 * segment's file again (one descriptor kept open): `release` lets the open go on.
 */
async function readOpeningFirstSegment(dir: string, overrides: Record<string, string>) {
  let holdOpens = false;
  let opening = false;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const fs: FileSystem = {
    ...nodeFileSystem,
    open: async (path, flags) => {
      if (holdOpens && path.endsWith('00000000000000000000.log')) {
        opening = true;
        await released;
      }
      return nodeFileSystem.open(path, flags);
    },
  };
  const logs = await openLogs(dir, { fs, maxOpenFiles: 1 });
  await logs.createTopic('t', 1, { 'segment.bytes': '200', ...overrides });
  const log = logs.getLog('t', 0)!;
  for (let i = 0; i < 6; i++) await appendValues(log, [`v${i}`]).durable;
  holdOpens = true;
  const read = log.read(0, 100);
  await waitUntil('the read opens its segment', () => opening);
  holdOpens = false;
  return { logs, log, read, release };
}

test('a read waiting to open its segment when the topic is deleted is refused with UNKNOWN_TOPIC_OR_PARTITION', () =>
  withTempDir(async (dir) => {
    const { logs, read, release } = await readOpeningFirstSegment(dir, {});
    await logs.deleteTopic('t');
    release();
    await assert.rejects(read, { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
    await logs.close();
  }));

test('a read and a sync waiting to open a segment while retention deletes it: the read is refused, the sync done, and no empty file is left under the old name', () =>
  withTempDir(async (dir) => {
    const { logs, log, read, release } = await readOpeningFirstSegment(dir, { 'retention.bytes': '100' });
    // a sync of the segment (as a checkpoint's) waits for the same open
    const sync = logs.groupCommit.syncApart(log.segments[0]!);
    assert.ok((await logs.runRetention()) > 0);
    const logStart = log.logStartOffset;
    release();
    await assert.rejects(read, { code: ErrorCode.OFFSET_OUT_OF_RANGE });
    await sync; // nothing left to make durable: not a failure
    // before, the open (with O_CREAT) made the file again, empty: a restart then found a segment below the log start
    const files = (await readdir(join(dir, 't-0'))).filter((f) => f.endsWith('.log'));
    assert.ok(!files.includes('00000000000000000000.log'), files.join(', '));
    await logs.close();
    const again = await openLogs(dir);
    assert.deepEqual([again.getLog('t', 0)!.segments[0]!.baseOffset, again.getLog('t', 0)!.logStartOffset], [logStart, logStart]);
    await again.close();
  }));

test('DeleteRecords moves the log start offset, persisted; deleting a topic removes its files', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    await logs.createTopic('t', 2, { 'segment.bytes': '200' });
    const log = logs.getLog('t', 0)!;
    for (let i = 0; i < 10; i++) await appendValues(log, [`v${i}`]).durable;
    assert.equal(await logs.deleteRecords('t', 0, 7), 7);
    assert.deepEqual((await readAll(log)).map(([o]) => o), [7, 8, 9]);
    await assert.rejects(log.read(6, 100), { code: ErrorCode.OFFSET_OUT_OF_RANGE });
    await assert.rejects(logs.deleteRecords('t', 0, 11), { code: ErrorCode.OFFSET_OUT_OF_RANGE });
    await logs.close();
    const again = await openLogs(dir);
    assert.equal(again.getLog('t', 0)!.logStartOffset, 7);
    await again.deleteTopic('t');
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('t-')), []);
    await again.close();
  }));

test('a topic created again over the files of a deleted one of the same name (left by a crash mid-deletion) starts empty', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    await logs.createTopic('t', 2);
    for (let p = 0; p < 2; p++) await appendValues(logs.getLog('t', p)!, ['old-1', 'old-2']).durable;
    await logs.close();
    // the deletion reached the catalogue, then the broker died before removing the directories
    const orphans = await mkdtemp(join(dir, 'keep-'));
    await cp(join(dir, 't-0'), join(orphans, 't-0'), { recursive: true });
    logs = await openLogs(dir);
    await logs.deleteTopic('t');
    await cp(join(orphans, 't-0'), join(dir, 't-0'), { recursive: true });
    await logs.close();
    logs = await openLogs(dir);
    assert.equal(logs.getLog('t', 0), undefined, 'the orphaned directory is no topic');
    await logs.createTopic('t', 1);
    const log = logs.getLog('t', 0)!;
    assert.deepEqual([log.logStartOffset, log.logEndOffset], [0, 0]);
    await appendValues(log, ['new']).durable;
    assert.deepEqual(await readAll(log, 0), [[0, 'new']]);
    await logs.close();
    const again = await openLogs(dir);
    assert.deepEqual(await readAll(again.getLog('t', 0)!, 0), [[0, 'new']]);
    await again.close();
  }));

test('log start offsets belong to the topic, not its name: a topic created again under a deleted one\'s name keeps its records after a crash', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    await logs.createTopic('t', 1);
    for (let i = 0; i < 10; i++) await appendValues(logs.getLog('t', 0)!, [`old${i}`]).durable;
    assert.equal(await logs.deleteRecords('t', 0, 7), 7);
    await logs.deleteTopic('t');
    await logs.createTopic('t', 1);
    await appendValues(logs.getLog('t', 0)!, ['new']).durable;
    await crash(logs); // crash: no clean close
    logs = await openLogs(dir);
    const log = logs.getLog('t', 0)!;
    assert.equal(log.logStartOffset, 0);
    assert.deepEqual(await readAll(log, 0), [[0, 'new']]);
    // a file written by the first version, keyed by topic name, still applies
    await logs.close();
    await writeFile(join(dir, 'log-start-offsets.json'), JSON.stringify({ 't-0': 1 }));
    logs = await openLogs(dir);
    assert.equal(logs.getLog('t', 0)!.logStartOffset, 1);
    await logs.close();
  }));

/** Waits until `work` settles, or until a thousand timer turns pass without it (work that waits for something held). */
async function settledOrIdle(work: Promise<unknown>): Promise<void> {
  let settled = false;
  work.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 1000 && !settled; i++) await new Promise((r) => setTimeout(r, 1));
}

/** A file system that, once `hold` is called, holds the calls of `op` whose first argument `matches` takes until `release`. */
function holdingCalls(op: 'stat' | 'unlink' | 'writev' | 'rmdir', matches: (first: unknown) => boolean): { fs: FileSystem; hold: () => void; held: () => number; release: () => void } {
  let holding = false;
  let held = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const call = nodeFileSystem[op] as (...args: unknown[]) => Promise<unknown>;
  const fs = {
    ...nodeFileSystem,
    [op]: async (...args: unknown[]) => {
      if (holding && matches(args[0])) {
        held++;
        await released;
      }
      return call(...args);
    },
  } as FileSystem;
  return { fs, hold: () => (holding = true), held: () => held, release: () => ((holding = false), release()) };
}

test('a topic made again while its deleted namesake\'s directories are still being removed waits for that removal, and keeps its own files', () =>
  withTempDir(async (dir) => {
    const holding = holdingCalls('rmdir', (path) => path === join(dir, 't-0'));
    const logs = await openLogs(dir, { fs: holding.fs });
    await logs.createTopic('t', 2);
    for (let p = 0; p < 2; p++) await appendValues(logs.getLog('t', p)!, ['old']).durable;
    holding.hold();
    const deleted = logs.deleteTopic('t');
    await waitUntil('the old directory is being removed', () => holding.held() === 1);
    // as a producer's metadata request makes a topic it asks for: the name is free at once
    const created = logs.createTopic('t', 3);
    await settledOrIdle(created);
    holding.release();
    await Promise.all([deleted, created]);
    for (let p = 0; p < 3; p++) await appendValues(logs.getLog('t', p)!, [`new-${p}`]).durable;
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('t-')).sort(), ['t-0', 't-1', 't-2']);
    assert.deepEqual(await readAll(logs.getLog('t', 0)!), [[0, 'new-0']]);
    await crash(logs);
    const again = await openLogs(dir);
    for (let p = 0; p < 3; p++) assert.deepEqual(await readAll(again.getLog('t', p)!), [[0, `new-${p}`]], `partition ${p}`);
    await again.close();
  }));


/**
 * Topic `t` (every append rolls, retention.bytes 0) with three records; `start` begins work on its partition that
 * waits in a call `holding` holds, `behind` more work, then the topic is deleted and made again, and the call is let go. The new
 * topic's one record is all its partition holds, also after a crash.
 */
async function madeAgainWhileHeld(
  dir: string,
  holding: ReturnType<typeof holdingCalls>,
  start: (logs: LogManager) => Promise<unknown>,
  behind: (logs: LogManager) => Promise<unknown> = async () => undefined,
): Promise<void> {
  const logs = await openLogs(dir, { fs: holding.fs });
  await logs.createTopic('t', 1, { 'segment.bytes': '14', 'retention.bytes': '0' });
  const old = logs.getLog('t', 0)!;
  for (const v of ['a', 'b', 'c']) await appendValues(old, [v]).durable;
  await waitUntil('the rolled segments are sealed', () => old.segments.slice(0, -1).every((s) => s.indexFilesCurrent));
  holding.hold();
  const work = [start(logs)];
  await waitUntil('the work waits in a held call', () => holding.held() > 0);
  work.push(behind(logs));
  const deleted = logs.deleteTopic('t');
  await waitUntil('the name is free', () => logs.getLog('t', 0) === undefined);
  const created = logs.createTopic('t', 1);
  // before, both were done while the work waited, and its unlinks, by path, then took the new topic's files
  await settledOrIdle(deleted);
  await settledOrIdle(created);
  holding.release();
  await Promise.all([...work, deleted, created]);
  await assertMadeAgainKeepsItsOwn(dir, logs);
}

/** Topic `t`, made again, takes a record; its partition holds that one and nothing else, also after a crash. */
async function assertMadeAgainKeepsItsOwn(dir: string, logs: LogManager): Promise<void> {
  await appendValues(logs.getLog('t', 0)!, ['new']).durable;
  assert.deepEqual((await readdir(join(dir, 't-0'))).filter((f) => f.endsWith('.log')), ['00000000000000000000.log']);
  await crash(logs);
  const again = await openLogs(dir);
  assert.deepEqual(await readAll(again.getLog('t', 0)!), [[0, 'new']]);
  await again.close();
}

test('a deleted partition\'s changes still queued (retention behind the sealed-segment checkpoint) touch no file of the topic made again under its name', () =>
  withTempDir(async (dir) => {
    // the checkpoint looks the segments' files up under the partition's lock; retention queues behind it
    const holding = holdingCalls('stat', (path) => String(path).startsWith(join(dir, 't-0')));
    await madeAgainWhileHeld(
      dir,
      holding,
      (logs) => logs.checkpointSealedSegments(),
      (logs) => logs.runRetention(),
    );
  }));

test('deleting a topic waits for a retention deleting its partition\'s files, which then touches none of the topic made again under its name', () =>
  withTempDir(async (dir) => {
    const holding = holdingCalls('unlink', (path) => path === join(dir, 't-0', '00000000000000000000.log'));
    await madeAgainWhileHeld(dir, holding, (logs) => logs.runRetention());
  }));

test('appends still queued when their topic is deleted are refused, not written to a file of the topic made again under its name', () =>
  withTempDir(async (dir) => {
    let segmentFd = -1;
    const holding = holdingCalls('writev', (fd) => fd === segmentFd);
    const logs = await openLogs(dir, { fs: holding.fs });
    await logs.createTopic('t', 1);
    const old = logs.getLog('t', 0)!;
    await appendValues(old, ['x']).durable;
    segmentFd = old.activeSegment.fd!;
    holding.hold();
    const written = appendValues(old, ['a']).durable;
    await waitUntil('the write is held', () => holding.held() > 0);
    // the next write waits for this one; once it is done, the deleted segment's file is closed, and the next write's
    // open, by path, found the new topic's first segment
    const queued = appendValues(old, ['b']).durable;
    const deleted = logs.deleteTopic('t');
    await waitUntil('the name is free', () => logs.getLog('t', 0) === undefined);
    await Promise.all([deleted, logs.createTopic('t', 1)]);
    holding.release();
    await written;
    await assert.rejects(queued, { code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
    await assertMadeAgainKeepsItsOwn(dir, logs);
  }));

test('partitions of a new topic, or added to one, take appends only once the catalogue that lists them is durable', () =>
  withTempDir(async (dir) => {
    const gate = { hold: true, held: [] as (() => void)[] };
    // the catalogue write is held until the test lets it go
    const fs = onCatalogueWrite(nodeFileSystem, () => gate.hold && new Promise<void>((resolve) => gate.held.push(resolve)));
    const logs = await openLogs(dir, { fs });
    const creating = logs.createTopic('t', 2);
    while (gate.held.length === 0) await new Promise((r) => setImmediate(r));
    assert.equal(logs.topics.get('t')?.partitions.length, 0, 'on disk, not yet served');
    assert.equal(logs.getLog('t', 0), undefined);
    gate.held.shift()!();
    await creating;
    assert.equal(logs.topics.get('t')!.partitions.length, 2);
    const growing = logs.createPartitions('t', 4);
    while (gate.held.length === 0) await new Promise((r) => setImmediate(r));
    assert.equal(logs.getLog('t', 2), undefined, 'added partitions wait for the catalogue too');
    await appendValues(logs.getLog('t', 1)!, ['served meanwhile']).durable;
    gate.held.shift()!();
    await growing;
    assert.deepEqual(logs.topics.get('t')!.partitions.map((l) => l.partition), [0, 1, 2, 3]);
    // concurrent requests to grow one topic are taken in turn: the second sees the first's count
    gate.hold = false;
    const [a, b] = await Promise.allSettled([logs.createPartitions('t', 6), logs.createPartitions('t', 5)]);
    assert.equal(a.status, 'fulfilled');
    assert.equal(b.status === 'rejected' && (b.reason as KafkaError).code, ErrorCode.INVALID_PARTITIONS);
    assert.equal(logs.topics.get('t')!.partitions.length, 6);
    await logs.close();
  }));

test('new partition directories and their segment files are made durable before the catalogue names them', () =>
  withTempDir(async (dir) => {
    /** Directory fsyncs, filesystem syncs and catalogue writes of `grow`, in order; `syncfs`: whether syncfs works. */
    const recorded = async (syncfs: boolean, grow: (logs: LogManager) => Promise<unknown>) => {
      const ops: string[] = [];
      const data = await mkdtemp(join(dir, 'data-'));
      const fs = onCatalogueWrite(
        {
          ...nodeFileSystem,
          fsyncDir: async (path) => {
            ops.push(`fsyncDir ${relative(data, path) || '.'}`);
            return nodeFileSystem.fsyncDir(path);
          },
          syncFileSystem: async () => {
            ops.push('syncfs');
            return syncfs;
          },
        },
        () => ops.push('catalogue'),
      );
      const logs = await openLogs(data, { fs });
      ops.length = 0; // not the start's (the catalogue's file made)
      await grow(logs);
      const done = [...ops]; // not the syncs of the shutdown
      await logs.close();
      return done;
    };
    // a few: each partition directory (holding its new segment file), then the data directory that holds them
    assert.deepEqual(await recorded(true, (logs) => logs.createTopic('few', 2)), ['fsyncDir few-0', 'fsyncDir few-1', 'fsyncDir .', 'catalogue']);
    // many: one filesystem sync
    assert.deepEqual(await recorded(true, (logs) => logs.createTopic('many', 40)), ['syncfs', 'catalogue']);
    // many, where syncfs is unavailable: every directory
    const fallback = await recorded(false, (logs) => logs.createTopic('many', 40));
    assert.deepEqual(fallback, ['syncfs', ...Array.from({ length: 40 }, (_, p) => `fsyncDir many-${p}`), 'fsyncDir .', 'catalogue']);
    // partitions added to a topic, likewise
    const added = await recorded(true, async (logs) => {
      await logs.createTopic('t', 1);
      await logs.createPartitions('t', 3);
    });
    assert.deepEqual(added, ['fsyncDir t-0', 'fsyncDir .', 'catalogue', 'fsyncDir t-1', 'fsyncDir t-2', 'fsyncDir .', 'catalogue']);
    // a sync that fails fails the creation: the catalogue never names the topic
    const failing: FileSystem = { ...nodeFileSystem, syncFileSystem: async () => Promise.reject(Object.assign(new Error('EIO: i/o error, syncfs'), { code: 'EIO' })) };
    const failed = await mkdtemp(join(dir, 'data-'));
    const logs = await openLogs(failed, { fs: failing });
    await assert.rejects(logs.createTopic('many', 40), (err: KafkaError) => err.code === ErrorCode.KAFKA_STORAGE_ERROR);
    assert.equal(logs.topics.has('many'), false);
    await logs.close();
    const reopened = await openLogs(failed);
    assert.equal(reopened.topics.has('many'), false);
    await reopened.close();
  }));

test('close waits for topic changes still running: nothing is written after it returns', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    await logs.createTopic('old', 50);
    const changes = [logs.createTopic('t', 300), logs.deleteTopic('old')];
    await logs.close();
    const names = (await readdir(dir)).sort();
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual((await readdir(dir)).sort(), names, 'the data dir did not change after close');
    await Promise.all(changes);
    const again = await openLogs(dir);
    assert.equal(again.topics.get('t')?.partitions.length, 300);
    assert.equal(again.topics.has('old'), false);
    await again.close();
  }));

test('a topic deleted while it is being created is deleted once the creation is over: nothing of it stays', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    const creating = logs.createTopic('t', 300);
    await logs.deleteTopic('t');
    await creating;
    assert.equal(logs.topics.has('t'), false);
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('t-')), [], 'no partition directory left');
    await logs.createTopic('t', 2);
    assert.equal(logs.getLog('t', 1)!.logEndOffset, 0);
    await logs.close();
    const again = await openLogs(dir);
    assert.equal(again.topics.get('t')?.partitions.length, 2);
    await again.close();
  }));

test('a topic deleted while partitions are being added to it is deleted once they are: nothing of it stays', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    await logs.createTopic('t', 2);
    const growing = logs.createPartitions('t', 5);
    await logs.deleteTopic('t');
    await growing;
    assert.equal(logs.topics.has('t'), false);
    assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('t-')), [], 'no partition directory left');
    await logs.close();
  }));

test('concurrent topic creations and deletions share catalogue writes, and the catalogue holds each topic once it is whole', () =>
  withTempDir(async (dir) => {
    let writes = 0;
    const partial: string[] = [];
    const fs = onCatalogueWrite(nodeFileSystem, (changes) => {
      writes++;
      for (const c of changes) if ('put' in c && c.put.partitions === 0) partial.push(c.put.name);
    });
    const logs = await openLogs(dir, { fs });
    const catalogue = async () => new Map((await Catalogue.read(nodeFileSystem, dir)).topics.map((t) => [t.name, t.partitions]));
    // while a topic's partitions load, another creation's write must not record it with none
    await Promise.all(Array.from({ length: 300 }, (_, i) => logs.createTopic(`t${i}`, 1 + (i % 4))));
    assert.ok(writes <= 10, `${writes} catalogue writes for 300 creations`);
    assert.deepEqual(partial, [], 'no catalogue lists a topic whose partitions are still being created');
    const written = await catalogue();
    assert.equal(written.size, 300);
    for (let i = 0; i < 300; i++) assert.equal(written.get(`t${i}`), 1 + (i % 4), `t${i}`);
    writes = 0;
    await Promise.all(Array.from({ length: 150 }, (_, i) => logs.deleteTopic(`t${i * 2}`)));
    assert.ok(writes <= 10, `${writes} catalogue writes for 150 deletions`);
    assert.deepEqual([...(await catalogue()).keys()].sort(), Array.from({ length: 150 }, (_, i) => `t${i * 2 + 1}`).sort());
    // DeleteRecords on many partitions at once: shared writes of the log start offsets (once, each write raced
    // the others for the same temp file)
    const left = Array.from({ length: 150 }, (_, i) => logs.getLog(`t${i * 2 + 1}`, 0)!);
    await Promise.all(left.map((log, i) => appendValues(log, Array.from({ length: 1 + (i % 3) }, (_, k) => `v${k}`)).durable));
    let startWrites = 0;
    fs.writeFileAtomic = (path, data, durable) => {
      if (path.endsWith('log-start-offsets.json')) startWrites++;
      return nodeFileSystem.writeFileAtomic(path, data, durable);
    };
    assert.deepEqual(await Promise.all(left.map((log) => logs.deleteRecords(log.topic, 0, -1))), left.map((_, i) => 1 + (i % 3)));
    assert.ok(startWrites <= 10, `${startWrites} writes of the log start offsets for 150 partitions`);
    await logs.close();
    const again = await openLogs(dir);
    assert.deepEqual(left.map((log) => again.getLog(log.topic, 0)!.logStartOffset), left.map((_, i) => 1 + (i % 3)));
    await again.close();
  }));

test('a full disk fails the append with KAFKA_STORAGE_ERROR, serves nothing half-written, and appends resume', () =>
  withTempDir(async (dir) => {
    const disk = fullDisk();
    const logs = await openLogs(dir, { fs: disk.fs });
    await logs.createTopic('t', 1);
    const log = logs.getLog('t', 0)!;
    await appendValues(log, ['before']).durable;
    disk.setFull(true);
    const failed = appendValues(log, ['lost-1']);
    const alsoFailed = appendValues(log, ['lost-2']);
    await assert.rejects(failed.durable, { code: ErrorCode.KAFKA_STORAGE_ERROR });
    await assert.rejects(alsoFailed.durable, { code: ErrorCode.KAFKA_STORAGE_ERROR });
    assert.equal(log.highWatermark, 1);
    assert.equal(log.logEndOffset, 1);
    assert.deepEqual(await readAll(log, 0), [[0, 'before']]);
    disk.setFull(false);
    const ok = await whenRecovered(() => appendValues(log, ['after']));
    assert.equal(ok.baseOffset, 1);
    await ok.durable;
    assert.deepEqual(await readAll(log, 0), [[0, 'before'], [1, 'after']]);
    await logs.close();
    const again = await openLogs(dir);
    assert.deepEqual(await readAll(again.getLog('t', 0)!, 0), [[0, 'before'], [1, 'after']]);
    await again.close();
  }));

test('fsync mode shares fsync rounds across partitions (group commit)', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    await logs.createTopic('t', 50);
    const startRounds = logs.groupCommit.rounds;
    const acks: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) for (let j = 0; j < 20; j++) acks.push(appendValues(logs.getLog('t', i)!, [`m${j}`]).durable);
    await Promise.all(acks);
    const rounds = logs.groupCommit.rounds - startRounds;
    assert.ok(rounds < 1000 / 4, `${rounds} fsync rounds for 1000 appends`);
    for (let i = 0; i < 50; i++) assert.equal(logs.getLog('t', i)!.highWatermark, 20);
    await logs.close();
  }));

test('look-ups by timestamp only answer with records below the high watermark, also the newest-timestamp one', () =>
  withTempDir(async (dir) => {
    const syncs = heldSyncs();
    const logs = await openLogs(dir, { fs: syncs.fs });
    await logs.createTopic('t', 1, { 'segment.bytes': '300' });
    const log = logs.getLog('t', 0)!;
    for (let i = 0; i < 8; i++) await appendValues(log, [`v${i}`.padEnd(50, '.')], 1000 + i).durable;
    assert.ok(log.segments.length > 2);
    syncs.held = true;
    const pending = [appendValues(log, ['newest'], 9000), appendValues(log, ['older'], 1500)];
    await pending[1]!.written;
    assert.equal(log.highWatermark, 8);
    assert.deepEqual(await maxTimestampRecord(log), { offset: 7, timestamp: 1007 });
    assert.equal(await offsetForTimestamp(log, 2000), null);
    syncs.held = false;
    await Promise.all(pending.map((p) => p.durable));
    assert.deepEqual(await maxTimestampRecord(log), { offset: 8, timestamp: 9000 });
    assert.deepEqual(await offsetForTimestamp(log, 2000), { offset: 8, timestamp: 9000 });
    await logs.close();
  }));

test('the time index is sparse like the offset index, and look-ups by time stay exact: unordered timestamps, restarts, and a refused append that carried the newest', () =>
  withTempDir(async (dir) => {
    const disk = fullDisk();
    let logs = await openLogs(dir, { fs: disk.fs });
    await logs.createTopic('t', 1, { 'index.interval.bytes': '1000' });
    let log = logs.getLog('t', 0)!;
    let seed = 11;
    const timestamps = Array.from({ length: 200 }, () => 1000 + ((seed = (seed * 48271) % 2147483647) % 5000));
    timestamps[199] = 7000; // the newest comes after the last index entry
    for (const [i, ts] of timestamps.entries()) await appendValues(log, [`v${i}`], ts).durable;
    const segment = log.segments[0]!;
    assert.ok(segment.timeIndex.count <= segment.offsetIndex.count, `${segment.timeIndex.count} time index entries for ${segment.offsetIndex.count} offset index entries`);
    assert.ok(segment.offsetIndex.count < 40, `${segment.offsetIndex.count} offset index entries for 200 batches`);
    const expectAll = async () => {
      for (let target = 900; target <= 7100; target += 37) {
        const i = timestamps.findIndex((ts) => ts >= target);
        assert.deepEqual(await offsetForTimestamp(log, target), i < 0 ? null : { offset: i, timestamp: timestamps[i] }, `target ${target}`);
      }
      assert.deepEqual(await maxTimestampRecord(log), { offset: 199, timestamp: 7000 });
    };
    await expectAll();
    disk.setFull(true);
    await assert.rejects(appendValues(log, ['refused'], 9999).durable, { code: ErrorCode.KAFKA_STORAGE_ERROR });
    disk.setFull(false);
    await expectAll();
    assert.equal(await offsetForTimestamp(log, 9000), null);
    await logs.close();
    logs = await openLogs(dir);
    log = logs.getLog('t', 0)!;
    await expectAll();
    await crash(logs);
    logs = await openLogs(dir);
    log = logs.getLog('t', 0)!;
    await expectAll();
    await logs.close();
  }));

test('the newest timestamp below the high watermark is found past the last index entry', () =>
  withTempDir(async (dir) => {
    const syncs = heldSyncs();
    const logs = await openLogs(dir, { fs: syncs.fs });
    await logs.createTopic('t', 1, { 'index.interval.bytes': '1000' });
    const log = logs.getLog('t', 0)!;
    for (let i = 0; i < 100; i++) await appendValues(log, [`v${i}`], 1000 + i).durable;
    const segment = log.segments[0]!;
    assert.ok(segment.offsetIndex.relOffsets[segment.offsetIndex.count - 1]! < 99, 'the last batch is not indexed');
    syncs.held = true;
    const newest = appendValues(log, ['newest'], 9000);
    try {
      await newest.written;
      assert.equal(log.highWatermark, 100);
      assert.deepEqual(await maxTimestampRecord(log), { offset: 99, timestamp: 1099 });
    } finally {
      syncs.held = false; // a failed check must not leave the append (and close) waiting
    }
    await newest.durable;
    assert.deepEqual(await maxTimestampRecord(log), { offset: 100, timestamp: 9000 });
    await logs.close();
  }));

test('closed segments\' indexes past the memory budget are dropped and read back on a look-up; reads and look-ups by time stay exact', () =>
  withTempDir(async (dir) => {
    // a budget of 200 bytes: two or so closed segments' indexes (4 batches each, an entry of each index per batch: 80 bytes)
    let logs = await openLogs(dir, { indexCacheBytes: 200 });
    await logs.createTopic('t', 1, { 'segment.bytes': '300', 'index.interval.bytes': '0' });
    let log = logs.getLog('t', 0)!;
    for (let i = 0; i < 60; i++) await appendValues(log, [`v${i}`], 1000 + i).durable;
    await logs.close(); // every closed segment's index files written
    logs = await openLogs(dir, { indexCacheBytes: 200 });
    log = logs.getLog('t', 0)!;
    const closed = log.segments.slice(0, -1);
    assert.ok(closed.length > 10, `${closed.length} closed segments`);
    const dropped = () => closed.filter((s) => s.indexesDropped).length;
    assert.ok(dropped() >= closed.length - 6, `${dropped()} of ${closed.length} dropped at start`);
    const expected = Array.from({ length: 60 }, (_, i) => [i, `v${i}`]);
    for (let from = 0; from < 60; from += 7) assert.deepEqual(await readAll(log, from), expected.slice(from), `read from ${from}`);
    for (let i = 0; i < 60; i += 5) assert.deepEqual(await offsetForTimestamp(log, 1000 + i), { offset: i, timestamp: 1000 + i });
    assert.ok(dropped() >= closed.length - 6, 'still within the budget after reading every segment');
    // the first segment read back: its entries are the ones written at its roll
    const first = closed[0]!;
    await log.read(0, 1);
    assert.equal(first.indexesDropped, false);
    assert.deepEqual([...first.offsetIndex.relOffsets.subarray(0, first.offsetIndex.count)], Array.from({ length: first.nextOffset }, (_, i) => i));
    // retention deletes dropped segments; what is left reads the same
    await logs.deleteRecords('t', 0, 30);
    assert.deepEqual(await readAll(log, 30), expected.slice(30));
    await logs.close();
  }));

test('a start reads no closed segment\'s index files whole: only their last entries, and each segment\'s indexes at its first look-up; sizes, offsets, timestamps, reads and look-ups by time come out as before', () =>
  withTempDir(async (dir) => {
    // several index entries per segment and a few batches past the last one; timestamps out of order, so the
    // largest of a segment sits anywhere: before its last index entry, at it, or after it
    const timestampOf = (i: number) => 1000 + ((i * 7919) % 97);
    const indexReads: string[] = [];
    const fs: FileSystem = { ...nodeFileSystem, readFile: (path) => (indexReads.push(path), nodeFileSystem.readFile(path)) };
    let logs = await openLogs(dir, { fs });
    await logs.createTopic('t', 1, { 'segment.bytes': '1200', 'index.interval.bytes': '200' });
    let log = logs.getLog('t', 0)!;
    const count = 120;
    for (let i = 0; i < count; i++) await appendValues(log, [`v${i}`], timestampOf(i)).durable;
    const described = (l: typeof log) => l.segments.slice(0, -1).map((s) => [s.baseOffset, s.nextOffset, s.size, s.maxTimestamp, s.maxTimestampOffset, s.firstTimestamp]);
    const indexesOf = (l: typeof log) => l.segments.slice(0, -1).map((s) => [s.offsetIndex.serialize().toString('hex'), s.timeIndex.serialize().toString('hex')]);
    const before = described(log);
    const indexesBefore = indexesOf(log);
    assert.ok(before.length >= 5, `${before.length} closed segments`);
    const expected = Array.from({ length: count }, (_, i) => [i, `v${i}`]);
    const firstAtOrAfter = (target: number) => {
      const i = expected.findIndex(([o]) => timestampOf(o as number) >= target);
      return i < 0 ? null : { offset: i, timestamp: timestampOf(i) };
    };
    for (const restart of ['clean', 'crash'] as const) {
      if (restart === 'clean') await logs.close();
      else await crash(logs);
      indexReads.length = 0;
      logs = await openLogs(dir, { fs });
      log = logs.getLog('t', 0)!;
      assert.deepEqual(indexReads.filter((p) => p.endsWith('index')), [], `${restart}: no index file read whole at start`);
      assert.ok(log.segments.slice(0, -1).every((s) => s.indexesDropped), `${restart}: every closed segment's indexes left in their files`);
      assert.deepEqual(described(log), before, `${restart}: segments as before`);
      for (let from = 0; from < count; from += 9) assert.deepEqual(await readAll(log, from), expected.slice(from), `${restart}: read from ${from}`);
      for (let target = 990; target <= 1100; target += 3) assert.deepEqual(await offsetForTimestamp(log, target), firstAtOrAfter(target), `${restart}: time ${target}`);
      assert.ok(log.segments.slice(0, -1).every((s) => !s.indexesDropped), `${restart}: each read back at its look-up`);
      assert.deepEqual(indexesOf(log), indexesBefore, `${restart}: indexes read back as they were`);
    }
    await logs.close();
  }));

/** Forty one-record appends to a new topic `t` cut into several segments; returns them as read back. */
async function fortyAppends(logs: LogManager, segmentBytes: number, indexIntervalBytes: number): Promise<[number, string][]> {
  await logs.createTopic('t', 1, { 'segment.bytes': String(segmentBytes), 'index.interval.bytes': String(indexIntervalBytes) });
  const log = logs.getLog('t', 0)!;
  for (let i = 0; i < 40; i++) await appendValues(log, [`v${i}`]).durable;
  return readAll(log, 0);
}

/** A clean start takes sealed segments as the shutdown recorded them; one after a crash looks at their files. */
const forgetCleanShutdown = (dir: string) => rm(join(dir, '.clean-shutdown'));

test('a closed segment whose index file names a batch its data does not hold is scanned whole at a start after a crash, and its index files are written again from the scan', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    const expected = await fortyAppends(logs, 1200, 200);
    await logs.close();
    await forgetCleanShutdown(dir);
    const indexPath = join(dir, 't-0', '00000000000000000000.index');
    const sealed = await readFile(indexPath);
    const stale = Buffer.from(sealed);
    stale.writeInt32BE(stale.readInt32BE(stale.length - 4) + 1, stale.length - 4); // inside the batch it named
    await writeFile(indexPath, stale);

    logs = await openLogs(dir);
    const log = logs.getLog('t', 0)!;
    assert.deepEqual(await readAll(log, 0), expected);
    assert.deepEqual(await readFile(indexPath), sealed, 'index file written again as the scan rebuilt it');
    await logs.close();
    logs = await openLogs(dir);
    assert.equal(logs.getLog('t', 0)!.segments[0]!.indexesDropped, true, 'the next start trusts it again');
    assert.deepEqual(await readAll(logs.getLog('t', 0)!, 0), expected);
    await logs.close();
  }));

test('a closed segment damaged in a batch past its last index entry is cut there at a start after a crash, its indexes rebuilt from the data; the segments after it are kept', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    const expected = await fortyAppends(logs, 1000, 500);
    const first = logs.getLog('t', 0)!.segments[0]!;
    const [lastOffset, size] = [first.nextOffset - 1, first.size];
    const lastBatchBytes = size / first.nextOffset; // batches of one size
    assert.ok(first.offsetIndex.positions[first.offsetIndex.count - 1]! < size - lastBatchBytes, 'the last batch is past the last index entry');
    await logs.close();
    await forgetCleanShutdown(dir);
    const segmentPath = join(dir, 't-0', '00000000000000000000.log');
    const data = await readFile(segmentPath);
    data[size - 3] = data[size - 3]! ^ 0xff; // inside the last batch's record: its CRC no longer holds
    await writeFile(segmentPath, data);

    logs = await openLogs(dir);
    const log = logs.getLog('t', 0)!;
    const segment = log.segments[0]!;
    assert.equal(segment.nextOffset, lastOffset, 'cut before the damaged batch');
    assert.equal(segment.indexesDropped, false);
    assert.equal(segment.offsetIndex.count > 1, true, 'indexes rebuilt from the data');
    assert.deepEqual(await readAll(log, 0), expected.filter(([o]) => o !== lastOffset));
    await logs.close();
  }));

test('close waits for the index files and producer snapshot of a roll still being written', () =>
  withTempDir(async (dir) => {
    let running = 0;
    let afterClose = 0;
    let closed = false;
    const fs: FileSystem = {
      ...nodeFileSystem,
      writeFileAtomic: async (path, data, durable) => {
        if (closed) afterClose++;
        running++;
        try {
          await new Promise((r) => setTimeout(r, 30));
          await nodeFileSystem.writeFileAtomic(path, data, durable);
        } finally {
          running--;
        }
      },
    };
    const logs = await openLogs(dir, { fs });
    await logs.createTopic('t', 1, { 'segment.bytes': '200' });
    const log = logs.getLog('t', 0)!;
    for (let i = 0; i < 3; i++) await appendValues(log, [`v${i}-${'x'.repeat(100)}`]).durable;
    assert.ok(log.segments.length >= 3, 'rolled');
    assert.ok(running > 0, 'a roll is still writing its files');
    await logs.close();
    closed = true;
    assert.equal(running, 0, 'nothing written after close returned');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(afterClose, 0);
    const names = await readdir(join(dir, 't-0'));
    for (const s of log.segments.slice(0, -1)) assert.ok(names.includes(`${String(s.baseOffset).padStart(20, '0')}.index`), `indexes of ${s.baseOffset}`);
  }));

test("a rolled segment's seal syncs it apart from the appends' rounds: appends are acknowledged while that sync is held", { timeout: 30_000 }, () =>
  withTempDir(async (dir) => {
    const { open, pathOf } = pathRecordingOpen();
    const first = join(dir, 't-0', '00000000000000000000.log');
    let holding = false;
    let held = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const fs: FileSystem = {
      ...nodeFileSystem,
      open,
      fdatasync: async (fd) => {
        if (holding && pathOf(fd) === first) {
          held++;
          await gate;
        }
        return nodeFileSystem.fdatasync(fd);
      },
    };
    const logs = await openLogs(dir, { fs });
    await logs.createTopic('t', 2, { 'segment.bytes': '300' });
    const [p0, p1] = [logs.getLog('t', 0)!, logs.getLog('t', 1)!];
    await appendValues(p0, [`a-${'x'.repeat(150)}`]).durable;
    holding = true;
    await appendValues(p0, [`b-${'x'.repeat(150)}`]).durable; // rolls: the first segment is sealed
    assert.equal(p0.segments.length, 2, 'rolled');
    await waitUntil('the seal sync held', () => held === 1);
    for (let i = 0; i < 5; i++) {
      await appendValues(p1, [`p1-${i}`]).durable;
      await appendValues(p0, [`p0-${i}`]).durable;
    }
    assert.deepEqual((await readAll(p1)).map(([, v]) => v), ['p1-0', 'p1-1', 'p1-2', 'p1-3', 'p1-4']);
    assert.equal(p0.logEndOffset, 7);
    assert.ok(!(await readdir(join(dir, 't-0'))).includes('00000000000000000000.index'), 'no index file before the seal sync is done');
    release();
    await logs.close();
    assert.ok((await readdir(join(dir, 't-0'))).includes('00000000000000000000.index'), 'sealed once it is');
  }));

test('a clean shutdown syncs the seals still waiting together, one filesystem sync for many, not one fdatasync each', { timeout: 60_000 }, () =>
  withTempDir(async (dir) => {
    const { open, pathOf } = pathRecordingOpen();
    const sealed = (fd: number) => pathOf(fd)?.endsWith('00000000000000000000.log') === true;
    let holding = false;
    let sealSyncs = 0;
    let syncfs = 0;
    const held: (() => void)[] = [];
    const fs: FileSystem = {
      ...nodeFileSystem,
      open,
      fdatasync: async (fd) => {
        if (holding && sealed(fd)) {
          sealSyncs++;
          await new Promise<void>((r) => held.push(r));
        }
        return nodeFileSystem.fdatasync(fd);
      },
      syncFileSystem: async (path) => {
        syncfs++;
        return nodeFileSystem.syncFileSystem(path);
      },
    };
    // more seals waiting than the 32 past which one syncfs replaces their fdatasyncs
    const logs = await openLogs(dir, { fs });
    await logs.createTopic('t', 40, { 'segment.bytes': '300' });
    const all = Array.from({ length: 40 }, (_, p) => logs.getLog('t', p)!);
    await Promise.all(all.map((log) => appendValues(log, [`a-${'x'.repeat(150)}`]).durable));
    holding = true;
    await Promise.all(all.map((log) => appendValues(log, [`b-${'x'.repeat(150)}`]).durable)); // every partition rolls
    await waitUntil('two seal syncs running, the rest waiting', () => held.length === 2);
    const syncfsBefore = syncfs;
    const closing = logs.close();
    await new Promise((r) => setTimeout(r, 50));
    for (const release of held.splice(0)) release();
    await closing;
    assert.equal(sealSyncs, 2, 'only the two seal syncs already running were fdatasyncs (a held one would hang the close)');
    assert.ok(syncfs > syncfsBefore, 'the other 38 shared a filesystem sync');
    for (let p = 0; p < 40; p++) assert.ok((await readdir(join(dir, `t-${p}`))).includes('00000000000000000000.index'), `t-${p} sealed`);
  }));

/** A file system whose segment writes and fdatasyncs can be held, then let go or failed, one call at a time. */
function heldDisk() {
  const { open, pathOf } = pathRecordingOpen();
  const events: string[] = [];
  type Held = { what: string; release: (err?: Error) => void };
  const held: Held[] = [];
  let holding = false;
  const hold = async <T>(what: string, op: () => Promise<T>): Promise<T> => {
    if (holding) {
      const err = await new Promise<Error | undefined>((release) => held.push({ what, release }));
      if (err) throw err;
    }
    return op();
  };
  const name = (fd: number) => pathOf(fd)!.split('/').pop()!;
  const fs: FileSystem = {
    ...nodeFileSystem,
    open,
    writev: (fd, buffers, position) =>
      hold(`write ${name(fd)}`, async () => {
        const n = await nodeFileSystem.writev(fd, buffers, position);
        events.push(`written ${name(fd)} to ${position + n}`);
        return n;
      }),
    fdatasync: (fd) => {
      const size = nodeFileSystem.fstatSize(fd);
      return hold(`sync ${name(fd)}`, async () => {
        const from = await size;
        await nodeFileSystem.fdatasync(fd);
        events.push(`synced ${name(fd)} to ${from}`);
      });
    },
    writeFileAtomic: async (path, data, durable) => {
      events.push(`wrote ${path.split('/').pop()}`);
      return nodeFileSystem.writeFileAtomic(path, data, durable);
    },
  };
  /** Resolves with the next held call whose description starts with `what`, once it is held. */
  const next = async (what: string): Promise<Held> => {
    for (;;) {
      const i = held.findIndex((h) => h.what.startsWith(what));
      if (i >= 0) return held.splice(i, 1)[0]!;
      await new Promise((r) => setImmediate(r));
    }
  };
  return {
    fs,
    events,
    next,
    hold: (on: boolean) => {
      holding = on;
      if (!on) for (const h of held.splice(0)) h.release();
    },
  };
}

test('a rolled segment gets its index files (which stop the journal replaying into it) only once its last write is synced', () =>
  withTempDir(async (dir) => {
    const disk = heldDisk();
    const logs = await openLogs(dir, { fs: disk.fs });
    await logs.createTopic('t', 1, { 'segment.bytes': '250' });
    const log = logs.getLog('t', 0)!;
    await appendValues(log, ['first']).durable;
    disk.hold(true);
    const last = appendValues(log, ['x'.repeat(40)]); // still fits in the first segment
    const write = await disk.next('write 00000000000000000000.log');
    const rolling = appendValues(log, ['y'.repeat(40)]); // rolls: the first segment is sealed
    assert.equal(log.segments.length, 2);
    // the roll's sync may not start before the last write is done: were it to, it would cover too little
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.ok(!disk.events.some((e) => e.startsWith('wrote 00000000000000000000.index')), 'no index files while the last write is held');
    write.release();
    disk.hold(false);
    await Promise.all([last.durable, rolling.durable]);
    await logs.close();
    const size = log.segments[0]!.size;
    const indexWrite = disk.events.indexOf('wrote 00000000000000000000.index');
    const coveringSync = disk.events.findIndex((e) => e === `synced 00000000000000000000.log to ${size}`);
    assert.ok(indexWrite > 0, 'index files written at last');
    assert.ok(coveringSync >= 0 && coveringSync < indexWrite, `a sync of all ${size} bytes before the index files: ${disk.events.join(', ')}`);
  }));

for (const order of ['the later write fails first', 'the earlier sync fails first'] as const) {
  test(`an append whose sync fails while a later append's write fails is refused too, and the partition goes on (${order})`, () =>
    withTempDir(async (dir) => {
      const disk = heldDisk();
      const logs = await openLogs(dir, { fs: disk.fs });
      await logs.createTopic('t', 1);
      const log = logs.getLog('t', 0)!;
      await appendValues(log, ['before']).durable;
      disk.hold(true);
      const earlier = appendValues(log, ['earlier']);
      const earlierRejected = assert.rejects(earlier.durable, { code: ErrorCode.KAFKA_STORAGE_ERROR });
      (await disk.next('write')).release();
      const sync = await disk.next('sync');
      const later = appendValues(log, ['later']);
      const laterRejected = assert.rejects(later.durable, { code: ErrorCode.KAFKA_STORAGE_ERROR });
      const write = await disk.next('write');
      disk.hold(false); // the rollbacks' own writes and syncs go through
      const eio = () => Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
      if (order === 'the later write fails first') {
        write.release(eio());
        await laterRejected;
        sync.release(eio());
      } else {
        sync.release(eio());
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
        write.release(eio());
      }
      await Promise.all([earlierRejected, laterRejected]);
      const after = await whenRecovered(() => appendValues(log, ['after']));
      assert.equal(after.baseOffset, 1);
      await after.durable;
      assert.deepEqual(await readAll(log, 0), [[0, 'before'], [1, 'after']]);
      await logs.close();
    }));
}

test('a roll undone by a rollback and made again writes its segment\'s index files only by the later roll\'s seal, after the sync that covers the appends in between', () =>
  withTempDir(async (dir) => {
    const { open, pathOf } = pathRecordingOpen();
    const first = '00000000000000000000';
    let failNextSync = false;
    const events: string[] = [];
    const fs: FileSystem = {
      ...nodeFileSystem,
      open,
      fdatasync: async (fd) => {
        if (failNextSync && pathOf(fd)?.endsWith(`${first}.log`)) {
          failNextSync = false;
          throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
        }
        return nodeFileSystem.fdatasync(fd);
      },
      writeFileAtomic: async (path, data, durable) => {
        events.push(`wrote ${path.split('/').pop()}`);
        return nodeFileSystem.writeFileAtomic(path, data, durable);
      },
    };
    const logs = await openLogs(dir, { fs });
    await logs.createTopic('t', 1, { 'segment.bytes': '250' });
    const log = logs.getLog('t', 0)!;
    // the seals' syncs of the first segment wait until released, one by one
    const sealSyncs: (() => void)[] = [];
    const sync = logs.groupCommit.syncApart.bind(logs.groupCommit);
    logs.groupCommit.syncApart = async (segment) => {
      if (segment.baseOffset === 0) await new Promise<void>((resolve) => sealSyncs.push(resolve));
      return sync(segment);
    };
    await appendValues(log, ['first']).durable;
    failNextSync = true;
    const refused = appendValues(log, ['x'.repeat(40)]); // its sync fails: refused, rolled back
    const rolling = appendValues(log, ['y'.repeat(40)]); // rolls; the rollback takes that roll back
    await assert.rejects(refused.durable, { code: ErrorCode.KAFKA_STORAGE_ERROR });
    await assert.rejects(rolling.durable, { code: ErrorCode.KAFKA_STORAGE_ERROR });
    assert.equal(log.segments.length, 1, 'the first segment is active again');
    const between = await whenRecovered(() => appendValues(log, ['z'.repeat(40)]));
    await between.durable;
    const rollingAgain = appendValues(log, ['w'.repeat(40)]);
    await rollingAgain.durable;
    assert.equal(log.segments.length, 2);
    await waitUntil('both seals syncing', () => sealSyncs.length === 2);
    sealSyncs.shift()!(); // the undone roll's seal: its sync began before the append in between
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(events.filter((e) => e.startsWith(`wrote ${first}.`)), [], 'no index files from the undone roll\'s seal');
    sealSyncs.shift()!();
    await logs.close();
    assert.ok(events.includes(`wrote ${first}.index`), 'the later roll\'s seal writes them');
    assert.deepEqual((await readAll(log, 0)).map(([o, v]) => [o, v[0]]), [[0, 'f'], [1, 'z'], [2, 'w']]);
  }));

test('a refused append is answered only once the rollback that removes its bytes is durable', () =>
  withTempDir(async (dir) => {
    const { open, pathOf } = pathRecordingOpen();
    let failJournalSync = false;
    const events: string[] = [];
    let cut = false;
    const fs: FileSystem = {
      ...nodeFileSystem,
      open,
      ftruncate: async (fd, length) => {
        await nodeFileSystem.ftruncate(fd, length);
        if (pathOf(fd)!.endsWith('.log')) (cut = true), events.push(`segment cut at ${length}`);
      },
      fdatasync: async (fd) => {
        if (failJournalSync && pathOf(fd)!.endsWith('.jnl')) {
          failJournalSync = false;
          throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
        }
        await nodeFileSystem.fdatasync(fd);
        if (cut && pathOf(fd)!.endsWith('.log')) (cut = false), events.push('segment cut synced');
      },
    };
    // every append is made durable by the journal, so the segment may be synced later (a checkpoint, a syncfs):
    // the refused bytes must be gone from it by the time the producer hears of the refusal
    const logs = await openLogs(dir, { fs, directSyncMax: 0 });
    await logs.createTopic('t', 1);
    const log = logs.getLog('t', 0)!;
    await appendValues(log, ['kept']).durable;
    const size = log.activeSegment.size;
    failJournalSync = true;
    const refused = appendValues(log, ['refused']);
    await assert.rejects(
      refused.durable.finally(() => events.push('refused')),
      { code: ErrorCode.KAFKA_STORAGE_ERROR },
    );
    assert.deepEqual(events, [`segment cut at ${size}`, 'segment cut synced', 'refused']);
    const after = await whenRecovered(() => appendValues(log, ['after']));
    assert.equal(after.baseOffset, 1);
    await after.durable;
    assert.deepEqual(await readAll(log, 0), [[0, 'kept'], [1, 'after']]);
    await logs.close();
  }));

test('a roll\'s producer snapshot still being written when a rollback takes the roll back does not outlive the rollback', () =>
  withTempDir(async (dir) => {
    const { open, pathOf } = pathRecordingOpen();
    let failJournalSync = false;
    let journalFailed = false;
    /** Resolves once the journal's cut after the failed sync is synced: the rollback is then queued. */
    let cutSynced!: () => void;
    const journalCut = new Promise<void>((r) => (cutSynced = r));
    const snapshot = holdFirstAtomicWrite((path) => path.endsWith('.snapshot')); // the first is the roll's below
    const fs: FileSystem = {
      ...nodeFileSystem,
      open,
      fdatasync: async (fd) => {
        if (failJournalSync && pathOf(fd)!.endsWith('.jnl')) {
          failJournalSync = false;
          journalFailed = true;
          // it fails once the roll's snapshot write has begun, so the rollback comes while that write runs; failing
          // at once let the rollback win the race now and then, and the roll then wrote no snapshot to hold
          await snapshot.held;
          throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
        }
        await nodeFileSystem.fdatasync(fd);
        if (journalFailed && pathOf(fd)!.endsWith('.jnl')) setImmediate(cutSynced);
      },
      writeFileAtomic: snapshot.writeFileAtomic,
    };
    // every append is made durable by the journal: its sync can fail while a roll's own sync of the segment works
    const logs = await openLogs(dir, { fs, directSyncMax: 0 });
    await logs.createTopic('t', 1, { 'segment.bytes': '300' });
    const log = logs.getLog('t', 0)!;
    const send = (producerId: number, sequence: number, value: string) => {
      const batch = buildRecordBatch([{ value }], { producerId, producerEpoch: 0, baseSequence: sequence });
      return log.append(batch, validateBatches(batch, 1 << 20));
    };
    const small = (v: string) => v.padEnd(30, '.'); // three such batches fill a segment
    await send(7, 0, small('a')).durable;
    await send(7, 1, small('b')).durable;
    failJournalSync = true;
    const refused = send(7, 2, small('c')); // the last to fit in the first segment; its journal sync fails
    const rolled = send(7, 3, small('d')); // rolls at 3: the snapshot taken for offset 3 counts c
    assert.deepEqual(log.segments.map((s) => s.baseOffset), [0, 3]);
    // the rollback waits for the snapshot write, and the appends are refused once the rollback is done
    await snapshot.held;
    await journalCut;
    snapshot.release();
    await Promise.all([assert.rejects(refused.durable, { code: ErrorCode.KAFKA_STORAGE_ERROR }), assert.rejects(rolled.durable, { code: ErrorCode.KAFKA_STORAGE_ERROR })]);
    // another producer's batches take offsets 2 and 3; the larger first one rolls at 2 this time. Sent again while
    // refused, as a client does: should d have had a round of its own, one formed before that round is cut off
    // behind c's is cut off too
    await untilAcknowledged(async () => {
      const e = await whenRecovered(() => send(8, 0, 'e'.repeat(110)));
      await e.durable;
    });
    await send(8, 1, 'f').durable;
    assert.deepEqual(log.segments.map((s) => s.baseOffset), [0, 2]);
    // what counts: each producer's epoch and batches (sequences and offsets)
    const state = (l: typeof log) => JSON.stringify((l.producers.toJSON() as unknown[][]).map(([pid, epoch, , batches]) => [pid, epoch, batches]));
    const live = state(log);
    assert.equal(live, JSON.stringify([[7, 0, [[0, 0, 0, 0], [1, 1, 1, 1]]], [8, 0, [[0, 0, 2, 2], [1, 1, 3, 3]]]]));
    await crash(logs);
    const again = await openLogs(dir);
    assert.equal(state(again.getLog('t', 0)!), live, 'the producer state rebuilt after a crash is the one the log holds');
    await again.close();
  }));

test('an append to a new segment file whose directory fsync fails is refused, and the partition goes on', () =>
  withTempDir(async (dir) => {
    let failDirSync = false;
    const fs: FileSystem = {
      ...nodeFileSystem,
      fsyncDir: async (path) => {
        if (failDirSync && path.endsWith('t-0')) throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
        return nodeFileSystem.fsyncDir(path);
      },
    };
    const logs = await openLogs(dir, { fs });
    await logs.createTopic('t', 1, { 'segment.bytes': '100' });
    const log = logs.getLog('t', 0)!;
    await appendValues(log, ['first']).durable;
    failDirSync = true;
    const rolled = appendValues(log, ['second']); // the first segment is full: a new file
    assert.equal(log.segments.length, 2);
    await assert.rejects(rolled.durable, { code: ErrorCode.KAFKA_STORAGE_ERROR });
    assert.equal(log.highWatermark, 1);
    failDirSync = false;
    const again = await whenRecovered(() => appendValues(log, ['again']));
    assert.equal(again.baseOffset, 1);
    await again.durable;
    assert.deepEqual(await readAll(log, 0), [[0, 'first'], [1, 'again']]);
    await logs.close();
    const reopened = await openLogs(dir);
    assert.deepEqual(await readAll(reopened.getLog('t', 0)!, 0), [[0, 'first'], [1, 'again']]);
    await reopened.close();
  }));

test('a segment file a rollback removed, brought back by a power loss beside appends that reused its offsets, is dropped at start', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    await logs.createTopic('t', 1);
    const log = logs.getLog('t', 0)!;
    for (const v of ['a', 'b', 'c']) await appendValues(log, [v]).durable;
    await crash(logs); // the process dies
    // the file of a segment that began at offset 2 before a rollback took offsets 2 on back: empty, as unsynced
    await writeFile(join(dir, 't-0', '00000000000000000002.log'), '');
    const again = await openLogs(dir);
    const log2 = again.getLog('t', 0)!;
    assert.deepEqual([log2.segments.length, log2.logEndOffset], [1, 3]);
    const next = appendValues(log2, ['d']);
    assert.equal(next.baseOffset, 3, 'no offset given twice');
    await next.durable;
    assert.deepEqual(await readAll(log2, 0), [[0, 'a'], [1, 'b'], [2, 'c'], [3, 'd']]);
    assert.ok(!(await readdir(join(dir, 't-0'))).includes('00000000000000000002.log'));
    await again.close();
  }));

test('a segment never spans more offsets than its indexes\' int32 relative offsets hold: a batch claiming a huge record count rolls a new one', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    await logs.createTopic('t', 1);
    const log = logs.getLog('t', 0)!;
    /** A compressed batch whose header claims `count` records (its records are not decoded on append). */
    const claimingBatch = (value: string, count: number) => {
      const batch = buildRecordBatch([{ value }], { compression: Compression.GZIP });
      batch.writeInt32BE(count - 1, Batch.LAST_OFFSET_DELTA);
      batch.writeInt32BE(count, Batch.RECORDS_COUNT);
      batch.writeUInt32BE(crc32c(batch.subarray(Batch.ATTRIBUTES)), Batch.CRC);
      return batch;
    };
    const claiming = (value: string, count: number) => {
      const batch = claimingBatch(value, count);
      return log.append(batch, validateBatches(batch, 1 << 20));
    };
    await appendValues(log, ['first']).durable;
    const huge = 1_500_000_000;
    const a = claiming('a', huge);
    const b = claiming('b', huge);
    await Promise.all([a.durable, b.durable]);
    assert.deepEqual([a.baseOffset, b.baseOffset], [1, 1 + huge]);
    // the second would have put relative offsets past 2^31 - 1 in the first segment: it starts a new one
    assert.deepEqual(log.segments.map((s) => s.baseOffset), [0, 1 + huge]);
    const after = appendValues(log, ['last']);
    await after.durable;
    assert.equal(after.baseOffset, 1 + 2 * huge);
    const valueAt = async (offset: number) => decodeRecordBatches((await log.read(offset, 1)).records)[0]!.records[0]!.value!.toString();
    // the claiming batches hold fewer records than they say: their headers are read, not their records
    const batchAt = async (offset: number) => readInt64((await log.read(offset, 1)).records, Batch.BASE_OFFSET);
    assert.deepEqual([await valueAt(0), await batchAt(1), await batchAt(huge), await batchAt(1 + huge), await batchAt(2 * huge), await valueAt(1 + 2 * huge)], ['first', 1, 1, 1 + huge, 1 + huge, 'last']);
    // one append spanning more than a segment can hold is refused whole
    const both = Buffer.concat([claimingBatch('c', huge), claimingBatch('d', huge)]);
    assert.throws(() => log.append(both, validateBatches(both, 1 << 20)), { code: ErrorCode.INVALID_RECORD });
    assert.equal(log.logEndOffset, 2 + 2 * huge);
    // and the same after a restart that scans the segments again
    await crash(logs);
    const again = await openLogs(dir);
    const reopened = again.getLog('t', 0)!;
    assert.equal(reopened.logEndOffset, 2 + 2 * huge);
    assert.equal(decodeRecordBatches((await reopened.read(1 + 2 * huge, 1)).records)[0]!.records[0]!.value!.toString(), 'last');
    await again.close();
  }));

test('long-poll waiters: each one woken once by the next append, a cancelled one not at all, and the first place reused', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    await logs.createTopic('w', 1, {});
    const log = logs.getLog('w', 0)!;
    const woken: string[] = [];
    const waiter = (name: string) => (): void => void woken.push(name);
    const [a, b, c, d] = [waiter('a'), waiter('b'), waiter('c'), waiter('d')];
    // a takes the first place, b and c the others; cancelling a frees the first place for d
    log.onAppend(a);
    log.onAppend(b);
    log.onAppend(c);
    log.offAppend(a);
    log.offAppend(c);
    log.onAppend(d);
    await appendValues(log, ['x']).durable;
    assert.deepEqual(woken.sort(), ['b', 'd']);
    // woken ones are gone: the next append wakes only who waits then, and cancelling a woken one changes nothing
    log.offAppend(b);
    log.onAppend(a);
    await appendValues(log, ['y']).durable;
    await appendValues(log, ['z']).durable;
    assert.deepEqual(woken.sort(), ['a', 'b', 'd']);
    await logs.close();
  }));
