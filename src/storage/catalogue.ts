import { crc32c } from '@node-rs/crc32';
import { join } from 'node:path';
import { OPEN_READ_WRITE_CREATE, type FileSystem } from '../io/file-system.js';
import { SharedWrite } from './shared-write.js';

/** A topic as the catalogue records it. */
export interface TopicRecord {
  name: string;
  /** 32 hex digits (Kafka's topic UUID). */
  id: string;
  partitions: number;
  overrides: Record<string, string>;
}

/** A change to one topic: its whole record, or its removal. */
export type CatalogueChange = { put: TopicRecord } | { delete: string };

const SNAPSHOT_FILE = 'topics.json';
const LOG_FILE = 'topics.changes';
/** Per change: int32 length and CRC32C of the JSON that follows. */
const FRAME_BYTES = 8;
/** The log is folded into a new snapshot once it holds this much, or as much as the snapshot, whichever is more. */
const FOLD_MIN_BYTES = 1 << 20;

/**
 * The topic catalogue: a snapshot of every topic (`topics.json`) and a log of the changes since (`topics.changes`),
 * each change the whole record of one topic, or its removal, framed with its length and CRC32C. A change costs an
 * append and one fdatasync whatever the number of topics; rewriting the whole catalogue for each change made
 * creating topics one at a time slower the more there were. Changes asked for while a write runs share the next
 * one. Each write records the topics' state when it starts, so it covers every change made before it was asked
 * for. Once the log outgrows the snapshot, the next write first folds it into a new snapshot (written atomically)
 * and empties it. A crash in between replays the old log over the new snapshot, which loses no acknowledged
 * change: each change holds a topic's whole record, the log's last change of a topic is its state when that was
 * written, and a later change to it was not yet acknowledged.
 */
export class Catalogue {
  private readonly logPath: string;
  private fd = -1;
  /** Bytes of whole changes in the log: the next write goes there. */
  private logBytes = 0;
  private snapshotBytes = 0;
  /** A failed write may have left bytes past `logBytes`: they are cut before anything else is written. */
  private needsCut = false;
  /** Topics changed since the last write began. */
  private readonly changed = new Set<string>();
  private readonly writes = new SharedWrite(() => this.write());

  constructor(
    private readonly fs: FileSystem,
    private readonly dataDir: string,
    /** The record to write for a topic now, or null for none (removed, or no partition whole yet). */
    private readonly recordOf: (name: string) => TopicRecord | null,
    /** Every topic's record, for a new snapshot. */
    private readonly records: () => TopicRecord[],
    private readonly foldMinBytes = FOLD_MIN_BYTES,
  ) {
    this.logPath = join(dataDir, LOG_FILE);
  }

  /**
   * Reads the snapshot and replays the log over it, up to its first torn or corrupt change (cut at the next write);
   * opens the log for writing, creating it if need be.
   */
  async load(): Promise<TopicRecord[]> {
    const read = await Catalogue.read(this.fs, this.dataDir);
    this.snapshotBytes = read.snapshotBytes;
    this.logBytes = read.logBytes;
    this.needsCut = read.logBytes < read.logFileBytes;
    await this.openLog();
    return read.topics;
  }

  /** The topics a data directory's catalogue holds, and the sizes of its files. */
  static async read(fs: FileSystem, dataDir: string): Promise<{ topics: TopicRecord[]; snapshotBytes: number; logBytes: number; logFileBytes: number }> {
    const topics = new Map<string, TopicRecord>();
    const snapshotPath = join(dataDir, SNAPSHOT_FILE);
    const logPath = join(dataDir, LOG_FILE);
    const snapshot = (await fs.exists(snapshotPath)) ? await fs.readFile(snapshotPath) : null;
    if (snapshot) for (const t of (JSON.parse(snapshot.toString('utf8')) as { topics: TopicRecord[] }).topics) topics.set(t.name, t);
    const log = (await fs.exists(logPath)) ? await fs.readFile(logPath) : Buffer.alloc(0);
    const { changes, end } = changesIn(log);
    for (const change of changes) {
      if ('put' in change) topics.set(change.put.name, change.put);
      else topics.delete(change.delete);
    }
    return { topics: [...topics.values()], snapshotBytes: snapshot?.length ?? 0, logBytes: end, logFileBytes: log.length };
  }

  /** Records the topics' current state; resolves once a write that began after this call is durable. */
  record(names: Iterable<string>): Promise<void> {
    for (const name of names) this.changed.add(name);
    return this.writes.request();
  }

  /** Makes the catalogue file durable as it stands, changes a dead process wrote but never synced included. */
  async sync(): Promise<void> {
    await this.fs.fdatasync(await this.openLog());
  }

  async close(): Promise<void> {
    await this.writes.settled();
    if (this.fd >= 0) await this.fs.close(this.fd);
    this.fd = -1;
  }

  private async write(): Promise<void> {
    const names = [...this.changed];
    this.changed.clear();
    try {
      if (this.logBytes >= Math.max(this.foldMinBytes, this.snapshotBytes)) await this.fold();
      const frames = names.map((name) => {
        const record = this.recordOf(name);
        return frame(record ? { put: record } : { delete: name });
      });
      const bytes = Buffer.concat(frames);
      const fd = await this.openLog();
      if (this.needsCut) await this.cut(fd);
      const written = await this.fs.writev(fd, [bytes], this.logBytes);
      if (written !== bytes.length) throw new Error(`short write to ${this.logPath}: ${written} of ${bytes.length} bytes`);
      this.needsCut = true;
      await this.fs.fdatasync(fd);
      this.needsCut = false;
      this.logBytes += bytes.length;
    } catch (err) {
      // the next write records them again, whatever they are by then
      for (const name of names) this.changed.add(name);
      if (this.needsCut && this.fd >= 0) await this.cut(this.fd).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Cuts what a failed write left past the last whole change, durably: a change whose write or sync failed must
   * not come back at the next start, nor sit, whole, after changes written later.
   */
  private async cut(fd: number): Promise<void> {
    await this.fs.ftruncate(fd, this.logBytes);
    await this.fs.fdatasync(fd);
    this.needsCut = false;
  }

  /** A new snapshot of every topic, then an empty log. */
  private async fold(): Promise<void> {
    const snapshot = JSON.stringify({ version: 1, topics: this.records() }, null, 1);
    await this.fs.writeFileAtomic(join(this.dataDir, SNAPSHOT_FILE), snapshot);
    this.snapshotBytes = Buffer.byteLength(snapshot);
    this.logBytes = 0;
    this.needsCut = true; // cut with the next write, before its bytes
  }

  private async openLog(): Promise<number> {
    if (this.fd >= 0) return this.fd;
    this.fd = await this.fs.open(this.logPath, OPEN_READ_WRITE_CREATE);
    // its name must be durable before a change in it is acknowledged, also when an earlier process created the
    // file and died before syncing the directory
    await this.fs.fsyncDir(this.dataDir);
    return this.fd;
  }
}

function frame(change: CatalogueChange): Buffer {
  const json = Buffer.from(JSON.stringify(change));
  const out = Buffer.allocUnsafe(FRAME_BYTES + json.length);
  out.writeInt32BE(json.length, 0);
  out.writeUInt32BE(crc32c(json), 4);
  json.copy(out, FRAME_BYTES);
  return out;
}

/** The changes framed in `log`, up to its end or its first torn or corrupt one, and where they end. */
export function changesIn(log: Buffer): { changes: CatalogueChange[]; end: number } {
  const changes: CatalogueChange[] = [];
  let at = 0;
  for (let next = changeAt(log, at); next; next = changeAt(log, at)) {
    changes.push(next.change);
    at = next.end;
  }
  return { changes, end: at };
}

/** The whole, intact change at `at`, or null at the end or at a torn or corrupt one. */
function changeAt(log: Buffer, at: number): { change: CatalogueChange; end: number } | null {
  if (at + FRAME_BYTES > log.length) return null;
  const length = log.readInt32BE(at);
  const end = at + FRAME_BYTES + length;
  if (length <= 0 || end > log.length) return null;
  const json = log.subarray(at + FRAME_BYTES, end);
  if (crc32c(json) !== log.readUInt32BE(at + 4)) return null;
  try {
    const change = JSON.parse(json.toString('utf8')) as CatalogueChange;
    return { change, end };
  } catch {
    return null;
  }
}
