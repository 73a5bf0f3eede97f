import { crc32c } from '@node-rs/crc32';
import { join } from 'node:path';
import type { FileSystem } from '../io/file-system.js';

/** One append as the journal records it: which partition (by topic id), and the batches with their offsets. */
export interface JournalEntry {
  topicId: string;
  partition: number;
  records: Buffer;
}

const ENTRY_HEADER_BYTES = 4 + 4 + 16 + 4;
/** The largest staging buffer kept between rounds. */
const STAGING_MAX_BYTES = 16 << 20;
const SUFFIX = '.wal';

/**
 * The shared write-ahead journal of `fsync` partitions. When many partitions have appends in one group-commit
 * round, their batches are written here in one vectored write and made durable with one fdatasync, instead of
 * one fdatasync per dirty segment file (which collapses with thousands of partitions). The segment files get
 * the same bytes through the normal write path and are made durable at the next checkpoint, after which the
 * journal file that covered them is deleted. On start, entries not yet in their segments are replayed.
 *
 * Entry: int32 size (of what follows), uint32 CRC32C (of id, partition and records), 16-byte topic id,
 * int32 partition, record batches. Files are named by a sequence number.
 */
export class Journal {
  private fd: number | null = null;
  private seq = 0;
  /** Where a failed round began: the file is cut there (and synced) before the round's appends are refused. */
  private tornAt: number | null = null;
  /** File changes (writes, cuts, rotation) run one at a time, in call order; fdatasyncs may overlap them. */
  private changes: Promise<unknown> = Promise.resolve();
  private durableBytes = 0;
  private readonly topicIds = new Map<string, Buffer>();
  /** Reused for every round: in a VM, first touches of fresh pages cost more than copying into warm ones. */
  private staging = Buffer.alloc(0);
  bytes = 0;

  private constructor(
    private readonly fs: FileSystem,
    readonly dir: string,
  ) {}

  /** Opens the journal directory and returns the entries of the files left by the previous run, oldest first. */
  static async open(fs: FileSystem, dir: string): Promise<{ journal: Journal; leftover: JournalEntry[]; leftoverFiles: string[] }> {
    await fs.mkdir(dir);
    const files = (await fs.readdir(dir)).filter((f) => f.endsWith(SUFFIX)).sort();
    const leftover: JournalEntry[] = [];
    // entry by entry: spreading a file's entries into push() passes each as an argument, past the stack's limit
    for (const f of files) for (const entry of parseJournal(await fs.readFile(join(dir, f)))) leftover.push(entry);
    const journal = new Journal(fs, dir);
    journal.seq = files.length > 0 ? Number(files[files.length - 1]!.slice(0, 20)) + 1 : 0;
    return { journal, leftover, leftoverFiles: files.map((f) => join(dir, f)) };
  }

  private get path(): string {
    return join(this.dir, String(this.seq).padStart(20, '0') + SUFFIX);
  }

  /**
   * Writes one round's entries after everything written before; resolves with where they start and end. One
   * write at a time (the group commit's round), possibly while the previous round's sync runs.
   */
  write(entries: JournalEntry[]): Promise<{ start: number; end: number }> {
    return this.serially(async () => {
      if (this.fd === null) {
        this.fd = await this.fs.open(this.path, 'w');
        await this.fs.fsyncDir(this.dir);
      }
      await this.cut(); // left over from a failure whose own cut failed: nothing goes after a refused round
      const start = this.bytes;
      const staged = this.stage(entries);
      try {
        const written = await this.fs.writev(this.fd, [staged], start);
        if (written !== staged.length) throw new Error(`short journal write: ${written} of ${staged.length} bytes`);
      } catch (err) {
        this.markCut(start);
        await this.cut().catch(() => undefined);
        throw err;
      }
      // a sync that failed while this was written cut the file below it (tornAt was clear when it began)
      if (this.tornAt !== null) {
        await this.cut().catch(() => undefined);
        throw new Error('journal round cut off: an earlier round failed');
      }
      this.bytes = start + staged.length;
      return { start, end: this.bytes };
    });
  }

  /**
   * Makes everything written up to `end` durable; fails if a failure since has cut it off. An fdatasync covers
   * every byte written before it began, so rounds written during one sync share the next: one call, not one each.
   */
  async sync(end: number): Promise<void> {
    if (end <= this.durableBytes) return;
    const covered = this.bytes;
    try {
      await this.fs.fdatasync(this.fd!);
    } catch (err) {
      await this.discardFrom(this.durableBytes);
      throw err;
    }
    if (this.bytes < end) throw new Error('journal round cut off: an earlier round failed');
    this.durableBytes = Math.max(this.durableBytes, Math.min(covered, this.bytes));
  }

  /**
   * Forgets everything from `position` on (a failed round, or one written after it), cutting the file there and
   * syncing the cut before the caller refuses the appends: a restart must not replay an append that was refused
   * (and rolled back, its offsets perhaps reused since). Should the cut fail, it is retried before the next write.
   */
  async discardFrom(position: number): Promise<void> {
    this.markCut(position);
    await this.serially(() => this.cut()).catch(() => undefined);
  }

  private markCut(position: number): void {
    if (position < this.bytes) this.bytes = position;
    this.tornAt = Math.min(this.tornAt ?? position, position);
  }

  private async cut(): Promise<void> {
    if (this.tornAt === null || this.fd === null) return;
    const at = this.tornAt;
    await this.fs.ftruncate(this.fd, at);
    await this.fs.fdatasync(this.fd);
    if (this.tornAt === at) this.tornAt = null;
  }

  private serially<T>(change: () => Promise<T>): Promise<T> {
    const run = this.changes.then(change, change);
    this.changes = run.catch(() => undefined);
    return run;
  }

  /** Lays a round's entries out in the staging buffer: one write, one CRC call per entry, no per-entry header object. */
  private stage(entries: JournalEntry[]): Buffer {
    let total = 0;
    for (const e of entries) total += ENTRY_HEADER_BYTES + e.records.length;
    // a round larger than the kept buffer's cap gets a buffer of its own, so one burst does not pin its size
    if (total > STAGING_MAX_BYTES) return this.layOut(entries, Buffer.allocUnsafeSlow(total));
    if (this.staging.length < total) this.staging = Buffer.allocUnsafeSlow(Math.min(STAGING_MAX_BYTES, Math.max(total, this.staging.length * 2)));
    return this.layOut(entries, this.staging.subarray(0, total));
  }

  private layOut(entries: JournalEntry[], out: Buffer): Buffer {
    let at = 0;
    for (const e of entries) {
      const end = at + ENTRY_HEADER_BYTES + e.records.length;
      out.writeInt32BE(end - at - 4, at);
      this.topicIdBytes(e.topicId).copy(out, at + 8);
      out.writeInt32BE(e.partition, at + 24);
      e.records.copy(out, at + ENTRY_HEADER_BYTES);
      out.writeUInt32BE(crc32c(out.subarray(at + 8, end)), at + 4);
      at = end;
    }
    return out;
  }

  private topicIdBytes(topicId: string): Buffer {
    let bytes = this.topicIds.get(topicId);
    if (!bytes) {
      bytes = Buffer.from(topicId, 'hex');
      this.topicIds.set(topicId, bytes);
    }
    return bytes;
  }

  /** Starts a new journal file; returns the path of the one it replaces (for deletion once its segments are synced). */
  rotate(): Promise<string | null> {
    return this.serially(async () => {
      if (this.fd === null) return null;
      const old = this.path;
      await this.cut().catch(() => undefined);
      await this.fs.close(this.fd);
      this.fd = null;
      this.seq++;
      this.bytes = 0;
      this.durableBytes = 0;
      this.tornAt = null;
      return old;
    });
  }

  async remove(path: string): Promise<void> {
    await this.fs.unlink(path).catch(() => undefined);
  }

  async close(): Promise<void> {
    const old = await this.rotate();
    if (old) await this.remove(old);
  }
}

/** Parses journal bytes; stops at the first torn or corrupt entry (an unacknowledged tail). */
function parseJournal(data: Buffer): JournalEntry[] {
  const out: JournalEntry[] = [];
  let at = 0;
  while (at + ENTRY_HEADER_BYTES <= data.length) {
    const size = data.readInt32BE(at);
    const end = at + 4 + size;
    if (size < ENTRY_HEADER_BYTES - 4 || end > data.length) break;
    const crc = data.readUInt32BE(at + 4);
    if (crc32c(data.subarray(at + 8, end)) !== crc) break;
    out.push({ topicId: data.toString('hex', at + 8, at + 24), partition: data.readInt32BE(at + 24), records: data.subarray(at + ENTRY_HEADER_BYTES, end) });
    at = end;
  }
  return out;
}
