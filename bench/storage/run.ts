// Storage engine benchmark: append throughput by batch size, durability mode and partition count, next to the
// raw bandwidth of plain file writes with the same fsync cadence, measured in the same run on the same disk.
// Each repetition runs every partition count of a mode and batch size in turn, Sluice then raw each time (the
// disk's speed drifts), each run after a filesystem sync and a page-cache warm-up (see warmPageCache); a case
// reports medians, and its ratio to one partition is the median of the ratios within each repetition.
// A case stops after --seconds or --max-mib, whichever comes first, except that an fsync case goes on until it
// has issued CHECKPOINT_PASS_BYTES and its clock runs until the journal checkpoint this started is done: a full
// checkpoint (every JOURNAL_CHECKPOINT_BYTES) is then in every figure that journals, as it is in sustained load.
// A none case goes on past --max-mib until it has run NONE_MIN_SECONDS: its background flushes are then in every
// figure too. Every case starts with the spare journal file a broker under sustained load writes its journal over
// (see JournalSpare): the one the case before left, for the first one written before the run.
// Usage: npm run bench:storage [-- --seconds 4 --max-mib 1024 --reps 3 --dir PATH --quick]
//        [--modes fsync,none --sizes 1024,16384 --partitions 1,10000]   (only these cases; printed, not saved)
//        [--disk null]   (segment and journal writes and syncs discarded: what the engine's own CPU work allows)
//        [--reads]       (instead: one batch read from every partition at once, as a fetch over them reads; printed)
//        [--rolls]       (instead: fsync appends while segments roll, next to the same appends without rolls; printed)
//        [--starts]      (instead: how long opening the data dir takes after a crash and after a clean shutdown; printed)
//        [--compaction]  (instead: fsync appends while a compaction pass cleans another partition, with and without a bound on its I/O, next to the same alone; printed)
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BufferPool } from '../../src/broker/buffer-pool.js';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { validateBatches } from '../../src/protocol/record-batch.js';
import { JOURNAL_CHECKPOINT_BYTES, LogManager } from '../../src/storage/log-manager.js';
import type { FlushPolicy } from '../../src/storage/log-config.js';
import { median } from '../stats.js';
import { batchOfSize } from './batch-of-size.js';
import { JournalSpare } from './journal-spare.js';
import { roundRobinAppends } from './round-robin-appends.js';
import { compactionSweep } from './compaction-sweep.js';
import { startSweep } from './start-sweep.js';
import { warmPageCache } from '../warm-pages.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    'max-mib': { type: 'string', default: '1024' },
    reps: { type: 'string', default: '3' },
    dir: { type: 'string' },
    quick: { type: 'boolean', default: false },
    modes: { type: 'string' },
    sizes: { type: 'string' },
    partitions: { type: 'string' },
    disk: { type: 'string', default: 'real' },
    reads: { type: 'boolean', default: false },
    rolls: { type: 'boolean', default: false },
    starts: { type: 'boolean', default: false },
    compaction: { type: 'boolean', default: false },
  },
});
if (args.disk !== 'real' && args.disk !== 'null') throw new Error('--disk is real or null');
/**
 * With `--disk null`, writes and syncs of segments and the journal complete at once without touching the disk
 * (metadata, index files and directories stay real): the throughput left is bounded by the engine's CPU work alone.
 */
const NULL_DISK = args.disk === 'null';
const nullDisk: FileSystem = {
  ...nodeFileSystem,
  writev: async (_fd, buffers) => buffers.reduce((n, b) => n + b.length, 0),
  fdatasync: async () => undefined,
  syncFileSystem: async () => true,
};
const SECONDS = Number(args.seconds);
const MAX_BYTES = Number(args['max-mib']) * 1024 * 1024;
const REPS = Math.max(1, Number(args.reps));
/** Appends an fsync case issues at least, past --seconds and --max-mib: one journal checkpoint and some margin. */
const CHECKPOINT_PASS_BYTES = JOURNAL_CHECKPOINT_BYTES + 64 * 1024 * 1024;
/**
 * A `none` case runs at least this long, past --max-mib if need be: two of the background flushes that sync its
 * bytes (every flush.ms, 1 s by default) then fall in every figure. Stopped at 1 GiB, the fast cases ended before
 * the first one, and measured the page cache alone (the disk took nothing during them).
 */
const NONE_MIN_SECONDS = 2.5;
/** Appends kept in flight, like pipelined producers: 8 MiB worth, at least 64 and at most 8192. */
const inFlightFor = (batchBytes: number) => Math.min(8192, Math.max(64, Math.floor((8 << 20) / batchBytes)));
/** Appends arrive in produce requests of about 1 MiB (librdkafka's default message.max.bytes). */
const REQUEST_BYTES = 1 << 20;
/** Page cache made warm before every timed run (see warmPageCache): more than any run here puts into it. */
const WARM_BYTES = Math.max(MAX_BYTES, CHECKPOINT_PASS_BYTES) * 1.5;
/** A produce request's memory and how many of its appends are not settled yet. */
interface PooledRequest {
  bytes: Buffer;
  unsettled: number;
  /** Every append of it is made: once they are settled, its memory goes back. */
  issued: boolean;
}

interface Case {
  batchBytes: number;
  mode: FlushPolicy;
  partitions: number;
}

interface Result extends Case {
  /** Medians over the repetitions. */
  mbPerSec: number;
  batchesPerSec: number;
  fsyncRounds: number;
  journalRounds: number;
  /** CPU time of the whole process (event loop and I/O threads) per second of wall time, in percent. */
  cpuPercent: number;
  /** Clean shutdown of the log manager after the run. */
  closeMs: number;
  /** Bytes the disk device took during the run per byte appended (journal, segments, metadata); null where unknown. */
  diskPerByte: number | null;
  rawMbPerSec: number;
  ratio: number;
  /**
   * The median over repetitions of this case's MB/s over one partition's in the same repetition (the two run
   * minutes apart at most); null when one partition is not among the cases run.
   */
  vsOnePartition: number | null;
  /** The kernel's bound on writing each append into its partition's file as it arrives (see spreadRun). */
  perAppendMbPerSec: number;
  /** Every repetition's Sluice and raw MB/s, in run order. */
  runs: { mbPerSec: number; rawMbPerSec: number; perAppendMbPerSec: number }[];
}

interface SluiceRun {
  bytes: number;
  batches: number;
  seconds: number;
  rounds: number;
  journalRounds: number;
  cpuPercent: number;
  closeMs: number;
  diskBytes: number | null;
}

/**
 * Bytes written so far to the block device holding `dir`, from Linux's /proc/diskstats (sectors of 512 bytes);
 * null elsewhere. Other processes writing to the same disk meanwhile would be counted too.
 */
async function deviceBytesWritten(dir: string): Promise<number | null> {
  try {
    const { dev } = await stat(dir);
    const [major, minor] = [Math.floor(dev / 256) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00)];
    for (const line of (await readFile('/proc/diskstats', 'utf8')).split('\n')) {
      const f = line.trim().split(/\s+/);
      if (Number(f[0]) === major && Number(f[1]) === minor) return Number(f[9]) * 512;
    }
  } catch {
    // not Linux, or no access: the figure is left out
  }
  return null;
}

async function sluiceRun(dir: string, c: Case): Promise<SluiceRun> {
  const logs = await LogManager.open({ dataDir: dir, fs: NULL_DISK ? nullDisk : nodeFileSystem, maxOpenFiles: 16384, retentionCheckMs: 3_600_000, defaults: { flushPolicy: c.mode } });
  let closed = false;
  try {
    await logs.createTopic('bench', c.partitions);
    const template = batchOfSize(c.batchBytes);
    const logsByPartition = logs.topics.get('bench')!.partitions;
    const roundsBefore = logs.groupCommit.rounds;
    const journalRoundsBefore = logs.groupCommit.journalRounds;
    const diskBefore = await deviceBytesWritten(dir);
    const cpuBefore = process.cpuUsage();
    const deadline = performance.now() + SECONDS * 1000;
    const started = performance.now();
    let bytes = 0;
    let batches = 0;
    let next = 0;
    // a counting window: one waiter for a free slot, no per-iteration scan of the in-flight set
    const limit = inFlightFor(c.batchBytes);
    const perRequest = Math.max(1, Math.floor(REQUEST_BYTES / c.batchBytes));
    // the broker reads requests into pooled memory and gives it back once their appends are settled: so does this
    const pool = new BufferPool();
    let request: PooledRequest = { bytes: Buffer.alloc(0), unsettled: 0, issued: true };
    const settled = (r: PooledRequest): void => {
      if (--r.unsettled === 0 && r.issued) pool.giveBack(r.bytes);
    };
    let inflight = 0;
    let slotFreed: (() => void) | null = null;
    let failure: unknown = null;
    const minIssued = c.mode === 'fsync' ? CHECKPOINT_PASS_BYTES : 0;
    const minUntil = started + (c.mode === 'none' ? NONE_MIN_SECONDS * 1000 : 0);
    while ((performance.now() < deadline || next * template.length < minIssued) && (bytes < MAX_BYTES || next * template.length < minIssued || performance.now() < minUntil) && failure === null) {
      // a broker's batches are views of the produce request they came in: one buffer per request, not per batch
      if (next % perRequest === 0) request = { bytes: pool.take(perRequest * template.length), unsettled: 0, issued: false };
      const slot = (next % perRequest) * template.length;
      const records = request.bytes.subarray(slot, slot + template.length);
      template.copy(records);
      const log = logsByPartition[next++ % c.partitions]!;
      inflight++;
      const of = request;
      of.unsettled++;
      if (next % perRequest === 0) of.issued = true;
      log.append(records, validateBatches(records, 1 << 30)).durable.then(
        () => {
          bytes += records.length;
          batches++;
          inflight--;
          settled(of);
          slotFreed?.();
        },
        (err) => (failure = err),
      );
      if (inflight >= limit) await new Promise<void>((resolve) => (slotFreed = resolve));
      slotFreed = null;
      // a broker gets appends from socket reads, a request at a time, and its event loop runs I/O completions and
      // timers in between; a loop that only awaits promises would starve them and measure that instead
      if (next % perRequest === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    while (inflight > 0 && failure === null) await new Promise<void>((resolve) => (slotFreed = resolve));
    if (failure) throw failure;
    await logs.groupCommit.checkpointDone();
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const diskAfter = await deviceBytesWritten(dir);
    const rounds = logs.groupCommit.rounds - roundsBefore;
    const journalRounds = logs.groupCommit.journalRounds - journalRoundsBefore;
    const closeStarted = performance.now();
    closed = true;
    await logs.close();
    const closeMs = performance.now() - closeStarted;
    const diskBytes = diskBefore === null || diskAfter === null ? null : diskAfter - diskBefore;
    return { bytes, batches, seconds, rounds, journalRounds, cpuPercent: ((cpu.user + cpu.system) / 1e4) / seconds, closeMs, diskBytes };
  } finally {
    if (!closed) await logs.close();
  }
}

/**
 * Has the kernel write out what earlier runs left dirty (and commit their deletions) before a run starts, so a
 * run does not pay for the writeback of the one before it.
 */
async function settleDisk(dir: string): Promise<void> {
  if (!(await nodeFileSystem.syncFileSystem(dir))) throw new Error(`could not sync the filesystem of ${dir}`);
}

/** Plain sequential writes of `total` bytes in `chunk`-sized writes, fdatasync after each when `sync`. */
async function rawRun(dir: string, chunk: number, total: number, sync: boolean): Promise<number> {
  const file = join(dir, 'raw.bin');
  const h = await open(file, 'w');
  const buf = Buffer.alloc(Math.max(1, chunk), 'r');
  const started = performance.now();
  let written = 0;
  try {
    while (written < total) {
      await h.write(buf, 0, buf.length, written);
      written += buf.length;
      if (sync) await h.datasync();
    }
  } finally {
    await h.close();
    await rm(file, { force: true });
  }
  return written / 1e6 / ((performance.now() - started) / 1000);
}

/**
 * The same appends written the simplest way that keeps a file per partition: one synchronous write per append,
 * round-robin over as many files as partitions, no syncs, no engine. At small appends over many partitions a
 * request holds about one append per partition, so this is what the kernel alone allows an engine that writes
 * each append into its partition's file as it arrives.
 */
function spreadRun(dir: string, batchBytes: number, partitions: number, total: number): number {
  const writes = Math.max(1, Math.floor(total / batchBytes));
  const files = Array.from({ length: Math.min(partitions, writes) }, (_, i) => openSync(join(dir, `spread-${i}.bin`), 'w'));
  const positions = new Array<number>(files.length).fill(0);
  const buf = Buffer.alloc(batchBytes, 's');
  const started = performance.now();
  try {
    for (let i = 0; i < writes; i++) {
      const f = i % files.length;
      writeSync(files[f]!, buf, 0, batchBytes, positions[f]);
      positions[f] += batchBytes;
    }
    return (writes * batchBytes) / 1e6 / ((performance.now() - started) / 1000);
  } finally {
    for (const fd of files) closeSync(fd);
  }
}

/**
 * `--reads`: a fetch's reads over many partitions, one batch from each, all in flight at once (as a Fetch's wave
 * reads them); the first pass reads files the kernel just wrote, the figures are the passes after it.
 */
async function readSweep(root: string, batchBytes: number, partitionCounts: number[]): Promise<void> {
  for (const partitions of partitionCounts) {
    const dir = join(root, `reads-${partitions}`);
    const logs = await LogManager.open({ dataDir: dir, fs: nodeFileSystem, maxOpenFiles: 16384, retentionCheckMs: 3_600_000, defaults: { flushPolicy: 'none' } });
    try {
      await logs.createTopic('bench', partitions);
      const template = batchOfSize(batchBytes);
      const all = logs.topics.get('bench')!.partitions;
      for (const log of all) {
        const records = Buffer.from(template);
        await log.append(records, validateBatches(records, 1 << 30)).durable;
      }
      const passes: number[] = [];
      for (let pass = 0; pass <= REPS; pass++) {
        const started = performance.now();
        const results = await Promise.all(all.map((log) => log.read(0, 1 << 20)));
        const ms = performance.now() - started;
        if (results.some((r) => r.records.length !== template.length)) throw new Error('a read returned other bytes than the batch appended');
        if (pass > 0) passes.push(ms);
      }
      const ms = median(passes);
      console.log(`reads ${String(batchBytes).padStart(8)} B x ${String(partitions).padStart(5)} partitions, all at once: ${ms.toFixed(1)} ms per pass (median of ${REPS}; ${passes.map((p) => p.toFixed(0)).join(', ')}), ${((partitions / ms) * 1000).toFixed(0)} reads/s`);
    } finally {
      await logs.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/**
 * `--rolls`: `fsync` appends, round-robin over the partitions, while their segments roll all the time (64 KiB
 * segments) or all at once (segment.ms passing at mid-run, as it does for partitions created together), next to
 * the same appends without rolls; the variants alternate within each repetition. A roll's seal (sync, index files,
 * producer snapshot) runs beside the appends: what it costs them is the figure.
 */
async function rollSweep(root: string, batchBytes: number, partitionCounts: number[]): Promise<void> {
  const seconds = Math.max(SECONDS, 8);
  const variants: [string, Record<string, string>][] = [
    ['no rolls', {}],
    ['64 KiB segments', { 'segment.bytes': String(64 * 1024) }],
    ['segment.ms at mid-run', { 'segment.ms': String((seconds * 1000) / 2) }],
  ];
  const template = batchOfSize(batchBytes);
  for (const partitions of partitionCounts) {
    const measured = variants.map(() => ({ rates: [] as number[], p99s: [] as number[], maxes: [] as number[], rolls: [] as number[] }));
    for (let rep = 0; rep < REPS; rep++) {
      for (const [v, [, configs]] of variants.entries()) {
        const dir = join(root, `rolls-${partitions}-${v}`);
        await settleDisk(root);
        const logs = await LogManager.open({ dataDir: dir, fs: nodeFileSystem, maxOpenFiles: 16384, retentionCheckMs: 3_600_000 });
        try {
          await logs.createTopic('bench', partitions, configs);
          const all = logs.topics.get('bench')!.partitions;
          const started = performance.now();
          const latencies = await roundRobinAppends(all, template, inFlightFor(batchBytes), () => performance.now() - started < seconds * 1000);
          const elapsed = (performance.now() - started) / 1000;
          latencies.sort((a, b) => a - b);
          const m = measured[v]!;
          m.rates.push((latencies.length * template.length) / 1048576 / elapsed);
          m.p99s.push(latencies[Math.floor(latencies.length * 0.99)]!);
          m.maxes.push(latencies[latencies.length - 1]!);
          m.rolls.push(all.reduce((n, log) => n + log.segments.length - 1, 0));
        } finally {
          await logs.close();
          await rm(dir, { recursive: true, force: true });
        }
      }
    }
    for (const [v, [name]] of variants.entries()) {
      const m = measured[v]!;
      console.log(`rolls ${String(batchBytes).padStart(8)} B x ${String(partitions).padStart(5)} partitions, ${name.padEnd(21)}: ${median(m.rates).toFixed(1).padStart(6)} MB/s (${m.rates.map((r) => r.toFixed(0)).join(', ')}), acknowledgement p99 ${median(m.p99s).toFixed(0)} ms, longest ${median(m.maxes).toFixed(0)} ms (${m.maxes.map((x) => x.toFixed(0)).join(', ')}), ${median(m.rolls).toFixed(0)} rolls`);
    }
  }
}

async function main(): Promise<void> {
  const root = args.dir ?? (await mkdtemp(join(tmpdir(), 'sluice-bench-')));
  if (args.reads) {
    try {
      await readSweep(root, Number(args.sizes?.split(',')[0] ?? 1024), args.partitions ? args.partitions.split(',').map(Number) : [1, 1_000, 10_000]);
    } finally {
      if (!args.dir) await rm(root, { recursive: true, force: true });
    }
    return;
  }
  if (args.starts) {
    try {
      await startSweep(root, REPS, args.partitions ? args.partitions.split(',').map(Number) : null);
    } finally {
      if (!args.dir) await rm(root, { recursive: true, force: true });
    }
    return;
  }
  if (args.compaction) {
    try {
      await compactionSweep(root, REPS);
    } finally {
      if (!args.dir) await rm(root, { recursive: true, force: true });
    }
    return;
  }
  if (args.rolls) {
    try {
      await rollSweep(root, Number(args.sizes?.split(',')[0] ?? 16384), args.partitions ? args.partitions.split(',').map(Number) : [200, 2_000]);
    } finally {
      if (!args.dir) await rm(root, { recursive: true, force: true });
    }
    return;
  }
  const list = (value: string | undefined, all: number[]) => (value ? value.split(',').map(Number) : all);
  const sizes = list(args.sizes, args.quick ? [16 * 1024] : [1024, 16 * 1024, 1024 * 1024]);
  const partitionCounts = list(args.partitions, args.quick ? [1, 100] : [1, 100, 1_000, 10_000]);
  const modes = (args.modes ? args.modes.split(',') : ['fsync', 'none']) as FlushPolicy[];
  const results: Result[] = [];
  const spare = new JournalSpare(join(root, 'journal-spare'));
  if (!NULL_DISK && modes.includes('fsync')) await spare.prime(JOURNAL_CHECKPOINT_BYTES);
  try {
    for (const mode of modes) {
      for (const batchBytes of sizes) {
        // every repetition runs each partition count once, in turn: the disk's speed drifts over minutes, and a
        // ratio to one partition taken from runs made side by side carries less of that drift
        const measured = new Map(partitionCounts.map((partitions) => [partitions, { runs: [] as SluiceRun[], raws: [] as number[], spreads: [] as number[] }]));
        for (let rep = 0; rep < REPS; rep++) {
          for (const partitions of partitionCounts) {
            const { runs, raws, spreads } = measured.get(partitions)!;
            const dir = join(root, `${mode}-${batchBytes}-${partitions}`);
            await mkdir(dir, { recursive: true });
            await spare.lendTo(dir);
            await settleDisk(root);
            if (!NULL_DISK) warmPageCache(root, WARM_BYTES);
            const run = await sluiceRun(dir, { batchBytes, mode, partitions });
            await spare.takeFrom(dir);
            await rm(dir, { recursive: true, force: true });
            // the same bytes, written plainly, with one fsync per Sluice fsync round's worth of bytes
            const perRound = mode === 'fsync' ? Math.max(batchBytes, Math.round(run.bytes / Math.max(1, run.rounds))) : 1 << 20;
            runs.push(run);
            if (!NULL_DISK) {
              await settleDisk(root);
              warmPageCache(root, WARM_BYTES);
              raws.push(await rawRun(root, perRound, Math.min(run.bytes, MAX_BYTES), mode === 'fsync'));
              const spreadDir = join(root, 'spread');
              await mkdir(spreadDir, { recursive: true });
              await settleDisk(root);
              warmPageCache(root, WARM_BYTES);
              spreads.push(spreadRun(spreadDir, batchBytes, partitions, Math.min(run.bytes, MAX_BYTES)));
              await rm(spreadDir, { recursive: true, force: true });
            } else {
              raws.push(NaN);
              spreads.push(NaN);
            }
          }
        }
        const one = measured.get(1);
        for (const partitions of partitionCounts) {
          const { runs, raws, spreads } = measured.get(partitions)!;
          const rates = runs.map((x) => x.bytes / 1e6 / x.seconds);
          const mbPerSec = median(rates);
          const raw = median(raws);
          const r: Result = {
            batchBytes, mode, partitions, mbPerSec,
            batchesPerSec: median(runs.map((x) => x.batches / x.seconds)),
            fsyncRounds: median(runs.map((x) => x.rounds)),
            journalRounds: median(runs.map((x) => x.journalRounds)),
            cpuPercent: median(runs.map((x) => x.cpuPercent)),
            closeMs: median(runs.map((x) => x.closeMs)),
            diskPerByte: runs.every((x) => x.diskBytes !== null) ? median(runs.map((x) => x.diskBytes! / x.bytes)) : null,
            rawMbPerSec: raw,
            ratio: mbPerSec / raw,
            vsOnePartition: one ? median(rates.map((rate, i) => rate / (one.runs[i]!.bytes / 1e6 / one.runs[i]!.seconds))) : null,
            perAppendMbPerSec: median(spreads),
            runs: rates.map((rate, i) => ({ mbPerSec: rate, rawMbPerSec: raws[i]!, perAppendMbPerSec: spreads[i]! })),
          };
          results.push(r);
          const vsOne = r.vsOnePartition === null ? '' : `; ${(r.vsOnePartition * 100).toFixed(0)}% of 1 partition (runs: ${rates.map((x) => x.toFixed(0)).join(', ')})`;
          console.log(`${mode.padEnd(5)} ${String(batchBytes).padStart(8)} B x ${String(partitions).padStart(5)} partitions: ${mbPerSec.toFixed(1).padStart(7)} MB/s ${r.batchesPerSec.toFixed(0).padStart(7)} batches/s, ${r.fsyncRounds} rounds (${r.journalRounds} journaled), cpu ${r.cpuPercent.toFixed(0)}%, disk ${r.diskPerByte?.toFixed(2) ?? '?'} B/B, close ${r.closeMs.toFixed(0)} ms; raw ${raw.toFixed(1)} MB/s; ratio ${(r.ratio * 100).toFixed(0)}%; per-append writes ${r.perAppendMbPerSec.toFixed(1)} MB/s${vsOne}`);
        }
      }
    }
  } finally {
    if (!args.dir) await rm(root, { recursive: true, force: true });
  }
  // a partial run (some cases only) prints its figures but does not replace the day's results
  if (args.modes || args.sizes || args.partitions) return;
  const date = new Date().toISOString().slice(0, 10);
  const machine = `${hostname()}-${cpus().length}cpu`;
  const outDir = join(process.cwd(), 'bench', 'results');
  await mkdir(outDir, { recursive: true });
  const lines = [
    `# Storage benchmark, ${date}, ${machine}`,
    '',
    `${cpus()[0]?.model ?? 'cpu'} x ${cpus().length}; Node ${process.version}; ${SECONDS} s or ${MAX_BYTES / 1048576} MiB per case (fsync cases: at least ${CHECKPOINT_PASS_BYTES / 1048576} MiB, timed until the journal checkpoint they start is done; none cases: at least ${NONE_MIN_SECONDS} s, two background flushes); 8 MiB of appends in flight (64 to 8192 appends), issued a 1 MiB request at a time (one buffer, the batches views of it) with the event loop turning in between, as socket reads would.`,
    `Medians of ${REPS} repetitions; each repetition runs every partition count of a mode and batch size in turn, Sluice then raw each time, every run after a sync of the filesystem and then ${(WARM_BYTES / 2 ** 30).toFixed(1)} GiB written to a scratch file and deleted, so that every run's page-cache pages were in use a moment before (this VM hands memory freed a few seconds earlier back to its host, and a first touch of it is ten times slower). "vs 1 partition": the median of the ratios to one partition within each repetition.`,
    'Raw: plain sequential writes of the same bytes, with one fdatasync per Sluice fsync round\'s worth of bytes (fsync mode) or none.',
    'Per-append writes: the same appends, one synchronous write each, round-robin over as many files as partitions, no syncs and no engine: what the kernel alone allows a design that writes each append into its partition\'s file as it arrives; "vs Sluice 1 partition" compares it with Sluice\'s one-partition figure of the same mode and size.',
    'CPU: the benchmark process (event loop and I/O threads) per second of wall time. Close: clean shutdown after the run.',
    'Disk B/B: bytes the disk device took during the run (from /proc/diskstats) per byte appended: journal, segments and metadata; the kernel may still hold some of a run\'s bytes when it ends.',
    'Journal: every case starts with a spare journal file to write over, as a broker under sustained load has (the one the case before left; for the first, 1 GiB written before the run).',
    ...(NULL_DISK ? ['', '**Null disk** (`--disk null`): segment and journal writes and syncs were discarded, so these figures are what the engine\'s own CPU work allows; there is no raw run.'] : []),
    '',
    '| mode | batch | partitions | MB/s | batches/s | commit rounds (journaled) | CPU | disk B/B | close ms | raw MB/s | Sluice / raw | vs 1 partition | per-append writes MB/s | per-append writes vs Sluice 1 partition |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map((r) => {
      const one = results.find((x) => x.mode === r.mode && x.batchBytes === r.batchBytes && x.partitions === 1);
      return `| ${r.mode} | ${r.batchBytes} | ${r.partitions} | ${r.mbPerSec.toFixed(1)} | ${r.batchesPerSec.toFixed(0)} | ${r.fsyncRounds} (${r.journalRounds}) | ${r.cpuPercent.toFixed(0)}% | ${r.diskPerByte?.toFixed(2) ?? ''} | ${r.closeMs.toFixed(0)} | ${NULL_DISK ? '' : r.rawMbPerSec.toFixed(1)} | ${NULL_DISK ? '' : (r.ratio * 100).toFixed(0) + '%'} | ${r.vsOnePartition === null ? '' : (r.vsOnePartition * 100).toFixed(0) + '%'} | ${NULL_DISK ? '' : r.perAppendMbPerSec.toFixed(1)} | ${one && !NULL_DISK ? ((r.perAppendMbPerSec / one.mbPerSec) * 100).toFixed(0) + '%' : ''} |`;
    }),
  ];
  const base = join(outDir, `${date}-storage-${machine}${NULL_DISK ? '-null-disk' : ''}`);
  await writeFile(`${base}.md`, lines.join('\n') + '\n');
  await writeFile(`${base}.json`, JSON.stringify({ date, machine, seconds: SECONDS, maxBytes: MAX_BYTES, reps: REPS, results }, null, 1) + '\n');
  console.log(`wrote ${base}.md`);
}

await main();
