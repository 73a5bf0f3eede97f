// Child processes of a benchmark: the Node client (client.ts) and librdkafka's rdkafka_performance.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ClientResult, ClientSpec } from './client.js';
import { cpuSeconds } from './servers.js';

const CLIENT = fileURLToPath(new URL('./client.js', import.meta.url));

export interface RunningClient {
  /** Resolves when a consumer has subscribed (it prints a ready line), or at once for other roles. */
  ready: Promise<void>;
  result: Promise<ClientResult>;
}

/** Starts one Node client process; its result is the last JSON line it prints. */
export function startClient(spec: ClientSpec, timeoutMs = (spec.seconds + 120) * 1000): RunningClient {
  const child = spawn(process.execPath, [CLIENT, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  if (spec.role !== 'consume') markReady();
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('"ready":true')) markReady();
  });
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const result = new Promise<ClientResult>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      markReady();
      const lines = out.split('\n').filter((l) => l.startsWith('{') && !l.includes('"ready":true'));
      const last = lines[lines.length - 1];
      if (!last) resolve({ messages: 0, bytes: 0, seconds: 0, cpuSeconds: 0, error: `client exited ${code}: ${err.slice(-1000)}` });
      else resolve(JSON.parse(last) as ClientResult);
    });
  });
  return { ready, result };
}

export async function runClient(spec: ClientSpec): Promise<ClientResult> {
  return startClient(spec).result;
}

/** rdkafka_performance as a producer or consumer; returns what it printed in its summary line. */
export function rdkafkaPerformance(
  binary: string,
  o: {
    role: 'produce' | 'consume'; port: number; topic: string; partition: number; messageBytes: number; messages: number; acks: -1 | 1; seconds: number;
    /** librdkafka properties besides (security.protocol, sasl.*, ssl.*). */
    settings?: Record<string, string>;
  },
): Promise<ClientResult> {
  const args = o.role === 'produce'
    ? ['-P', '-t', o.topic, '-b', `127.0.0.1:${o.port}`, '-s', String(o.messageBytes), '-c', String(o.messages), '-a', String(o.acks), '-X', 'linger.ms=5']
    : ['-C', '-t', o.topic, '-b', `127.0.0.1:${o.port}`, '-o', 'beginning', '-c', String(o.messages)];
  if (o.partition >= 0) args.push('-p', String(o.partition));
  for (const [name, value] of Object.entries(o.settings ?? {})) args.push('-X', `${name}=${value}`);
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // its CPU time, read from /proc while it runs (the last reading before it exits)
    let cpu = 0;
    const sampler = setInterval(() => void cpuSeconds(child.pid!).then((c) => (cpu = Math.max(cpu, c))), 100);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // past the time bound, an interrupt makes it stop and print its summary
    const interrupt = setTimeout(() => child.kill('SIGINT'), o.seconds * 1000);
    const kill = setTimeout(() => child.kill('SIGKILL'), o.seconds * 1000 + 30_000);
    child.on('close', () => {
      clearTimeout(interrupt);
      clearTimeout(kill);
      clearInterval(sampler);
      const wall = Number(process.hrtime.bigint() - started) / 1e9;
      const produced = [...out.matchAll(/% (\d+) messages produced \((\d+) bytes\), (\d+) delivered .* in (\d+)ms/g)].pop();
      const consumed = [...out.matchAll(/% (\d+) messages \((\d+) bytes\) consumed in (\d+)ms/g)].pop();
      const m = o.role === 'produce' ? produced : consumed;
      if (!m) return resolve({ messages: 0, bytes: 0, seconds: wall, cpuSeconds: 0, error: `no summary from rdkafka_performance: ${out.slice(-800)}` });
      const messages = Number(o.role === 'produce' ? m[3] : m[1]);
      const ms = Number(o.role === 'produce' ? m[4] : m[3]);
      resolve({ messages, bytes: messages * o.messageBytes, seconds: ms / 1000, cpuSeconds: cpu });
    });
  });
}
