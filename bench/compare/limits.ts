// The machine's own limits, measured in the same run as the brokers: sequential disk writes with and without an
// fdatasync after each write, fsync latency, and loopback TCP bandwidth.
import { mkdtemp, open, rm } from 'node:fs/promises';
import { createServer, connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { warmPageCache } from '../warm-pages.js';

export interface Limits {
  diskWriteMBps: number;
  /** Same writes, fdatasync after every `fsyncEveryBytes`. */
  diskFsyncMBps: number;
  fsyncEveryBytes: number;
  fsyncLatencyMs: { p50: number; p99: number };
  loopbackMBps: number;
}

/** A disk write measurement stops at this many bytes, if its seconds are not up first. */
const DISK_WRITE_MAX_BYTES = 2 * 2 ** 30;

async function diskWrite(dir: string, chunk: number, seconds: number, fsync: boolean): Promise<number> {
  warmPageCache(dir, DISK_WRITE_MAX_BYTES * 1.25);
  const fh = await open(join(dir, `seq-${fsync}`), 'w');
  const buf = Buffer.alloc(chunk, 1);
  let bytes = 0;
  const started = performance.now();
  try {
    while (performance.now() - started < seconds * 1000 && bytes < DISK_WRITE_MAX_BYTES) {
      await fh.write(buf, 0, chunk, bytes);
      if (fsync) await fh.datasync();
      bytes += chunk;
    }
    if (!fsync) await fh.datasync(); // the page cache is not the disk: count the final flush
  } finally {
    await fh.close();
  }
  return bytes / 1e6 / ((performance.now() - started) / 1000);
}

async function fsyncLatency(dir: string, rounds: number): Promise<{ p50: number; p99: number }> {
  const fh = await open(join(dir, 'fsync-latency'), 'w');
  const buf = Buffer.alloc(4096, 2);
  const times: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const t = performance.now();
      await fh.write(buf, 0, buf.length, i * buf.length);
      await fh.datasync();
      times.push(performance.now() - t);
    }
  } finally {
    await fh.close();
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(rounds * 0.5)]!, p99: times[Math.floor(rounds * 0.99)]! };
}

async function loopback(seconds: number): Promise<number> {
  let received = 0;
  const server = createServer((s) => s.on('data', (d: Buffer) => (received += d.length)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const socket = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
  await new Promise((r) => socket.once('connect', r));
  const chunk = Buffer.alloc(1 << 20, 3);
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  }
  const mbps = received / 1e6 / ((performance.now() - started) / 1000);
  socket.destroy();
  await new Promise((r) => server.close(r));
  return mbps;
}

/** `dir` should be on the disk the brokers write to. */
export async function measureLimits(parent: string, seconds = 4): Promise<Limits> {
  const dir = await mkdtemp(join(parent, 'limits-'));
  try {
    const fsyncEveryBytes = 256 * 1024;
    return {
      diskWriteMBps: await diskWrite(dir, fsyncEveryBytes, seconds, false),
      diskFsyncMBps: await diskWrite(dir, fsyncEveryBytes, seconds, true),
      fsyncEveryBytes,
      fsyncLatencyMs: await fsyncLatency(dir, 300),
      loopbackMBps: await loopback(seconds),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
