import type { FileSystem } from '../io/file-system.js';

/**
 * A file rewritten whole from in-memory state (atomically: temp file, fsync, rename), one write at a time, so an
 * older content never lands after a newer one and two writes never share the temp file. A request made while a
 * write waits to start joins it; the content is rendered when the write starts, so it covers every change made
 * before the request. Many changes at once (a request's topics or partitions) then cost a few writes, not one each.
 */
export class SharedFileWrite {
  private last: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;

  constructor(
    private readonly fs: FileSystem,
    private readonly path: string,
    private readonly render: () => string,
  ) {}

  /** Resolves once a write started after this call is durable. */
  request(): Promise<void> {
    if (this.queued) return this.queued;
    const write = this.last
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.fs.writeFileAtomic(this.path, this.render());
      });
    this.queued = this.last = write;
    return write;
  }

  /** Waits for every write requested so far; never rejects. */
  settled(): Promise<void> {
    return this.last.catch(() => undefined);
  }
}
