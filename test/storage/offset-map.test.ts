import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OFFSET_MAP_SLOT_BYTES, OffsetMap } from '../../src/storage/offset-map.js';

test('the offset map keeps the latest offset of each key, and agrees with a Map over 100,000 keys', () => {
  const map = new OffsetMap(100_000, 1 << 30);
  const reference = new Map<string, number>();
  for (let offset = 0; offset < 150_000; offset++) {
    const key = `key-${(offset * 7919) % 100_000}`;
    map.put(Buffer.from(key), offset);
    reference.set(key, offset);
  }
  assert.equal(map.size, 100_000);
  assert.ok(!map.full);
  for (const [key, offset] of reference) assert.equal(map.get(Buffer.from(key)), offset, key);
  assert.equal(map.get(Buffer.from('never put')), -1);
  assert.equal(map.get(Buffer.alloc(0)), -1);
  map.put(Buffer.alloc(0), 5);
  assert.equal(map.get(Buffer.alloc(0)), 5, 'an empty key is a key');
  map.clear();
  assert.equal(map.size, 0);
  assert.equal(map.get(Buffer.from('key-0')), -1);
});

test('the offset map is bounded by its bytes: once full it takes no new key, but still updates the ones it holds', () => {
  // 10 slots, filled to 90%: 9 keys
  const map = new OffsetMap(1_000_000, 10 * OFFSET_MAP_SLOT_BYTES);
  assert.equal(map.capacity, 9);
  for (let i = 0; i < 9; i++) map.put(Buffer.from(`k${i}`), i);
  assert.ok(map.full);
  assert.throws(() => map.put(Buffer.from('k9'), 9), /full/);
  map.put(Buffer.from('k3'), 100);
  assert.equal(map.get(Buffer.from('k3')), 100);
  assert.deepEqual(Array.from({ length: 10 }, (_, i) => map.get(Buffer.from(`k${i}`))), [0, 1, 2, 100, 4, 5, 6, 7, 8, -1]);
  // sized to the keys asked for when they need less than the bound
  assert.equal(new OffsetMap(90, 1 << 30).capacity, 90);
  assert.equal(new OffsetMap(0, 1 << 30).capacity, 1);
});
