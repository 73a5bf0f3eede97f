// One benchmark client process: produces, consumes or measures latency against one system through its driver,
// then prints one JSON line with what it did and the CPU time it used (so runs where the client, not the
// broker, was the bottleneck can be flagged). Started by run.ts; its argument is a ClientSpec as JSON.
import hdr from 'hdr-histogram-js';
import { amqpDriver } from './drivers/amqp.js';
import type { Driver, RunTarget } from './drivers/driver.js';
import { kafkaDriver } from './drivers/kafka.js';
import { natsDriver } from './drivers/nats.js';
import { platformaticDriver } from './drivers/platformatic.js';
import { redisDriver } from './drivers/redis.js';

export interface ClientSpec {
  target: RunTarget;
  role: 'prepare' | 'produce' | 'consume';
  /** produce: queues written round-robin; consume: queues read. */
  indices: number[];
  messageBytes: number;
  /** Stop after this many messages (produce: sent; consume: received)... */
  messages: number;
  /** ...or after this many seconds. */
  seconds: number;
  /** produce: messages per second in total; 0 means as fast as confirmations allow. */
  rate: number;
  /** consume: record end-to-end latency from the send time carried in each payload. */
  latency: boolean;
  /**
   * produce: messages sent in the first this many ms of sending are marked as warm-up (connections, metadata, the
   * client's first compilations), and a latency consumer does not record them.
   */
  warmupMs?: number;
}

export interface ClientResult {
  messages: number;
  bytes: number;
  /** From the first send (or the start of consuming) to the last confirmation (or message). */
  seconds: number;
  cpuSeconds: number;
  /** Latency percentiles in ms, and a CDF (percentile → ms) for charts. */
  latency?: { p50: number; p99: number; p999: number; max: number; count: number; cdf: [number, number][] };
  error?: string;
}

const BATCH = 200;
const WINDOW = 8;

export async function driverFor(target: RunTarget): Promise<Driver> {
  switch (target.system) {
    case 'sluice':
      return kafkaDriver(target);
    case 'sluice-platformatic':
      return platformaticDriver(target);
    case 'rabbitmq-classic':
      return amqpDriver(target, 'classic');
    case 'rabbitmq-quorum':
      return amqpDriver(target, 'quorum');
    case 'rabbitmq-stream':
      return amqpDriver(target, 'stream');
    case 'nats-jetstream':
      return natsDriver(target);
    case 'redis-streams':
      return redisDriver(target);
  }
}

const nowMs = () => performance.timeOrigin + performance.now();

/** The byte after the send time: whether the message was sent after the producer's warm-up. */
const MEASURED_AT = 8;
const MEASURED = 1;

function payload(bytes: number, measured: boolean): Buffer {
  const p = Buffer.alloc(Math.max(MEASURED_AT + 1, bytes), 'x');
  p.writeDoubleLE(nowMs(), 0);
  p[MEASURED_AT] = measured ? MEASURED : 0;
  return p;
}

/** Sends as fast as confirmations allow (WINDOW batches in flight), or paced at `rate` messages per second. */
async function produce(driver: Driver, spec: ClientSpec): Promise<Omit<ClientResult, 'cpuSeconds'>> {
  const started = nowMs();
  const deadline = started + spec.seconds * 1000;
  const warmUntil = started + (spec.warmupMs ?? 0);
  let sent = 0;
  let confirmed = 0;
  let next = 0;
  const inflight = new Set<Promise<void>>();
  let failure: unknown = null;
  const launch = (count: number) => {
    const measured = nowMs() >= warmUntil;
    const batch = Array.from({ length: count }, () => payload(spec.messageBytes, measured));
    const index = spec.indices[next++ % spec.indices.length]!;
    sent += count;
    const p = driver.send(index, batch).then(
      () => void (confirmed += count),
      (err) => void (failure ??= err),
    );
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  while (sent < spec.messages && nowMs() < deadline && failure === null) {
    if (spec.rate > 0) {
      const due = Math.min(spec.messages, Math.floor(((nowMs() - started) / 1000) * spec.rate));
      if (due > sent) launch(Math.min(due - sent, BATCH));
      else await new Promise((r) => setTimeout(r, 1));
    } else if (inflight.size < WINDOW) {
      launch(Math.min(BATCH, spec.messages - sent));
    } else {
      await Promise.race(inflight);
    }
  }
  await Promise.all(inflight);
  if (failure) throw failure;
  return { messages: confirmed, bytes: confirmed * spec.messageBytes, seconds: (nowMs() - started) / 1000 };
}

/**
 * How long past the deadline a consumer waits for its first message. In fan-out, consumers start before the
 * producers and wait through a group's joins and the warm-up before the first send: kafkajs consumers that took
 * seconds to join gave up before the first message came (0 received), when the 3 s rule below counted from their start.
 */
const FIRST_MESSAGE_WAIT_MS = 30_000;

/**
 * Receives until `messages` arrived, or nothing arrived for 3 s after the deadline passed (before the first message,
 * FIRST_MESSAGE_WAIT_MS past it).
 */
async function consume(driver: Driver, spec: ClientSpec): Promise<Omit<ClientResult, 'cpuSeconds'>> {
  const histogram = spec.latency ? hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 }) : null;
  const started = nowMs();
  let received = 0;
  let last = started;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  await driver.consume(spec.indices, (payloads) => {
    const now = nowMs();
    for (const p of payloads) {
      // latency in microseconds, from the send time the producer wrote into the payload
      if (histogram && p[MEASURED_AT] === MEASURED) histogram.recordValue(Math.max(1, Math.round((now - p.readDoubleLE(0)) * 1000)));
    }
    received += payloads.length;
    last = now;
    if (received >= spec.messages) resolveDone();
  });
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  const deadline = started + spec.seconds * 1000;
  while (received < spec.messages) {
    const timeout = new Promise<void>((r) => setTimeout(r, 200));
    await Promise.race([done, timeout]);
    if (received > 0 ? nowMs() > deadline && nowMs() - last > 3000 : nowMs() > deadline + FIRST_MESSAGE_WAIT_MS) break;
  }
  const result: Omit<ClientResult, 'cpuSeconds'> = { messages: received, bytes: received * spec.messageBytes, seconds: (last - started) / 1000 };
  if (histogram && histogram.totalCount > 0) {
    const ms = (us: number) => us / 1000;
    const cdf: [number, number][] = [];
    for (const q of [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100]) cdf.push([q, ms(histogram.getValueAtPercentile(q))]);
    result.latency = {
      p50: ms(histogram.getValueAtPercentile(50)), p99: ms(histogram.getValueAtPercentile(99)), p999: ms(histogram.getValueAtPercentile(99.9)),
      max: ms(histogram.maxValue), count: histogram.totalCount, cdf,
    };
  }
  return result;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]!) as ClientSpec;
  const driver = await driverFor(spec.target);
  const cpu0 = process.cpuUsage();
  let result: Omit<ClientResult, 'cpuSeconds'>;
  try {
    if (spec.role === 'prepare') {
      await driver.prepare();
      result = { messages: 0, bytes: 0, seconds: 0 };
    } else if (spec.role === 'produce') {
      result = await produce(driver, spec);
    } else {
      result = await consume(driver, spec);
    }
  } catch (err) {
    result = { messages: 0, bytes: 0, seconds: 0, error: String((err as Error)?.message ?? err) };
  }
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(JSON.stringify({ ...result, cpuSeconds: (cpu.user + cpu.system) / 1e6 }) + '\n');
  await Promise.race([driver.close(), new Promise((r) => setTimeout(r, 5000))]);
  process.exit(0);
}

void main();
