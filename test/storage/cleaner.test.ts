import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Attributes, batchInfoAt, batchSizeAt } from '../../src/protocol/record-batch.js';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import type { Clock } from '../../src/io/clock.js';
import { Cleaner, stopCleanerThread } from '../../src/storage/cleaner.js';
import type { CleaningRound } from '../../src/storage/record-cleaning.js';
import { withTempDir } from '../helpers/temp-dir.js';

const ROUND: CleaningRound = { mappedEnd: 100, now: 1_000_000, deleteRetentionMs: 1000, levels: { gzip: -1, zstd: 3 } };

/** Batches of keyed records, one after another from offset 0, as one chunk. */
function chunkOf(...batches: (string | null)[][][]): Buffer {
  let offset = 0;
  return Buffer.concat(
    batches.map((records) => {
      const batch = buildRecordBatch(records.map(([key, value]) => ({ key, value, timestamp: 1_000_000 })), { baseOffset: offset });
      offset += records.length;
      return batch;
    }),
  );
}

/** 200 batches of 2000 records: a chunk that keeps the thread busy well past what a test does meanwhile. */
function busyChunk(): Buffer {
  const records = Array.from({ length: 2000 }, (_, i): [string, string] => [`key-${i}`, 'v']);
  return chunkOf(...Array.from({ length: 200 }, () => records));
}

/** Each batch of a chunk, as its bytes. */
function batchesOf(chunk: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < chunk.length; at += batchSizeAt(chunk, at)) out.push(chunk.subarray(at, at + batchSizeAt(chunk, at)));
  return out;
}

test('the cleaner thread maps keys and judges batches: kept, removed, or rebuilt with a tombstone horizon', async () => {
  const cleaner = new Cleaner();
  try {
    const chunk = chunkOf(
      [['a', 'a0'], ['b', 'b0']], // 0-1: a0 superseded
      [['a', 'a1']], //              2: superseded
      [['c', null], ['d', 'd0']], // 3-4: all latest, c a tombstone
      [['a', 'a2']], //              5: latest
      [['x', 'x0']], //              6: not asked
    );
    const map = await cleaner.openMap(10, 1 << 20);
    assert.equal(await map.mapKeys(chunk, Uint8Array.of(0, 0, 0, 0, 1), 0), -1, 'every record mapped');
    const judged = await map.judge(chunk, Uint8Array.of(1, 1, 1, 1, 0), ROUND);
    const raws = batchesOf(chunk);
    const first = judged.kept(0, raws[0]!);
    assert.equal(first.removed, 1);
    const rebuilt = decodeRecordBatches(first.bytes!)[0]!;
    assert.deepEqual(rebuilt.records.map((r) => [r.offset, r.key!.toString(), r.value!.toString()]), [[1, 'b', 'b0']]);
    assert.deepEqual(judged.kept(1, raws[1]!), { bytes: null, removed: 1 });
    // the tombstone's batch is rebuilt with its delete horizon, once: nothing removed
    const third = judged.kept(2, raws[2]!);
    assert.equal(third.removed, 0);
    const stamped = batchInfoAt(third.bytes!, 0, third.bytes!.length);
    assert.ok((stamped.attributes & Attributes.DELETE_HORIZON) !== 0);
    assert.equal(stamped.baseTimestamp, ROUND.now + ROUND.deleteRetentionMs);
    assert.equal(judged.tombstoneDueMs, ROUND.now + ROUND.deleteRetentionMs);
    assert.equal(judged.kept(3, raws[3]!).bytes, raws[3], 'kept as it is: the same bytes');
    assert.deepEqual(judged.kept(3, raws[3]!), { bytes: raws[3], removed: 0 });
    await map.free();
  } finally {
    cleaner.close();
  }
});

test('a key map that fills up reports the first record it could not map', async () => {
  const cleaner = new Cleaner();
  try {
    const map = await cleaner.openMap(2, 3 * 24); // 3 slots: 2 keys
    const chunk = chunkOf([['a', '0'], ['b', '1']], [['a', '2'], ['c', '3'], ['b', '4']]);
    assert.equal(await map.mapKeys(chunk, Uint8Array.of(0, 0), 0), 3);
    await map.clear();
    assert.equal(await map.mapKeys(chunk, Uint8Array.of(0, 0), 3), -1, 'from offset 3 on, after a clear: c and b');
  } finally {
    cleaner.close();
  }
});

test('a request the thread cannot do is refused with its reason, and the thread goes on', async () => {
  const cleaner = new Cleaner();
  try {
    const map = await cleaner.openMap(10, 1 << 20);
    const chunk = chunkOf([['a', 'a0']]);
    await assert.rejects(map.mapKeys(chunk.subarray(0, chunk.length - 1), Uint8Array.of(0), 0), /^Error: cleaner thread: the chunk ends inside a batch at byte 0$/);
    assert.equal(await map.mapKeys(chunk, Uint8Array.of(0), 0), -1);
    const judged = await map.judge(chunk, Uint8Array.of(1), ROUND);
    assert.deepEqual(judged.kept(0, chunk), { bytes: chunk, removed: 0 });
  } finally {
    cleaner.close();
  }
});

test('a thread stopped with requests waiting refuses them; the next request starts a new thread, without the old maps', async () => {
  const cleaner = new Cleaner();
  try {
    const map = await cleaner.openMap(1_000_000, 64 << 20);
    const waiting = map.mapKeys(busyChunk(), new Uint8Array(200), 0);
    await stopCleanerThread();
    await assert.rejects(waiting, /^Error: the cleaner thread was stopped$/);
    await assert.rejects(map.clear(), /^Error: cleaner thread: no key map \d+ in this thread$/);
    const again = await cleaner.openMap(10, 1 << 20);
    assert.equal(await again.mapKeys(chunkOf([['a', 'a0']]), Uint8Array.of(0), 0), -1);
  } finally {
    cleaner.close();
  }
});

test('the thread is the process\'s, shared: a close refuses that engine\'s requests only, and the thread goes on for the others', async () => {
  const [closing, other] = [new Cleaner(), new Cleaner()];
  try {
    const [busy, calm] = [await closing.openMap(1_000_000, 64 << 20), await other.openMap(10, 1 << 20)];
    const waiting = busy.mapKeys(busyChunk(), new Uint8Array(200), 0);
    const behind = calm.mapKeys(chunkOf([['a', 'a0']]), Uint8Array.of(0), 0);
    closing.close();
    await assert.rejects(waiting, /^Error: the cleaner was closed$/);
    assert.equal(await behind, -1, 'answered once the thread is through the closed one\'s chunk');
    await busy.free(); // a closed cleaner still frees its maps
    await assert.rejects(busy.clear(), /^Error: the cleaner was closed$/);
  } finally {
    other.close();
  }
});

/** A clock whose time moves only by the waits asked of it, each waited at once; `waits` lists them. */
function waitingClock(): Clock & { waits: number[] } {
  let now = 5_000;
  const waits: number[] = [];
  return {
    waits,
    now: () => now,
    every: () => () => undefined,
    after: (ms, fn) => {
      waits.push(ms);
      now += ms;
      setImmediate(fn);
      return () => undefined;
    },
  };
}

test('the throttle keeps what passes read and write within its rate, and gives no credit for time without I/O', async () => {
  const clock = waitingClock();
  const cleaner = new Cleaner({ ioBytesPerSecond: 1000, clock });
  // 1000 bytes a second: a byte is a millisecond
  await cleaner.throttle(500);
  await cleaner.throttle(1500);
  assert.deepEqual(clock.waits, [500, 1500]);
  // an hour without I/O earns nothing: the next bytes wait as long as ever
  clock.after(3_600_000, () => undefined);
  await cleaner.throttle(250);
  assert.deepEqual(clock.waits, [500, 1500, 3_600_000, 250]);
  // without a rate nothing waits
  const unbounded = waitingClock();
  await new Cleaner({ ioBytesPerSecond: Infinity, clock: unbounded }).throttle(1 << 30);
  assert.deepEqual(unbounded.waits, []);
});

test('a close cuts a throttled wait short: the pass fails at once, and the cleaner takes no more requests', async () => {
  let resume: (() => void) | undefined;
  const paused = new Promise<void>((resolve) => {
    resume = resolve;
  });
  const clock: Clock = { now: () => 0, every: () => () => undefined, after: () => (resume!(), () => undefined) };
  const cleaner = new Cleaner({ ioBytesPerSecond: 1, clock });
  const throttled = cleaner.throttle(1 << 20); // 12 days at a byte a second
  await paused;
  cleaner.close();
  await assert.rejects(throttled, /^Error: the cleaner was closed$/);
  await assert.rejects(cleaner.openMap(10, 1 << 20), /^Error: the cleaner was closed$/);
});

/** How many of this process's threads run at nice value `nice` (Linux's /proc). */
async function threadsAtNice(nice: number): Promise<number> {
  let count = 0;
  for (const tid of await readdir('/proc/self/task')) {
    const stat = await readFile(`/proc/self/task/${tid}/stat`, 'latin1').catch(() => null); // a thread that just ended
    // the fields after the command name in parentheses, from the state (the 3rd) on: the nice value is the 19th
    if (stat !== null && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) === nice) count++;
  }
  return count;
}

test('the cleaner thread runs at the lowest CPU priority, the rest of the process at its own', async () => {
  await stopCleanerThread(); // started by an earlier test
  const cleaner = new Cleaner();
  try {
    assert.equal(await threadsAtNice(19), 0);
    await cleaner.openMap(10, 1 << 20);
    assert.equal(await threadsAtNice(19), 1);
  } finally {
    cleaner.close();
    await stopCleanerThread();
  }
  assert.equal(await threadsAtNice(19), 0);
});

test('an idle cleaner thread does not keep its process alive', () =>
  withTempDir(async (dir) => {
    // a process that uses the thread and never stops it still exits once it has nothing else to do
    const script = join(dir, 'uses-a-cleaner.mjs');
    await writeFile(
      script,
      `import { Cleaner } from ${JSON.stringify(new URL('../../src/storage/cleaner.js', import.meta.url).href)};
      const map = await new Cleaner().openMap(10, 1 << 20);
      await map.clear();
      console.log('done');`,
    );
    const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 60_000 });
    assert.equal(stdout, 'done\n');
  }));
