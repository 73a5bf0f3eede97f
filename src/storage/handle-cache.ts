import { OPEN_READ_WRITE_CREATE, type FileSystem } from '../io/file-system.js';
import type { Segment } from './segment.js';

/**
 * Bounds the number of open segment files across all partitions. Segments are opened on first use and the
 * least recently used idle ones are closed past `maxOpen`. If the process runs out of descriptors (EMFILE)
 * anyway, the cache shrinks by half and the open is retried.
 */
export class HandleCache {
  private readonly open = new Map<Segment, true>();

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

  private async openShrinkingOnEmfile(path: string): Promise<number> {
    try {
      return await this.fs.open(path, OPEN_READ_WRITE_CREATE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EMFILE' || this.maxOpen <= 16) throw err;
      this.maxOpen = Math.max(16, this.open.size >> 1);
      this.evict();
      await new Promise((r) => setImmediate(r));
      return this.fs.open(path, OPEN_READ_WRITE_CREATE);
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
