import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The process's own metrics in Prometheus' text format, under the names Node.js dashboards know (process_cpu_*,
 * process_resident_memory_bytes, process_open_fds, nodejs_eventloop_lag_*, nodejs_gc_duration_seconds,
 * nodejs_heap_*): prom-client reads them from /proc and Node's performance hooks, which it starts watching when the
 * first instance is made. One per process, as what it measures is the process's.
 */
export class ProcessMetrics {
  private static shared: ProcessMetrics | null = null;
  private readonly registry = new Registry();

  private constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  static get(): ProcessMetrics {
    return (ProcessMetrics.shared ??= new ProcessMetrics());
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
