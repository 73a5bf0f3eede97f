// Prometheus' text format as the broker writes it, and the fixed buckets its times are counted in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATENCY_BOUNDS, LatencyHistogram } from '../../src/broker/latency-histogram.js';
import { exposition, labelSet, type MetricFamily } from '../../src/broker/metrics-exposition.js';

test('exposition: HELP and TYPE per family, label values and help escaped, special values spelled, empty families left out', () => {
  const families: MetricFamily[] = [
    { name: 'a_total', help: 'back\\slash and\nnewline', type: 'counter', samples: [{ labels: labelSet({}), value: 3 }, { labels: labelSet({ topic: 'q"u\\o\nte', partition: '0' }), value: 1.5 }] },
    { name: 'empty', help: 'never written', type: 'gauge', samples: [] },
    { name: 'b', help: 'values', type: 'gauge', samples: [{ labels: labelSet({ k: 'nan' }), value: NaN }, { labels: labelSet({ k: 'inf' }), value: Infinity }, { labels: labelSet({ k: 'ninf' }), value: -Infinity }] },
  ];
  const text = families.map((f) => [...exposition(f)].join('')).join('');
  assert.equal(text, [
    '# HELP a_total back\\\\slash and\\nnewline',
    '# TYPE a_total counter',
    'a_total 3',
    'a_total{topic="q\\"u\\\\o\\nte",partition="0"} 1.5',
    '# HELP b values',
    '# TYPE b gauge',
    'b{k="nan"} NaN',
    'b{k="inf"} +Inf',
    'b{k="ninf"} -Inf',
    '',
  ].join('\n'));
  assert.deepEqual([...exposition({ name: 'none', help: 'h', type: 'counter', samples: [] })], []);
});

test('a latency histogram counts each time in the first bucket at or above it, cumulatively, past the last in +Inf only', () => {
  const h = new LatencyHistogram();
  for (const seconds of [0, 0.0001, 0.00010001, 0.003, 10, 11]) h.observe(seconds);
  const sample = h.sample({ request: 'Produce' });
  assert.equal(sample.count, 6);
  assert.equal(sample.sum, 0 + 0.0001 + 0.00010001 + 0.003 + 10 + 11);
  const at = (bound: number) => sample.cumulative[LATENCY_BOUNDS.indexOf(bound)];
  assert.deepEqual([at(0.0001), at(0.00025), at(0.0025), at(0.005), at(5), at(10)], [2, 3, 3, 4, 4, 5]);
  const text = [...exposition({ name: 'x_seconds', help: 'h', type: 'histogram', samples: [sample] })].join('').split('\n');
  assert.deepEqual(text.slice(2, 4), ['x_seconds_bucket{request="Produce",le="0.0001"} 2', 'x_seconds_bucket{request="Produce",le="0.00025"} 3']);
  assert.deepEqual(text.slice(-5, -1), ['x_seconds_bucket{request="Produce",le="10"} 5', 'x_seconds_bucket{request="Produce",le="+Inf"} 6', `x_seconds_sum{request="Produce"} ${sample.sum}`, 'x_seconds_count{request="Produce"} 6']);
});
