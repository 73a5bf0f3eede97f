// `--starts`: how long the engine takes to open a data dir after a crash and after a clean shutdown, for layouts
// that load different parts of a start: the scan of large active segments (and the producer state rebuilt from
// them), thousands of partitions, tens of thousands of sealed segments. Every start is a new process's first
// (start-child.ts), with the page cache warm: a process crash, not a power loss.
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from '../stats.js';

export interface StartLayout {
  name: string;
  partitions: number;
  batchBytes: number;
  /** Appended in all, round-robin over the partitions. */
  bytes: number;
  configs: Record<string, string>;
}

const LAYOUTS: StartLayout[] = [
  { name: 'large active segments', partitions: 2, batchBytes: 16 * 1024, bytes: 1 << 30, configs: {} },
  { name: 'many partitions', partitions: 10_000, batchBytes: 1024, bytes: 10_000 * 40 * 1024, configs: { 'segment.bytes': String(16 * 1024) } },
  { name: 'many sealed segments', partitions: 200, batchBytes: 16 * 1024, bytes: 200 * 125 * 64 * 1024, configs: { 'segment.bytes': String(64 * 1024) } },
];

const CHILD = fileURLToPath(new URL('./start-child.js', import.meta.url));

interface Opened {
  ms: number;
  /** Until the segments found without index files had them (in the background, after `ms`). */
  sealedMs: number;
  cleanStart: boolean;
  journalReplayed: number;
  segments: number;
  fds: number;
  rssMb: number;
}

/** Runs one step in a process of its own, with this one's Node flags (and environment); resolves to its output. */
type Ending = 'close' | 'crash' | 'checkpoint-crash';

function step(args: string[], ending: Ending): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, CHILD, ...args, ending], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const expected = ending === 'close' ? code === 0 : signal === 'SIGKILL';
      if (expected) resolve(out);
      else reject(new Error(`start benchmark step ${args[0]} ended with ${signal ?? `exit code ${code}`}`));
    });
  });
}

async function openStep(dir: string, ending: Ending): Promise<Opened> {
  return JSON.parse((await step(['open', dir], ending)).trim().split('\n').at(-1)!) as Opened;
}

export async function startSweep(root: string, reps: number, partitionCounts: number[] | null): Promise<void> {
  for (const layout of LAYOUTS.filter((l) => !partitionCounts || partitionCounts.includes(l.partitions))) {
    const dir = join(root, `starts-${layout.partitions}`);
    try {
      const fillStarted = performance.now();
      await step(['fill', dir, JSON.stringify(layout)], 'crash');
      const fillSeconds = (performance.now() - fillStarted) / 1000;
      // killed with appends in its journal and seals still waiting, before any checkpoint: the first start replays
      // the one and finishes the others. Then in each repetition: a clean start
      // (after a close), killed once it wrote a sealed-segment checkpoint; a start after that crash, which takes the
      // segments the checkpoint records, killed before writing one; a start after that crash, with no checkpoint
      const first = await openStep(dir, 'close');
      const cleans: Opened[] = [];
      const withCheckpoint: Opened[] = [];
      const withoutCheckpoint: Opened[] = [];
      for (let rep = 0; rep < reps; rep++) {
        cleans.push(await openStep(dir, 'checkpoint-crash'));
        withCheckpoint.push(await openStep(dir, 'crash'));
        withoutCheckpoint.push(await openStep(dir, 'close'));
      }
      if (first.cleanStart || cleans.some((o) => !o.cleanStart) || [...withCheckpoint, ...withoutCheckpoint].some((o) => o.cleanStart)) {
        throw new Error('a start was not of the kind it was meant to be');
      }
      const seconds = (runs: Opened[]) => `${(median(runs.map((o) => o.ms)) / 1000).toFixed(2)} s (${runs.map((o) => (o.ms / 1000).toFixed(2)).join(', ')})`;
      const memory = (runs: Opened[]) => `${median(runs.map((o) => o.rssMb)).toFixed(0)} MB resident, ${Math.round(median(runs.map((o) => o.fds)))} descriptors`;
      console.log(
        `starts ${layout.name} (${layout.partitions} partitions, ${first.segments} segments, ${(layout.bytes / 1e9).toFixed(2)} GB of ${layout.batchBytes} B batches, filled in ${fillSeconds.toFixed(1)} s):\n` +
          `  first after a crash (${first.journalReplayed} journal entries replayed): ${(first.ms / 1000).toFixed(2)} s, ${memory([first])}; segments its crash left unsealed sealed in the background by ${(first.sealedMs / 1000).toFixed(2)} s\n` +
          `  after a clean shutdown: ${seconds(cleans)}, ${memory(cleans)}\n` +
          `  after a crash, with the sealed-segment checkpoint: ${seconds(withCheckpoint)}, ${memory(withCheckpoint)}\n` +
          `  after a crash, without one: ${seconds(withoutCheckpoint)}, ${memory(withoutCheckpoint)}`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
