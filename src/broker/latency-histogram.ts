import type { HistogramSample, Labels } from './metrics-exposition.js';

/** Upper bounds in seconds for request and sync times: 0.1 ms to 10 s, about three per decade. */
export const LATENCY_BOUNDS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Counts durations into fixed buckets: an observation is a few comparisons and an increment, with nothing allocated. */
export class LatencyHistogram {
  private readonly counts = new Float64Array(LATENCY_BOUNDS.length + 1);
  private sum = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BOUNDS.length && seconds > LATENCY_BOUNDS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
  }

  sample(labels: Labels): HistogramSample {
    const cumulative: number[] = [];
    let running = 0;
    for (let i = 0; i < LATENCY_BOUNDS.length; i++) cumulative.push((running += this.counts[i]!));
    return { labels, bounds: LATENCY_BOUNDS, cumulative, count: running + this.counts[LATENCY_BOUNDS.length]!, sum: this.sum };
  }
}
