// A broker killed with SIGKILL while librdkafka produces to it (idempotent, acks=all), restarted on the same data
// dir: every message it acknowledged is there, at the offset it was acknowledged with, each once and in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCli, stopCli } from '../helpers/cli-broker.js';
import { withTempDir } from '../helpers/temp-dir.js';
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
    let broker = await startCli(['--data-dir', dir, '--default-partitions', String(PARTITIONS)]);
    const producer = spawnPython('confluent-produce-until-killed', [broker.bootstrap, 'crash', String(PARTITIONS), '1000000']);
    let out = '';
    let stderr = '';
    producer.stderr.on('data', (d) => (stderr += d));
    const producerExit = new Promise<void>((resolve) => producer.on('exit', () => resolve()));
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
      // the broker dies in the middle of the stream, with appends in flight
      assert.equal(await stopCli(broker.child, 'SIGKILL'), 'SIGKILL');
    } finally {
      producer.kill('SIGKILL');
      await producerExit;
    }
    // whole lines only: the last one may have been cut by the kill
    const acked = out.split('\n').slice(0, -1).map((line) => JSON.parse(line) as Ack);
    assert.ok(acked.length >= ACKED_BEFORE_KILL, `${acked.length} acknowledged`);

    broker = await startCli(['--data-dir', dir]);
    try {
      const consumed = await pythonConsume('confluent', broker.bootstrap, 'crash', PARTITIONS, acked.length);
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
    } finally {
      assert.equal(await stopCli(broker.child), 0);
    }
  }));
