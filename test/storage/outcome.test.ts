// How one step of an append ends: a promise made only when asked for, settled once, and never an unhandled
// rejection for a step a caller asked for and did not await.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Outcome } from '../../src/storage/outcome.js';

/** Runs `body`, then lets the event loop turn twice; returns the unhandled rejections seen meanwhile. */
async function unhandledDuring(body: () => void): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', listener);
  try {
    body();
    for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}

test('a step asked for before it fails, and never awaited, is not an unhandled rejection; one awaited sees the error', async () => {
  const failure = new Error('disk full');
  const ignored = new Outcome();
  const awaited = new Outcome();
  let seenByCaller: unknown = null;
  const unhandled = await unhandledDuring(() => {
    void ignored.promise;
    awaited.promise.catch((err: unknown) => (seenByCaller = err));
    ignored.reject(failure);
    awaited.reject(failure);
  });
  assert.deepEqual(unhandled, []);
  assert.equal(seenByCaller, failure);
  await assert.rejects(ignored.promise, failure);
});

test('a step asked for after it failed rejects with its error, and is not an unhandled rejection when not awaited', async () => {
  const failure = new Error('EIO');
  const outcome = new Outcome();
  outcome.reject(failure);
  const unhandled = await unhandledDuring(() => void outcome.promise);
  assert.deepEqual(unhandled, []);
  await assert.rejects(outcome.promise, failure);
});

test('a step settles once: the first of resolve and reject wins, before or after its promise is made', async () => {
  const early = new Outcome();
  early.resolve();
  early.reject(new Error('too late'));
  await early.promise;

  const late = new Outcome();
  const promise = late.promise;
  late.resolve();
  late.reject(new Error('too late'));
  assert.equal(late.promise, promise);
  await promise;

  const failed = new Outcome();
  const failure = new Error('first');
  failed.reject(failure);
  failed.resolve();
  await assert.rejects(failed.promise, failure);
});
