// inParallel: bounded concurrency, and nothing left running behind a rejection.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inParallel } from '../../src/storage/in-parallel.js';

test('a failure rejects only once the rest of its chunk has settled, and no later chunk starts', async () => {
  const started: number[] = [];
  const finished: number[] = [];
  let running = 0;
  let most = 0;
  const items = Array.from({ length: 200 }, (_, i) => i);
  await assert.rejects(
    inParallel(items, async (i) => {
      started.push(i);
      most = Math.max(most, ++running);
      // the failing item settles first; the others of its chunk take longer
      await new Promise((r) => setTimeout(r, i === 70 ? 0 : 20));
      running--;
      if (i === 70) throw new Error('item 70 failed');
      finished.push(i);
    }),
    /item 70 failed/,
  );
  assert.equal(most, 64);
  assert.equal(running, 0, 'nothing still running when it rejects');
  assert.deepEqual(started, items.slice(0, 128), 'the first two chunks started, the third did not');
  assert.deepEqual(finished.sort((a, b) => a - b), items.slice(0, 128).filter((i) => i !== 70));
});
