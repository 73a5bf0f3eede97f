import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { Admin } from '../../src/admin/admin.js';
import { spawnPython } from './python-clients.js';
import { until } from '../helpers/until.js';

export interface Consumed {
  consumer: string;
  partition: number;
  offset: number;
  value: string;
}

/** A group member under test: what it consumed and the partitions it was given, until it exits. */
export interface MemberRun {
  name: string;
  consumed: Consumed[];
  assignments: number[][];
  done: Promise<void>;
}

export interface MemberOptions {
  name: string;
  group: string;
  topic: string;
  maxMessages: number;
  idleMs: number;
  strategy?: string;
  instanceId?: string;
  sessionMs?: number;
}

export type StartMember = (bootstrap: string, options: MemberOptions) => MemberRun;

/**
 * A member run by clients.py (`confluent-group` or `kp-group`) in its own process; kafka-python's speaking the
 * Kafka `version` given (see api_version in clients.py), else the newest it knows.
 */
export function pythonMember(command: 'confluent-group' | 'kp-group', version?: string): StartMember {
  return (bootstrap, o) => {
    const args = [bootstrap, o.topic, o.group, String(o.maxMessages), String(o.idleMs), o.strategy ?? 'range', o.instanceId ?? '', String(o.sessionMs ?? 6000)];
    return processMember(command, o, spawnPython(command, version === undefined ? args : [...args, version]));
  };
}

/**
 * A member in a process of its own that prints JSON lines: `{"event": "assigned", "partitions": [...]}` for each
 * assignment, and `{"partition", "offset", "value"}` for each message it consumed. It must exit 0 within 120 s.
 */
export function processMember(command: string, o: MemberOptions, child: ChildProcessWithoutNullStreams): MemberRun {
  const run: MemberRun = { name: o.name, consumed: [], assignments: [], done: Promise.resolve() };
  let partial = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => {
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      const e = JSON.parse(line);
      if (e.event === 'assigned') run.assignments.push(e.partitions);
      else if (!e.event) run.consumed.push({ consumer: o.name, partition: e.partition, offset: e.offset, value: e.value });
    }
  });
  run.done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${command} ${o.name} exited ${code}: ${stderr.slice(-1500)}`));
    });
  });
  return run;
}

/** Produces `count` messages "m-<i>" spread round-robin over the topic's partitions; returns their values. */
export async function produceNumbered(bootstrap: string, topic: string, from: number, count: number, partitions: number): Promise<string[]> {
  const admin = await Admin.connect(bootstrap);
  const values: string[] = [];
  try {
    for (let i = from; i < from + count; i += 500) {
      const chunk = [];
      for (let j = i; j < Math.min(from + count, i + 500); j++) {
        values.push(`m-${j}`);
        chunk.push({ value: `m-${j}`, partition: j % partitions });
      }
      await admin.produce(topic, chunk);
    }
  } finally {
    admin.close();
  }
  return values;
}

/**
 * The scenario every client runs: three members share a 6-partition topic; one leaves after a few hundred
 * messages and the other two take over its partitions; every message is consumed exactly once across the
 * group (each member commits every message before taking the next). The messages are produced once all three
 * have partitions. Then more messages arrive and a member started later in the same group resumes exactly at
 * the committed offsets.
 */
export async function shareTakeOverResume(bootstrap: string, start: StartMember, group: string, options: { total?: number; exactlyOnce?: boolean } = {}): Promise<void> {
  const total = options.total ?? 3000;
  const topic = `${group}-topic`;
  const admin = await Admin.connect(bootstrap);
  await admin.createTopic(topic, 6, {});
  admin.close();
  const common = { group, topic, idleMs: 5000 };
  const a = start(bootstrap, { ...common, name: 'a', maxMessages: 1e9 });
  const b = start(bootstrap, { ...common, name: 'b', maxMessages: 1e9 });
  const c = start(bootstrap, { ...common, name: 'c', maxMessages: Math.floor(total / 10) });
  // the last member given partitions got them in a generation that holds all three, so what is produced from here on
  // reaches every member; produced before, two members that joined first could consume it all while the third was
  // still joining (it happened under a full test run's load)
  await until(() => [a, b, c].every((m) => m.assignments.some((p) => p.length > 0)), 'every member to be given partitions', 60_000);
  const values = await produceNumbered(bootstrap, topic, 0, total, 6);
  await Promise.all([a.done, b.done, c.done]);
  const all = [...a.consumed, ...b.consumed, ...c.consumed];
  if (options.exactlyOnce === false) {
    // a client that may still hand out messages of a partition it is losing gives at-least-once: nothing is
    // missing, and messages are seen twice only when the group rebalanced
    assert.deepEqual([...new Set(all.map((m) => m.value))].sort(), [...values].sort(), 'every message at least once');
    const rebalanced = [a, b, c].some((m) => m.assignments.length > 1);
    if (!rebalanced) assert.equal(all.length, values.length, 'no duplicates without a rebalance');
  } else {
    assert.deepEqual(all.map((m) => m.value).sort(), [...values].sort(), 'every message exactly once across the group');
  }
  for (const m of [a, b, c]) {
    assert.ok(m.consumed.length > 0, `member ${m.name} got a share`);
    assert.ok(m.assignments.some((p) => p.length > 0), `member ${m.name} was assigned partitions`);
  }
  // c left early: the partitions it held at the end were finished by a and b
  const cLast = c.assignments[c.assignments.length - 1] ?? [];
  const cMax = new Map<number, number>();
  for (const m of c.consumed) cMax.set(m.partition, Math.max(cMax.get(m.partition) ?? -1, m.offset));
  const takenOver = [...a.consumed, ...b.consumed].filter((m) => cLast.includes(m.partition) && m.offset > (cMax.get(m.partition) ?? -1));
  assert.ok(cLast.length === 0 || takenOver.length > 0, 'the partitions c held were taken over');
  // per partition, the offsets consumed cover 0..n-1 with no gap (and, exactly once, no repeat)
  for (let p = 0; p < 6; p++) {
    const offsets = [...new Set(all.filter((m) => m.partition === p).map((m) => m.offset))].sort((x, y) => x - y);
    assert.deepEqual(offsets, offsets.map((_, i) => i), `partition ${p} offsets`);
  }

  const more = await produceNumbered(bootstrap, topic, total, 600, 6);
  const d = start(bootstrap, { ...common, name: 'd', maxMessages: 1e9, idleMs: 4000 });
  await d.done;
  assert.deepEqual(d.consumed.map((m) => m.value).sort(), [...more].sort(), 'a restarted member resumes from the committed offsets');
}
