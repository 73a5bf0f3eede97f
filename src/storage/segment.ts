import { join } from 'node:path';
import type { FileSystem } from '../io/file-system.js';
import { Batch, batchCrcValid, batchSizeAt, readInt64 } from '../protocol/record-batch.js';
import type { SealedSegmentState } from './shutdown-state.js';
import { OffsetIndex, TimeIndex } from './sparse-index.js';

export const SEGMENT_SUFFIX = '.log';

export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(20, '0') + suffix;
}

/** A compaction's copy of the segments from `base` up to `end`, renamed into place once they are deleted. */
export const swapFileName = (base: number, end: number): string => `${segmentFileName(base, '')}.${segmentFileName(end, '.swap')}`;
export const isSwapFile = (name: string): boolean => /^\d{20}\.\d{20}\.swap$/.test(name);

/**
 * One `.log` file of a partition plus its sparse indexes. Sizes and offsets here count everything assigned,
 * including bytes whose write is still in flight; the partition log decides what readers may see.
 * Lifecycle: created or loaded by PartitionLog, opened lazily through the HandleCache, closed when evicted,
 * deleted by retention (unlinked at once; its descriptor closes when the last reader is done).
 */
export class Segment {
  size = 0;
  nextOffset: number;
  maxTimestamp = -1;
  /** The first offset of the first batch carrying maxTimestamp (-1 with none). */
  maxTimestampOffset = -1;
  firstAppendMs = -1;
  /** How much sooner than segment.ms this segment rolls by age (segment.jitter.ms); chosen when first needed. */
  rollJitterMs = -1;
  offsetIndex = new OffsetIndex();
  timeIndex = new TimeIndex();
  bytesSinceIndexEntry = 0;
  fd: number | null = null;
  opening: Promise<number> | null = null;
  inUse = 0;
  /** Place in the file cache (-1: not there), and whether it was used since the cache's clock hand last passed (see HandleCache). */
  cacheSlot = -1;
  usedLately = false;
  /** The index files hold exactly the indexes in memory (a sealed segment's): the IndexCache may drop them. */
  indexFilesCurrent = false;
  /** Dropped from memory by the IndexCache: the indexes are empty until read back from the files. */
  indexesDropped = false;
  reloading: Promise<void> | null = null;
  private droppedFirstTimestamp = -1;
  /** Times a rollback made this segment active again, undoing the roll that closed it (see PartitionLog.sealSegment). */
  reactivations = 0;
  /** Its `.log` file's inode number and ctime once looked up for the sealed-segment checkpoint (inode -1: not yet). */
  inode = -1;
  changedMs = 0;
  /**
   * Offsets [producerFreeFrom, producerFreeTo) that the start's scan found no batch with a producer id in (-1: none):
   * rebuilding the producer state skips them instead of reading them a second time.
   */
  producerFreeFrom = -1;
  producerFreeTo = -1;
  /** Bytes written but not yet fsync'd. */
  dirty = false;
  deleted = false;
  /** Created by this process and its directory entry not yet synced. */
  newFile = false;
  /**
   * Its file may not exist yet (a segment just rolled, or the first of an empty partition): the next open creates
   * it. Every other open of a segment file leaves out O_CREAT: one racing the file's deletion (a read or a sync of
   * a segment retention removes) fails with ENOENT instead of leaving an empty file behind under the old name.
   */
  createOnOpen = false;
  /**
   * Where the bytes this process wrote begin: those before were found at start, and may not be in the page cache
   * (after a reboot).
   */
  writtenFrom = 0;
  /**
   * Closed, and found with its index files at start (those are written only once its bytes are synced: at roll,
   * compaction's swap, shutdown) or made by a compaction swap the start finished (which writes them): none of its
   * bytes can have been lost.
   */
  sealed = false;

  constructor(
    readonly dir: string,
    readonly baseOffset: number,
  ) {
    this.nextOffset = baseOffset;
  }

  // made when asked (opens, index reads, deletions) rather than kept: three paths were a third of a segment's memory
  get logPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, SEGMENT_SUFFIX));
  }

  get indexPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, '.index'));
  }

  get timeIndexPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, '.timeindex'));
  }

  /**
   * A sealed segment as a clean shutdown recorded it (see sealedState): nothing of it is read, its file is opened
   * on first use and its indexes read from their files on first look-up.
   */
  static fromSealedState(dir: string, state: SealedSegmentState): Segment {
    const segment = new Segment(dir, state.baseOffset);
    segment.size = state.size;
    segment.writtenFrom = state.size;
    segment.nextOffset = state.nextOffset;
    segment.maxTimestamp = state.maxTimestamp;
    segment.maxTimestampOffset = state.maxTimestampOffset;
    segment.sealed = true;
    segment.indexFilesCurrent = true;
    segment.dropIndexes(state.firstTimestamp);
    return segment;
  }

  /** What a start needs of this closed segment whose index files are current (see fromSealedState). */
  sealedState(): SealedSegmentState {
    const { baseOffset, size, nextOffset, maxTimestamp, maxTimestampOffset, firstTimestamp } = this;
    return { baseOffset, size, nextOffset, maxTimestamp, maxTimestampOffset, firstTimestamp };
  }

  /**
   * Records a batch assigned at `position` in the indexes. Both are sparse, one entry per `intervalBytes`, as in
   * Kafka: the time index entry beside an offset index entry holds the largest timestamp so far and the batch
   * that carries it (an entry only when that timestamp is new). So every batch up to an offset index entry's is
   * within the last time index entry at or below it, and what comes after is read from the log.
   */
  indexBatch(position: number, size: number, baseOffset: number, lastOffset: number, maxTimestamp: number, intervalBytes: number): void {
    if (maxTimestamp > this.maxTimestamp) {
      this.maxTimestamp = maxTimestamp;
      this.maxTimestampOffset = baseOffset;
    }
    if (this.size === 0 || this.bytesSinceIndexEntry >= intervalBytes) {
      this.offsetIndex.append(baseOffset - this.baseOffset, position);
      if (this.maxTimestampOffset >= 0) this.timeIndex.append(this.maxTimestamp, this.maxTimestampOffset - this.baseOffset);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += size;
    this.nextOffset = lastOffset + 1;
  }

  /**
   * Cuts both indexes back to the batches before `position` (where `offset` began), and the largest timestamp
   * back to the last time index entry left: exact for every batch up to the last offset index entry left, whose
   * position is returned. The batches from there to `position` may hold a larger one: the caller reads them again
   * (a cut at an offset index entry's own batch needs only that batch read: the time index entry made beside it,
   * if it survives, covers every batch before it).
   */
  truncateIndexes(position: number, offset: number): number {
    this.offsetIndex.truncateToPosition(position);
    this.timeIndex.truncateToRelOffset(offset - this.baseOffset);
    const k = this.timeIndex.count - 1;
    this.maxTimestamp = k >= 0 ? this.timeIndex.timestamps[k]! : -1;
    this.maxTimestampOffset = k >= 0 ? this.baseOffset + this.timeIndex.relOffsets[k]! : -1;
    const n = this.offsetIndex.count;
    return n > 0 ? this.offsetIndex.positions[n - 1]! : 0;
  }

  /** Takes the largest timestamp of the whole batches in `bytes` (read from the log) into account. */
  noteTimestamps(bytes: Buffer): void {
    for (let at = 0; at + Batch.HEADER_BYTES <= bytes.length; ) {
      const size = batchSizeAt(bytes, at);
      if (size < Batch.HEADER_BYTES || at + size > bytes.length) break;
      const maxTimestamp = readInt64(bytes, at + Batch.MAX_TIMESTAMP);
      if (maxTimestamp > this.maxTimestamp) {
        this.maxTimestamp = maxTimestamp;
        this.maxTimestampOffset = readInt64(bytes, at + Batch.BASE_OFFSET);
      }
      at += size;
    }
  }

  /**
   * The time retention and compaction age this segment by: its largest timestamp or, when its records all carry
   * none (-1, which a producer may send), its file's modification time, as in Kafka. -1 if the file is gone.
   */
  async newestTime(fs: FileSystem): Promise<number> {
    return this.maxTimestamp >= 0 ? this.maxTimestamp : this.modifiedTime(fs);
  }

  /** Its file's modification time, -1 if the file is gone (retention, a compaction's swap). */
  async modifiedTime(fs: FileSystem): Promise<number> {
    return (await fs.stat(this.logPath).catch(() => null))?.modifiedMs ?? -1;
  }

  /** The first time index entry's timestamp (the first batch's largest), or the segment's largest without one. */
  get firstTimestamp(): number {
    if (this.indexesDropped) return this.droppedFirstTimestamp;
    return this.timeIndex.count > 0 ? this.timeIndex.timestamps[0]! : this.maxTimestamp;
  }

  indexMemoryBytes(): number {
    return this.offsetIndex.relOffsets.length * 8 + this.timeIndex.timestamps.length * 12;
  }

  /**
   * Frees the indexes (their files hold them): look-ups then start at the segment's start until they are read back.
   * `firstTimestamp`: what the getter gives with the indexes loaded, when those in memory are not all of them.
   */
  dropIndexes(firstTimestamp = this.firstTimestamp): void {
    this.droppedFirstTimestamp = firstTimestamp;
    this.offsetIndex = new OffsetIndex();
    this.timeIndex = new TimeIndex();
    this.indexesDropped = true;
  }

  /**
   * A start's read of a sealed segment's index files that leaves them on disk until first looked up: only the last
   * offset index entry and the last time index entry, into otherwise empty indexes (what a scan resuming at the
   * last indexed batch needs), and the first time index entry's timestamp (undefined without one). Null when the
   * files hold no offset index entry or are not made of whole entries: the caller reads them whole instead.
   */
  async readIndexEnds(fs: FileSystem): Promise<{ firstTimestamp: number | undefined } | null> {
    const offsets = await readEntryEnds(fs, this.indexPath, OFFSET_ENTRY_BYTES);
    const times = await readEntryEnds(fs, this.timeIndexPath, TIME_ENTRY_BYTES);
    if (!offsets || times === null) return null;
    this.offsetIndex = OffsetIndex.deserialize(offsets.last);
    this.timeIndex = TimeIndex.deserialize(times?.last ?? Buffer.alloc(0));
    return { firstTimestamp: times?.first.readDoubleBE(0) };
  }

  async reloadIndexes(fs: FileSystem): Promise<void> {
    const offsets = await fs.readFile(this.indexPath);
    const times = await fs.readFile(this.timeIndexPath);
    if (!this.indexesDropped) return;
    this.offsetIndex = OffsetIndex.deserialize(offsets);
    this.timeIndex = TimeIndex.deserialize(times);
    this.indexesDropped = false;
  }

  /** A closed segment's indexes take no more entries: their spare capacity is given back. */
  trimIndexes(): void {
    this.offsetIndex.trim();
    this.timeIndex.trim();
  }

  /** Forgets everything indexed, for a scan from the start of the file. */
  clearIndexes(): void {
    this.offsetIndex = new OffsetIndex();
    this.timeIndex = new TimeIndex();
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = -1;
    this.maxTimestampOffset = -1;
    this.bytesSinceIndexEntry = 0;
  }

  /** Writes both index files with `write` (see DurableFiles), which resolves once a file is durable. */
  async writeIndexes(write: (path: string, data: Buffer) => Promise<void>): Promise<void> {
    await Promise.all([write(this.indexPath, this.offsetIndex.serialize()), write(this.timeIndexPath, this.timeIndex.serialize())]);
  }

  /** Deletes the index files; with `present` (the directory's listing), only those it names. */
  async removeIndexFiles(fs: FileSystem, present?: Set<string>): Promise<void> {
    for (const p of [this.indexPath, this.timeIndexPath]) if (!present || present.has(p)) await fs.unlink(p).catch(() => undefined);
  }
}

export interface ScanResult {
  /** Bytes of whole valid batches from the start of the file. */
  validBytes: number;
  fileBytes: number;
  batches: number;
  /** The scan could not resume where asked (the index named another batch) and read the file from its start. */
  restarted: boolean;
}

const OFFSET_ENTRY_BYTES = 8;
const TIME_ENTRY_BYTES = 12;

/**
 * The first and last entry of an index file; undefined for an empty file, null for one not made of whole entries.
 */
async function readEntryEnds(fs: FileSystem, path: string, entryBytes: number): Promise<{ first: Buffer; last: Buffer } | undefined | null> {
  const fd = await fs.open(path, 'r');
  try {
    const size = await fs.fstatSize(fd);
    if (size === 0) return undefined;
    if (size % entryBytes !== 0) return null;
    const first = Buffer.allocUnsafe(entryBytes);
    const last = Buffer.allocUnsafe(entryBytes);
    if ((await fs.read(fd, first, entryBytes, 0)) !== entryBytes || (await fs.read(fd, last, entryBytes, size - entryBytes)) !== entryBytes) return null;
    return { first, last };
  } finally {
    await fs.close(fd);
  }
}

const SCAN_CHUNK_BYTES = 1 << 20;

/**
 * Reads a segment from `fromPosition` and re-indexes every whole, valid batch (length in bounds, magic 2,
 * CRC32C ok, offsets increasing). Stops at the first invalid or torn batch; the caller truncates there.
 * Resuming at an indexed batch (`fromPosition` > 0, the segment's next offset set from the index), the batch
 * there must be the one the index names: if it is not (index files left stale, or the file lost its end), the
 * indexes are dropped and the whole segment scanned, so that a wrong index never decides where the file is cut.
 */
export async function scanSegment(fs: FileSystem, fd: number, segment: Segment, fromPosition: number, intervalBytes: number): Promise<ScanResult> {
  const result = await scanFrom(fs, fd, segment, fromPosition, intervalBytes);
  if (fromPosition === 0 || result.batches > 0) return result;
  segment.clearIndexes();
  return { ...(await scanFrom(fs, fd, segment, 0, intervalBytes)), restarted: true };
}

async function scanFrom(fs: FileSystem, fd: number, segment: Segment, fromPosition: number, intervalBytes: number): Promise<ScanResult> {
  const fileBytes = await fs.fstatSize(fd);
  const resumedAt = fromPosition > 0 ? segment.nextOffset : -1;
  let position = fromPosition;
  let batches = 0;
  /** Where the batches since the last one with a producer id began (-1: that one was the last scanned). */
  let producerFreeFrom = -1;
  // sized to what is left: starting thousands of partitions must not allocate a full chunk for each
  let chunk = Buffer.allocUnsafe(Math.max(Batch.HEADER_BYTES, Math.min(SCAN_CHUNK_BYTES, fileBytes - fromPosition)));
  segment.size = position;
  scan: while (position < fileBytes) {
    const want = Math.min(chunk.length, fileBytes - position);
    const got = await fs.read(fd, chunk, want, position);
    let at = 0;
    while (at < got) {
      const size = batchSizeAt(chunk.subarray(0, got), at);
      if (size === -1) break; // header crosses the chunk end: re-read from here
      if (size < Batch.HEADER_BYTES || position + at + size > fileBytes) break scan;
      if (at + size > got) {
        if (at === 0) {
          if (size > chunk.length) chunk = Buffer.allocUnsafe(size);
          continue scan;
        }
        break;
      }
      if (chunk.readInt8(at + Batch.MAGIC) !== 2 || !batchCrcValid(chunk, at, size)) break scan;
      const baseOffset = readInt64(chunk, at + Batch.BASE_OFFSET);
      const lastOffset = baseOffset + chunk.readInt32BE(at + Batch.LAST_OFFSET_DELTA);
      if (baseOffset < segment.nextOffset || lastOffset < baseOffset) break scan;
      if (batches === 0 && resumedAt >= 0 && baseOffset !== resumedAt) break scan;
      segment.indexBatch(position + at, size, baseOffset, lastOffset, readInt64(chunk, at + Batch.MAX_TIMESTAMP), intervalBytes);
      if (readInt64(chunk, at + Batch.PRODUCER_ID) >= 0) producerFreeFrom = -1;
      else if (producerFreeFrom < 0) producerFreeFrom = baseOffset;
      segment.size = position + at + size;
      batches++;
      at += size;
    }
    if (at === 0 && got > 0 && batchSizeAt(chunk.subarray(0, got), 0) === -1) break; // torn header at file end
    position += at;
  }
  segment.producerFreeFrom = producerFreeFrom;
  segment.producerFreeTo = producerFreeFrom < 0 ? -1 : segment.nextOffset;
  return { validBytes: segment.size, fileBytes, batches, restarted: false };
}
