// A broker killed with SIGKILL while librdkafka produces to it (idempotent, acks=all), restarted on the same data
// dir: every message it acknowledged is there, at the offset it was acknowledged with, each once and in order. Then
// the same through several kills, with the producers, a consumer group, retention and compaction going on throughout;
// and exactly-once copying with transactions through several kills.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { restartableBroker, SLUICE_BIN, startCli, stopCli } from '../helpers/cli-broker.js';
import { withCleanup } from '../helpers/cleanup.js';
import { run } from '../helpers/run.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';
import { pythonConsume, spawnPython } from './python-clients.js';

/** More than the group commit syncs segment by segment (4): rounds go through the shared journal. */
const PARTITIONS = 8;
/** Acknowledgements to wait for before the kill. */
const ACKED_BEFORE_KILL = 20_000;

interface Ack {
  p: number;
  o: number;
  v: string;
}

test('a broker killed with SIGKILL mid-produce loses no acknowledged message: after a restart each is at its offset, once, in order', { timeout: 180_000 }, () =>
  withTempDir(async (dir) => {
    const broker = await startCli(['--data-dir', dir, '--default-partitions', String(PARTITIONS)]);
    const producer = spawnPython('confluent-produce-until-killed', [broker.bootstrap, 'crash', String(PARTITIONS), '1000000']);
    let out = '';
    let stderr = '';
    producer.stderr.on('data', (d) => (stderr += d));
    const producerExit = new Promise<void>((resolve) => producer.on('exit', () => resolve()));
    let killed: number | string | null;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`too few acknowledgements in 90 s: ${stderr.slice(-2000)}`)), 90_000);
        producer.stdout.on('data', (d) => {
          out += d;
          if (out.split('\n').length > ACKED_BEFORE_KILL) {
            clearTimeout(timer);
            resolve();
          }
        });
        producer.on('exit', (code) => reject(new Error(`producer exited ${code}: ${stderr.slice(-2000)}`)));
      });
    } finally {
      // the broker dies in the middle of the stream, with appends in flight (or at once, should the producer fail)
      killed = await stopCli(broker.child, 'SIGKILL');
      producer.kill('SIGKILL');
      await producerExit;
    }
    assert.equal(killed, 'SIGKILL');
    // whole lines only: the last one may have been cut by the kill
    const acked = out.split('\n').slice(0, -1).map((line) => JSON.parse(line) as Ack);
    assert.ok(acked.length >= ACKED_BEFORE_KILL, `${acked.length} acknowledged`);

    const restarted = await startCli(['--data-dir', dir]);
    await withCleanup(async () => {
      const consumed = await pythonConsume('confluent', restarted.bootstrap, 'crash', PARTITIONS, acked.length);
      for (let p = 0; p < PARTITIONS; p++) {
        const got = consumed.filter((m) => m.partition === p);
        assert.deepEqual(got.map((m) => m.offset), got.map((_, i) => i), `partition ${p}: offsets from 0 without a hole`);
        // each value once, in the order produced (m-<i> with i rising)
        const sequence = got.map((m) => Number(m.value!.slice(2)));
        assert.ok(sequence.every((n, i) => i === 0 || n > sequence[i - 1]!), `partition ${p}: in order, no duplicate`);
        assert.ok(sequence.every((n) => n % PARTITIONS === p), `partition ${p}: only its own messages`);
        const at = new Map(got.map((m) => [m.offset, m.value]));
        const lost = acked.filter((a) => a.p === p && at.get(a.o) !== a.v);
        assert.deepEqual(lost, [], `partition ${p}: every acknowledged message at its offset`);
      }
    }, async () => assert.equal(await stopCli(restarted.child), 0));
  }));

/** A client process of clients.py whose JSON lines are collected as they come. */
function collecting<T>(command: string, args: string[]): { lines: T[]; stderr: () => string; stop: () => Promise<void> } {
  const child = spawnPython(command, args);
  const lines: T[] = [];
  let partial = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop()!;
    for (const line of parts) if (line.trim()) lines.push(JSON.parse(line) as T);
  });
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { lines, stderr: () => stderr.slice(-2000), stop: () => (child.kill('SIGKILL'), exited) };
}

/** Every record of a partition from its log start, as kcat reads it (read_uncommitted unless told): offset, key and value. */
async function readPartition(bootstrap: string, topic: string, partition: number, isolation = 'read_uncommitted'): Promise<{ o: number; k: string; v: string }[]> {
  const res = await run('kcat', ['-b', bootstrap, '-C', '-t', topic, '-p', String(partition), '-o', 'beginning', '-e', '-q', '-X', `isolation.level=${isolation}`, '-f', '%o\t%k\t%s\n'], { timeoutMs: 60_000 });
  assert.equal(res.code, 0, res.stderr);
  return res.stdout.split('\n').filter((l) => l).map((l) => {
    const [o, k, v] = l.split('\t');
    return { o: Number(o), k: k!, v: v! };
  });
}

/** Runs a `sluice` command against the broker and asserts it succeeded. */
async function sluice(bootstrap: string, ...cmd: string[]): Promise<void> {
  const res = await run(process.execPath, [SLUICE_BIN, ...cmd, '-b', bootstrap]);
  assert.equal(res.code, 0, res.stderr);
}

const SEQ_PARTITIONS = 4;
const KEYS = 50;
const KILLS = 3;
/** Acknowledgements of the partitioned topic between kills, and after the last restart. */
const ACKS_BETWEEN_KILLS = 6_000;

interface Consumed {
  partition?: number;
  offset?: number;
  value?: string;
  error?: string;
}

test('a broker killed with SIGKILL three times while producers, a consumer group, retention and compaction run loses nothing acknowledged, and the group reads on to the end', { timeout: 240_000 }, () =>
  withTempDir(async (dir) => {
    const broker = await restartableBroker(['--data-dir', dir, '--retention-check-interval-ms', '300']);
    const { bootstrap } = broker;
    await withCleanup(async () => {
      // small segments, so that retention deletes segments between the kills and compaction rewrites them
      await sluice(bootstrap, 'topics', 'create', 'seq', '--partitions', String(SEQ_PARTITIONS), '--config', 'segment.bytes=16384', '--config', 'retention.bytes=32768');
      await sluice(bootstrap, 'topics', 'create', 'kv', '--config', 'cleanup.policy=compact', '--config', 'segment.bytes=16384', '--config', 'min.cleanable.dirty.ratio=0.01');
      type Ack = { p: number; o: number; v: string };
      const seq = collecting<Ack>('confluent-produce-until-killed', [bootstrap, 'seq', String(SEQ_PARTITIONS), '10000000', '0', '3000']);
      const kv = collecting<Ack>('confluent-produce-until-killed', [bootstrap, 'kv', '1', '10000000', String(KEYS), '1000']);
      const members = [0, 1].map(() => collecting<Consumed>('confluent-consume-until-killed', [bootstrap, 'seq', 'survivors']));
      const clients = [seq, kv, ...members];
      try {
        for (let kill = 0; kill <= KILLS; kill++) {
          const from = seq.lines.length;
          await until(() => seq.lines.length >= from + ACKS_BETWEEN_KILLS, `${ACKS_BETWEEN_KILLS} acknowledgements after ${kill} kills: ${seq.stderr()}`, 60_000);
          if (kill === KILLS) break;
          await broker.kill();
        }
        await Promise.all([seq.stop(), kv.stop()]);
        // the group carries on after the restarts: it reads every partition up to its last acknowledged message
        // (reduce, not Math.max(...): a spread of that many arguments can overflow the stack)
        const lastAcked = Array.from({ length: SEQ_PARTITIONS }, (_, p) => seq.lines.reduce((top, a) => (a.p === p ? Math.max(top, a.o) : top), -1));
        const readTo = (p: number) => members.reduce((top, m) => m.lines.reduce((t, c) => (c.partition === p ? Math.max(t, c.offset!) : t), top), -1);
        await until(() => lastAcked.every((o, p) => readTo(p) >= o), `the group reading up to ${lastAcked}: ${lastAcked.map((_, p) => readTo(p))}`, 60_000);
      } finally {
        await Promise.all(clients.map((c) => c.stop()));
      }
      // message i went to partition i % 4, so without loss, duplicate or reordering it sits at offset i / 4
      const valueAt = (p: number, o: number) => `m-${o * SEQ_PARTITIONS + p}`;
      const misplaced = seq.lines.filter((a) => a.v !== valueAt(a.p, a.o));
      assert.deepEqual(misplaced.slice(0, 5), [], 'every acknowledgement at the offset of its sequence');
      const consumed = members.flatMap((m) => m.lines).filter((c) => c.error === undefined);
      assert.deepEqual(consumed.filter((c) => c.value !== valueAt(c.partition!, c.offset!)).slice(0, 5), [], 'the group read each message at its offset');
      for (let p = 0; p < SEQ_PARTITIONS; p++) {
        const log = await readPartition(bootstrap, 'seq', p);
        assert.ok(log[0]!.o > 0, `partition ${p}: retention deleted its first segments (log starts at ${log[0]!.o})`);
        assert.deepEqual(log.filter((r, i) => r.o !== log[0]!.o + i || r.v !== valueAt(p, r.o)).slice(0, 5), [], `partition ${p}: contiguous, each message at its offset`);
        const acked = seq.lines.filter((a) => a.p === p);
        assert.ok(log.at(-1)!.o >= acked.at(-1)!.o, `partition ${p}: its log reaches the last acknowledged offset`);
      }
      // compaction kept each key's newest record: nothing acknowledged for a key is newer than what the log holds
      const kvLog = await readPartition(bootstrap, 'kv', 0);
      const newest = new Map(kvLog.map((r) => [r.k, Number(r.v.slice(2))]));
      const newestAcked = new Map(kv.lines.map((a) => [`k${Number(a.v.slice(2)) % KEYS}`, Number(a.v.slice(2))]));
      assert.equal(newestAcked.size, KEYS);
      for (const [key, i] of newestAcked) assert.ok((newest.get(key) ?? -1) >= i, `${key}: the log's newest m-${newest.get(key)} is at least the acknowledged m-${i}`);
      assert.ok(kvLog.length < kv.lines.length, `compaction removed superseded records (${kvLog.length} of ${kv.lines.length} left)`);
    }, broker.stop);
  }));

interface CopyProgress {
  committed?: number;
  abort?: string;
  done?: number;
  fatal?: string;
}

test('exactly-once through broker kills: a consume-transform-produce loop copies every message once while the broker is killed three times mid-stream', { timeout: 240_000 }, () =>
  withTempDir(async (dir) => {
    const TOTAL = 100_000;
    const broker = await restartableBroker(['--data-dir', dir]);
    const { bootstrap } = broker;
    await withCleanup(async () => {
      await sluice(bootstrap, 'topics', 'create', 'src', '--partitions', '4');
      await sluice(bootstrap, 'topics', 'create', 'sink', '--partitions', '2');
      const input = Array.from({ length: TOTAL }, (_, i) => `v-${i}\n`).join('');
      const filled = await run('kcat', ['-b', bootstrap, '-P', '-t', 'src', '-X', 'acks=all', '-X', 'enable.idempotence=true'], { input, timeoutMs: 60_000 });
      assert.equal(filled.code, 0, filled.stderr);
      const copier = collecting<CopyProgress>('confluent-process-through-restarts', [bootstrap, 'src', 'sink', 'copier', 'copier-tx', String(TOTAL)]);
      const copied = () => copier.lines.reduce((top, l) => Math.max(top, l.committed ?? 0), 0);
      try {
        for (const share of [0.2, 0.45, 0.7]) {
          await until(() => copied() >= share * TOTAL, `${share * TOTAL} copied: ${copier.stderr()}`, 60_000);
          // transactions are open at this moment: the loop commits one a poll, back to back
          await broker.kill();
        }
        await until(() => copier.lines.some((l) => l.done !== undefined || l.fatal !== undefined), `the copy to finish: ${copier.stderr()}`, 120_000);
      } finally {
        await copier.stop();
      }
      assert.deepEqual(copier.lines.filter((l) => l.fatal !== undefined), []);
      assert.equal(copier.lines.find((l) => l.done !== undefined)!.done, TOTAL);
      const output: string[] = [];
      for (const p of [0, 1]) for (const r of await readPartition(bootstrap, 'sink', p, 'read_committed')) output.push(r.v);
      assert.equal(output.length, TOTAL, 'as many committed outputs as inputs');
      const seen = new Set(output);
      assert.equal(seen.size, TOTAL, 'no output twice');
      assert.deepEqual(Array.from({ length: TOTAL }, (_, i) => `out-v-${i}`).filter((v) => !seen.has(v)).slice(0, 5), [], 'every input copied');
    }, broker.stop);
  }));
