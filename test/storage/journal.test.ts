// The shared journal: many-partition rounds cost one fdatasync, acknowledged appends whose segment bytes
// were lost (never synced) come back from the journal on start, and refused ones never do.
import { crc32c } from '@node-rs/crc32';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { ErrorCode, type KafkaError } from '../../src/protocol/errors.js';
import { validateBatches } from '../../src/protocol/record-batch.js';
import { JOURNAL_READ_BYTES, Journal, leftoverEntries, type JournalEntry } from '../../src/storage/journal.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { appendValues, batchOf, crash, fullDisk, noSpaceError, openLogs, pathRecordingOpen, readAll, shortWritesDisk, untilAcknowledged, waitUntil } from './helpers.js';
import { withPowerLossDisk } from './power-loss-disk.js';

/** The entries the journal files in `dir` hold, as a start would replay them (copied: a round's views are reused). */
async function leftoverIn(dir: string, fs: FileSystem = nodeFileSystem): Promise<JournalEntry[]> {
  const entries: JournalEntry[] = [];
  for await (const round of leftoverEntries(fs, (await Journal.open(fs, dir)).leftoverFiles)) for (const e of round) entries.push({ ...e, records: Buffer.from(e.records) });
  return entries;
}

/** Counts fdatasync calls. */
function countingFs(): { fs: FileSystem; syncs: () => number } {
  let n = 0;
  return { fs: { ...nodeFileSystem, fdatasync: (fd) => (n++, nodeFileSystem.fdatasync(fd)) }, syncs: () => n };
}

test('a round with many dirty partitions is made durable with one journal fdatasync', () =>
  withTempDir(async (dir) => {
    const counting = countingFs();
    const logs = await openLogs(dir, { fs: counting.fs });
    await logs.createTopic('wide', 200);
    const before = counting.syncs();
    const roundsBefore = logs.groupCommit.rounds;
    const acks = [];
    for (let p = 0; p < 200; p++) acks.push(appendValues(logs.getLog('wide', p)!, [`v${p}`]).durable);
    await Promise.all(acks);
    const rounds = logs.groupCommit.rounds - roundsBefore;
    assert.ok(logs.groupCommit.journalRounds > 0);
    assert.ok(counting.syncs() - before <= rounds * 5, `${counting.syncs() - before} fdatasyncs for ${rounds} rounds of 200 partitions`);
    await logs.close();
    // its file is kept to be written over by the next start's journal, as the disk has room
    assert.deepEqual((await readdir(join(dir, 'journal'))).filter((f) => !f.endsWith('.spare')), [], 'a clean close leaves no journal to replay');
  }));

test('a round of many large appends fdatasyncs their segments instead of writing every byte twice through the journal', () =>
  withTempDir(async (dir) => {
    const counting = countingFs();
    const logs = await openLogs(dir, { fs: counting.fs });
    await logs.createTopic('wide', 20);
    const journalRoundsBefore = logs.groupCommit.journalRounds;
    const before = counting.syncs();
    const big = (p: number) => `${p}:`.padEnd(600 * 1024, 'x');
    const acks = [];
    for (let p = 0; p < 20; p++) acks.push(appendValues(logs.getLog('wide', p)!, [big(p)]).durable);
    await Promise.all(acks);
    assert.equal(logs.groupCommit.journalRounds - journalRoundsBefore, 0);
    assert.ok(counting.syncs() - before >= 20, `${counting.syncs() - before} fdatasyncs for 20 segments`);
    for (let p = 0; p < 20; p++) assert.deepEqual(await readAll(logs.getLog('wide', p)!), [[0, big(p)]]);
    await logs.close();
  }));

test('a journal of 200,000 entries, as a crash under load on many partitions leaves, opens with every entry', () =>
  withTempDir(async (dir) => {
    const { journal } = await Journal.open(nodeFileSystem, join(dir, 'journal'));
    const writes = Array.from({ length: 200_000 }, (_, i) => ({ source: { topicId: '00'.repeat(16), partition: i % 10_000 }, buffers: [Buffer.from(String(i))] }));
    for (let i = 0; i < writes.length; i += 50_000) await journal.sync((await journal.write(writes.slice(i, i + 50_000))).end);
    // no close (that deletes the file): the process crashed
    const leftover = await leftoverIn(join(dir, 'journal'));
    assert.equal(leftover.length, 200_000);
    assert.deepEqual([leftover[0]!.partition, leftover[0]!.records.toString()], [0, '0']);
    assert.deepEqual([leftover[199_999]!.partition, leftover[199_999]!.records.toString()], [9_999, '199999']);
  }));

test('a journal file is read a round at a time, not whole: rounds across read boundaries and one larger than a read come back, and a round torn across a boundary ends the file', () =>
  withTempDir(async (dir) => {
    const { journal } = await Journal.open(nodeFileSystem, join(dir, 'journal'));
    const id = 'cd'.repeat(16);
    // 1 MiB rounds of ten entries (not a divisor of a read), then one round of 1.5 reads, then small rounds again
    const value = (round: number, entry: number, bytes: number) => Buffer.alloc(bytes, `${round}.${entry};`);
    const rounds: Buffer[][] = [];
    for (let r = 0; r < 3 * (JOURNAL_READ_BYTES >> 20); r++) rounds.push(Array.from({ length: 10 }, (_, e) => value(r, e, 104_857 + r)));
    const large = rounds.length;
    rounds.push([value(large, 0, JOURNAL_READ_BYTES + JOURNAL_READ_BYTES / 2)]);
    for (let r = large + 1; r < large + 40; r++) rounds.push([value(r, 0, 100), value(r, 1, 3)]);
    const ends: number[] = [];
    for (const entries of rounds) ends.push((await journal.write(entries.map((b, e) => ({ source: { topicId: id, partition: e }, buffers: [b] })))).end);
    await journal.sync(ends[ends.length - 1]!);
    const reads: number[] = [];
    const recording: FileSystem = { ...nodeFileSystem, read: (fd, into, length, position, cold) => (reads.push(length), nodeFileSystem.read(fd, into, length, position, cold)) };
    const expected = (upTo: number) => rounds.slice(0, upTo).flatMap((entries) => entries.map((b, e) => [e, b.length, crc32c(b)]));
    const leftover = async () => (await leftoverIn(join(dir, 'journal'), recording)).map((e) => {
      assert.equal(e.topicId, id);
      return [e.partition, e.records.length, crc32c(e.records)];
    });
    assert.deepEqual(await leftover(), expected(rounds.length));
    const fileBytes = ends[ends.length - 1]!;
    assert.ok(fileBytes > 4 * JOURNAL_READ_BYTES);
    assert.ok(reads.length > fileBytes / JOURNAL_READ_BYTES, `${reads.length} reads`);
    assert.ok(Math.max(...reads) <= JOURNAL_READ_BYTES * 1.5 + 64, `reads of ${Math.max(...reads)} bytes for rounds of at most 1.5 reads`);
    assert.ok(reads.reduce((a, b) => a + b, 0) < fileBytes * 1.1, 'no byte read many times over');
    // torn inside the round that the first read boundary cuts: the rounds before it come back, none after it
    const [file] = await readdir(join(dir, 'journal'));
    const across = ends.findIndex((end) => end > JOURNAL_READ_BYTES);
    await truncate(join(dir, 'journal', file!), JOURNAL_READ_BYTES + 10);
    assert.deepEqual(await leftover(), expected(across));
  }));

test('a short journal write goes on with the rest: the round is written whole, and one whose rest fails carries the kernel\'s reason', () =>
  withTempDir(async (dir) => {
    /** What the next journal write does: all its bytes, 100 of them, or 100 and then (the rest) ENOSPC. */
    let next: 'whole' | 'short' | 'short, then full' | 'full' = 'whole';
    let writes = 0;
    const fs: FileSystem = {
      ...nodeFileSystem,
      writev: async (fd, buffers, position) => {
        writes++;
        if (next === 'whole') return nodeFileSystem.writev(fd, buffers, position);
        if (next === 'short') next = 'whole';
        else if (next === 'short, then full') next = 'full';
        else throw noSpaceError();
        return nodeFileSystem.writev(fd, [buffers[0]!.subarray(0, 100)], position);
      },
    };
    const { journal } = await Journal.open(fs, join(dir, 'journal'));
    const entry = (value: string) => [{ source: { topicId: 'ef'.repeat(16), partition: 1 }, buffers: [Buffer.from(value.repeat(50))] }];
    next = 'short';
    await journal.sync((await journal.write(entry('whole'))).end);
    assert.equal(writes, 2, 'the rest in a second write');
    next = 'short, then full';
    await assert.rejects(journal.write(entry('cut')), { code: 'ENOSPC' });
    assert.equal(writes, 4);
    next = 'whole';
    assert.deepEqual((await leftoverIn(join(dir, 'journal'))).map((e) => e.records.toString()), ['whole'.repeat(50)]);
  }));

test('a round is one entry per partition, checked by one CRC: a torn or corrupt round is dropped whole, and what follows it', () =>
  withTempDir(async (dir) => {
    const { journal } = await Journal.open(nodeFileSystem, join(dir, 'journal'));
    const id = 'ab'.repeat(16);
    const round = (n: number) => [
      { source: { topicId: id, partition: 0 }, buffers: [Buffer.from(`r${n}a`), Buffer.from(`r${n}b`)] },
      { source: { topicId: id, partition: 3 }, buffers: [Buffer.from(`r${n}c`)] },
    ];
    const ends: number[] = [];
    for (let n = 0; n < 3; n++) ends.push((await journal.write(round(n))).end);
    await journal.sync(ends[2]!);
    const [file] = await readdir(join(dir, 'journal'));
    const path = join(dir, 'journal', file!);
    const leftover = async () => (await leftoverIn(join(dir, 'journal'))).map((e) => [e.topicId === id, e.partition, e.records.toString()]);
    assert.deepEqual(await leftover(), [0, 1, 2].flatMap((n) => [[true, 0, `r${n}ar${n}b`], [true, 3, `r${n}c`]]));
    // a write torn inside the last round
    await truncate(path, ends[2]! - 3);
    assert.deepEqual(await leftover(), [0, 1].flatMap((n) => [[true, 0, `r${n}ar${n}b`], [true, 3, `r${n}c`]]));
    // a flipped byte in the first round's second entry: nothing of it, nor of the rounds after it
    const data = await readFile(path);
    data[ends[0]! - 1] ^= 0x40;
    await writeFile(path, data);
    assert.deepEqual(await leftover(), []);
  }));

test('journal files of the first format (a CRC per entry), left by a crash of an older version, are replayed before newer ones', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    await logs.createTopic('t', 2);
    const topicId = logs.topics.get('t')!.id;
    await logs.close();
    // what the older version journaled before it crashed, with none of it in the segments
    const appended = [batchOf(['a']), batchOf(['b']), batchOf(['c'])];
    appended.forEach((b, i) => b.writeBigInt64BE(BigInt(i === 2 ? 0 : i), 0)); // a, b to partition 0; c to partition 1
    const entries = appended.map((records, i) => {
      const body = Buffer.concat([Buffer.from(topicId, 'hex'), Buffer.alloc(4), records]);
      body.writeInt32BE(i === 2 ? 1 : 0, 16);
      const header = Buffer.alloc(8);
      header.writeInt32BE(4 + body.length, 0);
      header.writeUInt32BE(crc32c(body), 4);
      return Buffer.concat([header, body]);
    });
    await writeFile(join(dir, 'journal', '00000000000000000004.wal'), Buffer.concat(entries));
    logs = await openLogs(dir);
    try {
      assert.equal(logs.journalReplayed, 3);
      assert.deepEqual(await readAll(logs.getLog('t', 0)!), [[0, 'a'], [1, 'b']]);
      assert.deepEqual(await readAll(logs.getLog('t', 1)!), [[0, 'c']]);
      // numbering goes on after the old file's
      await appendValues(logs.getLog('t', 0)!, ['d']).durable;
    } finally {
      await logs.close();
    }
  }));

test('journal files of the second format (no file number in a round), left by a crash of an older version, are replayed', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    await logs.createTopic('t', 2);
    const topicId = logs.topics.get('t')!.id;
    await logs.close();
    const appended = [batchOf(['a']), batchOf(['b'])];
    // one round of two entries: a to partition 0, b to partition 1
    const entries = appended.map((records, partition) => {
      const entry = Buffer.concat([Buffer.alloc(4), Buffer.from(topicId, 'hex'), Buffer.alloc(4), records]);
      entry.writeInt32BE(entry.length - 4, 0);
      entry.writeInt32BE(partition, 20);
      return entry;
    });
    const body = Buffer.concat(entries);
    const header = Buffer.alloc(8);
    header.writeInt32BE(body.length, 0);
    header.writeUInt32BE(crc32c(body), 4);
    await writeFile(join(dir, 'journal', '00000000000000000002.journal'), Buffer.concat([header, body]));
    logs = await openLogs(dir);
    try {
      assert.equal(logs.journalReplayed, 2);
      assert.deepEqual(await readAll(logs.getLog('t', 0)!), [[0, 'a']]);
      assert.deepEqual(await readAll(logs.getLog('t', 1)!), [[0, 'b']]);
    } finally {
      await logs.close();
    }
  }));

test('a checkpointed journal file kept as the spare is written over by the next file: its old rounds, intact, are never replayed', () =>
  withTempDir(async (dir) => {
    const journalDir = join(dir, 'journal');
    const { journal } = await Journal.open(nodeFileSystem, journalDir);
    // rounds of one size, so an old round begins exactly where the new ones end, with its CRC intact
    const round = (value: string) => [{ source: { topicId: 'ab'.repeat(16), partition: 7 }, buffers: [Buffer.from(value)] }];
    for (const value of ['old-1', 'old-2', 'old-3']) await journal.sync((await journal.write(round(value))).end);
    const old = (await journal.rotate())!;
    const oldBytes = (await stat(old)).size;
    await journal.retire(old, true);
    assert.deepEqual(await readdir(journalDir), ['00000000000000000000.spare']);
    const replayed = async () => (await leftoverIn(journalDir)).map((e) => [e.partition, e.records.toString()]);
    // the next file is the spare, renamed: a crash before its first round replays none of the old ones
    const first = await journal.write(round('new-1'));
    const [file] = await readdir(journalDir);
    assert.equal(file, '00000000000000000001.jnl');
    assert.equal((await stat(join(journalDir, file!))).size, oldBytes, 'written over, not emptied');
    await journal.sync(first.end);
    assert.deepEqual(await replayed(), [[7, 'new-1']]);
    await journal.sync((await journal.write(round('new-2'))).end);
    assert.deepEqual(await replayed(), [[7, 'new-1'], [7, 'new-2']]);
    // one spare at most, and none unless asked: other files are deleted
    const second = (await journal.rotate())!;
    await journal.write(round('next'));
    const third = (await journal.rotate())!;
    await journal.retire(second, true);
    await journal.retire(third, true);
    assert.deepEqual(await readdir(journalDir), ['00000000000000000001.spare']);
    await journal.write(round('last'));
    assert.deepEqual(await readdir(journalDir), ['00000000000000000003.jnl']);
    await journal.retire((await journal.rotate())!, false);
    assert.deepEqual(await readdir(journalDir), []);
    await journal.write(round('gone'));
    await journal.close(true);
    assert.deepEqual(await readdir(journalDir), ['00000000000000000004.spare']);
    await journal.dropSpare();
    assert.deepEqual(await readdir(journalDir), []);
    // found by the next start, which numbers its files after it: a new file with the number of the spare's old
    // rounds (numbering started again at 0 after a clean close) would take them for its own
    await journal.write(round('x'));
    await journal.close(true);
    assert.deepEqual(await readdir(journalDir), ['00000000000000000005.spare']);
    const reopened = await Journal.open(nodeFileSystem, journalDir);
    assert.deepEqual(reopened.leftoverFiles, []);
    await reopened.journal.sync((await reopened.journal.write(round('y'))).end);
    assert.deepEqual(await readdir(journalDir), ['00000000000000000006.jnl']);
    assert.deepEqual(await replayed(), [[7, 'y']]);
  }));

for (const [outcome, cut] of [['reaches the disk whole', 0], ['is lost whole', 0.3], ['loses its first part', 0.6], ['loses its last part', 0.9]] as const) {
  test(`a round written over the spare that ${outcome} in a power loss: what was synced is replayed, never the spare's old rounds`, () =>
    withPowerLossDisk(async (dir, disk) => {
      const journalDir = join(dir, 'journal');
      const { journal } = await Journal.open(disk.fsFor(), journalDir);
      // rounds of one size, so each new round lies exactly over an old one
      const round = (value: string) => [{ source: { topicId: 'ab'.repeat(16), partition: 1 }, buffers: [Buffer.from(value)] }];
      for (const value of ['old-1', 'old-2', 'old-3']) await journal.sync((await journal.write(round(value))).end);
      await journal.retire((await journal.rotate())!, true);
      await journal.sync((await journal.write(round('new-1'))).end);
      await journal.write(round('new-2')); // written, not synced
      await disk.powerLoss(() => cut);
      const replayed = (await leftoverIn(journalDir)).map((e) => e.records.toString());
      assert.deepEqual(replayed, cut === 0 ? ['new-1', 'new-2'] : ['new-1']);
    }));
}

test('once checkpoints run, journal files are written over the spare one kept, not created anew', () =>
  withTempDir(async (dir) => {
    // each journal file opened: whether it was the spare renamed, and whether a spare was there to take
    const opened: { name: string; spareTaken: boolean; spareThere: boolean }[] = [];
    let spare: string | null = null;
    let renamedFromSpare = false;
    const journalFds = new Set<number>();
    let closing: Promise<void> | null = null;
    const fs: FileSystem = {
      ...nodeFileSystem,
      rename: async (from, to) => {
        await nodeFileSystem.rename(from, to);
        if (to.endsWith('.spare')) spare = to;
        if (from === spare) (spare = null, (renamedFromSpare = true));
      },
      open: async (path, flags) => {
        const spareThere = spare !== null || renamedFromSpare;
        const fd = await nodeFileSystem.open(path, flags);
        if (path.endsWith('.jnl')) {
          opened.push({ name: basename(path), spareTaken: renamedFromSpare && flags !== 'w', spareThere });
          journalFds.add(fd);
          renamedFromSpare = false;
        }
        return fd;
      },
      close: (fd) => {
        const closed = nodeFileSystem.close(fd);
        if (journalFds.delete(fd)) closing = closed;
        return closed;
      },
    };
    const logs = await openLogs(dir, { fs, journalCheckpointBytes: 4096 });
    await logs.createTopic('wide', 20);
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    for (let round = 0; round < 30; round++) {
      await Promise.all(Array.from({ length: 20 }, (_, p) => appendValues(logs.getLog('wide', p)!, [`r${round}-${'y'.repeat(100)}`]).durable));
      // a file rotated after this round: its checkpoint done before the next file starts, so it is the spare by then
      await turn();
      if (closing) {
        await closing;
        closing = null;
        await turn();
        await logs.groupCommit.checkpointDone();
      }
    }
    // a round's appends can reach the group commit in parts, and a file rotated between two parts is followed by
    // one started while its checkpoint runs, with no spare yet: that one alone is created anew
    assert.ok(opened.length >= 25, `${opened.length} journal files`);
    assert.deepEqual(opened[0], { name: '00000000000000000000.jnl', spareTaken: false, spareThere: false });
    assert.deepEqual(opened.filter((o) => o.spareThere !== o.spareTaken), [], 'a spare there was always taken');
    const taken = opened.filter((o) => o.spareTaken).length;
    assert.ok(taken >= opened.length - 5, `${taken} of ${opened.length} files were the spare, renamed`);
    await logs.close();
  }));

test('rounds written while a journal fdatasync runs share the next one: one call for all of them, not one each', () =>
  withTempDir(async (dir) => {
    let calls = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const fs: FileSystem = { ...nodeFileSystem, fdatasync: async (fd) => (calls++, await gate, nodeFileSystem.fdatasync(fd)) };
    const { journal } = await Journal.open(fs, join(dir, 'journal'));
    const entry = (value: string) => [{ source: { topicId: '00'.repeat(16), partition: 0 }, buffers: [Buffer.from(value)] }];
    const first = await journal.write(entry('a'));
    const firstSync = journal.sync(first.end);
    const second = await journal.write(entry('bb'));
    const third = await journal.write(entry('ccc'));
    assert.equal(calls, 1, 'the first sync is in flight');
    release();
    await firstSync;
    // as the group commit chains them: each round's sync starts once the previous one is done
    await journal.sync(second.end);
    await journal.sync(third.end);
    assert.equal(calls, 2, 'the second fdatasync covered the third round too');
    await journal.close(false);
  }));

/**
 * A file system on which segment files are never really synced (their fdatasync does nothing), so after a
 * "power loss" any prefix of each segment file may survive; only the journal's syncs are real. While
 * `journalFault()` names one, the journal's fdatasync fails, or its writev is torn half way and fails.
 * `claimed` gets each segment file's size as of its last fdatasync: a power loss may not take what the engine
 * was told is durable (a checkpoint then deletes the journal that covered it).
 */
function unsyncedSegmentsFs(journalFault: () => 'fdatasync' | 'writev' | null = () => null, claimed = new Map<string, number>()): FileSystem {
  const { open, pathOf } = pathRecordingOpen();
  const faulty = (fd: number, call: 'fdatasync' | 'writev') => journalFault() === call && (pathOf(fd) ?? '').endsWith('.jnl');
  return {
    ...nodeFileSystem,
    open,
    fdatasync: async (fd) => {
      const path = pathOf(fd);
      if (path?.endsWith('.log')) {
        claimed.set(path, await nodeFileSystem.fstatSize(fd));
        return;
      }
      if (faulty(fd, 'fdatasync')) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      return nodeFileSystem.fdatasync(fd);
    },
    writev: async (fd, buffers, position) => {
      if (faulty(fd, 'writev')) {
        const first = buffers[0]!;
        await nodeFileSystem.writev(fd, [first.subarray(0, first.length >> 1)], position);
        throw noSpaceError();
      }
      return nodeFileSystem.writev(fd, buffers, position);
    },
  };
}

test('acknowledged appends whose segment bytes were lost are replayed from the journal, also into an earlier segment', () =>
  withTempDir(async (dir) => {
    // every acknowledgement goes through the journal; segment files are never synced
    const logs = await openLogs(dir, { fs: unsyncedSegmentsFs(), directSyncMax: 0 });
    await logs.createTopic('wide', 50, { 'segment.bytes': '400' });
    const expected = new Map<number, string[]>();
    for (let round = 0; round < 6; round++) {
      const acks = [];
      for (let p = 0; p < 50; p++) {
        const value = `p${p}-r${round}-${'x'.repeat(40)}`;
        expected.set(p, [...(expected.get(p) ?? []), value]);
        acks.push(appendValues(logs.getLog('wide', p)!, [value]).durable);
      }
      await Promise.all(acks);
    }
    assert.ok(logs.getLog('wide', 0)!.segments.length > 2, 'partitions rolled');
    // power loss: each partition loses its first segment and the tail of its last one, while the segments
    // in between happened to reach the disk; no index file survives
    await crash(logs);
    for (let p = 0; p < 50; p++) {
      const pdir = join(dir, `wide-${p}`);
      const files = (await readdir(pdir)).sort();
      const segments = files.filter((f) => f.endsWith('.log'));
      for (const f of files.filter((x) => x.endsWith('index'))) await unlink(join(pdir, f));
      await truncate(join(pdir, segments[0]!), 0);
      await truncate(join(pdir, segments[segments.length - 1]!), 7);
    }
    const again = await openLogs(dir);
    try {
      assert.ok(again.journalReplayed >= 150, `${again.journalReplayed} entries replayed`);
      for (let p = 0; p < 50; p++) {
        const got = await readAll(again.getLog('wide', p)!, 0);
        assert.deepEqual(got.map(([, v]) => v), expected.get(p), `partition ${p}`);
        assert.deepEqual(got.map(([o]) => o), expected.get(p)!.map((_, i) => i));
      }
      // kept as the spare the next file is written over, no longer a file to replay
      assert.deepEqual(await readdir(join(dir, 'journal')), ['00000000000000000000.spare'], 'replayed journal files are retired');
      await Promise.all(Array.from({ length: 50 }, (_, p) => appendValues(again.getLog('wide', p)!, ['after']).durable));
      assert.deepEqual(await readdir(join(dir, 'journal')), ['00000000000000000001.jnl'], 'the next file is the spare, renamed');
    } finally {
      await again.close();
    }
  }));

test('a journaled append of several batches whose segment kept only the first ones gets the rest back from the journal', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir, { fs: unsyncedSegmentsFs(), directSyncMax: 0 });
    await logs.createTopic('t', 1);
    const log = logs.getLog('t', 0)!;
    await appendValues(log, ['before']).durable;
    const batches = [batchOf(['a1', 'a2']), batchOf(['b']), batchOf(['c1', 'c2', 'c3'])];
    const records = Buffer.concat(batches);
    await log.append(records, validateBatches(records, 1 << 20)).durable;
    // power loss: the segment kept the first of the append's batches whole and half of the second
    await crash(logs);
    const segment = join(dir, 't-0', '00000000000000000000.log');
    const kept = batchOf(['before']).length + batches[0]!.length + (batches[1]!.length >> 1);
    await truncate(segment, kept);
    const again = await openLogs(dir);
    try {
      assert.deepEqual(await readAll(again.getLog('t', 0)!, 0), [[0, 'before'], [1, 'a1'], [2, 'a2'], [3, 'b'], [4, 'c1'], [5, 'c2'], [6, 'c3']]);
    } finally {
      await again.close();
    }
  }));

test('segment bytes lost below an earlier DeleteRecords come back from the journal, and the log start offset stays', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir, { fs: unsyncedSegmentsFs(), directSyncMax: 0 });
    await logs.createTopic('t', 2);
    await appendValues(logs.getLog('t', 0)!, ['a', 'b', 'c', 'd', 'e']).durable;
    await appendValues(logs.getLog('t', 1)!, ['a', 'b', 'c']).durable;
    // DeleteRecords cuts through partition 0's batch and past all of partition 1
    await logs.deleteRecords('t', 0, 2);
    await logs.deleteRecords('t', 1, 3);
    await crash(logs);
    // power loss: both segments lose the bytes that were never synced
    for (const p of [0, 1]) await truncate(join(dir, `t-${p}`, '00000000000000000000.log'), 0);
    const again = await openLogs(dir);
    try {
      const p0 = again.getLog('t', 0)!;
      assert.equal(p0.logStartOffset, 2);
      assert.deepEqual(await readAll(p0), [[2, 'c'], [3, 'd'], [4, 'e']]);
      const p1 = again.getLog('t', 1)!;
      assert.equal(p1.logStartOffset, 3);
      assert.equal(p1.logEndOffset, 3);
      assert.equal(appendValues(p1, ['f']).baseOffset, 3, 'an offset already given out is never reused');
    } finally {
      await again.close();
    }
  }));

/**
 * A journal round fails (its fdatasync, or its write, torn half way); its appends are refused and rolled back.
 * Either partition 0's next append reuses their offsets, or the broker dies at once, before writing anything
 * else (the journal still failing). After a power loss that takes the unsynced segment bytes, the replay must
 * bring back exactly what was acknowledged.
 */
async function refusedRoundIsCutOff(failOn: 'fdatasync' | 'writev', then: 'appendAgain' | 'crash'): Promise<void> {
  await withTempDir(async (dir) => {
    // segment files are never really synced; the journal's fdatasync or writev fails while `failing` is set
    let failing = false;
    const claimed = new Map<string, number>();
    const fs = unsyncedSegmentsFs(() => (failing ? failOn : null), claimed);
    const logs = await openLogs(dir, { fs, directSyncMax: 0 });
    await logs.createTopic('wide', 5);
    const partitions = [0, 1, 2, 3, 4].map((p) => logs.getLog('wide', p)!);
    await Promise.all(partitions.map((log, p) => appendValues(log, [`a${p}`]).durable));
    const sizeAfterA = partitions.map((log) => log.activeSegment.size);

    failing = true;
    const refused = partitions.map((log, p) => appendValues(log, [`refused${p}${'r'.repeat(100)}`]).durable);
    for (const r of refused) await assert.rejects(r, { code: ErrorCode.KAFKA_STORAGE_ERROR });
    const expected = partitions.map((_, p) => [[0, `a${p}`]]);
    if (then === 'appendAgain') {
      failing = false;
      // the refused appends are rolled back; their offsets go to the next append, of the same size as a refused
      // one, so that refused entries left behind it in the journal would line up and parse
      let b: Promise<void> | null = null;
      while (!b) {
        try {
          b = appendValues(partitions[0]!, [`b0-later${'r'.repeat(100)}`]).durable;
        } catch {
          await new Promise((r) => setImmediate(r));
        }
      }
      await b;
      for (const log of partitions.slice(1)) while (log.logEndOffset !== 1) await new Promise((r) => setImmediate(r));
      expected[0]!.push([1, `b0-later${'r'.repeat(100)}`]);
      assert.deepEqual(await readAll(partitions[0]!), expected[0]);
    }

    // power loss: the unsynced segment bytes after the first round are lost (a torn write that ran out of space
    // starts a checkpoint, which may have synced the segments since, and deleted the journal covering them)
    await crash(logs);
    for (let p = 0; p < 5; p++) {
      const path = join(dir, `wide-${p}`, '00000000000000000000.log');
      await truncate(path, Math.min((await stat(path)).size, Math.max(sizeAfterA[p]!, claimed.get(path) ?? 0)));
    }
    const again = await openLogs(dir);
    try {
      for (let p = 0; p < 5; p++) assert.deepEqual(await readAll(again.getLog('wide', p)!), expected[p], `partition ${p}`);
    } finally {
      await again.close();
    }
  });
}

test('a journal round whose sync fails is cut off the journal: a replay brings back what was acknowledged, never the refused appends', () =>
  refusedRoundIsCutOff('fdatasync', 'appendAgain'));

test('a journal round whose write is torn is cut off the journal: a replay brings back what was acknowledged, never the refused appends', () =>
  refusedRoundIsCutOff('writev', 'appendAgain'));

test('a journal round whose sync fails is cut from the file before its appends are refused: a crash right then replays none of them', () =>
  refusedRoundIsCutOff('fdatasync', 'crash'));

test('a journal round whose write is torn is cut from the file before its appends are refused: a crash right then replays none of them', () =>
  refusedRoundIsCutOff('writev', 'crash'));

test('checkpoints sync journaled segments and delete old journal files', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir, { journalCheckpointBytes: 4096 });
    await logs.createTopic('wide', 20);
    for (let round = 0; round < 30; round++) {
      await Promise.all(Array.from({ length: 20 }, (_, p) => appendValues(logs.getLog('wide', p)!, [`r${round}-${'y'.repeat(100)}`]).durable));
    }
    await new Promise((r) => setTimeout(r, 50));
    const files = await readdir(join(dir, 'journal'));
    assert.ok(files.length <= 2, `${files.length} journal files left`);
    await logs.close();
  }));

/**
 * Counts whole-filesystem syncs and segment-file fdatasyncs, and the most segment fdatasyncs running at once;
 * `syncfs` decides what the filesystem sync does, and `beforeSegmentSync` runs before each segment fdatasync (to
 * slow it down, or fail it by throwing).
 */
function syncCountingFs(syncfs: () => Promise<boolean>, beforeSegmentSync: () => Promise<void> = async () => undefined) {
  const counts = { syncfs: 0, segmentSyncs: 0, segmentSyncsAtOnce: 0 };
  let running = 0;
  const { open, pathOf } = pathRecordingOpen();
  const fs: FileSystem = {
    ...nodeFileSystem,
    open,
    fdatasync: async (fd) => {
      if (!pathOf(fd)?.endsWith('.log')) return nodeFileSystem.fdatasync(fd);
      counts.segmentSyncs++;
      counts.segmentSyncsAtOnce = Math.max(counts.segmentSyncsAtOnce, ++running);
      try {
        await beforeSegmentSync();
        await nodeFileSystem.fdatasync(fd);
      } finally {
        running--;
      }
    },
    syncFileSystem: async (path) => {
      counts.syncfs++;
      return (await syncfs()) && nodeFileSystem.syncFileSystem(path);
    },
  };
  return { fs, counts };
}

/** Bytes in the journal directory's files (a file listed may be deleted before its stat: it then holds nothing). */
async function journalBytes(dir: string): Promise<number> {
  const journalDir = join(dir, 'journal');
  return (await Promise.all((await readdir(journalDir)).map(async (f) => (await stat(join(journalDir, f)).catch(() => ({ size: 0 }))).size))).reduce((a, b) => a + b, 0);
}

async function appendRounds(logs: Awaited<ReturnType<typeof openLogs>>, partitions: number, rounds: number, from = 0): Promise<void> {
  for (let round = from; round < from + rounds; round++) {
    await Promise.all(Array.from({ length: partitions }, (_, p) => appendValues(logs.getLog('wide', p)!, [`r${round}-${'y'.repeat(100)}`]).durable));
  }
}

/** The journal checkpoint size of the tests that watch one checkpoint's syncs. */
const CHECKPOINT_BYTES = 28 * 1024;

/**
 * Journals each of the 40 partitions of 'wide' twice (about 24 KB), then takes the journal past CHECKPOINT_BYTES
 * with one append of 8 KiB alone: a checkpoint of all 40 segments starts, with nothing appended after it.
 */
async function fillToCheckpoint(logs: Awaited<ReturnType<typeof openLogs>>): Promise<void> {
  await appendRounds(logs, 40, 2);
  await appendValues(logs.getLog('wide', 0)!, ['x'.repeat(8 * 1024)]).durable;
}

for (const [how, makeDisk] of [['a write that fails', fullDisk], ['a short write', shortWritesDisk]] as const) {
  test(`an append refused for want of space (${how}) starts a checkpoint at once: the journal file and the spare go, their space with them, and appends go on once there is room`, () =>
    withTempDir(async (dir) => {
      const disk = makeDisk();
      // every round journals, and checkpoints come often
      let logs = await openLogs(dir, { fs: disk.fs, directSyncMax: 0, journalCheckpointBytes: 4096 });
      await logs.createTopic('t', 8);
      const before = Array.from({ length: 8 }, (_, r) => `before-${r}-${'y'.repeat(100)}`);
      for (const value of before) await Promise.all(Array.from({ length: 8 }, (_, p) => appendValues(logs.getLog('t', p)!, [value]).durable));
      await logs.groupCommit.checkpointDone();
      // a checkpointed file is kept for the next one to be written over
      assert.equal((await readdir(join(dir, 'journal'))).filter((f) => f.endsWith('.spare')).length, 1);
      await appendValues(logs.getLog('t', 0)!, ['journaled']).durable;
      disk.setFull(true);
      await assert.rejects(appendValues(logs.getLog('t', 0)!, ['refused']).durable, (err: KafkaError) => err.code === ErrorCode.KAFKA_STORAGE_ERROR);
      await waitUntil('the journal is checkpointed, its file deleted and the spare too', async () => (await journalBytes(dir)) === 0);
      disk.setFull(false);
      await appendValues(logs.getLog('t', 0)!, ['after']).durable;
      await crash(logs);
      logs = await openLogs(dir);
      try {
        assert.deepEqual(await readAll(logs.getLog('t', 0)!), [...before, 'journaled', 'after'].map((v, i) => [i, v]));
        for (let p = 1; p < 8; p++) assert.deepEqual(await readAll(logs.getLog('t', p)!), before.map((v, i) => [i, v]));
      } finally {
        await logs.close();
      }
    }));
}

test('on a disk with less room than a checkpoint\'s worth of journal, a journal file is checkpointed at a quarter of the room left', () =>
  withTempDir(async (dir) => {
    const MiB = 1024 * 1024;
    // 80 MiB left: checkpoints at 20 MiB of journal, where the default waits for a gigabyte (which this disk lacks)
    const fs: FileSystem = { ...nodeFileSystem, diskSpace: async () => ({ totalBytes: 1024 * MiB, usableBytes: 80 * MiB }) };
    const logs = await openLogs(dir, { fs, directSyncMax: 0 });
    await logs.createTopic('t', 8);
    const value = 'v'.repeat(32 * 1024); // appends of 64 KiB: the key repeats it
    const journalDir = join(dir, 'journal');
    let largest = 0;
    for (let round = 0; round < 80; round++) {
      await Promise.all(Array.from({ length: 8 }, (_, p) => appendValues(logs.getLog('t', p)!, [value]).durable));
      for (const f of await readdir(journalDir)) largest = Math.max(largest, (await stat(join(journalDir, f)).catch(() => ({ size: 0 }))).size);
    }
    // 40 MiB journaled in rounds of 512 KiB: a file is checkpointed, and the next one started, once it holds 20 MiB
    assert.ok(logs.groupCommit.journalRounds >= 80, `${logs.groupCommit.journalRounds} journal rounds`);
    assert.ok(largest < 21 * MiB, `a journal file held ${(largest / MiB).toFixed(1)} MiB`);
    await logs.groupCommit.checkpointDone();
    assert.ok((await journalBytes(dir)) < 21 * MiB, 'the checkpointed files are deleted');
    // and none is kept as a spare: the disk has no room for four of them
    assert.ok(!(await readdir(journalDir)).some((f) => f.endsWith('.spare')));
    await logs.close();
  }));

test('a checkpoint syncs its segments one by one, two at a time, while the journal has room: no filesystem sync', () =>
  withTempDir(async (dir) => {
    const { fs, counts } = syncCountingFs(async () => true);
    // every round goes through the journal, so segment files are synced only by checkpoints
    const logs = await openLogs(dir, { fs, journalCheckpointBytes: CHECKPOINT_BYTES, directSyncMax: 0 });
    await logs.createTopic('wide', 40);
    counts.syncfs = 0; // the new partitions' directories were made durable together
    await fillToCheckpoint(logs);
    await waitUntil('every segment the old journal file covered is synced', () => counts.segmentSyncs >= 40);
    await logs.groupCommit.checkpointDone();
    assert.equal(counts.syncfs, 0, 'no filesystem sync');
    assert.equal(counts.segmentSyncs, 40, 'each segment was synced once');
    assert.equal(counts.segmentSyncsAtOnce, 2);
    assert.ok((await readdir(join(dir, 'journal'))).length <= 1, 'the old journal file is deleted');
    await logs.close();
    const reopened = await openLogs(dir);
    assert.equal(reopened.journalReplayed, 0);
    assert.deepEqual((await readAll(reopened.getLog('wide', 0)!)).map(([o]) => o), [0, 1, 2]);
    assert.deepEqual((await readAll(reopened.getLog('wide', 39)!)).map(([o]) => o), [0, 1]);
    await reopened.close();
  }));

test('what a checkpoint has not synced one by one when the journal is due again goes in one filesystem sync, or one fdatasync per segment where that is unavailable', async () => {
  for (const supported of [true, false]) {
    await withTempDir(async (dir) => {
      let releaseSyncs!: () => void;
      const syncsHeld = new Promise<void>((r) => (releaseSyncs = r));
      let oneByOneBeforeSyncfs: number | null = null;
      // the segment syncs a checkpoint makes one by one wait until the next journal file has filled up
      const { fs, counts } = syncCountingFs(async () => {
        oneByOneBeforeSyncfs ??= counts.segmentSyncs;
        return supported;
      }, () => syncsHeld);
      const logs = await openLogs(dir, { fs, journalCheckpointBytes: CHECKPOINT_BYTES, directSyncMax: 0 });
      await logs.createTopic('wide', 40);
      Object.assign(counts, { syncfs: 0, segmentSyncs: 0 }); // the new partitions' files were made durable
      oneByOneBeforeSyncfs = null;
      await fillToCheckpoint(logs);
      await waitUntil('the checkpoint syncs its first segments', () => counts.segmentSyncs === 2);
      await appendRounds(logs, 40, 3, 2);
      releaseSyncs();
      await waitUntil('the rest of the checkpoint is synced together', () => oneByOneBeforeSyncfs !== null);
      assert.equal(oneByOneBeforeSyncfs, 2, 'no segment was synced one by one after the journal was due');
      if (!supported) await waitUntil('without a filesystem sync, each segment is synced on its own', () => counts.segmentSyncs >= 40);
      await logs.close();
      const reopened = await openLogs(dir);
      assert.equal(reopened.journalReplayed, 0);
      assert.deepEqual((await readAll(reopened.getLog('wide', 0)!)).map(([o]) => o), [0, 1, 2, 3, 4, 5]);
      assert.deepEqual((await readAll(reopened.getLog('wide', 39)!)).map(([o]) => o), [0, 1, 2, 3, 4]);
      await reopened.close();
    });
  }
});

test('a checkpoint that at the pace of its first syncs would end after the journal is due again syncs the rest at once', () =>
  withTempDir(async (dir) => {
    let releaseSyncs!: () => void;
    const syncsHeld = new Promise<void>((r) => (releaseSyncs = r));
    /** Segments synced when more than two first ran at once. */
    let togetherFrom: number | null = null;
    const { fs, counts } = syncCountingFs(
      async () => true,
      async () => {
        if (counts.segmentSyncsAtOnce > 2) togetherFrom ??= counts.segmentSyncs;
        await syncsHeld;
        await new Promise((r) => setTimeout(r, 20));
      },
    );
    const logs = await openLogs(dir, { fs, journalCheckpointBytes: CHECKPOINT_BYTES, directSyncMax: 0 });
    await logs.createTopic('wide', 40);
    Object.assign(counts, { syncfs: 0, segmentSyncs: 0, segmentSyncsAtOnce: 0 }); // the new partitions' files were made durable
    await fillToCheckpoint(logs);
    await waitUntil('the checkpoint syncs its first segments', () => counts.segmentSyncs === 2);
    // about 12 KB while the first syncs wait: at that rate the journal is due again well before 40 syncs at their pace
    await appendRounds(logs, 40, 1, 2);
    releaseSyncs();
    // what is left after 8 or more (32 segments at most) takes an fdatasync each, all at once
    await waitUntil('the rest of the checkpoint is synced together', () => togetherFrom !== null);
    assert.ok(togetherFrom! > 8 && togetherFrom! < 40, `the rest went together after ${togetherFrom! - 3} segments one by one`);
    await logs.close();
    const reopened = await openLogs(dir);
    assert.deepEqual((await readAll(reopened.getLog('wide', 39)!)).map(([o]) => o), [0, 1, 2]);
    await reopened.close();
  }));

test('a shutdown finishes the running checkpoint with one filesystem sync instead of waiting for its syncs one by one', () =>
  withTempDir(async (dir) => {
    let releaseSyncs!: () => void;
    const syncsHeld = new Promise<void>((r) => (releaseSyncs = r));
    // the segment syncs a checkpoint makes one by one wait until the shutdown has begun
    const { fs, counts } = syncCountingFs(async () => true, () => syncsHeld);
    const logs = await openLogs(dir, { fs, journalCheckpointBytes: CHECKPOINT_BYTES, directSyncMax: 0 });
    await logs.createTopic('wide', 40);
    Object.assign(counts, { syncfs: 0, segmentSyncs: 0 }); // the new partitions' files were made durable
    await fillToCheckpoint(logs);
    await waitUntil('the checkpoint syncs its first segments', () => counts.segmentSyncs === 2);
    const closed = logs.close();
    releaseSyncs();
    await closed;
    assert.equal(counts.segmentSyncs, 2, 'no more segments were synced one by one');
    // a clean shutdown of more than 32 partitions makes two of its own (see recovery.test.ts)
    assert.equal(counts.syncfs, 3, 'the rest of the checkpoint went in a filesystem sync of its own');
    const reopened = await openLogs(dir);
    assert.equal(reopened.cleanStart, true);
    assert.deepEqual((await readAll(reopened.getLog('wide', 39)!)).map(([o]) => o), [0, 1]);
    await reopened.close();
  }));

test('a checkpoint whose segment sync fails stops syncing the others one by one', () =>
  withTempDir(async (dir) => {
    let syncs = 0;
    const errors: string[] = [];
    // the first segment sync fails, the ones after it take a while
    const { fs, counts } = syncCountingFs(async () => true, async () => {
      if (++syncs === 1) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      await new Promise((r) => setTimeout(r, 5));
    });
    const logs = await openLogs(dir, { fs, journalCheckpointBytes: CHECKPOINT_BYTES, directSyncMax: 0, onError: (_err, what) => errors.push(what) });
    await logs.createTopic('wide', 40);
    counts.segmentSyncs = 0;
    await fillToCheckpoint(logs);
    await waitUntil('the checkpoint failed', () => errors.includes('journal checkpoint'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(counts.segmentSyncs, 2, 'the sync running beside the failed one was the last');
    await logs.close();
    const reopened = await openLogs(dir);
    assert.deepEqual((await readAll(reopened.getLog('wide', 39)!)).map(([o]) => o), [0, 1]);
    await reopened.close();
  }));

test('a failed checkpoint keeps its journal files until a later checkpoint succeeds', () =>
  withTempDir(async (dir) => {
    let failing = false;
    const errors: string[] = [];
    const eio = () => Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const { fs } = syncCountingFs(
      async () => {
        if (failing) throw eio();
        return true;
      },
      async () => {
        if (failing) throw eio();
      },
    );
    // every round goes through the journal: only checkpoints sync segment files
    const logs = await openLogs(dir, { fs, journalCheckpointBytes: 16 * 1024, directSyncMax: 0, onError: (_err, what) => errors.push(what) });
    await logs.createTopic('wide', 40);
    failing = true;
    await appendRounds(logs, 40, 10);
    await waitUntil('a checkpoint failed', async () => errors.includes('journal checkpoint'));
    const kept = (await readdir(join(dir, 'journal'))).length;
    assert.ok(kept >= 3, `${kept} journal files kept after failed checkpoints`);
    failing = false;
    await appendRounds(logs, 40, 10, 10);
    await waitUntil('the next good checkpoint deleted the old files', async () => (await readdir(join(dir, 'journal'))).length <= 2);
    await logs.close();
    const reopened = await openLogs(dir);
    assert.deepEqual((await readAll(reopened.getLog('wide', 7)!)).map(([, v]) => v.split('-')[0]), Array.from({ length: 20 }, (_, i) => `r${i}`));
    await reopened.close();
  }));

test('a background flush of many `none` partitions is one filesystem sync', () =>
  withTempDir(async (dir) => {
    const { fs, counts } = syncCountingFs(async () => true);
    const logs = await openLogs(dir, { fs, defaults: { flushPolicy: 'none', flushMs: 300 } });
    await logs.createTopic('wide', 40);
    await appendRounds(logs, 40, 1);
    const deadline = Date.now() + 5000;
    while (counts.syncfs === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(counts.syncfs >= 1, 'a filesystem sync ran');
    assert.ok(counts.segmentSyncs < 40, `${counts.segmentSyncs} segment fdatasyncs: not one per partition`);
    await logs.close();
  }));

test('a journal round past what its partition kept (the round before it never completed) is skipped, counted, not reported as a failure', () =>
  withTempDir(async (dir) => {
    const errors: string[] = [];
    // every round journaled, one append a round
    const logs = await openLogs(dir, { fs: unsyncedSegmentsFs(), directSyncMax: 0 });
    await logs.createTopic('t', 1);
    const log = logs.getLog('t', 0)!;
    for (const v of ['v0', 'v1', 'v2']) await appendValues(log, [v]).durable;
    const end = log.activeSegment.size;
    const v1Start = end - batchOf(['v1']).length - batchOf(['v2']).length;
    await crash(logs);
    // as a power loss leaves it when the round of v1 was still being synced and the round of v2 already written:
    // the segment lost v1 and v2, the journal keeps only the rounds of v0 and v2
    await truncate(join(dir, 't-0', '00000000000000000000.log'), v1Start);
    const [file] = await readdir(join(dir, 'journal'));
    const journal = await readFile(join(dir, 'journal', file!));
    const rounds: Buffer[] = [];
    for (let at = 0; at + 8 <= journal.length; at += 8 + journal.readInt32BE(at)) rounds.push(journal.subarray(at, at + 8 + journal.readInt32BE(at)));
    assert.equal(rounds.length, 3);
    await writeFile(join(dir, 'journal', file!), Buffer.concat([rounds[0]!, rounds[2]!]));
    const again = await openLogs(dir, { onError: (err, what) => errors.push(`${what}: ${(err as Error).message}`) });
    assert.deepEqual(await readAll(again.getLog('t', 0)!, 0), [[0, 'v0']]);
    assert.equal(again.journalSkipped, 1);
    assert.deepEqual(errors, []);
    // the offsets of the lost appends are given out again
    assert.equal(appendValues(again.getLog('t', 0)!, ['next']).baseOffset, 1);
    await again.close();
  }));

test('appends committed while a journal round that then fails was syncing are refused with it and never journaled: after a power loss they do not come back over the appends that took their offsets', () =>
  withPowerLossDisk(async (dir, disk) => {
    // while `held` is set, the next journal fdatasync waits until `release`, then fails
    let held = false;
    let entered = () => undefined as void;
    let release = () => undefined as void;
    const withHeldJournalSync = (base: FileSystem): FileSystem => {
      const paths = new Map<number, string>();
      return {
        ...base,
        open: async (path, flags) => {
          const fd = await base.open(path, flags);
          paths.set(fd, path);
          return fd;
        },
        fdatasync: async (fd) => {
          if (held && paths.get(fd)?.endsWith('.jnl')) {
            held = false;
            entered();
            await new Promise<void>((r) => (release = r));
            throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
          }
          return base.fdatasync(fd);
        },
      };
    };
    const open = () => openLogs(dir, { fs: withHeldJournalSync(disk.fsFor()), directSyncMax: 0 });
    let logs = await open();
    // one batch per segment: the second append rolls, so its segment goes with the rollback and comes back empty
    await logs.createTopic('t', 1, { 'segment.bytes': '100' });
    const log = logs.getLog('t', 0)!;
    held = true;
    const syncHeld = new Promise<void>((r) => (entered = r));
    const a = appendValues(log, ['a']);
    await syncHeld;
    const b = appendValues(log, ['b']);
    await b.written;
    assert.equal(b.baseOffset, 1);
    release();
    await assert.rejects(a.durable, { code: ErrorCode.KAFKA_STORAGE_ERROR });
    await assert.rejects(b.durable, { code: ErrorCode.KAFKA_STORAGE_ERROR });
    // their offsets go to the next appends, acknowledged through the journal alone
    const c = await untilAcknowledged(async () => {
      const r = appendValues(log, ['c']);
      await r.durable;
      return r;
    });
    const d = appendValues(log, ['d']);
    await d.durable;
    assert.deepEqual([c.baseOffset, d.baseOffset], [0, 1]);
    assert.equal(log.segments.length, 2);

    const dead = logs;
    await disk.powerLoss(() => 0);
    await dead.close().catch(() => undefined);
    logs = await open();
    assert.deepEqual(await readAll(logs.getLog('t', 0)!, 0), [[0, 'c'], [1, 'd']]);
    await logs.close();
  }));

test('a journal file is not rotated while a failed round is not yet cut off from it: the cut is retried first, and the rotation waits for it', () =>
  withTempDir(async (dir) => {
    let failingSyncs = 0;
    const fs: FileSystem = {
      ...nodeFileSystem,
      fdatasync: async (fd) => {
        if (failingSyncs > 0 && failingSyncs--) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
        return nodeFileSystem.fdatasync(fd);
      },
    };
    const { journal } = await Journal.open(fs, join(dir, 'journal'));
    const source = { topicId: '00'.repeat(16), partition: 0 };
    await journal.sync((await journal.write([{ source, buffers: [Buffer.from('kept')] }])).end);
    const refused = await journal.write([{ source, buffers: [Buffer.from('refused')] }]);
    failingSyncs = 2; // the round's sync, then its cut's
    await assert.rejects(journal.sync(refused.end));
    failingSyncs = 1; // the cut the rotation retries fails too: the file stays the current one
    await assert.rejects(journal.rotate());
    const old = await journal.rotate();
    assert.ok(old?.endsWith('00000000000000000000.jnl'));
    const leftover = await leftoverIn(join(dir, 'journal'));
    assert.deepEqual(leftover.map((e) => e.records.toString()), ['kept']);
  }));

test('an append made after a rollback is not refused when a round holding appends that rollback already refused fails later', () =>
  withTempDir(async (dir) => {
    const { open, pathOf } = pathRecordingOpen();
    const isJournal = (fd: number) => pathOf(fd)!.endsWith('.jnl');
    /** A gate the test opens: the operation waits at it. */
    const gate = () => {
      let open!: () => void;
      const opened = new Promise<void>((r) => (open = r));
      let reached!: () => void;
      const arrived = new Promise<void>((r) => (reached = r));
      return { open, arrived, pass: () => (reached(), opened) };
    };
    const writeGate = gate();
    const syncGate = gate();
    const cutGate = gate();
    let holdWrite = false;
    let failSync = false;
    let failCutSync = false;
    let journalCuts = 0;
    let journalWrites = 0;
    const fs: FileSystem = {
      ...nodeFileSystem,
      open,
      writev: async (fd, buffers, position) => {
        if (holdWrite && isJournal(fd)) {
          holdWrite = false;
          await writeGate.pass();
        }
        const written = await nodeFileSystem.writev(fd, buffers, position);
        if (isJournal(fd)) journalWrites++;
        return written;
      },
      fdatasync: async (fd) => {
        if (failSync && isJournal(fd)) {
          failSync = false;
          await syncGate.pass();
          failCutSync = true;
          throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
        }
        if (failCutSync && isJournal(fd)) {
          failCutSync = false;
          throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
        }
        return nodeFileSystem.fdatasync(fd);
      },
      ftruncate: async (fd, length) => {
        if (isJournal(fd) && ++journalCuts === 2) await cutGate.pass();
        return nodeFileSystem.ftruncate(fd, length);
      },
    };
    const logs = await openLogs(dir, { fs, directSyncMax: 0 });
    await logs.createTopic('t', 1);
    const log = logs.getLog('t', 0)!;
    await appendValues(log, ['a']).durable;
    // b's round: its journal write waits until c is committed, so c forms the next round, chained to b's
    holdWrite = true;
    failSync = true;
    const b = appendValues(log, ['b']);
    await writeGate.arrived;
    const c = appendValues(log, ['c']);
    await c.written;
    const before = journalWrites;
    writeGate.open();
    // once c's round is written too, b's sync fails, and so does the sync of the cut after it: the rollback
    // refuses b and c, while c's round, cut off behind b's, retries the cut, which is held
    await waitUntil('the rounds of b and c are written', () => journalWrites === before + 2);
    await syncGate.arrived;
    syncGate.open();
    await assert.rejects(b.durable, { code: ErrorCode.KAFKA_STORAGE_ERROR });
    await assert.rejects(c.durable, { code: ErrorCode.KAFKA_STORAGE_ERROR });
    await cutGate.arrived;
    const d = appendValues(log, ['d']);
    assert.equal(d.baseOffset, 1);
    await d.written;
    // c's round fails now: c was refused already, and d, committed after the rollback, is not refused with it
    cutGate.open();
    await d.durable;
    assert.deepEqual(await readAll(log, 0), [[0, 'a'], [1, 'd']]);
    await crash(logs);
    const again = await openLogs(dir);
    assert.deepEqual(await readAll(again.getLog('t', 0)!, 0), [[0, 'a'], [1, 'd']]);
    await again.close();
  }));

test('cutting off a round the cut of an earlier failed one took already leaves the journal as that cut did: no zeros past its end', () =>
  withTempDir(async (dir) => {
    let failSync = false;
    const fs: FileSystem = {
      ...nodeFileSystem,
      fdatasync: async (fd) => {
        if (failSync) {
          failSync = false;
          throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
        }
        return nodeFileSystem.fdatasync(fd);
      },
    };
    const { journal } = await Journal.open(fs, join(dir, 'journal'));
    const source = { topicId: '00'.repeat(16), partition: 0 };
    const write = (value: string) => journal.write([{ source, buffers: [Buffer.from(value)] }]);
    const kept = await write('kept');
    await journal.sync(kept.end);
    const refused = await write('refused');
    const behind = await write('written behind it');
    failSync = true;
    await assert.rejects(journal.sync(refused.end));
    // what the group commit does for the round written behind a failed one
    await journal.discardFrom(behind.start);
    const [file] = await readdir(join(dir, 'journal'));
    assert.equal((await readFile(join(dir, 'journal', file!))).length, kept.end);
    await journal.sync((await write('next')).end);
    const leftover = await leftoverIn(join(dir, 'journal'));
    assert.deepEqual(leftover.map((e) => e.records.toString()), ['kept', 'next']);
  }));
