// Kill -9 a process mid-append (fsync mode): after restart, every acknowledged append is there, in place.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeRecordBatches } from '../../src/protocol/records.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { openLogs } from './helpers.js';

const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.js', import.meta.url));

function runUntilAcked(dir: string, acks: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let partial = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => {
      partial += d;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      lines.push(...parts);
      if (lines.length >= acks && !child.killed) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve(lines) : reject(new Error(`writer exited ${code}: ${stderr}`))));
  });
}

test('every append acknowledged before SIGKILL is present after restart, at its offset', () =>
  withTempDir(async (dir) => {
    const acked: string[] = [];
    for (let round = 0; round < 3; round++) acked.push(...(await runUntilAcked(dir, 400 + round * 100)));
    const logs = await openLogs(dir);
    try {
      const stored = new Map<string, string>();
      for (let p = 0; p < 3; p++) {
        const log = logs.getLog('crash', p)!;
        let offset = 0;
        while (offset < log.highWatermark) {
          const { records } = await log.read(offset, 1 << 20);
          for (const b of decodeRecordBatches(records)) {
            for (const r of b.records) stored.set(`${p} ${r.offset}`, r.value!.toString().split('-z')[0]!);
            offset = b.info.baseOffset + b.info.lastOffsetDelta + 1;
          }
        }
      }
      assert.ok(acked.length >= 1200);
      for (const line of acked) {
        const [p, offset, value] = line.split(' ');
        assert.equal(stored.get(`${p} ${offset}`), value, `acknowledged ${line}`);
      }
    } finally {
      await logs.close();
    }
  }));
