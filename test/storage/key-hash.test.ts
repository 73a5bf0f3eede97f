import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashKey } from '../../src/storage/key-hash.js';

const hashOf = (key: Uint8Array): string => {
  const out = new Uint32Array(4);
  hashKey(key, out);
  return Array.from(out, (w) => w.toString(16).padStart(8, '0')).join('');
};

test('key hashes do not collide over 300,000 similar keys, every 1- and 2-byte key, and every length of one key', () => {
  const seen = new Set<string>();
  const add = (key: Uint8Array) => {
    const h = hashOf(key);
    assert.ok(!seen.has(h), `collision at ${Buffer.from(key).toString('hex')}`);
    seen.add(h);
  };
  for (let i = 0; i < 300_000; i++) add(Buffer.from(`key-${String(i).padStart(30, '0')}`));
  for (let i = 0; i < 256; i++) add(Buffer.from([i]));
  for (let i = 0; i < 65536; i++) add(Buffer.from([i >> 8, i & 255]));
  // a key and its prefixes of every length (the tail of each 16-byte block), zeros included: the length counts
  const long = Buffer.alloc(70);
  for (let length = 3; length <= long.length; length++) add(long.subarray(0, length));
  add(Buffer.alloc(0));
});

test('every input bit changes about half of the 128 output bits', () => {
  let state = 20261130;
  const random = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) & 255;
  const bitsDiffering = (a: string, b: string) => {
    let n = 0;
    for (let i = 0; i < a.length; i += 8) {
      let x = (parseInt(a.slice(i, i + 8), 16) ^ parseInt(b.slice(i, i + 8), 16)) >>> 0;
      for (; x !== 0; x &= x - 1) n++;
    }
    return n;
  };
  for (const length of [1, 7, 16, 34, 100]) {
    let total = 0;
    let flips = 0;
    let fewest = 128;
    for (let sample = 0; sample < 40; sample++) {
      const key = Buffer.from(Array.from({ length }, random));
      const base = hashOf(key);
      for (let bit = 0; bit < length * 8; bit++) {
        key[bit >> 3]! ^= 1 << (bit & 7);
        const changed = bitsDiffering(base, hashOf(key));
        key[bit >> 3]! ^= 1 << (bit & 7);
        total += changed;
        fewest = Math.min(fewest, changed);
        flips++;
      }
    }
    const mean = total / flips;
    assert.ok(mean > 62 && mean < 66, `length ${length}: ${mean.toFixed(2)} bits change on average`);
    assert.ok(fewest >= 32, `length ${length}: a flip changed only ${fewest} bits`);
  }
});

test('a key hashed where it lies in a larger buffer hashes as the key alone, at every length and position', () => {
  const buf = Buffer.from(Array.from({ length: 80 }, (_, i) => (i * 37 + 11) & 255));
  for (let start = 0; start < 20; start++) {
    for (let end = start; end <= buf.length; end += 7) {
      const alone = hashOf(Buffer.from(buf.subarray(start, end)));
      const out = new Uint32Array(4);
      hashKey(buf, out, start, end);
      assert.equal(Array.from(out, (w) => w.toString(16).padStart(8, '0')).join(''), alone, `${start}..${end}`);
    }
  }
});
