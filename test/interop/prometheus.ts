// Prometheus as Debian packages it (prometheus 2.42), scraping Sluice's metrics endpoint once a second: its own
// parser reads what the broker writes, and its query API answers with what it stored. It listens on 127.0.0.1 only.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withCleanup } from '../helpers/cleanup.js';
import { freePort, poll, startProcess } from '../helpers/processes.js';
import { withTempDir } from '../helpers/temp-dir.js';

export interface Prometheus {
  /** An instant query's vector: each series' labels and value, in the order Prometheus gives them. */
  query(promql: string): Promise<{ labels: Record<string, string>; value: number }[]>;
  /** A job's scrape target's state, as Prometheus' targets API reports it (`health`, `lastError`). */
  target(job: string): Promise<{ health: string; lastError: string }>;
}

/** One scrape job: its name, the broker's host:port, and how it reaches the endpoint (HTTPS trusting a CA file, a user). */
export interface ScrapeJob {
  job: string;
  target: string;
  https?: { caFile: string };
  basicAuth?: { username: string; password: string };
}

/** How long one request to Prometheus may take, so that a server that never answers fails a poll instead of hanging it. */
const REQUEST_TIMEOUT_MS = 5_000;

/** Runs `fn` with a Prometheus scraping each job's /metrics every second, then stops it. */
export async function withPrometheus<T>(jobs: ScrapeJob[], fn: (p: Prometheus) => Promise<T>): Promise<T> {
  return withTempDir(async (dir) => {
    const port = await freePort();
    const config = join(dir, 'prometheus.yml');
    await writeFile(config, [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      ...jobs.flatMap(({ job, target, https, basicAuth }) => [
        `  - job_name: ${job}`,
        ...(https ? ['    scheme: https', '    tls_config:', `      ca_file: ${https.caFile}`] : []),
        ...(basicAuth ? ['    basic_auth:', `      username: ${basicAuth.username}`, `      password: ${basicAuth.password}`] : []),
        '    static_configs:',
        `      - targets: ['${target}']`,
      ]),
    ].join('\n') + '\n');
    const proc = startProcess('prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ]);
    const api = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
      return res.json() as Promise<any>;
    };
    return withCleanup(async () => {
      await poll('Prometheus to be ready, or to exit', async () => {
        if (proc.child.exitCode !== null) throw new Error(`prometheus exited ${proc.child.exitCode}:\n${proc.output()}`);
        const res = await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        return res.ok ? true : undefined;
      }, 30_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${proc.output()}`);
      });
      return fn({
        query: async (promql) => {
          const body = await api(`/api/v1/query?query=${encodeURIComponent(promql)}`);
          return body.data.result.map((r: { metric: Record<string, string>; value: [number, string] }) => ({ labels: r.metric, value: Number(r.value[1]) }));
        },
        target: async (job) => {
          const body = await api('/api/v1/targets');
          const t = body.data.activeTargets.find((a: { labels: { job: string } }) => a.labels.job === job);
          return { health: t.health, lastError: t.lastError };
        },
      });
    }, proc.stop);
  });
}
