import type { FileSystem } from '../io/file-system.js';
import type { Segment } from './segment.js';

/**
 * Keeps the in-memory indexes of closed segments within a byte budget. A sealed segment whose index files hold
 * exactly its indexes is admitted; past the budget, the least recently used ones are dropped from memory and
 * read back from their files at their next look-up. Active segments, and closed ones without current index
 * files (closed before a crash, or mid-rollback), are never admitted and so always stay in memory.
 */
export class IndexCache {
  private bytes = 0;
  /** Admitted segments with their indexes in memory, least recently used first (a Set keeps insertion order). */
  private readonly loaded = new Set<Segment>();

  constructor(
    private readonly fs: FileSystem,
    private readonly budgetBytes: number,
  ) {}

  /** With `inUse`, the segment is about to be looked up in: it stays in memory even past the budget. */
  admit(segment: Segment, inUse = false): void {
    if (!segment.indexFilesCurrent || segment.indexesDropped || this.loaded.has(segment)) return;
    this.loaded.add(segment);
    this.bytes += segment.indexMemoryBytes();
    this.evict(inUse ? segment : null);
  }

  /**
   * Before a look-up in the segment's indexes: reads them back from its files if they were dropped. Should that
   * fail (the segment deleted meanwhile, an I/O error), the look-up runs on the empty indexes a dropped segment
   * keeps, which send every search to the segment's start: slower, never wrong.
   */
  async use(segment: Segment): Promise<void> {
    if (!segment.indexesDropped) {
      if (this.loaded.delete(segment)) this.loaded.add(segment);
      return;
    }
    segment.reloading ??= segment.reloadIndexes(this.fs).finally(() => (segment.reloading = null));
    try {
      await segment.reloading;
    } catch {
      return;
    }
    this.admit(segment, true);
  }

  /** No longer droppable: deleted, or made active again. */
  forget(segment: Segment): void {
    if (this.loaded.delete(segment)) this.bytes -= segment.indexMemoryBytes();
  }

  private evict(keep: Segment | null): void {
    for (const segment of this.loaded) {
      if (this.bytes <= this.budgetBytes || segment === keep) break;
      this.loaded.delete(segment);
      this.bytes -= segment.indexMemoryBytes();
      segment.dropIndexes();
    }
  }
}
