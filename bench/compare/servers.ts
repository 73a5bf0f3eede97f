// Starting and stopping the brokers under test, each on loopback with its data in a temp dir, and reading their
// CPU time and memory from /proc (summed over the process tree: RabbitMQ runs as several processes).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ServerKind = 'sluice' | 'rabbitmq' | 'nats' | 'redis-everysec' | 'redis-always';

export interface Server {
  kind: ServerKind;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const SLUICE_BIN = fileURLToPath(new URL('../../../bin/sluice.js', import.meta.url));
const TICKS_PER_SECOND = 100;

function waitForPort(port: number, timeoutMs: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`server exited with ${child.exitCode}: ${log().slice(-2000)}`));
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`port ${port} not open after ${timeoutMs} ms: ${log().slice(-2000)}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

function launch(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; output: () => string } {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return { child, output: () => out };
}

/** Stops a process tree by PID: SIGTERM to each, then SIGKILL to what is left after `graceMs`. */
async function stopTree(rootPid: number, graceMs = 15_000): Promise<void> {
  const pids = await treePids(rootPid);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && (await Promise.all(pids.map(alive))).some(Boolean)) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The process and all its descendants. */
async function treePids(root: number): Promise<number[]> {
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    const tasks = await readdir(`/proc/${out[i]}/task`).catch(() => [] as string[]);
    for (const t of tasks) {
      const children = await readFile(`/proc/${out[i]}/task/${t}/children`, 'utf8').catch(() => '');
      for (const c of children.split(' ').filter(Boolean)) out.push(Number(c));
    }
  }
  return out;
}

/** CPU seconds (user + system) used so far by a process tree. */
export async function cpuSeconds(root: number): Promise<number> {
  let ticks = 0;
  for (const pid of await treePids(root)) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return ticks / TICKS_PER_SECOND;
}

/** Resident memory of a process tree, in bytes. */
async function rssBytes(root: number): Promise<number> {
  let kb = 0;
  for (const pid of await treePids(root)) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }
  return kb * 1024;
}

/** Samples a server's CPU and peak RSS over a phase of a benchmark. */
export async function watch(server: Server): Promise<() => Promise<{ cpuSeconds: number; peakRssBytes: number }>> {
  const cpuStart = await cpuSeconds(server.pid);
  let peak = await rssBytes(server.pid);
  const timer = setInterval(() => void rssBytes(server.pid).then((r) => (peak = Math.max(peak, r))), 250);
  return async () => {
    clearInterval(timer);
    peak = Math.max(peak, await rssBytes(server.pid));
    return { cpuSeconds: (await cpuSeconds(server.pid)) - cpuStart, peakRssBytes: peak };
  };
}

/**
 * Starts one broker. Sluice: the project's own build (`bin/sluice.js`). RabbitMQ: its own epmd and node, no
 * plugins, default settings. NATS: JetStream with file storage in `dir` (the Debian build, 2.9, cannot fsync
 * every write). Redis: AOF on, `appendfsync everysec` or `always`, no RDB snapshots.
 */
export async function startServer(kind: ServerKind, dir: string, port: number, sluiceArgs: readonly string[] = []): Promise<Server> {
  await mkdir(dir, { recursive: true });
  let launched: ReturnType<typeof launch>;
  let extraStop: () => Promise<void> = async () => undefined;
  let bootMs = 20_000;
  switch (kind) {
    case 'sluice':
      // run as a user runs it: its #! line gives Node its flags and malloc settings
      launched = launch(SLUICE_BIN, ['start', '--port', String(port), '--data-dir', join(dir, 'data'), '--default-partitions', '1', ...sluiceArgs], { SLUICE_LOG_LEVEL: 'warn' });
      break;
    case 'rabbitmq': {
      // a private epmd on its own port, so nothing outside this run is touched
      const epmdPort = port + 1;
      const epmd = launch('epmd', ['-address', '127.0.0.1', '-port', String(epmdPort)]);
      extraStop = () => stopTree(epmd.child.pid!, 2000);
      await writeFile(join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users = none\n`);
      await writeFile(join(dir, 'enabled_plugins'), '[].\n');
      launched = launch('/usr/lib/rabbitmq/bin/rabbitmq-server', [], {
        HOME: dir, RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'), RABBITMQ_LOG_BASE: join(dir, 'log'), RABBITMQ_NODENAME: `bench${port}@localhost`,
        RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'), RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'), RABBITMQ_DIST_PORT: String(port + 2),
        ERL_EPMD_PORT: String(epmdPort), ERL_EPMD_ADDRESS: '127.0.0.1', RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1', RABBITMQ_PID_FILE: join(dir, 'pid'),
      });
      bootMs = 60_000;
      break;
    }
    case 'nats':
      // nats-server 2.9 has no sync_interval setting (2.10 added `always`): its file store fsyncs on its own schedule
      await writeFile(join(dir, 'nats.conf'), `listen: 127.0.0.1:${port}\njetstream {\n  store_dir: "${join(dir, 'js')}"\n}\n`);
      launched = launch('nats-server', ['-c', join(dir, 'nats.conf')]);
      break;
    case 'redis-everysec':
    case 'redis-always':
      launched = launch('redis-server', [
        '--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--appendonly', 'yes', '--appendfsync', kind === 'redis-always' ? 'always' : 'everysec',
        '--save', '', '--protected-mode', 'no',
      ]);
      break;
  }
  try {
    await waitForPort(port, bootMs, launched.child, launched.output);
  } catch (err) {
    await stopTree(launched.child.pid!, 2000);
    await extraStop();
    throw err;
  }
  const pid = launched.child.pid!;
  return {
    kind,
    port,
    pid,
    async stop() {
      await stopTree(pid);
      await extraStop();
    },
  };
}
