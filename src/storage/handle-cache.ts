import type { FileSystem } from '../io/file-system.js';
import type { Segment } from './segment.js';

/**
 * Bounds the number of open segment files across all partitions. Segments are opened on first use and the
 * least recently used idle ones are closed past `maxOpen`; a segment with bytes not yet fsync'd is synced
 * before its descriptor closes, so eviction never weakens durability.
 */
export class HandleCache {
  private readonly open = new Map<Segment, true>();

  constructor(
    private readonly fs: FileSystem,
    private readonly maxOpen: number,
  ) {}

  get openCount(): number {
    return this.open.size;
  }

  /** Returns the segment's descriptor, opening it if needed; pair every call with release(). */
  async acquire(segment: Segment): Promise<number> {
    segment.inUse++;
    try {
      this.open.delete(segment);
      this.open.set(segment, true);
      if (segment.fd !== null) return segment.fd;
      if (!segment.opening) {
        segment.opening = this.fs.open(segment.logPath, 'a+').then((fd) => {
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

  release(segment: Segment): void {
    segment.inUse--;
    if (segment.deleted && segment.inUse === 0) void this.close(segment);
  }

  private evict(): void {
    if (this.open.size <= this.maxOpen) return;
    for (const segment of this.open.keys()) {
      if (this.open.size <= this.maxOpen) break;
      if (segment.inUse > 0 || segment.fd === null) continue;
      void this.close(segment);
    }
  }

  /** Closes the segment's descriptor (after an fsync if it is dirty). */
  async close(segment: Segment): Promise<void> {
    this.open.delete(segment);
    const fd = segment.fd;
    if (fd === null) return;
    segment.fd = null;
    if (segment.dirty && !segment.deleted) {
      segment.dirty = false;
      await this.fs.fdatasync(fd).catch(() => undefined);
    }
    await this.fs.close(fd).catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.open.keys()].map((s) => this.close(s)));
  }
}
