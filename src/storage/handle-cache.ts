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
  /**
   * Cached segments, least recently used first, linked through the segments themselves: a use moves one to the
   * end with a few pointer writes (a Map's delete and set on every use took 7% of the main thread's time with
   * appends rotating over 10,000 partitions).
   */
  private head: Segment | null = null;
  private tail: Segment | null = null;
  private size = 0;
  /** Opens waiting, out of descriptors, for a file to be closed. */
  private readonly released: (() => void)[] = [];

  constructor(
    private readonly fs: FileSystem,
    private maxOpen: number,
  ) {}

  /** Returns the segment's descriptor, opening it if needed; pair every call with release(). */
  async acquire(segment: Segment): Promise<number> {
    const open = this.acquireOpen(segment);
    if (open !== null) return open;
    segment.inUse++;
    try {
      this.touch(segment);
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
      this.unlink(segment);
      throw err;
    }
  }

  /** acquire() without waiting, for a segment whose file is open: its descriptor, or null when it is not open. */
  acquireOpen(segment: Segment): number | null {
    if (segment.fd === null) return null;
    segment.inUse++;
    this.touch(segment);
    return segment.fd;
  }

  /** Moves the segment to the most recently used end, adding it if it is not cached. */
  private touch(segment: Segment): void {
    if (segment === this.tail) return;
    this.unlink(segment);
    segment.lruPrev = this.tail;
    segment.lruNext = null;
    if (this.tail) this.tail.lruNext = segment;
    else this.head = segment;
    this.tail = segment;
    segment.cached = true;
    this.size++;
  }

  private unlink(segment: Segment): void {
    if (!segment.cached) return;
    if (segment.lruPrev) segment.lruPrev.lruNext = segment.lruNext;
    else this.head = segment.lruNext;
    if (segment.lruNext) segment.lruNext.lruPrev = segment.lruPrev;
    else this.tail = segment.lruPrev;
    segment.lruPrev = segment.lruNext = null;
    segment.cached = false;
    this.size--;
  }

  /**
   * Opens a segment file. Out of descriptors (EMFILE), the cache shrinks to half of what it holds and its idle
   * files are closed; when every one is in use, the open waits for one to be closed (as it is released: the cache
   * is then over its bound) and tries again.
   */
  private async openShrinkingOnEmfile(path: string): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fs.open(path, OPEN_READ_WRITE_CREATE);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EMFILE' || attempt === EMFILE_ATTEMPTS) throw err;
        this.maxOpen = Math.max(MIN_OPEN, Math.min(this.maxOpen, this.size >> 1));
        if (this.evict() > 0) await new Promise((r) => setImmediate(r));
        else if (this.inUseCount() > 1) await new Promise<void>((resolve) => this.released.push(resolve));
        else throw err; // the descriptors are held elsewhere (connections, other files): none will come back here
      }
    }
  }

  /** Ends a use begun by acquire(). Past the bound, idle files are closed now (each close wakes a waiting open). */
  release(segment: Segment): void {
    segment.inUse--;
    if (segment.inUse > 0) return;
    if (segment.deleted) void this.close(segment);
    else this.evict();
  }

  /** Segments in use, counting the caller's own (it is marked in use while it opens). */
  private inUseCount(): number {
    let n = 0;
    for (let s = this.head; s; s = s.lruNext) if (s.inUse > 0) n++;
    return n;
  }

  /** Closes idle files, least recently used first, until the cache is within its bound; returns how many. */
  private evict(): number {
    let closed = 0;
    for (let s = this.head; s && this.size > this.maxOpen; ) {
      const next = s.lruNext;
      if (s.inUse === 0 && s.fd !== null) {
        void this.close(s);
        closed++;
      }
      s = next;
    }
    return closed;
  }

  /**
   * Closes the segment's descriptor. Unsynced bytes stay tracked by the segment's `dirty` flag: an fsync
   * through a later descriptor of the same file syncs them (fsync works on the file, not the descriptor).
   */
  async close(segment: Segment): Promise<void> {
    this.unlink(segment);
    const fd = segment.fd;
    if (fd === null) return;
    segment.fd = null;
    await this.fs.close(fd).catch(() => undefined);
    this.released.shift()?.();
  }

  async closeAll(): Promise<void> {
    const all: Segment[] = [];
    for (let s = this.head; s; s = s.lruNext) all.push(s);
    await Promise.all(all.map((s) => this.close(s)));
  }
}
