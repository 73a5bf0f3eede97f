import { crc32c } from '@node-rs/crc32';
import { basename, join } from 'node:path';
import { OPEN_READ_WRITE, type FileSystem } from '../io/file-system.js';

/** A partition whose appends a round journals. */
export interface JournalSource {
  readonly topicId: string;
  readonly partition: number;
}

/** One partition's appends in a round: their bytes, in log order. */
export interface JournalWrite {
  source: JournalSource;
  buffers: Buffer[];
}

/** An entry read back at start: one partition's batches, with their offsets, from one round. */
export interface JournalEntry {
  topicId: string;
  partition: number;
  records: Buffer;
}

/** int32 size of what follows the CRC, uint32 CRC32C of it: how every format frames its rounds (or entries). */
const FRAME_PREFIX_BYTES = 4 + 4;
/** The frame prefix, then the int64 sequence number of the file (see SPARE_SUFFIX). */
const ROUND_HEADER_BYTES = FRAME_PREFIX_BYTES + 8;
/** int32 size (of what follows), 16-byte topic id, int32 partition. */
const ENTRY_HEADER_BYTES = 4 + 16 + 4;
/** The largest staging buffer kept between rounds. */
const STAGING_MAX_BYTES = 16 << 20;
const SUFFIX = '.jnl';
/**
 * A checkpointed journal file kept to be written over by the next file, as databases recycle their redo logs: on
 * this VM, rounds written (and fdatasync'd) over a file's existing blocks ran at 1.4-2.0 GB/s, against 0.5-0.6 for
 * rounds appended to a new file, whose every fdatasync also commits the blocks it allocated. The file's old rounds
 * stay behind the new ones; each round carries its file's sequence number, inside its CRC, so the first old round
 * ends the file on replay. The spare keeps its number (`<sequence number>.spare`), and the numbers of new files go
 * on after it: a new file must never have the number its old rounds carry.
 */
const SPARE_SUFFIX = '.spare';
/** Files of the second format (no sequence number in a round), only read: an older version's crash may leave them. */
const SECOND_FORMAT_SUFFIX = '.journal';
/** Files of the first format (a CRC per entry), only read. */
const FIRST_FORMAT_SUFFIX = '.wal';
/** The first format's entry: int32 size (of what follows), uint32 CRC32C, 16-byte topic id, int32 partition. */
const FIRST_FORMAT_HEADER_BYTES = 4 + 4 + 16 + 4;
const FORMATS = [SUFFIX, SECOND_FORMAT_SUFFIX, FIRST_FORMAT_SUFFIX];

/**
 * The shared write-ahead journal of `fsync` partitions. When many partitions have appends in one group-commit
 * round, their batches are written here in one write and made durable with one fdatasync, instead of
 * one fdatasync per dirty segment file (which collapses with thousands of partitions). The segment files get
 * the same bytes through the normal write path and are made durable at the next checkpoint, after which the
 * journal file that covered them is deleted, or kept as the spare the next file is written over. On start, entries
 * not yet in their segments are replayed.
 *
 * A file is a sequence of rounds, named by a sequence number. Round: int32 size and uint32 CRC32C of what follows
 * them: the file's sequence number (int64), then one entry per partition (int32 size of what follows, 16-byte topic
 * id, int32 partition, the partition's record batches). One CRC per round, not per entry: a round is acknowledged
 * whole or not at all, and one checksum call over it costs less than one per append (at 1 KiB appends the calls
 * cost more than the checksum itself).
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
  /** A checkpointed file kept for the next file to be written over (see SPARE_SUFFIX). */
  private spare: string | null = null;
  /** Reused for every round: in a VM, first touches of fresh pages cost more than copying into warm ones. */
  private staging = Buffer.alloc(0);
  bytes = 0;

  private constructor(
    private readonly fs: FileSystem,
    readonly dir: string,
  ) {}

  /**
   * Opens the journal directory; returns a journal numbered after the files the previous run left, and those
   * files, oldest first, for `leftoverEntries` to replay.
   */
  static async open(fs: FileSystem, dir: string): Promise<{ journal: Journal; leftoverFiles: string[] }> {
    await fs.mkdir(dir);
    // named by sequence number: sorted by name, files of every format are in the order they were written
    const names = await fs.readdir(dir);
    const files = names.filter((f) => FORMATS.some((suffix) => f.endsWith(suffix))).sort();
    const spares = names.filter((f) => f.endsWith(SPARE_SUFFIX)).sort();
    const journal = new Journal(fs, dir);
    const numbered = [...files, ...spares].map((f) => Number(f.slice(0, 20)));
    journal.seq = numbered.length > 0 ? Math.max(...numbered) + 1 : 0;
    // one is kept at a time: any other is a leftover
    journal.spare = spares.length > 0 ? join(dir, spares[spares.length - 1]!) : null;
    for (const extra of spares.slice(0, -1)) await fs.unlink(join(dir, extra)).catch(() => undefined);
    return { journal, leftoverFiles: files.map((f) => join(dir, f)) };
  }

  private get path(): string {
    return join(this.dir, String(this.seq).padStart(20, '0') + SUFFIX);
  }

  /**
   * Writes one round's entries after everything written before; resolves with where they start and end. One
   * write at a time (the group commit's round), possibly while the previous round's sync runs.
   */
  write(writes: readonly JournalWrite[]): Promise<{ start: number; end: number }> {
    return this.serially(async () => {
      if (this.fd === null) {
        this.fd = await this.openFile();
        await this.fs.fsyncDir(this.dir);
      }
      await this.cut(); // left over from a failure whose own cut failed: nothing goes after a refused round
      const start = this.bytes;
      const staged = this.stage(writes);
      try {
        // a short write (the disk filling up) goes on with the rest, so the failure comes with the kernel's reason
        for (let written = 0; written < staged.length; ) {
          const n = await this.fs.writev(this.fd, [staged.subarray(written)], start + written);
          if (n === 0) throw new Error(`journal write made no progress at byte ${start + written}`);
          written += n;
        }
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

  /** A new file for the rounds from now on: the spare, renamed, if there is one (see SPARE_SUFFIX). */
  private async openFile(): Promise<number> {
    const spare = this.spare;
    if (spare !== null) {
      this.spare = null;
      try {
        await this.fs.rename(spare, this.path);
        return await this.fs.open(this.path, OPEN_READ_WRITE);
      } catch {
        // gone, or not a file to write over: a new one instead (opening with 'w' empties whatever was renamed)
      }
    }
    return this.fs.open(this.path, 'w');
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
    // past the end, an earlier cut took it already: cutting there would lengthen the file with zeros, or cut
    // into a round being written at the end (one that follows the cut-off round, and is cut off in turn)
    if (position > this.bytes) return;
    this.bytes = position;
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

  /** Lays a round out in the staging buffer: one write, one CRC call, no per-entry header object. */
  private stage(writes: readonly JournalWrite[]): Buffer {
    let total = ROUND_HEADER_BYTES;
    for (const w of writes) {
      total += ENTRY_HEADER_BYTES;
      for (const b of w.buffers) total += b.length;
    }
    // a round larger than the kept buffer's cap gets a buffer of its own, so one burst does not pin its size
    if (total > STAGING_MAX_BYTES) return this.layOut(writes, Buffer.allocUnsafeSlow(total));
    if (this.staging.length < total) this.staging = Buffer.allocUnsafeSlow(Math.min(STAGING_MAX_BYTES, Math.max(total, this.staging.length * 2)));
    return this.layOut(writes, this.staging.subarray(0, total));
  }

  private layOut(writes: readonly JournalWrite[], out: Buffer): Buffer {
    let at = ROUND_HEADER_BYTES;
    for (const { source, buffers } of writes) {
      const entryStart = at;
      this.topicIdBytes(source.topicId).copy(out, at + 4);
      out.writeInt32BE(source.partition, at + 20);
      at += ENTRY_HEADER_BYTES;
      for (const b of buffers) at += b.copy(out, at);
      out.writeInt32BE(at - entryStart - 4, entryStart);
    }
    out.writeInt32BE(out.length - FRAME_PREFIX_BYTES, 0);
    writeSeq(out, this.seq);
    out.writeUInt32BE(crc32c(out.subarray(FRAME_PREFIX_BYTES)), 4);
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

  /**
   * Starts a new journal file; returns the path of the one it replaces (for deletion once its segments are synced).
   * A failed round not yet cut off is cut first, or this fails and the file stays the current one: left in a file
   * that is no longer the last, the round would be replayed before the rounds written after it, over appends that
   * took its offsets since (while it is the last, every later write retries the cut before anything else).
   */
  rotate(): Promise<string | null> {
    return this.serially(async () => {
      if (this.fd === null) return null;
      await this.cut();
      return this.closeFile();
    });
  }

  /** Closes the file, kept for the next start to replay (after a failed shutdown or start). */
  release(): Promise<void> {
    return this.serially(async () => {
      if (this.fd === null) return;
      await this.cut().catch(() => undefined); // if it fails, the refused round stays the file's last: nothing follows it
      await this.closeFile();
    });
  }

  private async closeFile(): Promise<string> {
    const old = this.path;
    await this.fs.close(this.fd!);
    this.fd = null;
    this.seq++;
    this.bytes = 0;
    this.durableBytes = 0;
    this.tornAt = null;
    return old;
  }

  /**
   * Lets go of a file whose segments are synced: deleted, or kept as the spare when `recycle` (the caller knows the
   * disk has room for it) and there is none yet. Only a file of this format: its rounds carry their sequence number.
   */
  async retire(path: string, recycle: boolean): Promise<void> {
    if (recycle && this.spare === null && path.endsWith(SUFFIX)) {
      // one at a time with openFile, which takes the spare
      const kept = await this.serially(async () => {
        if (this.spare !== null) return false;
        const spare = path.slice(0, -SUFFIX.length) + SPARE_SUFFIX;
        await this.fs.rename(path, spare);
        this.spare = spare;
        return true;
      }).catch(() => false);
      if (kept) return;
    }
    await this.fs.unlink(path).catch(() => undefined);
  }

  /** Deletes the spare (space is short). */
  dropSpare(): Promise<void> {
    return this.serially(async () => {
      const spare = this.spare;
      this.spare = null;
      if (spare !== null) await this.fs.unlink(spare).catch(() => undefined);
    });
  }

  async close(recycle: boolean): Promise<void> {
    const old = await this.rotate();
    if (old) await this.retire(old, recycle);
  }
}

/** What a journal file is read in at start; a round larger than this gets a window as large as itself. */
export const JOURNAL_READ_BYTES = 8 << 20;

/**
 * The entries of journal files left by the previous run, in the order written, a round at a time: a file holds up
 * to a checkpoint's worth of rounds (a gigabyte), and reading it whole would take as much memory (Node refuses
 * files past 2 GiB). An entry's records are a view of the bytes read; take the next round once done with them.
 * Each file ends at its first torn or corrupt round (never acknowledged, so none of it is replayed).
 */
export async function* leftoverEntries(fs: FileSystem, files: readonly string[]): AsyncGenerator<JournalEntry[]> {
  for (const file of files) {
    const firstFormat = file.endsWith(FIRST_FORMAT_SUFFIX);
    const headerBytes = file.endsWith(SUFFIX) ? ROUND_HEADER_BYTES : firstFormat ? FIRST_FORMAT_HEADER_BYTES : FRAME_PREFIX_BYTES;
    const seq = Number(basename(file).slice(0, 20));
    const reader = await FileWindow.open(fs, file);
    try {
      frames: for (let at = 0; ; ) {
        // every format frames with int32 size and uint32 CRC32C of what follows the CRC
        const header = await reader.bytes(at, FRAME_PREFIX_BYTES);
        if (!header) break;
        const size = header.readInt32BE(0);
        const frameBytes = firstFormat ? 4 + size : FRAME_PREFIX_BYTES + size;
        // a frame holds at least one entry: a smaller size (zeros left by a torn write, say) ends the file
        if (frameBytes < headerBytes + (firstFormat ? 0 : ENTRY_HEADER_BYTES)) break;
        const frame = await reader.bytes(at, frameBytes);
        if (!frame || crc32c(frame.subarray(FRAME_PREFIX_BYTES)) !== frame.readUInt32BE(4)) break;
        // a round left from the file's previous use (it was a spare): the rounds of this one end before it
        if (headerBytes === ROUND_HEADER_BYTES && readSeq(frame) !== seq) break;
        if (firstFormat) {
          yield [{ topicId: frame.toString('hex', 8, 24), partition: frame.readInt32BE(24), records: frame.subarray(FIRST_FORMAT_HEADER_BYTES) }];
        } else {
          const entries: JournalEntry[] = [];
          for (let e = headerBytes; e + ENTRY_HEADER_BYTES <= frame.length; ) {
            const entryEnd = e + 4 + frame.readInt32BE(e);
            if (entryEnd < e + ENTRY_HEADER_BYTES || entryEnd > frame.length) break frames;
            entries.push({ topicId: frame.toString('hex', e + 4, e + 20), partition: frame.readInt32BE(e + 20), records: frame.subarray(e + ENTRY_HEADER_BYTES, entryEnd) });
            e = entryEnd;
          }
          yield entries;
        }
        at += frameBytes;
      }
    } finally {
      await reader.close();
    }
  }
}

/** A round's file sequence number, after its size and CRC (below 2^53: two uint32 halves, no BigInt). */
function writeSeq(round: Buffer, seq: number): void {
  round.writeUInt32BE(Math.floor(seq / 2 ** 32), FRAME_PREFIX_BYTES);
  round.writeUInt32BE(seq >>> 0, FRAME_PREFIX_BYTES + 4);
}

function readSeq(round: Buffer): number {
  return round.readUInt32BE(FRAME_PREFIX_BYTES) * 2 ** 32 + round.readUInt32BE(FRAME_PREFIX_BYTES + 4);
}

/**
 * Forward reads of a file through a window of JOURNAL_READ_BYTES, so that a frame is one read, not one per field.
 * The window's buffer is reused: in a VM, first touches of fresh memory cost more than the reads themselves
 * (492 MiB of journal, in the page cache, took 1.9 s to go through with a new buffer per window, 0.55 s with one).
 */
class FileWindow {
  private buffer = Buffer.alloc(0);
  /** The part of `buffer` holding the file's bytes from `windowStart` on. */
  private window = Buffer.alloc(0);
  private windowStart = 0;

  private constructor(
    private readonly fs: FileSystem,
    private readonly fd: number,
    private readonly size: number,
  ) {}

  static async open(fs: FileSystem, path: string): Promise<FileWindow> {
    const fd = await fs.open(path, 'r');
    try {
      return new FileWindow(fs, fd, await fs.fstatSize(fd));
    } catch (err) {
      await fs.close(fd);
      throw err;
    }
  }

  /**
   * The `length` bytes at `position` (at or past the previous call's), or null if the file ends first. The view
   * is valid until the next call that has to read.
   */
  async bytes(position: number, length: number): Promise<Buffer | null> {
    if (position + length > this.size) return null;
    const windowEnd = this.windowStart + this.window.length;
    if (position + length <= windowEnd) return this.window.subarray(position - this.windowStart, position - this.windowStart + length);
    const wanted = Math.min(this.size - position, Math.max(JOURNAL_READ_BYTES, length));
    const kept = Math.max(0, windowEnd - position);
    const into = this.buffer.length >= wanted ? this.buffer : Buffer.allocUnsafe(wanted);
    this.window.copy(into, 0, this.window.length - kept); // within one buffer the regions may overlap: copy allows it
    for (let filled = kept; filled < wanted; ) {
      const n = await this.fs.read(this.fd, into.subarray(filled), wanted - filled, position + filled, true);
      if (n === 0) throw new Error(`journal file ended early: read ${filled} of ${wanted} bytes at ${position}`);
      filled += n;
    }
    this.buffer = into;
    this.window = into.subarray(0, wanted);
    this.windowStart = position;
    return this.window.subarray(0, length);
  }

  close(): Promise<void> {
    return this.fs.close(this.fd);
  }
}
