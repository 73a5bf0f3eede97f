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
    for (const f of files) leftover.push(...parseJournal(await fs.readFile(join(dir, f))));
    const journal = new Journal(fs, dir);
    journal.seq = files.length > 0 ? Number(files[files.length - 1]!.slice(0, 20)) + 1 : 0;
    return { journal, leftover, leftoverFiles: files.map((f) => join(dir, f)) };
  }

  private get path(): string {
    return join(this.dir, String(this.seq).padStart(20, '0') + SUFFIX);
  }

  /** Writes the entries and fdatasyncs the journal; one call at a time (the group commit's round). */
  async append(entries: JournalEntry[]): Promise<void> {
    if (this.fd === null) {
      this.fd = await this.fs.open(this.path, 'w');
      await this.fs.fsyncDir(this.dir);
    }
    const buffers: Buffer[] = [];
    let total = 0;
    for (const e of entries) {
      const head = Buffer.allocUnsafe(ENTRY_HEADER_BYTES);
      head.write(e.topicId, 8, 16, 'hex');
      head.writeInt32BE(e.partition, 24);
      const crc = crc32c(e.records, crc32c(head.subarray(8, ENTRY_HEADER_BYTES)));
      head.writeInt32BE(ENTRY_HEADER_BYTES - 4 + e.records.length, 0);
      head.writeUInt32BE(crc, 4);
      buffers.push(head, e.records);
      total += head.length + e.records.length;
    }
    const written = await this.fs.writev(this.fd, buffers, this.bytes);
    if (written !== total) throw new Error(`short journal write: ${written} of ${total} bytes`);
    await this.fs.fdatasync(this.fd);
    this.bytes += total;
  }

  /** Starts a new journal file; returns the path of the one it replaces (for deletion once its segments are synced). */
  async rotate(): Promise<string | null> {
    if (this.fd === null) return null;
    const old = this.path;
    await this.fs.close(this.fd);
    this.fd = null;
    this.seq++;
    this.bytes = 0;
    return old;
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
