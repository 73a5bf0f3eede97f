import type { FileSystem } from '../io/file-system.js';
import type { HandleCache } from './handle-cache.js';
import type { Segment } from './segment.js';

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for the `fsync` durability mode. Appends that finished writing ask for a sync; one round at a
 * time fsyncs every segment that became dirty since the previous round, then acknowledges all of their
 * appends together. While a round runs, new requests gather for the next one, so under load one fsync per
 * dirty file covers every append that arrived during the previous fsync.
 */
export class GroupCommit {
  private pending = new Map<Segment, Waiter[]>();
  private running = false;
  rounds = 0;

  constructor(
    private readonly fs: FileSystem,
    private readonly handles: HandleCache,
  ) {}

  /** Resolves once everything written to `segment` before this call is on disk. */
  sync(segment: Segment): Promise<void> {
    return new Promise((resolve, reject) => {
      let waiters = this.pending.get(segment);
      if (!waiters) {
        waiters = [];
        this.pending.set(segment, waiters);
      }
      waiters.push({ resolve, reject });
      if (!this.running) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.pending.size > 0) {
      const round = this.pending;
      this.pending = new Map();
      this.rounds++;
      await Promise.all([...round].map(([segment, waiters]) => this.syncOne(segment, waiters)));
    }
    this.running = false;
  }

  private async syncOne(segment: Segment, waiters: Waiter[]): Promise<void> {
    try {
      if (!segment.deleted) {
        const fd = await this.handles.acquire(segment);
        try {
          segment.dirty = false;
          await this.fs.fdatasync(fd);
        } finally {
          this.handles.release(segment);
        }
      }
      for (const w of waiters) w.resolve();
    } catch (err) {
      segment.dirty = true;
      for (const w of waiters) w.reject(err);
    }
  }
}
