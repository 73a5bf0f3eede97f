// Burrow, LinkedIn's consumer lag monitor, as Debian packages it (burrow 1.2.1): it reads every group's committed
// offsets from __consumer_offsets itself, decoding Kafka's record formats, and asks the brokers for the partitions'
// log end offsets, so it checks that Sluice writes that topic as Kafka does. It needs a ZooKeeper for its own
// locks (Debian's zookeeper), started here beside it; both listen on 127.0.0.1 only.
import { rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { withCleanup } from '../helpers/cleanup.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { freePort, poll, startProcess, type StartedProcess } from '../helpers/processes.js';

/** One Burrow cluster (with its consumer module) per entry: the name in its HTTP paths, the Kafka version it speaks. */
export interface BurrowCluster {
  name: string;
  /** Burrow's `kafka-version`; left out, Burrow speaks its default, Kafka 0.8.2 (Fetch v0). */
  kafkaVersion?: string;
}

export interface Burrow {
  /** GETs a path of Burrow's HTTP API and returns its JSON body. */
  get(path: string): Promise<any>;
  /** What Burrow has logged so far, one JSON object per line. */
  logs(): Record<string, unknown>[];
}

/** How long one request to ZooKeeper or Burrow may take: a server that accepts and never answers must not hang a poll. */
const REQUEST_TIMEOUT_MS = 5_000;

async function startZooKeeper(dir: string) {
  const port = await freePort();
  const config = join(dir, 'zoo.cfg');
  await writeFile(config, [
    'tickTime=2000',
    `dataDir=${join(dir, 'zookeeper')}`,
    `clientPort=${port}`,
    'clientPortAddress=127.0.0.1',
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr',
  ].join('\n') + '\n');
  const zk = startProcess('java', ['-Xmx128m', '-cp', '/usr/share/java/zookeeper.jar', 'org.apache.zookeeper.server.ZooKeeperServerMain', config]);
  try {
    await poll('ZooKeeper to serve', () => fourLetterWord(port, 'srvr').then((a) => (a.includes('Mode: standalone') ? a : undefined)), 45_000);
  } catch (err) {
    await zk.stop();
    throw new Error(`${(err as Error).message}; ZooKeeper printed: ${zk.output().slice(-2000)}`);
  }
  return { port, stop: zk.stop };
}

function fourLetterWord(port: number, word: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy(new Error(`no answer to ${word} in ${REQUEST_TIMEOUT_MS} ms`)));
    const chunks: Buffer[] = [];
    socket.on('connect', () => socket.end(word));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function burrowConfig(dir: string, zkPort: number, httpPort: number, bootstrap: string, clusters: BurrowCluster[]): string {
  const lines = [
    '[general]',
    `pidfile="${join(dir, 'burrow.pid')}"`,
    '[logging]',
    'level="info"',
    '[zookeeper]',
    `servers=["127.0.0.1:${zkPort}"]`,
    'timeout=6',
    'root-path="/burrow"',
    '[httpserver.default]',
    `address="127.0.0.1:${httpPort}"`,
    '[storage.default]',
    'class-name="inmemory"',
    'workers=4',
    'intervals=10',
    'expire-group=604800',
    'min-distance=1',
  ];
  for (const c of clusters) {
    lines.push(`[client-profile.${c.name}]`, `client-id="burrow-${c.name}"`);
    if (c.kafkaVersion) lines.push(`kafka-version="${c.kafkaVersion}"`);
    lines.push(
      `[cluster.${c.name}]`, 'class-name="kafka"', `servers=["${bootstrap}"]`, `client-profile="${c.name}"`, 'topic-refresh=1', 'offset-refresh=1',
      `[consumer.${c.name}]`, 'class-name="kafka"', `cluster="${c.name}"`, `servers=["${bootstrap}"]`, `client-profile="${c.name}"`, 'start-latest=false',
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * Starts Burrow with the config in `dir` and waits for its HTTP API to list its clusters. Under load its first
 * session with a ZooKeeper just started may fail, and Burrow then exits at once: it is started again, three times
 * at most.
 */
async function startBurrow(dir: string, httpPort: number, clusters: number): Promise<StartedProcess> {
  const printed: string[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    await rm(join(dir, 'burrow.pid'), { force: true });
    const proc = startProcess('Burrow', ['--config-dir', dir]);
    const listed = await poll('Burrow to list its clusters, or to exit', async () => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) return false;
      const res = await fetch(`http://127.0.0.1:${httpPort}/v3/kafka`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      const body = (await res.json()) as { clusters?: string[] };
      return body.clusters?.length === clusters ? true : undefined;
    }, 30_000).catch(() => false);
    if (listed) return proc;
    await proc.stop();
    printed.push(`attempt ${attempt}: ${proc.output().slice(-3000)}`);
  }
  throw new Error(`Burrow did not start; it printed:\n${printed.join('\n')}`);
}

/** Runs `fn` with a ZooKeeper and a Burrow watching the broker at `bootstrap`, then stops both. */
export async function withBurrow<T>(bootstrap: string, clusters: BurrowCluster[], fn: (burrow: Burrow) => Promise<T>): Promise<T> {
  return withTempDir(async (dir) => {
    const zk = await startZooKeeper(dir);
    return withCleanup(async () => {
      const httpPort = await freePort();
      await writeFile(join(dir, 'burrow.toml'), burrowConfig(dir, zk.port, httpPort, bootstrap, clusters));
      const proc = await startBurrow(dir, httpPort, clusters.length);
      const burrow: Burrow = {
        async get(path) {
          const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
          return res.json();
        },
        logs: () => proc.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>),
      };
      return withCleanup(() => fn(burrow), proc.stop);
    }, zk.stop);
  });
}

/** Polls Burrow's `path` until `accept` takes its JSON body (returning what the test needs), for up to `timeoutMs`. */
export async function burrowUntil<T>(burrow: Burrow, path: string, accept: (body: any) => T | undefined, timeoutMs = 40_000): Promise<T> {
  let last: unknown;
  try {
    return await poll(`Burrow's ${path}`, async () => accept((last = await burrow.get(path))), timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; it last answered ${JSON.stringify(last)}`);
  }
}
