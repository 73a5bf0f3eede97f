import { LogManager } from './dist/src/storage/log-manager.js';
import { buildRecordBatch } from './dist/src/protocol/records.js';
import { validateBatches } from './dist/src/protocol/record-batch.js';
const [mode, dir, parts] = process.argv.slice(2);
const t0 = performance.now();
const logs = await LogManager.open({ dataDir: dir, maxOpenFiles: 16384, retentionCheckMs: 3_600_000 });
const t1 = performance.now();
console.log(mode, 'open ms', (t1 - t0).toFixed(0));
if (mode === 'fill') {
  await logs.createTopic('s', Number(parts));
  const ps = logs.topics.get('s').partitions;
  const tpl = buildRecordBatch([{ value: Buffer.alloc(1000, 'x') }]);
  let inflight = [];
  for (let i = 0; i < 200000; i++) {
    const b = Buffer.from(tpl);
    inflight.push(ps[i % ps.length].append(b, validateBatches(b, 1 << 20)).durable);
    if (inflight.length >= 4096) { await Promise.all(inflight); inflight = []; }
  }
  await Promise.all(inflight);
  console.log('filled');
  process.kill(process.pid, 'SIGKILL');
} else {
  const t2 = performance.now(); await logs.close(); console.log('close ms', (performance.now() - t2).toFixed(0));
}
