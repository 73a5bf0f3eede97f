// `--compaction`: what a compaction pass costs the appends that arrive while it runs. A compacted partition is
// filled with 200 MiB of keyed records (100 records of 100 B a batch, 200,000 keys), its bytes made durable, and then 1 KiB
// `fsync` appends to another partition arrive at a steady rate, alone, while a pass cleans the keyed partition, and
// while a pass does so with its reads and writes bounded to 100 MB/s; the three alternate within each repetition. An append's latency counts from when it was due, not from
// when the event loop got round to issuing it, so a loop held up by the pass shows in the figures.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeFileSystem } from '../../src/io/file-system.js';
import { validateBatches } from '../../src/protocol/record-batch.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import { LogManager } from '../../src/storage/log-manager.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { median } from '../stats.js';
import { batchOfSize } from './batch-of-size.js';

const FILL_BYTES = 200 << 20;
const RECORDS_PER_BATCH = 100;
const KEYS = 200_000;
/** Appends due per second to the other partition. */
const APPENDS_PER_SECOND = 2_000;
/** How long the appends alone run. */
const ALONE_MS = 3_000;
/** The compaction I/O bound of the third variant (`--compaction-io-bytes-per-second`). */
const THROTTLED_BYTES_PER_SECOND = 100e6;

interface Window {
  p50: number;
  p99: number;
  max: number;
  /** The pass's duration, or 0 without one. */
  passMs: number;
}

/** Fills `log` with about `bytes` of keyed records, every key written many times over. */
async function fillKeyed(log: PartitionLog, bytes: number): Promise<void> {
  const value = 'v'.repeat(80);
  const batches = Math.ceil(bytes / (RECORDS_PER_BATCH * 100));
  let key = 0;
  let durable: Promise<unknown> = Promise.resolve();
  for (let i = 0; i < batches; i++) {
    const records = Array.from({ length: RECORDS_PER_BATCH }, () => ({ key: `key-${(key++ * 7919) % KEYS}`, value }));
    const batch = buildRecordBatch(records);
    durable = log.append(batch, validateBatches(batch, 1 << 20)).durable;
    if (i % 256 === 255) await durable;
  }
  // one more batch, so that the last filled segment is closed and cleanable
  const last = buildRecordBatch([{ key: 'last', value }]);
  await log.append(last, validateBatches(last, 1 << 20)).durable;
  await durable;
}

/**
 * Appends `template` to `log`, one due every 1000 / APPENDS_PER_SECOND ms, while `more()` holds; each one's
 * latency from when it was due to when it was durable.
 */
async function steadyAppends(log: PartitionLog, template: Buffer, more: () => boolean): Promise<number[]> {
  const interval = 1000 / APPENDS_PER_SECOND;
  const started = performance.now();
  const latencies: number[] = [];
  const settled: Promise<void>[] = [];
  for (let i = 0; more(); i++) {
    const due = started + i * interval;
    // a timer to within a millisecond of it (timers may fire a millisecond late), then turns of the loop
    for (let wait = due - performance.now(); wait > 0; wait = due - performance.now()) {
      await new Promise((resolve) => (wait > 1 ? setTimeout(resolve, wait - 1) : setImmediate(resolve)));
    }
    const records = Buffer.from(template);
    settled.push(log.append(records, validateBatches(records, 1 << 20)).durable.then(() => void latencies.push(performance.now() - due)));
  }
  await Promise.all(settled);
  return latencies;
}

async function measure(dir: string, fillBytes: number, withPass: boolean, compactionIoBytesPerSecond = Infinity): Promise<Window> {
  const logs = await LogManager.open({ dataDir: dir, fs: nodeFileSystem, retentionCheckMs: 3_600_000, compactionIoBytesPerSecond });
  try {
    await logs.createTopic('keyed', 1, { 'cleanup.policy': 'compact', 'segment.bytes': String(64 << 20), 'min.cleanable.dirty.ratio': '0', 'flush.policy': 'none' });
    await logs.createTopic('appends', 1, { 'flush.policy': 'fsync' });
    const keyed = logs.getLog('keyed', 0)!;
    await fillKeyed(keyed, fillBytes);
    if (!(await nodeFileSystem.syncFileSystem(dir))) throw new Error(`could not sync the filesystem of ${dir}`);
    const started = performance.now();
    let passMs = 0;
    let passing = withPass;
    const pass = withPass
      ? logs.runRetention().then(() => {
          passMs = performance.now() - started;
          passing = false;
        })
      : Promise.resolve();
    const latencies = await steadyAppends(logs.getLog('appends', 0)!, batchOfSize(1024), () => (withPass ? passing : performance.now() - started < ALONE_MS));
    await pass;
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))]!;
    return { p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1]!, passMs };
  } finally {
    await logs.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function compactionSweep(root: string, reps: number): Promise<void> {
  const variants = [
    { name: 'appends alone', withPass: false, ioBytesPerSecond: Infinity },
    { name: 'during a compaction pass', withPass: true, ioBytesPerSecond: Infinity },
    { name: `during a pass at ${THROTTLED_BYTES_PER_SECOND / 1e6} MB/s`, withPass: true, ioBytesPerSecond: THROTTLED_BYTES_PER_SECOND },
  ];
  const windows = variants.map(() => [] as Window[]);
  for (let rep = 0; rep < reps; rep++) {
    for (const [v, { withPass, ioBytesPerSecond }] of variants.entries()) windows[v]!.push(await measure(join(root, `compaction-${v}`), FILL_BYTES, withPass, ioBytesPerSecond));
  }
  const ms = (xs: number[]) => `${median(xs).toFixed(2)} ms (${xs.map((x) => x.toFixed(1)).join(', ')})`;
  for (const [v, { name }] of variants.entries()) {
    const w = windows[v]!;
    const pass = variants[v]!.withPass ? `, pass over ${FILL_BYTES >> 20} MiB ${median(w.map((x) => x.passMs)).toFixed(0)} ms` : '';
    console.log(`compaction, 1 KiB fsync appends at ${APPENDS_PER_SECOND}/s, ${name.padEnd(30)}: p50 ${ms(w.map((x) => x.p50))}, p99 ${ms(w.map((x) => x.p99))}, longest ${ms(w.map((x) => x.max))}${pass}`);
  }
}
