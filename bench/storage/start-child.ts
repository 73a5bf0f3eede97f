// One step of the start benchmark (see start-sweep.ts), in a process of its own so each start is a process's first:
//   fill <dir> <layout JSON> <ending>   appends the layout's data with acks after fsync, then ends
//   open <dir> <ending>                 opens the data dir, prints how long that took as one JSON line, then ends
// The ending: close (a clean shutdown), crash (SIGKILL), or checkpoint-crash (SIGKILL once the sealed-segment
// checkpoint a broker writes every minute is written).
import { readdirSync } from 'node:fs';
import { nodeFileSystem } from '../../src/io/file-system.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { batchOfSize } from './batch-of-size.js';
import { roundRobinAppends } from './round-robin-appends.js';
import type { StartLayout } from './start-sweep.js';

const [step, dir, ...rest] = process.argv.slice(2);
const open = () => LogManager.open({ dataDir: dir!, fs: nodeFileSystem, maxOpenFiles: 16384, retentionCheckMs: 3_600_000 });

async function end(logs: LogManager, how: string | undefined): Promise<void> {
  if (how === 'checkpoint-crash') await logs.checkpointSealedSegments();
  if (how === 'crash' || how === 'checkpoint-crash') process.kill(process.pid, 'SIGKILL');
  await logs.close();
}

if (step === 'fill') {
  const layout = JSON.parse(rest[0]!) as StartLayout;
  const logs = await open();
  await logs.createTopic('bench', layout.partitions, layout.configs);
  const all = logs.topics.get('bench')!.partitions;
  const template = batchOfSize(layout.batchBytes);
  const count = Math.ceil(layout.bytes / template.length);
  // 8 MiB in flight, round-robin over the partitions, as the append benchmark issues them
  await roundRobinAppends(all, template, Math.max(64, Math.floor((8 << 20) / template.length)), (issued) => issued < count);
  await end(logs, rest[1]);
} else if (step === 'open') {
  const started = performance.now();
  const logs = await open();
  const ms = performance.now() - started;
  // the seals a crash cut short are finished in the background: timed apart, and done before the step ends
  await logs.recoveryFinished;
  const sealedMs = performance.now() - started;
  const segments = [...logs.topics.values()].reduce((n, t) => n + t.partitions.reduce((m, log) => m + log.segments.length, 0), 0);
  const fds = readdirSync('/proc/self/fd').length;
  console.log(JSON.stringify({ ms, sealedMs, cleanStart: logs.cleanStart, journalReplayed: logs.journalReplayed, segments, fds, rssMb: process.memoryUsage().rss / 1048576 }));
  await end(logs, rest[0]);
} else {
  throw new Error(`unknown step ${step}`);
}
