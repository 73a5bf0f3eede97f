import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';

/**
 * The process's own metrics in Prometheus' text format, under the names Node.js dashboards know (process_cpu_*,
 * process_resident_memory_bytes, process_open_fds, nodejs_eventloop_lag_*, nodejs_gc_duration_seconds,
 * nodejs_heap_*): prom-client reads them from /proc and Node's performance hooks, which it starts watching when the
 * first instance is made. One per process, as what it measures is the process's. Beside them, the event loop's busy
 * and idle time: every request is served on it, so its busy share is the broker's saturation
 * (rate(busy) / (rate(busy) + rate(idle)) over any window, whoever else scrapes).
 */
export class ProcessMetrics {
  private static shared: ProcessMetrics | null = null;
  private readonly registry = new Registry();

  private constructor() {
    collectDefaultMetrics({ register: this.registry });
    const loopTime = (name: string, help: string, seconds: () => number) =>
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(seconds());
        },
      });
    loopTime('sluice_event_loop_busy_seconds_total', 'Time the event loop spent running code since the process started', () => performance.eventLoopUtilization().active / 1000);
    loopTime('sluice_event_loop_idle_seconds_total', 'Time the event loop spent waiting for events since the process started', () => performance.eventLoopUtilization().idle / 1000);
  }

  static get(): ProcessMetrics {
    return (ProcessMetrics.shared ??= new ProcessMetrics());
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
