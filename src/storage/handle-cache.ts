import { OPEN_READ_WRITE, OPEN_READ_WRITE_CREATE, type FileSystem } from '../io/file-system.js';
import type { Segment } from './segment.js';

/** The cache never shrinks below this many files on EMFILE. */
const MIN_OPEN = 16;
/** An open that still fails with EMFILE after this many tries (each after a close) fails the caller. */
const EMFILE_ATTEMPTS = 1000;
/**
 * A cache cut on EMFILE doubles again (up to its configured bound) once this long has passed without a cut: the
 * descriptors may have been held by a burst of connections, and a cache kept small for good would reopen files
 * for every partition past it until a restart. Should the process still be short of descriptors, the next EMFILE
 * cuts it again, so a limit that stays too low is reported about once per this interval.
 */
const GROW_BACK_MS = 60_000;

export interface HandleCacheOptions {
  /** Milliseconds, for GROW_BACK_MS. */
  now: () => number;
  /** The cache was cut to `maxOpen` files, the process being out of descriptors. */
  onCut?: (maxOpen: number) => void;
}

/**
 * Bounds the number of open segment files across all partitions. Segments are opened on first use and idle ones
 * not used lately are closed past `maxOpen`, found by a clock sweep (each use sets a flag on the segment; the
 * sweep clears flags and closes the first idle segment it finds without one). If the process runs out of
 * descriptors (EMFILE) anyway, the cache shrinks and the open is retried (see retryOnEmfile); it grows back once
 * no EMFILE has come for GROW_BACK_MS.
 */
export class HandleCache {
  /**
   * Cached segments, in the order the clock hand passes them. A use writes only to the segment itself: moving it
   * to the end of a least-recently-used list wrote to its two neighbours too, and with appends rotating over
   * 10,000 partitions those are segments no other recent append touched, each a fetch from memory.
   */
  private readonly ring: Segment[] = [];
  private hand = 0;
  /** Opens waiting, out of descriptors, for a file to be closed. */
  private readonly released: (() => void)[] = [];
  /** The bound now: maxOpenFiles, or less since an EMFILE. */
  private maxOpen: number;
  /** When the bound last changed after an EMFILE (a cut, or a step back up). */
  private changedAt = 0;

  constructor(
    private readonly fs: FileSystem,
    private readonly maxOpenFiles: number,
    private readonly options: HandleCacheOptions,
  ) {
    this.maxOpen = maxOpenFiles;
  }

  /** Returns the segment's descriptor, opening it if needed; pair every call with release(). */
  async acquire(segment: Segment): Promise<number> {
    const open = this.acquireOpen(segment);
    if (open !== null) return open;
    segment.inUse++;
    try {
      this.touch(segment);
      if (!segment.opening) {
        segment.opening = this.openShrinkingOnEmfile(segment.logPath, segment.createOnOpen).then((fd) => {
          segment.fd = fd;
          segment.opening = null;
          segment.createOnOpen = false;
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

  /**
   * acquire() for a segment that retention, DeleteRecords or a compaction's swap may delete meanwhile: null, with
   * nothing held, when it is gone before or while its file opens. Such an open fails with ENOENT, or finds a
   * compacted copy under the same name, whose bytes are not the segment's.
   */
  async acquireUnlessDeleted(segment: Segment): Promise<number | null> {
    if (segment.deleted) return null;
    let fd: number;
    try {
      fd = await this.acquire(segment);
    } catch (err) {
      if (segment.deleted) return null;
      throw err;
    }
    if (!segment.deleted) return fd;
    this.release(segment);
    return null;
  }

  /** acquire() without waiting, for a segment whose file is open: its descriptor, or null when it is not open. */
  acquireOpen(segment: Segment): number | null {
    if (segment.fd === null) return null;
    segment.inUse++;
    segment.usedLately = true;
    return segment.fd;
  }

  /** Marks the segment used, adding it to the cache if it is not there. */
  private touch(segment: Segment): void {
    segment.usedLately = true;
    if (segment.cacheSlot >= 0) return;
    segment.cacheSlot = this.ring.length;
    this.ring.push(segment);
  }

  /** Takes the segment out of the cache: the last one takes its place. */
  private unlink(segment: Segment): void {
    const slot = segment.cacheSlot;
    if (slot < 0) return;
    const last = this.ring.pop()!;
    if (last !== segment) {
      this.ring[slot] = last;
      last.cacheSlot = slot;
    }
    segment.cacheSlot = -1;
  }

  /** Opens a segment file, making room as withRoom does; the caller's segment is marked in use while it opens. */
  private openShrinkingOnEmfile(path: string, create: boolean): Promise<number> {
    return this.retryOnEmfile(() => this.fs.open(path, create ? OPEN_READ_WRITE_CREATE : OPEN_READ_WRITE), 1);
  }

  /**
   * Runs `op`, which opens a descriptor of its own (a directory to sync, a file written whole), as a segment file is
   * opened: out of descriptors (EMFILE), the cache makes room and `op` is tried again. Before, only segment opens
   * did: with 10,000 partitions rolling at once, the new segments' directory syncs ran out of descriptors beside a
   * full cache, and their appends were refused.
   */
  withRoom<T>(op: () => Promise<T>): Promise<T> {
    return this.retryOnEmfile(op, 0);
  }

  /**
   * `fs` with each call that takes a descriptor of its own made through withRoom, for the files beside the segments
   * (the catalogue, the journal, metadata files, directories to sync): a cache of idle segment files up to the
   * process's limit left none for them, and creating a topic or deleting records failed with EMFILE. Not for code
   * that holds a segment in use while it calls: waiting for a release there could wait for itself.
   */
  makingRoom(fs: FileSystem): FileSystem {
    return {
      ...fs,
      open: (path, flags) => this.withRoom(() => fs.open(path, flags)),
      readFile: (path) => this.withRoom(() => fs.readFile(path)),
      readdir: (path) => this.withRoom(() => fs.readdir(path)),
      writeFileAtomic: (path, data, durable, mode) => this.withRoom(() => fs.writeFileAtomic(path, data, durable, mode)),
      fsyncDir: (path) => this.withRoom(() => fs.fsyncDir(path)),
      syncFileSystem: (path) => this.withRoom(() => fs.syncFileSystem(path)),
      lockDir: (path) => this.withRoom(() => fs.lockDir(path)),
    };
  }

  /**
   * Out of descriptors (EMFILE), the cache shrinks to half of what it holds and its idle files are closed; when
   * every one is in use (beyond the caller's own `callerInUse`), the attempt waits for one to be closed (as it is
   * released: the cache is then over its bound) and tries again.
   */
  private async retryOnEmfile<T>(op: () => Promise<T>, callerInUse: number): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EMFILE' || attempt === EMFILE_ATTEMPTS) throw err;
        this.cut(Math.max(MIN_OPEN, Math.min(this.maxOpen, this.ring.length >> 1)));
        if (this.evict() > 0) await new Promise((r) => setImmediate(r));
        else if (this.inUseCount() > callerInUse) await new Promise<void>((resolve) => this.released.push(resolve));
        else throw err; // the descriptors are held elsewhere (connections, other files): none will come back here
      }
    }
  }

  private cut(maxOpen: number): void {
    if (maxOpen >= this.maxOpen) return;
    this.maxOpen = maxOpen;
    this.changedAt = this.options.now();
    this.options.onCut?.(maxOpen);
  }

  /** Ends a use begun by acquire(). Past the bound, idle files are closed now (each close wakes a waiting open). */
  release(segment: Segment): void {
    segment.inUse--;
    if (segment.inUse > 0) return;
    if (segment.deleted) void this.close(segment);
    else this.evict();
  }

  /** Segments in use, counting a caller's own (a segment is marked in use while it opens). */
  private inUseCount(): number {
    let n = 0;
    for (const s of this.ring) if (s.inUse > 0) n++;
    return n;
  }

  /**
   * Closes idle files until the cache is within its bound, returns how many: the hand clears the flag of a segment
   * used since it last passed and closes one not used since (a close puts the last segment in its place, which the
   * hand looks at next). Two passes without a close find every segment in use or opening.
   */
  private evict(): number {
    let closed = 0;
    if (this.ring.length > this.maxOpen && this.maxOpen < this.maxOpenFiles) {
      const now = this.options.now();
      if (now - this.changedAt >= GROW_BACK_MS) {
        this.maxOpen = Math.min(this.maxOpenFiles, this.maxOpen * 2);
        this.changedAt = now;
      }
    }
    for (let passed = 0; this.ring.length > this.maxOpen && passed < 2 * this.ring.length; ) {
      if (this.hand >= this.ring.length) this.hand = 0;
      const s = this.ring[this.hand]!;
      if (s.inUse === 0 && s.fd !== null && !s.usedLately) {
        void this.close(s);
        closed++;
        passed = 0;
      } else {
        s.usedLately = false;
        this.hand++;
        passed++;
      }
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
    await Promise.all([...this.ring].map((s) => this.close(s)));
  }
}
