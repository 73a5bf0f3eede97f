// Sluice side by side with RabbitMQ, NATS JetStream and Redis Streams on this machine: the same workloads,
// each bounded in messages and seconds, repeated, with broker CPU and memory and the client's CPU recorded.
// Usage: npm run bench -- <throughput|fanout|latency|many-topics|backlog|all> [--reps 3] [--seconds 8]
//        [--systems sluice-librdkafka,rabbitmq-classic,...] [--quick] [--backlog-seconds 60] [--label NAME]
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { warmPageCache } from '../warm-pages.js';
import type { ClientResult, ClientSpec } from './client.js';
import type { RunTarget } from './drivers/driver.js';
import { measureLimits } from './limits.js';
import { PLANS, UNSYNCED_LATENCY_CASE, type Plan } from './plans.js';
import { rdkafkaPerformance, runClient, startClient } from './processes.js';
import { writeReport, type Measurement } from './report.js';
import { startServer, watch, type Server } from './servers.js';

const WORKLOADS = ['throughput', 'fanout', 'latency', 'many-topics', 'backlog'] as const;
type Workload = (typeof WORKLOADS)[number];

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    reps: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    systems: { type: 'string' },
    quick: { type: 'boolean', default: false },
    dir: { type: 'string' },
    'backlog-messages': { type: 'string', default: '5000000' },
    'backlog-seconds': { type: 'string', default: '60' },
    label: { type: 'string' },
  },
});
const wanted = positionals[0] ?? 'all';
if (wanted !== 'all' && !(WORKLOADS as readonly string[]).includes(wanted)) {
  console.error(`unknown workload ${wanted}; one of ${WORKLOADS.join(', ')}, all`);
  process.exit(2);
}
const REPS = Number(args.reps);
const SECONDS = Number(args.seconds);
const QUICK = args.quick;
const plans = args.systems ? PLANS.filter((p) => args.systems!.split(',').includes(p.id)) : PLANS;
const PORT = 30_000 + (process.pid % 1000) * 10;
/** More than one phase writes (1M messages of 1 KiB), with room for the broker's and the client's own memory. */
const WARM_BYTES = 1.5 * 2 ** 30;
/** Before every measured phase, so that the pages it takes (page cache and heap) were in use a moment before (see warmPageCache). */
const warmUp = () => warmPageCache(args.dir ?? tmpdir(), WARM_BYTES);

/** Installs the peers from Debian's packages when missing (the benchmark needs root for apt-get). */
function ensurePeersInstalled(): void {
  const missing = [['rabbitmq-server', '/usr/lib/rabbitmq/bin/rabbitmq-server'], ['nats-server', '/usr/sbin/nats-server'], ['redis-server', '/usr/bin/redis-server']]
    .filter(([, path]) => !existsSync(path!))
    .map(([pkg]) => pkg!);
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(', ')} from Debian's packages`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

function rdkafkaBinary(): string {
  const script = fileURLToPath(new URL('../../../bench/tools/build-rdkafka-performance.sh', import.meta.url));
  return execFileSync('bash', [script], { encoding: 'utf8' }).trim();
}

const versions: Record<string, string> = {};
function recordVersions(): void {
  const v = (cmd: string, a: string[]) => {
    try {
      return execFileSync(cmd, a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n')[0]!;
    } catch {
      return 'unknown';
    }
  };
  versions['node'] = process.version;
  versions['rabbitmq-server'] = v('dpkg-query', ['-W', '-f', '${Version}', 'rabbitmq-server']);
  versions['nats-server'] = v('nats-server', ['--version']);
  versions['redis-server'] = v('redis-server', ['--version']);
  versions['librdkafka (rdkafka_performance)'] = v('dpkg-query', ['-W', '-f', '${Version}', 'librdkafka1']);
}

let runCounter = 0;
const runName = (w: string) => `b${Date.now().toString(36)}${(runCounter++).toString(36)}${w.replace(/[^a-z]/g, '').slice(0, 4)}`;

const measurements: Measurement[] = [];

function record(workload: Workload, caseName: string, plan: Plan, rep: number, values: Record<string, number>, flags: string[] = [], error?: string): void {
  const m: Measurement = { workload, case: caseName, plan: plan.id, rep, values, flags, error };
  measurements.push(m);
  const shown = Object.entries(values).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(2)}`).join(' ');
  console.log(`${workload} ${caseName} ${plan.id} #${rep}: ${error ? 'ERROR ' + error : shown}${flags.length ? ' [' + flags.join(', ') + ']' : ''}`);
}

/** A client at or above 90% of a core is the bottleneck, not the broker. */
function clientFlags(r: ClientResult, what: string): string[] {
  return r.seconds > 0 && r.cpuSeconds / r.seconds >= 0.9 ? [`${what} client-bound (${Math.round((100 * r.cpuSeconds) / r.seconds)}% CPU)`] : [];
}

async function withServer<T>(plan: Plan, durable: boolean, fn: (server: Server) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(args.dir ?? tmpdir(), `bench-${plan.id}-`));
  const server = await startServer(plan.server(durable), dir, PORT);
  try {
    return await fn(server);
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function target(plan: Plan, server: Server, durable: boolean, name: string, queues: number): RunTarget {
  return { system: plan.client === 'rdkafka' ? 'sluice' : plan.client, port: server.port, durable, name, queues };
}

function spec(t: RunTarget, role: ClientSpec['role'], o: Partial<ClientSpec> = {}): ClientSpec {
  return { target: t, role, indices: [0], messageBytes: 100, messages: 0, seconds: SECONDS, rate: 0, latency: false, ...o };
}

async function prepare(t: RunTarget): Promise<void> {
  const r = await runClient(spec(t, 'prepare'));
  if (r.error) throw new Error(`prepare: ${r.error}`);
}

async function produceOnce(plan: Plan, server: Server, t: RunTarget, messageBytes: number, messages: number, indices: number[], rate = 0, seconds = SECONDS): Promise<ClientResult> {
  if (plan.client === 'rdkafka') {
    return rdkafkaPerformance(rdkafka!, { role: 'produce', port: server.port, topic: t.name, partition: indices.length === 1 ? indices[0]! : -1, messageBytes, messages, acks: t.durable ? -1 : 1, seconds });
  }
  return runClient(spec(t, 'produce', { indices, messageBytes, messages, rate, seconds }));
}

async function consumeOnce(plan: Plan, server: Server, t: RunTarget, messageBytes: number, messages: number, indices: number[], seconds = SECONDS): Promise<ClientResult> {
  if (plan.client === 'rdkafka') {
    return rdkafkaPerformance(rdkafka!, { role: 'consume', port: server.port, topic: t.name, partition: indices.length === 1 ? indices[0]! : -1, messageBytes, messages, acks: -1, seconds });
  }
  return runClient(spec(t, 'consume', { indices, messageBytes, messages, seconds }));
}

const perSec = (r: ClientResult) => (r.seconds > 0 ? r.messages / r.seconds : 0);
const mb = (bytes: number) => bytes / 1e6;

/** 1 producer → 1 queue, 100 B and 1 KiB, durable and relaxed; then 1 consumer drains what was produced. */
async function throughput(plan: Plan): Promise<void> {
  for (const durable of [true, false]) {
    if (!durable && plan.relaxedSetting === null) continue;
    await withServer(plan, durable, async (server) => {
      for (const size of [100, 1024]) {
        const caseName = `${size} B ${durable ? 'durable' : 'relaxed'}`;
        const limit = (size === 100 ? 3_000_000 : 1_000_000) / (QUICK ? 10 : 1);
        for (let rep = 1; rep <= REPS; rep++) {
          const t = target(plan, server, durable, runName('tp'), 1);
          try {
            await prepare(t);
            warmUp();
            const stopWatch = await watch(server);
            const p = await produceOnce(plan, server, t, size, limit, [0]);
            const broker = await stopWatch();
            if (p.error) throw new Error(p.error);
            const c = await consumeOnce(plan, server, t, size, p.messages, [0]);
            record('throughput', caseName, plan, rep, {
              produceMsgsPerSec: perSec(p), produceMBps: mb(p.bytes) / p.seconds, consumeMsgsPerSec: perSec(c), messages: p.messages,
              brokerCpuPct: (100 * broker.cpuSeconds) / p.seconds, brokerPeakRssMB: mb(broker.peakRssBytes), clientCpuPct: (100 * p.cpuSeconds) / p.seconds,
            }, [...clientFlags(p, 'producer'), ...clientFlags(c, 'consumer'), ...(c.messages < p.messages ? [`consumed ${c.messages} of ${p.messages}`] : [])]);
          } catch (err) {
            record('throughput', caseName, plan, rep, {}, [], String((err as Error).message ?? err));
          }
        }
      }
    });
  }
}

/** 4 producers and 4 consumers at once on 4 partitions / queues, 100 B, durable settings. */
async function fanout(plan: Plan): Promise<void> {
  await withServer(plan, true, async (server) => {
    for (let rep = 1; rep <= REPS; rep++) {
      const t = target(plan, server, true, runName('fan'), 4);
      try {
        await prepare(t);
        const limit = 2_000_000 / (QUICK ? 10 : 1);
        const share = limit / 4;
        const consumers = [0, 1, 2, 3].map((i) =>
          plan.client === 'rdkafka'
            ? { ready: Promise.resolve(), result: rdkafkaPerformance(rdkafka!, { role: 'consume', port: server.port, topic: t.name, partition: i, messageBytes: 100, messages: share, acks: -1, seconds: SECONDS + 5 }) }
            : startClient(spec(t, 'consume', { indices: [i], messages: share, seconds: SECONDS })),
        );
        await Promise.all(consumers.map((c) => c.ready));
        warmUp();
        const stopWatch = await watch(server);
        const started = performance.now();
        // consumers finish when they got their share: the consume rate runs from the first send to the last delivery
        const consumedAt = consumers.map((c) => c.result.then((r) => ({ r, at: performance.now() })));
        const producers = await Promise.all([0, 1, 2, 3].map((i) => produceOnce(plan, server, t, 100, share, [i])));
        const broker = await stopWatch();
        const consumedDone = await Promise.all(consumedAt);
        const consumed = consumedDone.map((c) => c.r);
        const produced = producers.reduce((n, p) => n + p.messages, 0);
        const received = consumed.reduce((n, c) => n + c.messages, 0);
        const produceSeconds = Math.max(...producers.map((p) => p.seconds));
        const consumeSeconds = (Math.max(...consumedDone.map((c) => c.at)) - started) / 1000;
        const errors = [...producers, ...consumed].map((r) => r.error).filter(Boolean);
        if (errors.length) throw new Error(errors.join('; '));
        record('fanout', '4 producers, 4 consumers, 100 B durable', plan, rep, {
          produceMsgsPerSec: produced / produceSeconds, consumeMsgsPerSec: received / consumeSeconds, messages: produced,
          brokerCpuPct: (100 * broker.cpuSeconds) / produceSeconds, brokerPeakRssMB: mb(broker.peakRssBytes),
        }, received < produced ? [`consumed ${received} of ${produced}`] : []);
      } catch (err) {
        record('fanout', '4 producers, 4 consumers, 100 B durable', plan, rep, {}, [], String((err as Error).message ?? err));
      }
    }
  });
}

const WARMUP_SECONDS = 1;

/**
 * End-to-end latency at fixed rates, 100 B, durable settings, one queue; the first second is warm-up, not measured.
 * Sluice is measured once more at 5,000 msgs/s acknowledging before any fsync (flush.policy=none), which is what a
 * RabbitMQ stream and NATS JetStream promise with their durable settings.
 */
async function latency(plan: Plan): Promise<void> {
  if (plan.client === 'rdkafka') return; // the Node client measures Sluice's latency, as for every peer
  await withServer(plan, true, async (server) => {
    for (const rate of [1000, 5000, 20_000]) {
      for (let rep = 1; rep <= REPS; rep++) await latencyCase(plan, server, rate, true, `${rate} msgs/s`, rep);
    }
    if (plan.server(false) !== 'sluice') return;
    for (let rep = 1; rep <= REPS; rep++) await latencyCase(plan, server, 5000, false, UNSYNCED_LATENCY_CASE, rep);
  });
}

async function latencyCase(plan: Plan, server: Server, rate: number, durable: boolean, caseName: string, rep: number): Promise<void> {
  const t = target(plan, server, durable, runName('lat'), 1);
  try {
    await prepare(t);
    const messages = rate * (SECONDS + WARMUP_SECONDS);
    warmUp();
    const consumer = startClient(spec(t, 'consume', { messages, latency: true, seconds: SECONDS + WARMUP_SECONDS + 2 }));
    await consumer.ready;
    const p = await runClient(spec(t, 'produce', { messages, rate, seconds: SECONDS + WARMUP_SECONDS + 5, warmupMs: WARMUP_SECONDS * 1000 }));
    const c = await consumer.result;
    if (p.error || c.error || !c.latency) throw new Error(p.error ?? c.error ?? 'no latency recorded');
    const achieved = p.messages / p.seconds;
    record('latency', caseName, plan, rep, {
      p50Ms: c.latency.p50, p99Ms: c.latency.p99, p999Ms: c.latency.p999, maxMs: c.latency.max, achievedRate: achieved, received: c.messages,
    }, achieved < rate * 0.95 ? [`producer reached only ${Math.round(achieved)} msgs/s`] : []);
    measurements[measurements.length - 1]!.cdf = c.latency.cdf;
  } catch (err) {
    record('latency', caseName, plan, rep, {}, [], String((err as Error).message ?? err));
  }
}

/** The same producer spread round-robin over 10, 1,000 and 10,000 partitions / queues, durable settings. */
async function manyTopics(plan: Plan): Promise<void> {
  await withServer(plan, true, async (server) => {
    for (const queues of [10, 1000, 10_000]) {
      if (queues > plan.maxQueues) continue;
      for (let rep = 1; rep <= REPS; rep++) {
        const t = target(plan, server, true, runName('many'), queues);
        const caseName = `${queues} queues`;
        try {
          const prepStarted = performance.now();
          await prepare(t);
          const prepSeconds = (performance.now() - prepStarted) / 1000;
          warmUp();
          const stopWatch = await watch(server);
          const all = Array.from({ length: queues }, (_, i) => i);
          const p = await produceOnce(plan, server, t, 100, 3_000_000 / (QUICK ? 10 : 1), all);
          const broker = await stopWatch();
          if (p.error) throw new Error(p.error);
          record('many-topics', caseName, plan, rep, {
            produceMsgsPerSec: perSec(p), messages: p.messages, createSeconds: prepSeconds,
            brokerCpuPct: (100 * broker.cpuSeconds) / p.seconds, brokerPeakRssMB: mb(broker.peakRssBytes),
          }, clientFlags(p, 'producer'));
        } catch (err) {
          record('many-topics', caseName, plan, rep, {}, [], String((err as Error).message ?? err));
        }
      }
    }
  });
}

/** Millions of 100 B messages produced with no consumer (durable settings), then drained by one consumer; a fresh broker each time. */
async function backlog(plan: Plan): Promise<void> {
  const target_ = Number(args['backlog-messages']) / (QUICK ? 10 : 1);
  const bound = Number(args['backlog-seconds']);
  for (let rep = 1; rep <= REPS; rep++) await backlogOnce(plan, target_, bound, rep);
}

async function backlogOnce(plan: Plan, target_: number, bound: number, rep: number): Promise<void> {
  await withServer(plan, true, async (server) => {
    const t = target(plan, server, true, runName('back'), 1);
    try {
      await prepare(t);
      warmUp();
      const p = await produceOnce(plan, server, t, 100, target_, [0], 0, bound);
      if (p.error) throw new Error(p.error);
      await new Promise((r) => setTimeout(r, 2000));
      const stopWatch = await watch(server);
      const held = await stopWatch();
      const drainWatch = await watch(server);
      const c = await consumeOnce(plan, server, t, 100, p.messages, [0], bound);
      const drain = await drainWatch();
      record('backlog', `${(target_ / 1e6).toFixed(1)}M × 100 B`, plan, rep, {
        produced: p.messages, produceMsgsPerSec: perSec(p), heldRssMB: mb(held.peakRssBytes), drainSeconds: c.seconds, drainMsgsPerSec: perSec(c),
        drainPeakRssMB: mb(drain.peakRssBytes), drained: c.messages,
      }, [...(p.messages < target_ ? [`reached ${p.messages} of ${target_} in ${bound} s`] : []), ...clientFlags(p, 'producer'), ...clientFlags(c, 'consumer')]);
    } catch (err) {
      record('backlog', `${(target_ / 1e6).toFixed(1)}M × 100 B`, plan, rep, {}, [], String((err as Error).message ?? err));
    }
  });
}

const RUNNERS: Record<Workload, (plan: Plan) => Promise<void>> = { throughput, fanout, latency, 'many-topics': manyTopics, backlog };

let rdkafka: string | null = null;

async function main(): Promise<void> {
  ensurePeersInstalled();
  recordVersions();
  if (plans.some((p) => p.client === 'rdkafka')) rdkafka = rdkafkaBinary();
  const started = new Date();
  console.log('measuring the machine: disk, fsync, loopback');
  const limits = await measureLimits(args.dir ?? tmpdir());
  console.log(JSON.stringify(limits));
  const workloads = wanted === 'all' ? [...WORKLOADS] : [wanted as Workload];
  for (const w of workloads) for (const plan of plans) await RUNNERS[w](plan);
  const files = await writeReport({ started, workloads, plans, measurements, limits, versions, label: args.label, settings: { reps: REPS, seconds: SECONDS, backlogSeconds: Number(args['backlog-seconds']), quick: QUICK, warmBytes: WARM_BYTES } });
  console.log(`report: ${files.join(', ')}`);
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
