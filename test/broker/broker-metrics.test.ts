// The counts behind the metrics page, apart from a broker: per-client throttle series and their expiry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrokerMetrics, THROTTLE_SERIES_EXPIRY_MS } from '../../src/broker/broker-metrics.js';
import { exposition } from '../../src/broker/metrics-exposition.js';

const page = (m: BrokerMetrics, nowMs: number) => m.families(nowMs).map((f) => [...exposition(f)].join('')).join('');
const throttleLines = (text: string) => text.split('\n').filter((l) => l.startsWith('sluice_client_throttle'));

test('throttles are counted per API, user and client id; a client not throttled for an hour is dropped, one throttled again kept', () => {
  const m = new BrokerMetrics();
  m.throttled(0, 250, 'User:alice', 'billing', 1_000);
  m.throttled(0, 500, 'User:alice', 'billing', 2_000);
  m.throttled(1, 100, 'User:ANONYMOUS', 'reader "1"', 3_000);
  assert.deepEqual(throttleLines(page(m, 3_000)), [
    'sluice_client_throttled_responses_total{request="Produce",user="alice",client_id="billing"} 2',
    'sluice_client_throttled_responses_total{request="Fetch",user="ANONYMOUS",client_id="reader \\"1\\""} 1',
    'sluice_client_throttle_seconds_total{request="Produce",user="alice",client_id="billing"} 0.75',
    'sluice_client_throttle_seconds_total{request="Fetch",user="ANONYMOUS",client_id="reader \\"1\\""} 0.1',
  ]);
  m.throttled(1, 100, 'User:ANONYMOUS', 'reader "1"', 2_000 + THROTTLE_SERIES_EXPIRY_MS);
  assert.deepEqual(throttleLines(page(m, 2_000 + THROTTLE_SERIES_EXPIRY_MS)).map((l) => l.split('{')[1]!.split(',')[0]), ['request="Fetch"', 'request="Fetch"']);
  assert.deepEqual(throttleLines(page(m, 2_000 + 2 * THROTTLE_SERIES_EXPIRY_MS)), []);
});
