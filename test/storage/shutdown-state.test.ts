// The clean shutdown's one file of partitions (active segments' indexes and producer state, sealed segments' ends):
// its format refuses anything torn, corrupt or of another shutdown, and a start uses it instead of per-partition
// files, or scans without it.
import assert from 'node:assert/strict';
import { copyFile, readFile, readdir, rename, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { batchSizeAt, validateBatches } from '../../src/protocol/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { decodeSealedCheckpoint, encodeSealedCheckpoint, type PartitionCheckpoint } from '../../src/storage/sealed-checkpoint.js';
import { decodeShutdownState, encodeShutdownState, stateKey, type PartitionShutdownState } from '../../src/storage/shutdown-state.js';
import { offsetForTimestamp } from '../../src/storage/timestamp-lookup.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { crash, openLogs, readAll } from './helpers.js';

const STATE_FILE = '.clean-shutdown-state';
const MARKER = '.clean-shutdown';

const sample: PartitionShutdownState[] = [
  {
    topicId: '0123456789abcdef0123456789abcdef',
    partition: 0,
    active: { segmentBaseOffset: 0, snapshotOffset: 42, offsetIndex: Buffer.from([0, 0, 0, 1, 0, 0, 0, 2]), timeIndex: Buffer.alloc(0), snapshot: '{"producers":[]}' },
    sealed: [],
  },
  {
    topicId: 'fedcba9876543210fedcba9876543210',
    partition: 7,
    active: { segmentBaseOffset: 2 ** 40, snapshotOffset: 2 ** 40 + 9, offsetIndex: Buffer.alloc(0), timeIndex: Buffer.alloc(12, 5), snapshot: '' },
    sealed: [
      { baseOffset: 0, size: 1_073_741_800, nextOffset: 2 ** 40 - 3, maxTimestamp: 1_764_000_000_999, maxTimestampOffset: 17, firstTimestamp: 1_763_000_000_000 },
      { baseOffset: 2 ** 40 - 1, size: 61, nextOffset: 2 ** 40, maxTimestamp: -1, maxTimestampOffset: -1, firstTimestamp: -1 },
    ],
  },
  {
    topicId: '00000000000000000000000000000001',
    partition: 2 ** 31 - 1,
    active: { segmentBaseOffset: 7, snapshotOffset: 7, offsetIndex: Buffer.alloc(0), timeIndex: Buffer.alloc(0), snapshot: '{}' },
    sealed: [{ baseOffset: 5, size: 0, nextOffset: 7, maxTimestamp: -1, maxTimestampOffset: -1, firstTimestamp: -1 }],
  },
];

test('the shutdown state decodes to what was encoded, and to nothing when torn, corrupt or of another shutdown', () => {
  const stamp = 1_764_000_000_123;
  const encoded = encodeShutdownState(stamp, sample);
  const decoded = decodeShutdownState(encoded, stamp);
  assert.deepEqual([...decoded.keys()], sample.map((s) => stateKey(s.topicId, s.partition)));
  assert.deepEqual([...decoded.values()], sample);
  assert.equal(decodeShutdownState(encoded, stamp + 1).size, 0, 'a file of another shutdown');
  assert.equal(decodeShutdownState(encodeShutdownState(stamp, []), stamp).size, 0);
  for (let cut = 0; cut < encoded.length; cut++) assert.equal(decodeShutdownState(encoded.subarray(0, cut), stamp).size, 0, `cut at ${cut}`);
  for (let at = 0; at < encoded.length; at++) {
    const flipped = Buffer.from(encoded);
    flipped[at]! ^= 0x10;
    assert.equal(decodeShutdownState(flipped, stamp).size, 0, `byte ${at} flipped`);
  }
});

/** A file system that counts operations and remembers the paths read whole and the paths opened. */
function countingFs(): { fs: FileSystem; reads: string[]; opened: string[]; ops: Map<string, number> } {
  const reads: string[] = [];
  const opened: string[] = [];
  const ops = new Map<string, number>();
  const fs = Object.fromEntries(
    Object.entries(nodeFileSystem).map(([name, op]) => [name, (...args: unknown[]) => {
      ops.set(name, (ops.get(name) ?? 0) + 1);
      if (name === 'readFile') reads.push(String(args[0]));
      if (name === 'open') opened.push(String(args[0]));
      return (op as (...a: unknown[]) => unknown)(...args);
    }]),
  ) as unknown as FileSystem;
  return { fs, reads, opened, ops };
}

function idempotent(log: PartitionLog, seq: number, value: string, timestamp: number) {
  const batch = buildRecordBatch([{ value, timestamp }], { producerId: 5, producerEpoch: 0, baseSequence: seq });
  return log.append(batch, validateBatches(batch, 1 << 20));
}

/** Three partitions whose active segments are too large to scan again at a start (64 KiB), with many index entries. */
async function fill(logs: LogManager): Promise<void> {
  await logs.createTopic('s', 3, { 'index.interval.bytes': '1000' });
  for (let p = 0; p < 3; p++) {
    const log = logs.getLog('s', p)!;
    for (let seq = 0; seq < 40; seq++) await idempotent(log, seq, `p${p}-${seq}-${'v'.repeat(2000)}`, 1_000_000 + seq * 10).durable;
  }
}

/** What a start must restore exactly: records, indexes, time look-ups, the producer's last sequence. */
async function snapshot(logs: LogManager) {
  return Promise.all([0, 1, 2].map(async (p) => {
    const log = logs.getLog('s', p)!;
    const active = log.activeSegment;
    return {
      records: await readAll(log),
      offsetIndex: active.offsetIndex.serialize().toString('hex'),
      timeIndex: active.timeIndex.serialize().toString('hex'),
      at: await offsetForTimestamp(log, 1_000_000 + 255),
      producers: log.producers.size,
    };
  }));
}

async function expectRestored(logs: LogManager, before: Awaited<ReturnType<typeof snapshot>>): Promise<void> {
  assert.deepEqual(await snapshot(logs), before);
  const log = logs.getLog('s', 2)!;
  assert.equal(idempotent(log, 39, `p2-39-${'v'.repeat(2000)}`, 1_000_390).baseOffset, 39, 'the last batch is still known as a duplicate');
  assert.equal((await idempotent(log, 40, 'next', 1_000_400).durable, log.logEndOffset), 41);
}

test('a clean shutdown records active segments in one file; the next start uses it instead of any file of theirs, then removes it', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    await fill(logs);
    const before = await snapshot(logs);
    assert.ok(before[0]!.offsetIndex.length > 20 * 16, 'many index entries');
    await logs.close();
    for (let p = 0; p < 3; p++) assert.deepEqual((await readdir(join(dir, `s-${p}`))).sort(), ['00000000000000000000.log'], 'no index or snapshot file beside the active segment');
    const { fs, reads, ops } = countingFs();
    logs = await openLogs(dir, { fs });
    assert.equal(logs.cleanStart, true);
    assert.deepEqual(reads.filter((r) => r.includes('s-')), [], 'nothing of the partitions read whole');
    assert.equal(ops.get('read'), 3, 'each segment read from its last indexed batch only');
    assert.ok(!(await readdir(dir)).includes(STATE_FILE), 'removed once the start is done');
    await expectRestored(logs, before);
    await logs.close();
  }));

test('without its marker, or torn, or left by an earlier shutdown, the state file is ignored: the start scans, losing nothing', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    await fill(logs);
    let before = await snapshot(logs);
    await logs.close();

    // a crash after the state file was written, before the marker
    await rm(join(dir, MARKER));
    logs = await openLogs(dir);
    assert.equal(logs.cleanStart, false);
    assert.ok(!(await readdir(dir)).includes(STATE_FILE), 'removed');
    await expectRestored(logs, before);
    before = await snapshot(logs);
    await logs.close();

    // a torn state file beside its marker
    const state = await readFile(join(dir, STATE_FILE));
    await writeFile(join(dir, STATE_FILE), state.subarray(0, state.length - 3));
    logs = await openLogs(dir);
    assert.equal(logs.cleanStart, true);
    assert.deepEqual(await snapshot(logs), before);
    await logs.close();
    await copyFile(join(dir, STATE_FILE), join(dir, 'older-state'));

    // a state file of an earlier shutdown beside a later marker: more records were appended in between
    logs = await openLogs(dir);
    for (let p = 0; p < 3; p++) await idempotent(logs.getLog('s', p)!, p === 2 ? 41 : 40, `more${p}`, 1_000_500).durable;
    const later = await snapshot(logs);
    await logs.close();
    await copyFile(join(dir, 'older-state'), join(dir, STATE_FILE));
    logs = await openLogs(dir);
    assert.equal(logs.cleanStart, true);
    assert.deepEqual(await snapshot(logs), later);
    assert.equal(idempotent(logs.getLog('s', 0)!, 40, 'more0', 1_000_500).baseOffset, 40, 'the producer state includes the later append');
    await logs.close();
  }));

test('indexes that do not match the segment (stale or damaged) are dropped and the segment scanned whole: no valid batch is cut', { timeout: 60_000 }, () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    await logs.createTopic('small', 1, { 'index.interval.bytes': '100' });
    const small = logs.getLog('small', 0)!;
    for (let seq = 0; seq < 10; seq++) await idempotent(small, seq, `s${seq}-${'w'.repeat(300)}`, 2_000_000 + seq).durable;
    const smallRecords = await readAll(small);
    await fill(logs);
    const records = await readAll(logs.getLog('s', 1)!);
    await logs.close();

    // an index file beside an active segment (as an older version wrote at shutdown) whose entry points inside a
    // batch, and no state file (an older version's is ignored): resuming there would find no batch and cut the file
    const smallBytes = (await readFile(join(dir, 'small-0', '00000000000000000000.log'))).length;
    const index = Buffer.alloc(16);
    index.writeInt32BE(5, 8);
    index.writeInt32BE(Math.floor(smallBytes / 2) + 1, 12);
    await writeFile(join(dir, 'small-0', '00000000000000000000.index'), index);
    await writeFile(join(dir, 'small-0', '00000000000000000000.timeindex'), Buffer.alloc(0));
    await rm(join(dir, STATE_FILE));
    logs = await openLogs(dir);
    assert.equal(logs.cleanStart, true);
    assert.deepEqual(await readAll(logs.getLog('small', 0)!), smallRecords, 'every batch of the small segment kept');
    await logs.close();

    // a recorded active segment whose file lost its end (past the last indexed batch)
    const segment = join(dir, 's-1', '00000000000000000000.log');
    const data = await readFile(segment);
    const cut = data.length - 5000;
    let whole = 0;
    for (let at = 0; at + batchSizeAt(data, at) <= cut; at += batchSizeAt(data, at)) whole++;
    await writeFile(segment, data.subarray(0, cut));

    logs = await openLogs(dir);
    assert.equal(logs.cleanStart, true);
    const damaged = logs.getLog('s', 1)!;
    assert.equal(whole, 37);
    assert.equal(damaged.logEndOffset, whole, 'the log ends after the last whole batch left in the file');
    assert.deepEqual(await readAll(damaged), records.slice(0, whole));
    await logs.close();
  }));

/** Two partitions of many sealed segments (4 KiB each), with index entries every 500 bytes and rising timestamps. */
async function fillSegments(logs: LogManager): Promise<void> {
  await logs.createTopic('g', 2, { 'segment.bytes': '4096', 'index.interval.bytes': '500' });
  for (let p = 0; p < 2; p++) {
    const log = logs.getLog('g', p)!;
    for (let seq = 0; seq < 120; seq++) await idempotent(log, seq, `g${p}-${seq}-${'x'.repeat(400)}`, 5_000_000 + seq * 10).durable;
  }
}

/** Everything a start must give back of a partition's segments, and reads and look-ups that need their files. */
async function segmentsOf(logs: LogManager) {
  return Promise.all([0, 1].map(async (p) => {
    const log = logs.getLog('g', p)!;
    const lookups = [];
    for (const t of [4_999_999, 5_000_000, 5_000_355, 5_000_600, 5_001_190, 5_001_191]) lookups.push(await offsetForTimestamp(log, t));
    return {
      segments: log.segments.map((s) => s.sealedState()),
      records: await readAll(log),
      fromMiddle: (await readAll(log, 61)).length,
      lookups,
      producers: log.producers.size,
    };
  }));
}

test('a clean start takes sealed segments as the shutdown recorded them: none of their files is opened or read until used', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    await fillSegments(logs);
    const before = await segmentsOf(logs);
    const sealed = before.flatMap((b, p) => b.segments.slice(0, -1).map((s) => join(dir, `g-${p}`, String(s.baseOffset).padStart(20, '0'))));
    assert.ok(sealed.length >= 20, `${sealed.length} sealed segments`);
    await logs.close();

    for (let start = 0; start < 2; start++) {
      const { fs, reads, opened } = countingFs();
      logs = await openLogs(dir, { fs });
      assert.equal(logs.cleanStart, true);
      // reads go through descriptors: a file never opened is never read
      const touched = [...opened, ...reads].filter((path) => sealed.some((s) => path.startsWith(s)));
      assert.deepEqual(touched, [], `start ${start}: no file of a sealed segment opened or read`);
      assert.ok(opened.some((path) => path.includes('g-0')), 'the active segments are');
      assert.deepEqual(await segmentsOf(logs), before, 'sizes, offsets, timestamps, records and look-ups as before');
      await logs.close();
    }

    // a crash start does not use what a clean shutdown recorded: the same, found by reading the files
    await rm(join(dir, MARKER));
    logs = await openLogs(dir);
    assert.equal(logs.cleanStart, false);
    assert.deepEqual(await segmentsOf(logs), before);
    await logs.close();
  }));

test('a recorded sealed segment whose files are not all there is loaded from its files: no valid batch is lost', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    await fillSegments(logs);
    const before = await segmentsOf(logs);
    await logs.close();
    const third = before[0]!.segments[2]!;
    await unlink(join(dir, 'g-0', `${String(third.baseOffset).padStart(20, '0')}.index`));
    const { fs, opened } = countingFs();
    logs = await openLogs(dir, { fs });
    assert.equal(logs.cleanStart, true);
    assert.deepEqual(opened.filter((path) => path.startsWith(join(dir, 'g-0', '0'))).map((path) => Number(path.slice(-24, -4))), [third.baseOffset, before[0]!.segments.at(-1)!.baseOffset], 'only that segment and the active one opened');
    assert.deepEqual(await segmentsOf(logs), before);
    await logs.close();
  }));

const snapshotFiles = async (dir: string, p: number) => (await readdir(join(dir, `g-${p}`))).filter((n) => n.endsWith('.snapshot')).sort();

test('a clean start takes the producer state from the shutdown record, of a small active segment too: no snapshot file or sealed segment is read', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    await fillSegments(logs);
    const before = await segmentsOf(logs);
    assert.ok(before.every((b) => b.segments.at(-1)!.size < 4096), 'small active segments');
    const sealed = before.flatMap((b, p) => b.segments.slice(0, -1).map((s) => join(dir, `g-${p}`, String(s.baseOffset).padStart(20, '0'))));
    await logs.close();
    // as a crash in a storm of rolls leaves them, whose seals (and their snapshots) were still waiting for syncs
    for (const p of [0, 1]) for (const name of await snapshotFiles(dir, p)) await unlink(join(dir, `g-${p}`, name));

    const { fs, reads, opened } = countingFs();
    logs = await openLogs(dir, { fs });
    assert.equal(logs.cleanStart, true);
    assert.deepEqual(reads.filter((path) => path.startsWith(join(dir, 'g-'))), [], 'no file of the partitions read whole');
    assert.deepEqual([...opened, ...reads].filter((path) => sealed.some((s) => path.startsWith(s))), [], 'no file of a sealed segment opened');
    assert.deepEqual(await segmentsOf(logs), before);
    const log = logs.getLog('g', 1)!;
    assert.equal(idempotent(log, 119, `g1-119-${'x'.repeat(400)}`, 5_001_190).baseOffset, 119, 'the last batch is still known as a duplicate');
    await logs.close();
  }));

test('a start that rebuilt the producer state from sealed segments writes it as of the active segment as a roll would have, after the start', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    await fillSegments(logs);
    const before = await segmentsOf(logs);
    await logs.close();
    const rolled = await Promise.all([0, 1].map(async (p) => {
      const name = (await snapshotFiles(dir, p)).at(-1)!;
      assert.equal(Number(name.slice(0, 20)), before[p]!.segments.at(-1)!.baseOffset, 'the last roll wrote a snapshot as of the active segment');
      return { name, json: await readFile(join(dir, `g-${p}`, name), 'utf8') };
    }));
    for (const p of [0, 1]) for (const name of await snapshotFiles(dir, p)) await unlink(join(dir, `g-${p}`, name));

    await rm(join(dir, MARKER));
    logs = await openLogs(dir);
    assert.equal(logs.cleanStart, false);
    await logs.recoveryFinished; // written after the start
    for (const p of [0, 1]) {
      assert.deepEqual(await snapshotFiles(dir, p), [rolled[p]!.name]);
      assert.deepEqual(JSON.parse(await readFile(join(dir, `g-${p}`, rolled[p]!.name), 'utf8')), JSON.parse(rolled[p]!.json), 'the same state');
    }
    assert.deepEqual(await segmentsOf(logs), before);
    await logs.close();

    // a start after a crash with the snapshot: the producer state read from it and the active segment only
    await rm(join(dir, MARKER));
    logs = await openLogs(dir);
    assert.deepEqual(await segmentsOf(logs), before);
    assert.equal(idempotent(logs.getLog('g', 0)!, 119, `g0-119-${'x'.repeat(400)}`, 5_001_190).baseOffset, 119, 'the last batch is still known as a duplicate');
    await logs.close();
  }));

const CHECKPOINT = '.sealed-checkpoint';

test('the sealed-segment checkpoint decodes to what was encoded, and to nothing when torn or corrupt', () => {
  const states: PartitionCheckpoint[] = [
    { topicId: '0123456789abcdef0123456789abcdef', partition: 3, sealed: [{ baseOffset: 0, size: 4096, nextOffset: 17, maxTimestamp: 1_764_000_000_000, maxTimestampOffset: 16, firstTimestamp: 1_763_999_999_000, inode: 2 ** 40 + 7, changedMs: 1_764_000_000_123.456789 }] },
    { topicId: 'fedcba9876543210fedcba9876543210', partition: 0, sealed: [] },
  ];
  const encoded = encodeSealedCheckpoint(states);
  assert.deepEqual([...decodeSealedCheckpoint(encoded).values()], states);
  for (let cut = 0; cut < encoded.length; cut++) assert.equal(decodeSealedCheckpoint(encoded.subarray(0, cut)).size, 0, `cut at ${cut}`);
  for (let at = 0; at < encoded.length; at++) {
    const flipped = Buffer.from(encoded);
    flipped[at]! ^= 0x04;
    assert.equal(decodeSealedCheckpoint(flipped).size, 0, `byte ${at} flipped`);
  }
});

test('a start after a crash takes the sealed segments the last checkpoint recorded, opening none whose file is unchanged', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    await fillSegments(logs);
    await logs.checkpointSealedSegments();
    const before = await segmentsOf(logs);
    const sealed = before.flatMap((b, p) => b.segments.slice(0, -1).map((s) => join(dir, `g-${p}`, String(s.baseOffset).padStart(20, '0'))));
    await crash(logs);

    const { fs, reads, opened } = countingFs();
    logs = await openLogs(dir, { fs });
    assert.equal(logs.cleanStart, false);
    assert.deepEqual([...opened, ...reads].filter((path) => sealed.some((s) => path.startsWith(s))), [], 'no file of a sealed segment opened or read');
    assert.ok(!(await readdir(dir)).includes(CHECKPOINT), 'removed once the start is done');
    assert.deepEqual(await segmentsOf(logs), before, 'sizes, offsets, timestamps, records and look-ups as before');
    // written again from what the start loaded, with nothing changed since
    await logs.checkpointSealedSegments();
    const written = await readFile(join(dir, CHECKPOINT));
    await crash(logs);

    // a checkpoint's records whose files changed since: a copy (another inode), a file cut short, an index file gone
    const [copied, cut, unindexed] = [1, 3, 5].map((i) => before[0]!.segments[i]!);
    const path = (s: { baseOffset: number }, suffix: string) => join(dir, 'g-0', `${String(s.baseOffset).padStart(20, '0')}${suffix}`);
    await copyFile(path(copied, '.log'), path(copied, '.log.copy'));
    await rename(path(copied, '.log.copy'), path(copied, '.log'));
    await truncate(path(cut, '.log'), cut.size - 10);
    await unlink(path(unindexed, '.timeindex'));
    await writeFile(join(dir, CHECKPOINT), written);
    const counting = countingFs();
    logs = await openLogs(dir, { fs: counting.fs });
    const openedSealed = counting.opened.filter((p) => sealed.some((s) => p.startsWith(s)));
    assert.deepEqual([...new Set(openedSealed.map((p) => Number(basename(p).slice(0, 20))))].sort((a, b) => a - b), [copied.baseOffset, cut.baseOffset, unindexed.baseOffset], 'only those three loaded from their files');
    const log = logs.getLog('g', 0)!;
    assert.equal(log.segments.find((s) => s.baseOffset === cut.baseOffset)!.size < cut.size, true, 'the cut one as its file is now');
    assert.deepEqual(await segmentsOf(logs).then((all) => all[1]), before[1], 'the other partition as before');
    await logs.close();
  }));

test('a checkpointed segment whose file was replaced by one that got the old inode number back, at the same size, is loaded from the file', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    await fillSegments(logs);
    await logs.checkpointSealedSegments();
    const before = await segmentsOf(logs);
    await crash(logs);

    // a new file in its place, as a compaction's swap makes: ext4 gives the next file created the inode number of
    // the last one freed, and this one says so; only its ctime tells it apart
    const replaced = join(dir, 'g-0', `${String(before[0]!.segments[2]!.baseOffset).padStart(20, '0')}.log`);
    const oldInode = (await stat(replaced)).ino;
    await new Promise((r) => setTimeout(r, 20)); // past the filesystem's timestamp granularity
    await copyFile(replaced, `${replaced}.copy`);
    await rename(`${replaced}.copy`, replaced);
    const counting = countingFs();
    const fs: FileSystem = {
      ...counting.fs,
      stat: async (path) => {
        const found = await counting.fs.stat(path);
        return path === replaced ? { ...found, inode: oldInode } : found;
      },
    };
    logs = await openLogs(dir, { fs });
    const openedSealed = counting.opened.filter((p) => p.includes(`${join(dir, 'g-')}`) && p.endsWith('.log'));
    assert.ok(openedSealed.includes(replaced), 'loaded from its file');
    assert.deepEqual(await segmentsOf(logs), before);
    await logs.close();
  }));
