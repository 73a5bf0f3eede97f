// What large work on records costs everybody else: a `sluice start` broker takes produce requests whose records it
// must decode (gzip batches of keyed records to a compacted topic) or re-encode (the same batches to a topic that
// stores lz4), one at a time from one connection, while another connection sends an ApiVersions request every 2 ms
// and times each answer. Prints, per case, how long the produces took and the probe's p50, p99 and longest wait.
//   npm run bench:heavy-records -- [--records 200000] [--produces 10] [--repeat 3]
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Admin } from '../../src/admin/admin.js';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { Compression } from '../../src/protocol/compression.js';
import { buildRecordBatch } from '../../src/protocol/records.js';
import { startServer } from '../compare/servers.js';

const { values: options } = parseArgs({
  options: { records: { type: 'string', default: '200000' }, produces: { type: 'string', default: '10' }, repeat: { type: 'string', default: '3' } },
});
const recordCount = Number(options.records);
const produceCount = Number(options.produces);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

/** Produces `batch` to `topic` produceCount times, one after another, while the probe runs. */
async function measure(bootstrap: string, topic: string, batch: Buffer): Promise<string> {
  const heavy = await KafkaClient.connectTo(bootstrap, 'heavy');
  const probe = await KafkaClient.connectTo(bootstrap, 'probe');
  try {
    const waits: number[] = [];
    let running = true;
    const probing = (async () => {
      while (running) {
        const started = performance.now();
        await probe.send(18, 3, { clientSoftwareName: 'probe', clientSoftwareVersion: '1' });
        waits.push(performance.now() - started);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    const started = performance.now();
    for (let i = 0; i < produceCount; i++) {
      const body = { transactionalId: null, acks: -1, timeoutMs: 60_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] };
      const answer = (await heavy.send(0, 9, body)).responses[0].partitionResponses[0];
      if (answer.errorCode !== 0) throw new Error(`produce to ${topic} refused: ${answer.errorCode} ${answer.errorMessage}`);
    }
    const producesMs = performance.now() - started;
    running = false;
    await probing;
    waits.sort((a, b) => a - b);
    const ms = (v: number) => v.toFixed(2);
    return `${topic}: ${produceCount} produces in ${producesMs.toFixed(0)} ms; ${waits.length} probes, p50 ${ms(percentile(waits, 0.5))} ms, p99 ${ms(percentile(waits, 0.99))} ms, longest ${ms(waits.at(-1)!)} ms`;
  } finally {
    heavy.close();
    probe.close();
  }
}

const value = Buffer.alloc(100, 'v');
const records = Array.from({ length: recordCount }, (_, i) => ({ key: `key-${i % 5000}`, value }));
const batch = buildRecordBatch(records, { compression: Compression.GZIP });
records.length = 0;
console.log(`a gzip batch of ${recordCount} keyed records of 100 B: ${batch.length} bytes, ${batch.readUInt32LE(batch.length - 4)} decompressed`);
for (let repetition = 0; repetition < Number(options.repeat); repetition++) {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-heavy-records-'));
  const server = await startServer('sluice', dir, await freePort());
  try {
    const bootstrap = `127.0.0.1:${server.port}`;
    const admin = await Admin.connect(bootstrap);
    const maxMessageBytes = String(Math.max(1 << 20, 8 * batch.length));
    await admin.createTopic('compacted', 1, { 'cleanup.policy': 'compact', 'max.message.bytes': maxMessageBytes });
    await admin.createTopic('lz4', 1, { 'compression.type': 'lz4', 'max.message.bytes': maxMessageBytes });
    admin.close();
    for (const topic of ['compacted', 'lz4']) console.log(await measure(bootstrap, topic, batch));
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
