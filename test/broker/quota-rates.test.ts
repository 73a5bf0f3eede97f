// The rates quotas are measured with, at chosen times: Kafka's sampled rate (ten whole windows at least, samples
// expiring after eleven), the throttle that brings a rate back to its bound, and the token bucket of partition
// mutations.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SampledRate, TokenBucket } from '../../src/broker/quota-rates.js';

test('a first burst is spread over ten windows, and its throttle is the wait that brings the rate to the bound', () => {
  const rate = new SampledRate();
  rate.record(15_000, 100_000);
  assert.equal(rate.rate(100_000), 1_500); // 15,000 over 10 s
  // O = 1,500/s, T = 1,000/s, W = 10 s: X = (O - T) / T * W = 5 s
  assert.equal(rate.throttleMs(1_000, 100_000), 5_000);
  assert.equal(rate.throttleMs(1_000, 100_000, 1_000), 1_000, 'bounded');
  assert.equal(rate.throttleMs(1_500, 100_000), 0, 'at the bound');
  // 2.5 s later the window is the 2.5 s passed and the eight whole windows short of ten: 10.5 s
  assert.equal(rate.rate(102_500), 15_000 / 10.5);
});

test('the window grows past ten seconds as samples age, and a sample older than eleven windows counts nothing', () => {
  const rate = new SampledRate();
  rate.record(1_000, 0);
  for (let t = 1_000; t <= 10_500; t += 1_000) rate.record(100, t);
  // eleven samples: 1,000 + 10 × 100 over 10.5 s (oldest at 0, newest at 10,000, measured at 10,500)
  assert.equal(rate.rate(10_500), 2_000 / 10.5);
  // at 11,000 the first sample (begun at 0) has aged out: 1,000 over the ten seconds the rest span
  assert.equal(rate.rate(11_000), 1_000 / 10);
  // a value recorded in a window already begun joins its sample
  rate.record(50, 10_900);
  assert.equal(rate.rate(11_000), 1_050 / 10);
  // long idle: nothing counts
  assert.equal(rate.rate(60_000), 0);
});

test('taking a value back out undoes it (a throttled fetch answered empty)', () => {
  const rate = new SampledRate();
  rate.record(500, 0);
  rate.record(20_000, 10);
  rate.record(-20_000, 10);
  assert.equal(rate.rate(10), 500 / 10.01);
});

test('a token bucket starts with eleven seconds of permits, lends past them once, and refills at its rate', () => {
  const bucket = new TokenBucket(10, 0);
  bucket.take(110, 0);
  assert.equal(bucket.throttleMs(0), 0, 'the whole burst');
  bucket.take(30, 0);
  assert.equal(bucket.throttleMs(0), 3_000, '30 permits owed at 10 a second');
  assert.equal(bucket.throttleMs(1_000), 2_000);
  assert.equal(bucket.throttleMs(3_000), 0);
  // refilled, never past the burst
  bucket.take(110, 60_000);
  assert.equal(bucket.throttleMs(60_000), 0);
  bucket.take(1, 60_000);
  assert.equal(bucket.throttleMs(60_000), 100);
  // a lower quota keeps no more than its own burst
  bucket.setRate(1, 200_000);
  bucket.take(12, 200_000);
  assert.equal(bucket.throttleMs(200_000), 1_000);
});
