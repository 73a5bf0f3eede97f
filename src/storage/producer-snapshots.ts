import type { FileSystem } from '../io/file-system.js';
import { segmentFileName } from './segment.js';

/**
 * A partition's producer state snapshot files (`<offset>.snapshot`, the state as of that offset): which exist, kept
 * in memory so that no write or start lists the directory again. A roll writes one (keeping the two newest), a start
 * restores the newest it can read, and a rollback drops those past its point, whose records are gone.
 */
export class ProducerSnapshots {
  /** Offsets of the files, ascending. */
  private offsets: number[] = [];

  constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly writeDurably: (path: string, data: string) => Promise<void>,
  ) {}

  /** The files a start found. */
  adopt(offsets: readonly number[]): void {
    this.offsets = [...offsets].sort((a, b) => a - b);
  }

  has(offset: number): boolean {
    return this.offsets.includes(offset);
  }

  /**
   * The offset of the newest snapshot at or below `upTo` that `restore` accepts, trying older ones while it refuses
   * one (unreadable), or null. Snapshots past `upTo` describe records the log no longer holds: they are removed.
   */
  async restoreNewest(upTo: number, restore: (json: string) => boolean): Promise<number | null> {
    for (const at of [...this.offsets].reverse()) {
      if (at > upTo) {
        this.offsets = this.offsets.filter((o) => o !== at);
        await this.fs.unlink(this.path(at)).catch(() => undefined);
        continue;
      }
      const json = await this.fs.readFile(this.path(at)).then((b) => b.toString('utf8'), () => '');
      if (restore(json)) return at;
    }
    return null;
  }

  /** Writes the snapshot at `offset` durably, then removes all but the newest one older than it. */
  async write(offset: number, json: string): Promise<void> {
    await this.writeDurably(this.path(offset), json);
    if (!this.offsets.includes(offset)) this.offsets = [...this.offsets, offset].sort((a, b) => a - b);
    const older = this.offsets.filter((o) => o < offset);
    const stale = older.slice(0, -1);
    this.offsets = this.offsets.filter((o) => !stale.includes(o));
    for (const o of stale) await this.fs.unlink(this.path(o)).catch(() => undefined);
  }

  /**
   * Rewrites durably each snapshot file whose JSON `change` alters (returning another string). A file it cannot
   * parse is left as it is, as a start refuses it anyway, and one gone is passed over.
   */
  async rewrite(change: (json: string) => string): Promise<void> {
    for (const at of this.offsets) {
      const read = await this.fs.readFile(this.path(at)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      if (read === null) continue;
      const json = read.toString('utf8');
      let changed: string;
      try {
        changed = change(json);
      } catch {
        continue;
      }
      if (changed !== json) await this.writeDurably(this.path(at), changed);
    }
  }

  /** Removes the snapshots past `offset`; true if there were any (their directory then wants an fsync). */
  async dropAfter(offset: number): Promise<boolean> {
    const stale = this.offsets.filter((o) => o > offset);
    this.offsets = this.offsets.filter((o) => o <= offset);
    for (const o of stale) await this.fs.unlink(this.path(o)).catch(() => undefined);
    return stale.length > 0;
  }

  private path(offset: number): string {
    return `${this.dir}/${segmentFileName(offset, '.snapshot')}`;
  }
}
