// The pool of large buffers: what it lends, what it takes back, and what it keeps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool, POOLED_MIN_BYTES } from '../../src/broker/buffer-pool.js';

test('a buffer given back is lent again for a size of its class or up to two classes below, once; small buffers and strangers are not pooled', () => {
  const pool = new BufferPool();
  const first = pool.take(90_000);
  assert.equal(first.length, 90_000);
  pool.giveBack(first.subarray(10, 20)); // any view of it
  pool.giveBack(first); // a second time: ignored
  assert.equal(pool.keptFreeBytes, 88 * 1024); // 90,000 bytes take the 88 KiB class (64 KiB and 8 steps of 8 KiB)
  const second = pool.take(70_000); // the 72 KiB class: two below
  assert.equal(second.buffer, first.buffer);
  assert.equal(pool.buffersMade, 1);
  assert.equal(pool.keptFreeBytes, 0);
  pool.giveBack(second);
  const third = pool.take(65_000); // the 64 KiB class, three below: memory of its own
  assert.notEqual(third.buffer, first.buffer);
  assert.equal(third.buffer.byteLength, 64 * 1024);
  const fourth = pool.take(96 * 1024); // a class above: memory of its own
  assert.notEqual(fourth.buffer, first.buffer);
  assert.equal(pool.buffersMade, 3);
  assert.equal(pool.take(81_000).buffer, first.buffer);
  pool.giveBack(Buffer.allocUnsafe(POOLED_MIN_BYTES)); // not lent by the pool
  pool.giveBack(pool.take(POOLED_MIN_BYTES - 1)); // too small to be pooled
  assert.equal(pool.keptFreeBytes, 0);
});

test('the pool keeps the memory of a 50 MB fetch that reads 1 MiB and its slack from each partition', () => {
  const pool = new BufferPool();
  const read = (1 << 20) + 16 * 1024;
  const reads = () => Array.from({ length: 48 }, () => pool.take(read));
  for (const b of reads()) pool.giveBack(b);
  assert.equal(pool.keptFreeBytes, 48 * 1152 * 1024); // 1,152 KiB each; with halfway classes 1.5 MiB, 72 MiB in all
  const made = pool.buffersMade;
  for (const b of reads()) pool.giveBack(b);
  assert.equal(pool.buffersMade, made);
});

test('a full pool drops memory of other sizes to keep what comes back', () => {
  const pool = new BufferPool();
  // 64 MiB of 1 MiB buffers, as produce requests leave it
  const produced = Array.from({ length: 64 }, () => pool.take(1 << 20));
  for (const b of produced) pool.giveBack(b);
  assert.equal(pool.keptFreeBytes, 64 << 20);
  // then fetches reading 1 MiB and their slack take 1,152 KiB buffers: each one given back is kept, and reused
  const read = pool.take((1 << 20) + 16 * 1024);
  const made = pool.buffersMade;
  pool.giveBack(read);
  assert.equal(pool.keptFreeBytes, (62 << 20) + 1152 * 1024); // two 1 MiB buffers dropped for it
  assert.equal(pool.take((1 << 20) + 16 * 1024).buffer, read.buffer);
  assert.equal(pool.buffersMade, made);
});
