import { OPEN_READ_WRITE_CREATE, type FileSystem } from '../io/file-system.js';
import type { Segment } from './segment.js';

/** The cache never shrinks below this many files on EMFILE. */
const MIN_OPEN = 16;
/** An open that still fails with EMFILE after this many tries (each after a close) fails the caller. */
const EMFILE_ATTEMPTS = 1000;

/**
 * Bounds the number of open segment files across all partitions. Segments are opened on first use and the
 * least recently used idle ones are closed past `maxOpen`. If the process runs out of descriptors (EMFILE)
 * anyway, the cache shrinks and the open is retried (see openShrinkingOnEmfile).
 */
export class HandleCache {
  private readonly open = new Map<Segment, true>();
  /** Opens waiting, out of descriptors, for a file in use to be closed. */
  private readonly released: (() => void)[] = [];

  constructor(
    private readonly fs: FileSystem,
    private maxOpen: number,
  ) {}

  /** Returns the segment's descriptor, opening it if needed; pair every call with release(). */
  async acquire(segment: Segment): Promise<number> {
    segment.inUse++;
    try {
      this.open.delete(segment);
      this.open.set(segment, true);
      if (segment.fd !== null) return segment.fd;
      if (!segment.opening) {
        segment.opening = this.openShrinkingOnEmfile(segment.logPath).then((fd) => {
          segment.fd = fd;
          segment.opening = null;
          return fd;
        });
        segment.opening.catch(() => (segment.opening = null));
      }
      const fd = await segment.opening;
      this.evict();
      return fd;
    } catch (err) {
      segment.inUse--;
      this.open.delete(segment);
      throw err;
    }
  }

  /**
   * Opens a segment file. Out of descriptors (EMFILE), the cache shrinks to half of what it holds and its idle
   * files are closed; when every one is in use, the open waits for a release (each release closes the file, as
   * the cache is then over its bound) and tries again.
   */
  private async openShrinkingOnEmfile(path: string): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fs.open(path, OPEN_READ_WRITE_CREATE);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EMFILE' || attempt === EMFILE_ATTEMPTS) throw err;
        this.maxOpen = Math.max(MIN_OPEN, Math.min(this.maxOpen, this.open.size >> 1));
        if (this.evict() > 0) await new Promise((r) => setImmediate(r));
        else if (this.inUseCount() > 1) await new Promise<void>((resolve) => this.released.push(resolve));
        else throw err; // the descriptors are held elsewhere (connections, other files): none will come back here
      }
    }
  }

  /** Ends a use begun by acquire(). An idle file past the bound is closed at once; a waiting open is woken. */
  release(segment: Segment): void {
    segment.inUse--;
    if (segment.inUse > 0) return;
    const wake = () => this.released.shift()?.();
    if (segment.deleted || this.open.size > this.maxOpen) void this.close(segment).then(wake);
    else wake();
  }

  /** Segments in use, counting the caller's own (it is marked in use while it opens). */
  private inUseCount(): number {
    let n = 0;
    for (const segment of this.open.keys()) if (segment.inUse > 0) n++;
    return n;
  }

  /** Closes idle files, least recently used first, until the cache is within its bound; returns how many. */
  private evict(): number {
    let closed = 0;
    if (this.open.size <= this.maxOpen) return closed;
    for (const segment of this.open.keys()) {
      if (this.open.size <= this.maxOpen) break;
      if (segment.inUse > 0 || segment.fd === null) continue;
      void this.close(segment);
      closed++;
    }
    return closed;
  }

  /**
   * Closes the segment's descriptor. Unsynced bytes stay tracked by the segment's `dirty` flag: an fsync
   * through a later descriptor of the same file syncs them (fsync works on the file, not the descriptor).
   */
  async close(segment: Segment): Promise<void> {
    this.open.delete(segment);
    const fd = segment.fd;
    if (fd === null) return;
    segment.fd = null;
    await this.fs.close(fd).catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.open.keys()].map((s) => this.close(s)));
  }
}
