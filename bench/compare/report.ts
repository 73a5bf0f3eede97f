// The report of a comparison run: Markdown with the machine, versions, settings, medians and min–max of every
// case, Sluice/peer ratios and where Sluice stands against the targets; the raw measurements as JSON; SVG charts.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, hostname, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { barChart, cdfChart, type Bar } from './charts.js';
import type { Limits } from './limits.js';
import { UNSYNCED_LATENCY_CASE, type Plan } from './plans.js';
import { median } from '../stats.js';

export interface Measurement {
  workload: string;
  case: string;
  plan: string;
  rep: number;
  values: Record<string, number>;
  flags: string[];
  error?: string;
  cdf?: [number, number][];
}

export interface RunReport {
  started: Date;
  workloads: string[];
  plans: Plan[];
  measurements: Measurement[];
  limits: Limits;
  versions: Record<string, string>;
  settings: { reps: number; seconds: number; backlogSeconds: number; quick: boolean; warmBytes: number };
  /** Added to the report's file names (several runs on one day). */
  label?: string;
}

const RESULTS = fileURLToPath(new URL('../../../bench/results/', import.meta.url));

interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

function stat(values: number[]): Stat | null {
  if (values.length === 0) return null;
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

const num = (v: number) => (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(Math.abs(v) >= 10 ? 1 : 2));
const cell = (s: Stat | null) => (s ? (s.n > 1 ? `${num(s.median)} (${num(s.min)}–${num(s.max)})` : num(s.median)) : '–');

/** Median/min/max of one value over the reps of a case and plan. */
function statOf(r: RunReport, workload: string, caseName: string, plan: string, key: string): Stat | null {
  return stat(r.measurements.filter((m) => m.workload === workload && m.case === caseName && m.plan === plan && !m.error && m.values[key] !== undefined).map((m) => m.values[key]!));
}

const COLUMNS: Record<string, [string, string][]> = {
  throughput: [['produceMsgsPerSec', 'produce msgs/s'], ['produceMBps', 'produce MB/s'], ['consumeMsgsPerSec', 'drain msgs/s'], ['brokerCpuPct', 'broker CPU %'], ['brokerPeakRssMB', 'broker RSS MB'], ['clientCpuPct', 'producer CPU %']],
  fanout: [['produceMsgsPerSec', 'produce msgs/s'], ['consumeMsgsPerSec', 'consume msgs/s'], ['brokerCpuPct', 'broker CPU %'], ['brokerPeakRssMB', 'broker RSS MB']],
  latency: [['p50Ms', 'p50 ms'], ['p99Ms', 'p99 ms'], ['p999Ms', 'p99.9 ms'], ['maxMs', 'max ms'], ['achievedRate', 'sent msgs/s']],
  'many-topics': [['produceMsgsPerSec', 'produce msgs/s'], ['createSeconds', 'create s'], ['brokerCpuPct', 'broker CPU %'], ['brokerPeakRssMB', 'broker RSS MB']],
  backlog: [['produced', 'produced'], ['produceMsgsPerSec', 'produce msgs/s'], ['heldRssMB', 'RSS holding MB'], ['drainSeconds', 'drain s'], ['drainMsgsPerSec', 'drain msgs/s']],
};

function casesOf(r: RunReport, workload: string): string[] {
  return [...new Set(r.measurements.filter((m) => m.workload === workload).map((m) => m.case))];
}

function table(r: RunReport, workload: string): string[] {
  const cols = COLUMNS[workload]!;
  const out = [`| case | system | ${cols.map(([, h]) => h).join(' | ')} | notes |`, `|---|---|${cols.map(() => '---:').join('|')}|---|`];
  for (const c of casesOf(r, workload)) {
    for (const p of r.plans) {
      const ms = r.measurements.filter((m) => m.workload === workload && m.case === c && m.plan === p.id);
      if (ms.length === 0) continue;
      const notes = [...new Set([...ms.flatMap((m) => m.flags), ...ms.filter((m) => m.error).map((m) => `error: ${m.error!.slice(0, 120)}`)])].join('; ');
      out.push(`| ${c} | ${p.label} | ${cols.map(([k]) => cell(statOf(r, workload, c, p.id, k))).join(' | ')} | ${notes.replace(/\|/g, '/')} |`);
    }
  }
  return out;
}

const isSluice = (plan: string) => plan.startsWith('sluice');

/** The best median among plans matching `which` for a value (highest, or lowest when `lower`). */
function best(r: RunReport, workload: string, caseName: string, key: string, which: (plan: string) => boolean, lower = false): { plan: string; value: number } | null {
  let found: { plan: string; value: number } | null = null;
  for (const p of r.plans.filter((pl) => which(pl.id))) {
    const s = statOf(r, workload, caseName, p.id, key);
    if (s && (!found || (lower ? s.median < found.value : s.median > found.value))) found = { plan: p.id, value: s.median };
  }
  return found;
}

function targets(r: RunReport): string[] {
  const label = (id: string) => r.plans.find((p) => p.id === id)?.label ?? id;
  const lines: string[] = ['| target | measured | met |', '|---|---|---|'];
  const row = (target: string, measured: string, met: boolean | null) => lines.push(`| ${target} | ${measured} | ${met === null ? 'not measured' : met ? 'yes' : 'no'} |`);
  const s = best(r, 'throughput', '100 B durable', 'produceMsgsPerSec', isSluice);
  const peer = best(r, 'throughput', '100 B durable', 'produceMsgsPerSec', (p) => !isSluice(p));
  row('durable 100 B throughput ≥ 3× the best durable peer', s && peer ? `${num(s.value)} msgs/s (${label(s.plan)}) vs ${num(peer.value)} (${label(peer.plan)}): ${(s.value / peer.value).toFixed(2)}×` : '–', s && peer ? s.value >= 3 * peer.value : null);
  const relaxed = statOf(r, 'throughput', '100 B relaxed', 'sluice-librdkafka', 'produceMsgsPerSec');
  row('relaxed 100 B throughput ≥ 1,000,000 msgs/s with a librdkafka producer', relaxed ? `${num(relaxed.median)} msgs/s` : '–', relaxed ? relaxed.median >= 1e6 : null);
  const sl = best(r, 'latency', '5000 msgs/s', 'p99Ms', isSluice, true);
  const pl = best(r, 'latency', '5000 msgs/s', 'p99Ms', (p) => !isSluice(p), true);
  row('p99 end-to-end latency at 5k msgs/s below every peer', sl && pl ? `${num(sl.value)} ms (${label(sl.plan)}) vs best peer ${num(pl.value)} ms (${label(pl.plan)})` : '–', sl && pl ? sl.value < pl.value : null);
  // like for like: Sluice syncing before its acks against the peers that do, and acking before any sync against those that do not
  const syncs = (id: string) => r.plans.find((p) => p.id === id)?.syncsBeforeAck ?? true;
  const synced = best(r, 'latency', '5000 msgs/s', 'p99Ms', (p) => !isSluice(p) && syncs(p), true);
  const unsyncedPeer = best(r, 'latency', '5000 msgs/s', 'p99Ms', (p) => !isSluice(p) && !syncs(p), true);
  const unsynced = best(r, 'latency', UNSYNCED_LATENCY_CASE, 'p99Ms', isSluice, true);
  const pair = (a: typeof sl, b: typeof sl) => (a && b ? `${num(a.value)} ms (${label(a.plan)}) vs ${num(b.value)} ms (${label(b.plan)})` : '–');
  row(
    'the same, each against the peers that promise the same: synced before the ack; acked before any sync',
    `synced: ${pair(sl, synced)}; acked before any sync: ${pair(unsynced, unsyncedPeer)}`,
    sl && synced && unsynced && unsyncedPeer ? sl.value < synced.value && unsynced.value < unsyncedPeer.value : null,
  );
  const k10 = statOf(r, 'many-topics', '10 queues', 'sluice-librdkafka', 'produceMsgsPerSec');
  const k10k = statOf(r, 'many-topics', '10000 queues', 'sluice-librdkafka', 'produceMsgsPerSec');
  row('10,000 partitions within 20% of the throughput of 10', k10 && k10k ? `${num(k10k.median)} vs ${num(k10.median)} msgs/s: ${((100 * k10k.median) / k10.median).toFixed(0)}%` : '–', k10 && k10k ? k10k.median >= 0.8 * k10.median : null);
  return lines;
}

function limitsSection(r: RunReport): string[] {
  const l = r.limits;
  const out = [
    '| limit | value |', '|---|---:|',
    `| sequential disk write, no fsync (256 KiB writes, one final fdatasync) | ${num(l.diskWriteMBps)} MB/s |`,
    `| sequential disk write, fdatasync after every ${l.fsyncEveryBytes / 1024} KiB | ${num(l.diskFsyncMBps)} MB/s |`,
    `| fsync latency (4 KiB write + fdatasync) p50 / p99 | ${num(l.fsyncLatencyMs.p50)} / ${num(l.fsyncLatencyMs.p99)} ms |`,
    `| loopback TCP, one Node connection | ${num(l.loopbackMBps)} MB/s |`,
  ];
  const durable = best(r, 'throughput', '1024 B durable', 'produceMBps', isSluice);
  const relaxed = best(r, 'throughput', '1024 B relaxed', 'produceMBps', isSluice);
  out.push('');
  if (durable) out.push(`Sluice's best durable 1 KiB throughput, ${num(durable.value)} MB/s, is ${((100 * durable.value) / l.diskFsyncMBps).toFixed(0)}% of the fsync'd disk bandwidth and ${((100 * durable.value) / l.diskWriteMBps).toFixed(0)}% of the unsynced one.`);
  if (relaxed) out.push(`Its best relaxed 1 KiB throughput, ${num(relaxed.value)} MB/s, is ${((100 * relaxed.value) / l.loopbackMBps).toFixed(0)}% of the loopback bandwidth.`);
  return out;
}

function ratios(r: RunReport): string[] {
  const out = ['| workload | case | value | best Sluice | best peer | Sluice / peer |', '|---|---|---|---:|---:|---:|'];
  const keys: [string, string, boolean][] = [['throughput', 'produceMsgsPerSec', false], ['throughput', 'consumeMsgsPerSec', false], ['fanout', 'produceMsgsPerSec', false], ['many-topics', 'produceMsgsPerSec', false], ['latency', 'p99Ms', true], ['backlog', 'drainMsgsPerSec', false]];
  for (const [w, key, lower] of keys) {
    for (const c of casesOf(r, w)) {
      const s = best(r, w, c, key, isSluice, lower);
      const p = best(r, w, c, key, (id) => !isSluice(id), lower);
      if (s && p) out.push(`| ${w} | ${c} | ${key} | ${num(s.value)} | ${num(p.value)} (${p.plan}) | ${(s.value / p.value).toFixed(2)}× |`);
    }
  }
  return out;
}

export async function writeReport(r: RunReport): Promise<string[]> {
  await mkdir(RESULTS, { recursive: true });
  const base = `${r.started.toISOString().slice(0, 10)}-${hostname().replace(/[^a-zA-Z0-9-]/g, '')}-${cpus().length}cpu${r.label ? '-' + r.label.replace(/[^a-zA-Z0-9-]/g, '') : ''}`;
  const files: string[] = [];
  const charts: string[] = [];
  const chart = async (name: string, svg: string, caption: string) => {
    await writeFile(`${RESULTS}${base}-${name}.svg`, svg);
    files.push(`${RESULTS}${base}-${name}.svg`);
    charts.push(`![${caption}](${base}-${name}.svg)`);
  };
  const bars = (workload: string, caseName: string, key: string): Bar[] =>
    r.plans.flatMap((p) => {
      const s = statOf(r, workload, caseName, p.id, key);
      return s ? [{ series: p.label, median: s.median, min: s.min, max: s.max }] : [];
    });
  if (r.workloads.includes('throughput')) {
    await chart('throughput', barChart('Produce throughput, 1 producer → 1 partition/queue', 'msgs/s', casesOf(r, 'throughput').map((c) => ({ label: c, bars: bars('throughput', c, 'produceMsgsPerSec') }))), 'throughput');
  }
  if (r.workloads.includes('latency')) {
    // the repetition with the median p99 stands for the system
    const cdfOf = (c: string, p: Plan) => {
      const reps = r.measurements.filter((m) => m.workload === 'latency' && m.case === c && m.plan === p.id && m.cdf).sort((a, b) => a.values['p99Ms']! - b.values['p99Ms']!);
      const mid = reps[reps.length >> 1];
      return mid ? [{ label: p.label, points: mid.cdf! }] : [];
    };
    for (const c of casesOf(r, 'latency')) {
      if (c === UNSYNCED_LATENCY_CASE) {
        // beside the peers whose durable setting acks before syncing too
        const series = r.plans.flatMap((p) => (isSluice(p.id) ? cdfOf(c, p) : p.syncsBeforeAck ? [] : cdfOf('5000 msgs/s', p)));
        await chart('latency-5000-unsynced', cdfChart('End-to-end latency at 5000 msgs/s, 100 B, acked before any fsync', series), `latency at ${c}`);
        continue;
      }
      await chart(`latency-${c.split(' ')[0]}`, cdfChart(`End-to-end latency at ${c}, 100 B, durable`, r.plans.flatMap((p) => cdfOf(c, p))), `latency at ${c}`);
    }
  }
  if (r.workloads.includes('many-topics')) {
    await chart('many-topics', barChart('Produce throughput spread over N partitions/queues, durable', 'msgs/s', casesOf(r, 'many-topics').map((c) => ({ label: c, bars: bars('many-topics', c, 'produceMsgsPerSec') }))), 'many topics');
  }
  if (r.workloads.includes('fanout')) {
    await chart('fanout', barChart('4 producers + 4 consumers, 100 B durable', 'msgs/s', [{ label: 'produce', bars: bars('fanout', casesOf(r, 'fanout')[0] ?? '', 'produceMsgsPerSec') }, { label: 'consume', bars: bars('fanout', casesOf(r, 'fanout')[0] ?? '', 'consumeMsgsPerSec') }]), 'fan-in/fan-out');
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const md = [
    `# Sluice vs. peers, ${r.started.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}. Every broker and client ran on this machine, on loopback.`,
    `Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join('; ')}.`,
    `Settings: ${r.settings.reps} repetitions per case, phases bounded at ${r.settings.seconds} s (backlog phases at ${r.settings.backlogSeconds} s)${r.settings.quick ? ', quick mode (a tenth of the messages)' : ''}; before every measured phase, ${(r.settings.warmBytes / 2 ** 30).toFixed(1)} GiB written to a scratch file and deleted, so that the memory the phase takes was in use a moment before (see bench/README.md). Cells are median (min–max).`,
    '',
    '## Systems and their settings',
    '',
    '| system | durable setting | relaxed setting |',
    '|---|---|---|',
    ...r.plans.map((p) => `| ${p.label} | ${p.durableSetting} | ${p.relaxedSetting ?? '–'} |`),
    '',
    '## Targets',
    '',
    ...targets(r),
    '',
    '## Physical limits (same run)',
    '',
    ...limitsSection(r),
    '',
    '## Sluice / best peer',
    '',
    ...ratios(r),
    '',
    ...r.workloads.flatMap((w) => [`## ${w}`, '', ...table(r, w), '']),
    '## Charts',
    '',
    ...charts.map((c) => c + '\n'),
  ].join('\n');
  await writeFile(`${RESULTS}${base}.md`, md);
  await writeFile(`${RESULTS}${base}.json`, JSON.stringify({ ...r, plans: r.plans.map(({ server: _s, ...p }) => p) }, null, 1));
  files.push(`${RESULTS}${base}.md`, `${RESULTS}${base}.json`);
  return files;
}
