// Property: under random appends, reads, DeleteRecords, clean restarts and crash restarts, the log always
// agrees with a plain in-memory model (an array of values with a start offset).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { LogManager } from '../../src/storage/log-manager.js';
import { tempDir } from '../helpers/temp-dir.js';
import { appendValues, openLogs, readAll } from './helpers.js';

type Op =
  | { kind: 'append'; values: string[] }
  | { kind: 'read'; at: number }
  | { kind: 'deleteRecords'; at: number }
  | { kind: 'restart' }
  | { kind: 'crash' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.string({ minLength: 0, maxLength: 60 }), { minLength: 1, maxLength: 5 }).map((values) => ({ kind: 'append' as const, values })) },
  { weight: 2, arbitrary: fc.nat(200).map((at) => ({ kind: 'read' as const, at })) },
  { weight: 1, arbitrary: fc.nat(200).map((at) => ({ kind: 'deleteRecords' as const, at })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
);

test('the log matches an in-memory model under random operations and restarts', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
      const { dir, cleanup } = await tempDir();
      let logs: LogManager = await openLogs(dir);
      try {
        await logs.createTopic('m', 1, { 'segment.bytes': '400', 'index.interval.bytes': '150' });
        const model: string[] = [];
        let start = 0;
        for (const op of ops) {
          const log = logs.getLog('m', 0)!;
          switch (op.kind) {
            case 'append': {
              const res = appendValues(log, op.values);
              assert.equal(res.baseOffset, model.length);
              await res.durable;
              model.push(...op.values);
              break;
            }
            case 'read': {
              const offset = start + (model.length - start === 0 ? 0 : op.at % (model.length - start + 1));
              const got = await readAll(log, offset);
              assert.deepEqual(got, model.slice(offset).map((v, i) => [offset + i, v]));
              break;
            }
            case 'deleteRecords': {
              const target = Math.min(model.length, start + op.at % 10);
              await logs.deleteRecords('m', 0, target);
              start = Math.max(start, target);
              break;
            }
            case 'restart':
              await logs.close();
              logs = await openLogs(dir);
              break;
            case 'crash':
              // no clean shutdown: descriptors dropped, no marker, no index files for the active segment
              await logs.handles.closeAll();
              logs = await openLogs(dir);
              break;
          }
          const now = logs.getLog('m', 0)!;
          assert.equal(now.logEndOffset, model.length);
          assert.equal(now.logStartOffset, start);
        }
        assert.deepEqual(await readAll(logs.getLog('m', 0)!), model.slice(start).map((v, i) => [start + i, v]));
      } finally {
        await logs.close().catch(() => undefined);
        await cleanup();
      }
    }),
    { numRuns: 150, seed: 424242 },
  );
});
