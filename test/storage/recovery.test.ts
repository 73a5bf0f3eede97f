// Recovery: torn and corrupt tails are cut at the last whole valid batch; nothing valid is lost.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { test } from 'node:test';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { ErrorCode, KafkaError } from '../../src/protocol/errors.js';
import { Batch, batchSizeAt, readInt64, validateBatches } from '../../src/protocol/record-batch.js';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import { segmentFileName } from '../../src/storage/segment.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { appendValues, countingDescriptors, crash, heldSyncs, keyedContents, openLogs, readAll } from './helpers.js';
import { withPowerLossDisk } from './power-loss-disk.js';

async function buildLog(dir: string): Promise<{ segment: string; lastBatchStart: number; size: number }> {
  const logs = await openLogs(dir);
  await logs.createTopic('t', 1);
  const log = logs.getLog('t', 0)!;
  appendValues(log, ['a', 'b']);
  appendValues(log, ['c']);
  const before = log.activeSegment.size;
  await appendValues(log, ['d', 'e', 'f']).durable;
  const size = log.activeSegment.size;
  // leave no clean-shutdown marker and no index files: simulate a crash right after the last append
  await crash(logs);
  return { segment: join(dir, 't-0', segmentFileName(0, '.log')), lastBatchStart: before, size };
}

test('a tail torn at every byte inside the last batch is cut back to the batches before it', () =>
  withTempDir(async (dir) => {
    const { segment, lastBatchStart, size } = await buildLog(dir);
    const pristine = await readFile(segment);
    for (let cut = lastBatchStart; cut < size; cut++) {
      await writeFile(segment, pristine.subarray(0, cut));
      const logs = await openLogs(dir);
      const log = logs.getLog('t', 0)!;
      assert.equal(log.logEndOffset, 3, `cut at ${cut}`);
      assert.deepEqual(await readAll(log, 0), [[0, 'a'], [1, 'b'], [2, 'c']], `cut at ${cut}`);
      assert.equal((await stat(segment)).size, lastBatchStart, `file truncated at ${cut}`);
      // appends continue at the right offset after recovery
      await appendValues(log, ['g']).durable;
      assert.deepEqual((await readAll(log, 3)), [[3, 'g']]);
      await crash(logs);
    }
    await writeFile(segment, pristine);
    const logs = await openLogs(dir);
    assert.deepEqual((await readAll(logs.getLog('t', 0)!, 0)).map(([, v]) => v), ['a', 'b', 'c', 'd', 'e', 'f']);
    await logs.close();
  }));

test('a flipped byte anywhere in the last batch drops that batch only; in an earlier batch, it and what follows', () =>
  withTempDir(async (dir) => {
    const { segment, lastBatchStart, size } = await buildLog(dir);
    const pristine = await readFile(segment);
    for (let at = lastBatchStart + 8; at < size; at += 3) {
      const broken = Buffer.from(pristine);
      broken[at] = broken[at]! ^ 0x5a;
      await writeFile(segment, broken);
      const logs = await openLogs(dir);
      const log = logs.getLog('t', 0)!;
      // bytes 12..16 (leader epoch) are outside the CRC: a flip there keeps the batch valid
      const kept = at >= lastBatchStart + 12 && at < lastBatchStart + 16 ? 6 : 3;
      assert.equal(log.logEndOffset, kept, `flip at ${at}`);
      await crash(logs);
    }
    const broken = Buffer.from(pristine);
    broken[30] = broken[30]! ^ 0xff; // inside the first batch's CRC range
    await writeFile(segment, broken);
    const logs = await openLogs(dir);
    assert.equal(logs.getLog('t', 0)!.logEndOffset, 0);
    await crash(logs);
  }));

test('a clean shutdown is recognised and indexes are reused; garbage after the last batch is cut', () =>
  withTempDir(async (dir) => {
    let logs = await openLogs(dir);
    await logs.createTopic('t', 1, { 'segment.bytes': '200' });
    const log = logs.getLog('t', 0)!;
    for (let i = 0; i < 20; i++) await appendValues(log, [`v${i}`]).durable;
    const segments = log.segments.length;
    assert.ok(segments > 3);
    await logs.close();
    logs = await openLogs(dir);
    assert.equal(logs.cleanStart, true);
    assert.equal(logs.getLog('t', 0)!.segments.length, segments);
    assert.deepEqual((await readAll(logs.getLog('t', 0)!, 0)).map(([o]) => o), Array.from({ length: 20 }, (_, i) => i));
    await logs.close();
    // garbage appended to the active segment after a clean close is still cut (the tail is always scanned)
    const active = join(dir, 't-0', segmentFileName(logs.getLog('t', 0)!.activeSegment.baseOffset, '.log'));
    await writeFile(active, Buffer.concat([await readFile(active), Buffer.from('garbage!garbage!')]));
    logs = await openLogs(dir);
    assert.equal(logs.getLog('t', 0)!.logEndOffset, 20);
    assert.equal(logs.recoveredTruncatedBytes, 16);
    await logs.close();
  }));

test('a close that fails part-way (the disk gone) still closes every descriptor and lets go of the data dir lock, keeps the journal, and the next start recovers all', () =>
  withTempDir(async (dir) => {
    const { fs: counting, descriptors } = countingDescriptors(nodeFileSystem);
    let broken = false;
    const eio = () => Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    const fs: FileSystem = {
      ...counting,
      writev: (fd, buffers, position) => (broken ? Promise.reject(eio()) : nodeFileSystem.writev(fd, buffers, position)),
      fdatasync: (fd) => (broken ? Promise.reject(eio()) : nodeFileSystem.fdatasync(fd)),
      writeFileAtomic: (path, data, durable) => (broken ? Promise.reject(eio()) : nodeFileSystem.writeFileAtomic(path, data, durable)),
    };
    // every round journaled: the journal is then the only synced copy of the acknowledged appends
    const logs = await openLogs(dir, { fs, directSyncMax: 0 });
    // `none` partitions hold unsynced bytes, so their close fails at its sync while the others' closes go on
    await logs.createTopic('synced', 2);
    await logs.createTopic('unsynced', 2, { 'flush.policy': 'none' });
    for (const topic of ['synced', 'unsynced']) {
      for (let p = 0; p < 2; p++) await appendValues(logs.getLog(topic, p)!, [`${topic}-${p}-a`, `${topic}-${p}-b`]).durable;
    }
    assert.ok(descriptors.size >= 5, 'segments and the catalogue are open');
    broken = true;
    await assert.rejects(logs.close(), /EIO/);
    assert.deepEqual([...descriptors], [], 'no descriptor left open');
    assert.equal(await stat(join(dir, '.lock')).then(() => true, () => false), false, 'the lock is let go');
    // the segments were never synced, so the journal stays for the next start to replay
    const journal = await readdir(join(dir, 'journal'));
    assert.equal(journal.length, 1);
    assert.ok((await stat(join(dir, 'journal', journal[0]!))).size > 0);
    const again = await openLogs(dir);
    assert.equal(again.cleanStart, false);
    for (const topic of ['synced', 'unsynced']) {
      for (let p = 0; p < 2; p++) assert.deepEqual(await readAll(again.getLog(topic, p)!, 0), [[0, `${topic}-${p}-a`], [1, `${topic}-${p}-b`]]);
    }
    await again.close();
  }));

test('a start that fails part-way closes the files it opened and lets go of the data dir lock', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    await logs.createTopic('t', 4);
    for (let p = 0; p < 4; p++) await appendValues(logs.getLog('t', p)!, [`v${p}`]).durable;
    await crash(logs);
    const { fs: counting, descriptors } = countingDescriptors(nodeFileSystem);
    const fs: FileSystem = {
      ...counting,
      open: (path, flags) =>
        path.includes(`${sep}t-3${sep}`) ? Promise.reject(Object.assign(new Error(`EIO: i/o error, open '${path}'`), { code: 'EIO' })) : counting.open(path, flags),
    };
    await assert.rejects(openLogs(dir, { fs }), /EIO/);
    assert.deepEqual([...descriptors], [], 'no descriptor left open');
    assert.equal(await stat(join(dir, '.lock')).then(() => true, () => false), false, 'the lock is let go');
    const again = await openLogs(dir);
    for (let p = 0; p < 4; p++) assert.deepEqual(await readAll(again.getLog('t', p)!, 0), [[0, `v${p}`]]);
    await again.close();
  }));

test('a clean shutdown of many partitions syncs the filesystem once instead of each file, and records their active segments in one file', () =>
  withTempDir(async (dir) => {
    const calls = { syncfs: 0, fileSyncs: 0, deferredWrites: 0 };
    const fs: FileSystem = {
      ...nodeFileSystem,
      fdatasync: (fd) => (calls.fileSyncs++, nodeFileSystem.fdatasync(fd)),
      writeFileAtomic: (path, data, durable = true) => {
        if (!durable) calls.deferredWrites++;
        return nodeFileSystem.writeFileAtomic(path, data, durable);
      },
      syncFileSystem: (path) => (calls.syncfs++, nodeFileSystem.syncFileSystem(path)),
    };
    let logs = await openLogs(dir, { fs });
    await logs.createTopic('wide', 40);
    // active segments too large to be scanned again at the next start instead (RESCAN_MAX_BYTES)
    const pad = 'x'.repeat(40 * 1024);
    await Promise.all(Array.from({ length: 40 }, (_, p) => appendValues(logs.getLog('wide', p)!, [`a${p}${pad}`, `b${p}${pad}`]).durable));
    Object.assign(calls, { syncfs: 0, fileSyncs: 0, deferredWrites: 0 });
    await logs.close();
    assert.equal(calls.syncfs, 2, 'one sync before closing the partitions, one after their files are written');
    assert.equal(calls.fileSyncs, 0, 'no segment, index or snapshot file was synced on its own');
    assert.equal(calls.deferredWrites, 1, 'one file for every active segment, left to the filesystem sync');

    logs = await openLogs(dir, { fs });
    assert.equal(logs.cleanStart, true);
    assert.deepEqual(await readAll(logs.getLog('wide', 39)!), [[0, `a39${pad}`], [1, `b39${pad}`]]);
    await appendValues(logs.getLog('wide', 5)!, ['c5']).durable;
    calls.deferredWrites = 0;
    await logs.close();
    assert.equal(calls.deferredWrites, 1, 'the one file again, with the unchanged partitions too');

    logs = await openLogs(dir);
    assert.equal(logs.cleanStart, true);
    assert.deepEqual(await readAll(logs.getLog('wide', 5)!), [[0, `a5${pad}`], [1, `b5${pad}`], [2, 'c5']]);
    await logs.close();
  }));

test('creating, closing and cleanly reopening a partition takes a fixed set of file operations, and none of its own for its active segment\'s indexes', () =>
  withTempDir(async (dir) => {
    /** File operations per phase for a topic of `partitions`, each with an idempotent producer's batch of `bytes`. */
    const phases = async (partitions: number, bytes: number) => {
      const counts = new Map<string, number>();
      const fs = Object.fromEntries(
        Object.entries(nodeFileSystem).map(([name, op]) => [name, (...args: unknown[]) => (counts.set(name, (counts.get(name) ?? 0) + 1), (op as (...a: unknown[]) => unknown)(...args))]),
      ) as unknown as FileSystem;
      const taken = () => {
        const out = Object.fromEntries(counts);
        counts.clear();
        return out;
      };
      const data = join(dir, `${partitions}-${bytes}`);
      let logs = await openLogs(data, { fs });
      taken();
      await logs.createTopic('t', partitions);
      const create = taken();
      await Promise.all(Array.from({ length: partitions }, (_, p) => {
        const batch = buildRecordBatch([{ value: Buffer.alloc(bytes, p) }], { producerId: 9, producerEpoch: 0, baseSequence: 0 });
        return logs.getLog('t', p)!.append(batch, validateBatches(batch, 1 << 20)).durable;
      }));
      taken();
      await logs.close();
      const close = taken();
      logs = await openLogs(data, { fs });
      const open = taken();
      const last = logs.getLog('t', partitions - 1)!;
      assert.equal(logs.cleanStart, true);
      assert.deepEqual([last.logEndOffset, last.producers.size], [1, 1], 'log end and producer state as they were');
      // the idempotent producer's batch is still recognised: a retry is answered with its offset
      const retry = buildRecordBatch([{ value: Buffer.alloc(bytes, partitions - 1) }], { producerId: 9, producerEpoch: 0, baseSequence: 0 });
      assert.equal(last.append(retry, validateBatches(retry, 1 << 20)).baseOffset, 0);
      await logs.close();
      return { create, close, open };
    };
    /** What 80 partitions cost beyond 40, per partition: the manager's own operations cancel out. */
    const perPartition = async (bytes: number) => {
      const [few, many] = [await phases(40, bytes), await phases(80, bytes)];
      const cost = (phase: 'create' | 'close' | 'open') =>
        Object.fromEntries(Object.keys({ ...few[phase], ...many[phase] }).map((op) => [op, ((many[phase][op] ?? 0) - (few[phase][op] ?? 0)) / 40]).filter(([, n]) => n !== 0));
      return { create: cost('create'), close: cost('close'), open: cost('open') };
    };
    const small = await perPartition(100);
    // create: make the directory (nothing to list in a directory just made), create the segment file
    assert.deepEqual(small.create, { mkdir: 1, open: 1 });
    const large = await perPartition(80 * 1024);
    for (const phases of [small, large]) {
      // close: no file of its own, small or large (its indexes and producer state go into the shutdown's one file)
      assert.deepEqual(phases.close, { close: 1 });
      // start: one listing, the segment read whole (small) or from its last indexed batch on (large); no snapshot
      assert.deepEqual(phases.open, { readdir: 1, open: 1, fstatSize: 1, read: 1 });
    }
  }));

test('a read where a closed segment holds no batch its index promises fails with KAFKA_STORAGE_ERROR instead of spinning, and others go on', { timeout: 30_000 }, () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    await logs.createTopic('t', 1, { 'segment.bytes': '4096', 'index.interval.bytes': '256' });
    const log = logs.getLog('t', 0)!;
    for (let i = 0; i < 60; i++) await appendValues(log, [`value-${i}`.padEnd(100, '.')]).durable;
    assert.ok(log.segments.length >= 2);
    const first = log.segments[0]!;
    const lastOffset = first.nextOffset - 1;
    // bytes no start notices (a closed segment trusts its index files, checking only its last entry): garbage
    // over the third indexed batch
    const [position, nextPosition] = [first.offsetIndex.positions[2]!, first.offsetIndex.positions[3]!];
    const damagedOffset = first.baseOffset + first.offsetIndex.relOffsets[2]!;
    await logs.close();
    const damaged = await readFile(join(dir, 't-0', segmentFileName(0, '.log')));
    damaged.fill(0xff, position, nextPosition);
    await writeFile(join(dir, 't-0', segmentFileName(0, '.log')), damaged);
    const again = await openLogs(dir);
    const log2 = again.getLog('t', 0)!;
    await assert.rejects(log2.read(damagedOffset, 1 << 20), (err: KafkaError) => err.code === ErrorCode.KAFKA_STORAGE_ERROR && /no whole batch at position/.test(err.message));
    // what comes before the damage and after it, and the next segments, are read as ever
    assert.equal(log2.segments[0]!.nextOffset, lastOffset + 1, 'the segment was not cut');
    for (const offset of [0, 1, damagedOffset + 1, lastOffset]) {
      const [batch] = decodeRecordBatches((await log2.read(offset, 1)).records);
      assert.equal(batch!.records[0]!.value!.toString().replace(/\.+$/, ''), `value-${offset}`);
    }
    assert.equal((await readAll(log2, lastOffset + 1))[0]![0], lastOffset + 1);
    await again.close();
  }));

/**
 * A partition of idempotent batches (producer 7, one record each) over several small segments, left as a power
 * loss leaves it when the first segment's roll had not synced it yet: no index file or producer snapshot anywhere
 * (those are written only after a roll's sync), and the first segment's last batch gone. Returns the offset lost.
 */
async function loseFirstSegmentTail(dir: string, withIndexFiles = false): Promise<{ lost: number; end: number; segments: number }> {
  const logs = await openLogs(dir);
  await logs.createTopic('t', 1, { 'segment.bytes': '300' });
  const log = logs.getLog('t', 0)!;
  for (let i = 0; i < 12; i++) {
    const batch = buildRecordBatch([{ value: `v${i}`.padEnd(30, '.') }], { producerId: 7, producerEpoch: 0, baseSequence: i });
    await log.append(batch, validateBatches(batch, 1 << 20)).durable;
  }
  const [end, segments, lost] = [log.logEndOffset, log.segments.length, log.segments[1]!.baseOffset - 1];
  await crash(logs);
  assert.ok(segments >= 3, `${segments} segments`);
  const partitionDir = join(dir, 't-0');
  for (const name of await readdir(partitionDir)) if (!name.endsWith('.log') && !withIndexFiles) await unlink(join(partitionDir, name));
  const firstFile = join(partitionDir, segmentFileName(0, '.log'));
  const bytes = await readFile(firstFile);
  let lastBatchStart = 0;
  while (lastBatchStart + batchSizeAt(bytes, lastBatchStart) < bytes.length) lastBatchStart += batchSizeAt(bytes, lastBatchStart);
  assert.equal(readInt64(bytes, lastBatchStart + Batch.BASE_OFFSET), lost, 'one record per batch');
  await truncate(firstFile, lastBatchStart);
  return { lost, end, segments };
}

test('a power loss that takes a closed segment\'s unsynced tail while later segments survive cuts the log there, and the producer\'s resend lands in order', () =>
  withTempDir(async (dir) => {
    const { lost, segments } = await loseFirstSegmentTail(dir);
    const logs = await openLogs(dir);
    const log = logs.getLog('t', 0)!;
    // what survives is a prefix of what was appended: no hole at the lost offset, nothing after it
    assert.equal(log.logEndOffset, lost);
    assert.deepEqual((await readAll(log, 0)).map(([o, v]) => [o, v.replace(/\.+$/, '')]), Array.from({ length: lost }, (_, i) => [i, `v${i}`]));
    assert.equal(log.segments.length, 1);
    assert.deepEqual((await readdir(join(dir, 't-0'))).filter((n) => n.endsWith('.log')), [segmentFileName(0, '.log')], `${segments - 1} segment files removed`);
    assert.deepEqual(logs.recoveredCuts.map(({ topic, partition, offset }) => [topic, partition, offset]), [['t', 0, lost]]);
    assert.ok(logs.recoveredCuts[0]!.bytes > 0);
    // the producer got no answer for the lost batch and those after it, and sends them again with their sequences
    for (let i = lost; i < lost + 3; i++) {
      const batch = buildRecordBatch([{ value: `v${i}` }], { producerId: 7, producerEpoch: 0, baseSequence: i });
      const result = log.append(batch, validateBatches(batch, 1 << 20));
      assert.equal(result.baseOffset, i);
      await result.durable;
    }
    await crash(logs);
    // the cut is on disk: the next start finds the same log
    const again = await openLogs(dir);
    assert.deepEqual((await readAll(again.getLog('t', 0)!, 0)).map(([o]) => o), Array.from({ length: lost + 3 }, (_, i) => i));
    assert.deepEqual(again.recoveredCuts, []);
    await again.close();
  }));

test('a closed segment with its index files that ends before the next one begins (as compaction leaves one) keeps the segments after it', () =>
  withTempDir(async (dir) => {
    const { lost, end, segments } = await loseFirstSegmentTail(dir, true);
    const logs = await openLogs(dir);
    const log = logs.getLog('t', 0)!;
    assert.equal(log.logEndOffset, end);
    assert.equal(log.segments.length, segments);
    assert.equal(log.segments[0]!.nextOffset, lost, 'its damaged end was cut');
    const offsets = (await readAll(log, 0)).map(([o]) => o);
    assert.deepEqual(offsets, Array.from({ length: end }, (_, i) => i).filter((o) => o !== lost));
    assert.deepEqual(logs.recoveredCuts, []);
    await logs.close();
  }));

test('a start\'s removal of the clean-shutdown marker outlives a power loss: a compaction after the start is not undone by the old shutdown\'s record of the segments', () =>
  withPowerLossDisk(async (dir, disk) => {
    let logs = await openLogs(dir, { fs: disk.fsFor() });
    await logs.createTopic('c', 1, { 'cleanup.policy': 'compact', 'segment.bytes': '250', 'min.cleanable.dirty.ratio': '0' });
    let log = logs.getLog('c', 0)!;
    // a record a batch, 71 bytes: three to a segment
    const append = async (keys: string) => {
      for (const key of keys) {
        const batch = buildRecordBatch([{ key, value: `${key}${log.logEndOffset}` }]);
        await log.append(batch, validateBatches(batch, 1 << 20)).durable;
      }
    };
    const contents = async () => [...(await keyedContents(log)).values()].map((r) => r.value).join(' ');
    // segments [a0 b1 c2] [a3 d4 e5] [a6 b7 f8] [g9], compacted to [c2] [d4 e5] [a6 b7 f8] [g9]
    await append('abcadeabfg');
    await logs.runRetention();
    assert.equal(await contents(), 'c2 d4 e5 a6 b7 f8 g9');
    await logs.close();

    logs = await openLogs(dir, { fs: disk.fsFor() });
    assert.equal(logs.cleanStart, true);
    log = logs.getLog('c', 0)!;
    await append('ehi');
    // e5 superseded: the first two segments are rewritten as one, [c2 d4], which takes the first one's name; the
    // second one's file is deleted, and the partition's directory synced, nothing else
    await logs.runRetention();
    assert.equal(await contents(), 'c2 d4 a6 b7 f8 g9 e10 h11 i12');
    assert.deepEqual(log.segments.map((g) => g.baseOffset), [0, 6, 9, 12]);

    const dead = logs;
    await disk.powerLoss(() => 0);
    await dead.close().catch(() => undefined);
    logs = await openLogs(dir, { fs: disk.fsFor() });
    // before, the marker and its record of the segments came back, and the start took the first segment at the
    // size it had then, which holds c2 alone: d4 was lost
    assert.equal(logs.cleanStart, false);
    log = logs.getLog('c', 0)!;
    assert.equal(await contents(), 'c2 d4 a6 b7 f8 g9 e10 h11 i12');
    await logs.close();
  }));

test('a power loss while a roll still syncs the old segment, after the new one took appends, is cut at the old one\'s lost tail', () =>
  withPowerLossDisk(async (dir, disk) => {
    let logs = await openLogs(dir, { fs: disk.fsFor() });
    await logs.createTopic('t', 1, { 'segment.bytes': '300' });
    let log = logs.getLog('t', 0)!;
    const send = (i: number) => {
      const batch = buildRecordBatch([{ value: `v${i}` }], { producerId: 7, producerEpoch: 0, baseSequence: i });
      return log.append(batch, validateBatches(batch, 1 << 20));
    };
    await send(0).durable;
    await send(1).durable;
    // from here the disk takes its time over every fdatasync: the roll's sync of the first segment is still running
    // when the appends to the second one have been written (acks=1) and its name synced
    disk.slowSyncs(1000);
    const sent = [send(0 + 2)];
    while (log.segments.length < 2) sent.push(send(sent.length + 2));
    sent.push(send(sent.length + 2));
    await Promise.all(sent.map((s) => s.written));
    const first = join(dir, 't-0', segmentFileName(0, '.log'));
    const second = log.segments[1]!.logPath;
    assert.ok(sent.filter((s) => s.baseOffset < log.segments[1]!.baseOffset).length >= 1, 'appends written to the first segment, unsynced');
    // the power goes: the first segment keeps only what was synced, the second all it was given
    const dead = logs;
    await disk.powerLoss((_i, path) => (path === first ? 0 : path === second ? 1 : 0.5));
    disk.slowSyncs(0);
    await dead.close().catch(() => undefined);

    logs = await openLogs(dir, { fs: disk.fsFor() });
    log = logs.getLog('t', 0)!;
    // no hole where the first segment's tail was: only what was synced before the power went
    assert.deepEqual((await readAll(log, 0)).map(([o, v]) => `${o}:${v}`), ['0:v0', '1:v1']);
    assert.equal(log.logEndOffset, 2);
    assert.deepEqual(logs.recoveredCuts.map(({ offset }) => offset), [2]);
    assert.ok(logs.recoveredCuts[0]!.bytes > 0, 'the second segment\'s surviving bytes were removed');
    // the producer sends again what it got no durable answer for: in order, at the offsets after the last kept one
    for (let i = 2; i < sent.length + 2; i++) {
      const result = send(i);
      assert.equal(result.baseOffset, i);
      await result.durable;
    }
    assert.deepEqual((await readAll(log, 0)).map(([o]) => o), Array.from({ length: sent.length + 2 }, (_, i) => i));
    await logs.close();
  }));

for (const syncfs of [true, false]) {
  test(`after a process crash, what the start finds is made durable (${syncfs ? 'many partitions: one syncfs' : 'file by file'}) before the journal that covered it is deleted: a power loss then keeps the acknowledged appends`, () =>
    withPowerLossDisk(async (dir, disk) => {
      // every round journaled: an acknowledged append is in its segment file unsynced, and synced in the journal
      const open = () => openLogs(dir, { fs: disk.fsFor(), directSyncMax: 0 });
      let logs = await open();
      await logs.createTopic('t', syncfs ? 40 : 1);
      await appendValues(logs.getLog('t', 0)!, ['a']).durable;
      let dead = logs;
      await disk.crash();
      await dead.close().catch(() => undefined);
      logs = await open();
      assert.equal(logs.journalReplayed, 0, 'the page cache kept the segment\'s bytes: nothing to write back');
      // a round in a new journal file, whose creation syncs the journal directory: the old file's removal is durable
      await appendValues(logs.getLog('t', 0)!, ['b']).durable;
      dead = logs;
      await disk.powerLoss(() => 0);
      await dead.close().catch(() => undefined);
      logs = await open();
      assert.deepEqual(await readAll(logs.getLog('t', 0)!, 0), [[0, 'a'], [1, 'b']]);
      await logs.close();
    }, { syncfs }));
}

/**
 * Crashes with `segments` closed segments in each partition of topic `t` left without index files (their seals held
 * at their syncs); returns what partition 0 was given.
 */
async function crashWithUnsealedSegments(dir: string, segments: number, partitions = 1): Promise<string[]> {
  const syncs = heldSyncs();
  const logs = await openLogs(dir, { fs: syncs.fs });
  await logs.createTopic('t', partitions, { 'segment.bytes': '300' });
  syncs.held = true;
  const written: string[] = [];
  for (let p = partitions - 1; p >= 0; p--) {
    const log = logs.getLog('t', p)!;
    for (let i = 0; log.segments.length < segments + 1; i++) {
      written[i] = `v${i}`;
      await appendValues(log, [written[i]!]).written;
    }
  }
  const crashed = crash(logs);
  syncs.held = false;
  await crashed;
  return written;
}

test('a closed segment whose seal a crash cut short gets its index files at the next start, which later starts then trust', () =>
  withTempDir(async (dir) => {
    const written = await crashWithUnsealedSegments(dir, 1);
    const index = join(dir, 't-0', segmentFileName(0, '.index'));
    const timeIndex = join(dir, 't-0', segmentFileName(0, '.timeindex'));
    assert.equal(existsSync(index), false, 'the seal never wrote the index files');

    let logs = await openLogs(dir);
    let log = logs.getLog('t', 0)!;
    await logs.recoveryFinished;
    assert.ok(existsSync(index) && existsSync(timeIndex), 'index files written after the start');
    assert.equal(log.segments[0]!.indexFilesCurrent, true);
    await crash(logs);

    logs = await openLogs(dir);
    log = logs.getLog('t', 0)!;
    assert.equal(log.segments[0]!.sealed, true, 'found sealed: its index files are trusted, not rebuilt by a scan');
    assert.deepEqual((await readAll(log, 0)).map(([, v]) => v), written);
    await logs.close();
  }));

/**
 * Index file writes held while `held` is set; `asked` settles at the first one asked for, and `indexed` lists the
 * segments (`.log` paths) whose index files were written.
 */
function heldIndexWrites(): { fs: FileSystem; held: boolean; asked: Promise<void>; indexed: Set<string> } {
  let asked!: () => void;
  const control = {
    held: true,
    asked: new Promise<void>((r) => (asked = r)),
    indexed: new Set<string>(),
    fs: {
      ...nodeFileSystem,
      writeFileAtomic: async (path: string, data: Buffer | string, durable?: boolean) => {
        if (!path.endsWith('.index') && !path.endsWith('.timeindex')) return nodeFileSystem.writeFileAtomic(path, data, durable);
        asked();
        while (control.held) await new Promise<void>((r) => setTimeout(r, 5));
        await nodeFileSystem.writeFileAtomic(path, data, durable);
        if (path.endsWith('.index')) control.indexed.add(path.replace(/\.index$/, '.log'));
      },
    } as FileSystem,
  };
  return control;
}

test('a start does not wait for the index files of segments a crash left unsealed: appends and reads go on meanwhile; a shutdown stops the sealing, and the next start finishes it', () =>
  withTempDir(async (dir) => {
    const written = await crashWithUnsealedSegments(dir, 6);
    const writes = heldIndexWrites();
    let logs = await openLogs(dir, { fs: writes.fs });
    let log = logs.getLog('t', 0)!;
    const closed = log.segments.slice(0, -1);
    assert.equal(closed.length, 6);
    await writes.asked;
    assert.ok(closed.every((s) => !s.sealed && !existsSync(s.indexPath)), 'none sealed yet: the first seal is held');
    await appendValues(log, ['more']).durable;
    assert.deepEqual((await readAll(log, 0)).map(([, v]) => v), [...written, 'more']);

    // the shutdown waits for the seal being written, not for the five after it
    const closing = logs.close();
    writes.held = false;
    await closing;
    assert.deepEqual(await logs.recoveryFinished, { sealed: 1, unsealed: 5 });
    assert.deepEqual([...writes.indexed], [closed[0]!.logPath]);
    assert.deepEqual(closed.map((s) => existsSync(s.indexPath) && existsSync(s.timeIndexPath)), [true, false, false, false, false, false]);

    logs = await openLogs(dir);
    log = logs.getLog('t', 0)!;
    assert.deepEqual(await logs.recoveryFinished, { sealed: 5, unsealed: 0 }, 'the five the shutdown left unsealed');
    assert.ok(log.segments.slice(0, -1).every((s) => s.sealed && s.indexFilesCurrent && existsSync(s.indexPath) && existsSync(s.timeIndexPath)));
    await logs.close();
    logs = await openLogs(dir);
    assert.deepEqual((await readAll(logs.getLog('t', 0)!, 0)).map(([, v]) => v), [...written, 'more']);
    await logs.close();
  }));

test('the background sealing after a start counts every partition\'s segments', () =>
  withTempDir(async (dir) => {
    await crashWithUnsealedSegments(dir, 2, 3);
    const logs = await openLogs(dir);
    assert.deepEqual(await logs.recoveryFinished, { sealed: 6, unsealed: 0 });
    for (let p = 0; p < 3; p++) assert.ok(logs.getLog('t', p)!.segments.slice(0, -1).every((s) => s.sealed));
    await logs.close();
  }));

test('the background sealing after a start leaves a segment rolled since to its roll\'s seal, which waits for its last write to be durable', () =>
  withTempDir(async (dir) => {
    // 65 partitions: the 65th is sealed only once the first 64 are done, which the held index writes keep waiting
    await crashWithUnsealedSegments(dir, 1, 65);
    const writes = heldIndexWrites();
    const logs = await openLogs(dir, { fs: writes.fs });
    await writes.asked;
    const log = logs.getLog('t', 64)!;
    const found = log.segments.length;
    for (let i = 0; log.segments.length === found; i++) await appendValues(log, [`after-${i}`]).durable;
    const rolled = log.segments.at(-2)!;
    writes.held = false;
    assert.deepEqual(await logs.recoveryFinished, { sealed: 65, unsealed: 0 }, 'the segments found unsealed at the start, and no other');
    assert.equal(rolled.sealed, false, 'not taken as one the start found');
    await logs.close();
  }));

test('segments DeleteRecords removes while the background sealing after a start is under way are not sealed, and keep no index files', () =>
  withTempDir(async (dir) => {
    const written = await crashWithUnsealedSegments(dir, 6);
    const writes = heldIndexWrites();
    const logs = await openLogs(dir, { fs: writes.fs });
    const log = logs.getLog('t', 0)!;
    const closed = log.segments.slice(0, -1);
    await writes.asked; // the first segment's index files, under the lock DeleteRecords waits for
    const deleting = log.deleteRecordsBefore(closed[3]!.baseOffset);
    writes.held = false;
    await deleting;
    assert.deepEqual(await logs.recoveryFinished, { sealed: 4, unsealed: 0 }, 'the first (sealed before it was deleted) and the three kept');
    const names = await readdir(join(dir, 't-0'));
    for (const [i, s] of closed.entries()) {
      const files = ['.log', '.index', '.timeindex'].filter((suffix) => names.includes(segmentFileName(s.baseOffset, suffix)));
      assert.deepEqual(files, i < 3 ? [] : ['.log', '.index', '.timeindex'], `segment ${i}`);
    }
    assert.deepEqual((await readAll(log, closed[3]!.baseOffset)).map(([, v]) => v), written.slice(closed[3]!.baseOffset));
    await logs.close();
  }));

test('deleting a topic waits for the seal of a segment a crash left unsealed: none of its index files lands in the topic created again under the same name', () =>
  withTempDir(async (dir) => {
    await crashWithUnsealedSegments(dir, 3);
    const writes = heldIndexWrites();
    const logs = await openLogs(dir, { fs: writes.fs });
    await writes.asked;
    const deleting = logs.deleteTopic('t');
    const first = await Promise.race([deleting.then(() => 'deleted'), new Promise((r) => setTimeout(() => r('waiting'), 100))]);
    assert.equal(first, 'waiting', 'the deletion waits for the index files being written');
    writes.held = false;
    await deleting;
    assert.equal(existsSync(join(dir, 't-0')), false);
    await logs.createTopic('t', 1);
    await logs.recoveryFinished;
    assert.deepEqual(await readdir(join(dir, 't-0')), [segmentFileName(0, '.log')]);
    assert.equal(writes.indexed.size, 1, 'the one seal under way when the deletion began, and no other');
    await logs.close();
  }));

test('a start after a crash reads the active segment once where it holds no producer batch, twice from the last one where it does, and restores the producer state', () =>
  withTempDir(async (dir) => {
    let bytesRead = 0;
    const fs: FileSystem = {
      ...nodeFileSystem,
      read: async (fd, into, length, position, mayMissCache) => {
        const got = await nodeFileSystem.read(fd, into, length, position, mayMissCache);
        bytesRead += got;
        return got;
      },
    };
    const plain = (log: ReturnType<typeof logsOf>, n: number) => Promise.all(Array.from({ length: n }, (_, i) => appendValues(log, [`plain-${i}-${'p'.repeat(1000)}`]).durable));
    const idempotent = (log: ReturnType<typeof logsOf>, sequence: number) => {
      const batch = buildRecordBatch([{ value: `idem-${sequence}-${'i'.repeat(1000)}` }], { producerId: 7, producerEpoch: 0, baseSequence: sequence });
      return log.append(batch, validateBatches(batch, 1 << 20));
    };
    let logs = await openLogs(dir);
    const logsOf = () => logs.getLog('t', 0)!;
    await logs.createTopic('t', 1);
    await plain(logsOf(), 2000);
    const size = logsOf().activeSegment.size;
    await crash(logs);
    bytesRead = 0;
    logs = await openLogs(dir, { fs });
    assert.equal(logsOf().logEndOffset, 2000);
    assert.ok(bytesRead >= size && bytesRead < size * 1.1, `no producer batch: read once (${bytesRead} bytes of ${size})`);

    // an idempotent producer's batch in the middle: the batches before it and it are read again (and at most one
    // read's worth, 1 MiB, past it), not those after
    await idempotent(logsOf(), 0).durable;
    await plain(logsOf(), 2000);
    const total = logsOf().activeSegment.size;
    await crash(logs);
    bytesRead = 0;
    logs = await openLogs(dir, { fs });
    assert.ok(total - size > (1 << 20) + 20_000, 'more past the producer batch than one read takes');
    assert.ok(bytesRead > total + size && bytesRead < total + size + (1 << 20) + 20_000, `read ${bytesRead} bytes of ${total}: again up to the producer's batch`);
    assert.equal(idempotent(logsOf(), 0).baseOffset, 2000, 'its batch is known as a duplicate');
    assert.equal((await idempotent(logsOf(), 1).durable, logsOf().logEndOffset), 4002, 'and its next one follows it');
    await logs.close();
  }));
