import { join } from 'node:path';
import type { FileSystem } from '../io/file-system.js';
import type { DurableFiles } from './durable-files.js';
import type { HandleCache } from './handle-cache.js';
import type { IndexCache } from './index-cache.js';
import type { CheckpointedSegment, PartitionCheckpoint } from './sealed-checkpoint.js';
import { SEGMENT_SUFFIX, Segment, isSwapFile, scanSegment, segmentFileName } from './segment.js';
import type { ActiveSegmentState, PartitionShutdownState } from './shutdown-state.js';
import { OffsetIndex, TimeIndex } from './sparse-index.js';

/** What loading a partition's directory found. */
export interface LoadedSegments {
  /** In offset order; the last is the active segment. Never empty. */
  segments: Segment[];
  /** Offsets of the producer snapshot files in the directory, ascending. */
  snapshotOffsets: number[];
  /** Bytes cut off torn or corrupt tails. */
  truncatedBytes: number;
}

/**
 * Builds a partition's list of segments from its directory at a start (Kafka's LogLoader): what a clean shutdown
 * or the sealed-segment checkpoint recorded is taken as it stands, without opening the files; every other segment,
 * and always the last, is scanned and a torn or corrupt tail truncated at the last whole valid batch. The
 * partition log adopts what it returns; nothing else sees the segments while they load.
 */
export class PartitionLoader {
  constructor(
    private readonly env: { fs: FileSystem; handles: HandleCache; indexes: IndexCache; durableFiles: DurableFiles; now: () => number },
    private readonly dir: string,
    private readonly indexIntervalBytes: number,
  ) {}

  /**
   * The segments `names` (the directory's entries) make up, in offset order, each loaded and its tail recovered. A
   * swap a crash interrupted is finished first; leftover `.tmp` and `.cleaned` files are removed. An empty directory
   * gives one empty segment at `logStartOffset`.
   */
  async load(names: string[], cleanShutdown: boolean, logStartOffset: number, saved?: PartitionShutdownState, checkpointed?: PartitionCheckpoint): Promise<LoadedSegments> {
    const { fs } = this.env;
    const swaps = names.filter(isSwapFile);
    /** Segments a finished swap made: their bytes were synced before the swap began, as index files would attest. */
    const swapped = new Set<number>();
    if (swaps.length > 0) {
      for (const swap of swaps) {
        const base = await this.finishSwap(swap, names);
        if (base !== null) swapped.add(base);
      }
      names = await fs.readdir(this.dir);
    }
    const bases = names
      .filter(isSegmentFile)
      .map(fileOffset)
      .sort((a, b) => a - b);
    for (const n of names) if (n.endsWith('.tmp') || n.endsWith('.cleaned')) await fs.unlink(`${this.dir}/${n}`).catch(() => undefined);
    const files = new Set(names.map((n) => join(this.dir, n)));
    const snapshotOffsets = names.filter(isSnapshotFile).map(fileOffset).sort((a, b) => a - b);
    if (bases.length === 0) bases.push(Math.max(0, logStartOffset));
    // a swap finished above changed segments after the shutdown or checkpoint recorded them (a clean shutdown leaves none)
    const recordedSealed = new Map(swaps.length > 0 ? [] : saved?.sealed.map((g) => [g.baseOffset, g]));
    const checkpointedSealed = new Map(swaps.length > 0 ? [] : checkpointed?.sealed.map((g) => [g.baseOffset, g]));
    const segments: Segment[] = [];
    let truncatedBytes = 0;
    for (let i = 0; i < bases.length; i++) {
      const segment = new Segment(this.dir, bases[i]!);
      // the first segment of an empty partition: loading opens it, which creates its file
      segment.createOnOpen = !files.has(segment.logPath);
      const previous = segments.at(-1);
      if (previous && segment.baseOffset < previous.nextOffset) {
        // a segment a rollback removed (its records refused), back after a power loss that undid the removal,
        // while the previous one took appends at those offsets since: those are the log
        await fs.unlink(segment.logPath);
        await segment.removeIndexFiles(fs, files);
        previous.sealed = false;
        continue;
      }
      const last = i === bases.length - 1;
      const allFiles = files.has(segment.logPath) && files.has(segment.indexPath) && files.has(segment.timeIndexPath);
      const atShutdown = last || !allFiles ? undefined : recordedSealed.get(segment.baseOffset);
      const atCheckpoint = last || !allFiles ? undefined : await this.unchangedSince(checkpointedSealed.get(segment.baseOffset), segment);
      const recorded = atShutdown ?? atCheckpoint;
      if (recorded) {
        // as the clean shutdown or the checkpoint left it: no file of it is opened (with thousands of segments,
        // opening each and reading its index files' ends and its end was most of a start)
        const sealed = Segment.fromSealedState(this.dir, recorded);
        sealed.inode = atCheckpoint?.inode ?? -1;
        sealed.changedMs = atCheckpoint?.changedMs ?? 0;
        segments.push(sealed);
        continue;
      }
      // an empty segment stays: the journal may refill it, and its base offset keeps the offset range
      const savedIndexes = last && saved?.active.segmentBaseOffset === segment.baseOffset ? saved.active : undefined;
      truncatedBytes += await this.loadSegment(segment, last, cleanShutdown, files, savedIndexes);
      if (swapped.has(segment.baseOffset) && !last) {
        // its index files, as a swap the engine finishes itself writes them: a later start must still know it
        // sealed, since a compacted segment may end before the next one begins (see PartitionLog.cutAtLostTail)
        await segment.writeIndexes(this.env.durableFiles.write);
        segment.sealed = true;
      }
      segments.push(segment);
    }
    return { segments, snapshotOffsets, truncatedBytes };
  }

  /**
   * The checkpoint's record of a sealed segment, if its `.log` file still has the recorded inode number, size and
   * ctime: a sealed segment's bytes change only by a rollback (which first removes its index files) or a compaction's
   * swap (a new file). The ctime tells a new file from the old one: ext4 gives the next file created the inode number
   * of the last one freed, so a segment compacted twice between checkpoints may get its old number back, and the
   * same size with other batches.
   */
  private async unchangedSince(checkpointed: CheckpointedSegment | undefined, segment: Segment): Promise<CheckpointedSegment | undefined> {
    if (!checkpointed) return undefined;
    const now = await this.env.fs.stat(segment.logPath).catch(() => null);
    return now && now.inode === checkpointed.inode && now.size === checkpointed.size && now.changedMs === checkpointed.changedMs ? checkpointed : undefined;
  }

  /**
   * Completes a compaction's swap that a crash interrupted (see PartitionLog.replaceSegments): the `.swap` file holds what is
   * left of the segments from `base` up to `end`; theirs are deleted (index files too) and it takes the first one's
   * name. Returns `base`, or null when the first one is gone: retention or DeleteRecords removed it after the swap
   * failed half-way, so the copy stands for records below the log start, and it is dropped.
   */
  private async finishSwap(swapName: string, names: readonly string[]): Promise<number | null> {
    const { fs } = this.env;
    const [base, end] = swapName.split('.').slice(0, 2).map(Number) as [number, number];
    if (!names.includes(segmentFileName(base, SEGMENT_SUFFIX))) {
      await fs.unlink(join(this.dir, swapName));
      await fs.fsyncDir(this.dir);
      return null;
    }
    for (const n of names) {
      if (!isSegmentFile(n) || fileOffset(n) < base || fileOffset(n) >= end) continue;
      const replaced = new Segment(this.dir, fileOffset(n));
      await replaced.removeIndexFiles(fs);
      if (replaced.baseOffset !== base) await fs.unlink(replaced.logPath);
    }
    await fs.rename(join(this.dir, swapName), join(this.dir, segmentFileName(base, SEGMENT_SUFFIX)));
    await fs.fsyncDir(this.dir);
    return base;
  }

  /**
   * A closed segment with index files is sealed: its indexes stay in their files until first looked up (through
   * the IndexCache), only their last entries are read, for the scan of the batches after the last indexed one,
   * which gives its size, next offset and largest timestamp. The last segment, and any segment without index
   * files, is re-scanned from its data. After a clean shutdown, the last segment's indexes come from what the
   * shutdown recorded (`saved`), or from index files an older version wrote, and only the part after the last
   * indexed batch is scanned. A torn or corrupt tail is truncated at the last whole valid batch.
   * Returns the bytes truncated.
   */
  private async loadSegment(segment: Segment, last: boolean, cleanShutdown: boolean, files: Set<string>, saved?: ActiveSegmentState): Promise<number> {
    const { fs } = this.env;
    const fd = await this.env.handles.acquire(segment);
    try {
      // the open just created the file: nothing to scan, no index files to remove
      if (!files.has(segment.logPath)) return 0;
      let fromPosition = 0;
      /** Set when the indexes were left in their files: only their ends are in memory. */
      let lazy: { firstTimestamp: number | undefined } | null = null;
      const haveIndexes = saved !== undefined || (files.has(segment.indexPath) && files.has(segment.timeIndexPath));
      if (haveIndexes && (!last || cleanShutdown)) {
        segment.sealed = !last;
        if (segment.sealed && saved === undefined) lazy = await segment.readIndexEnds(fs);
        if (!lazy) {
          segment.offsetIndex = OffsetIndex.deserialize(saved?.offsetIndex ?? (await fs.readFile(segment.indexPath)));
          segment.timeIndex = TimeIndex.deserialize(saved?.timeIndex ?? (await fs.readFile(segment.timeIndexPath)));
        }
        const n = segment.offsetIndex.count;
        if (n > 0) {
          // resume the scan at the last indexed batch: it re-derives size, next offset and max timestamp
          fromPosition = segment.offsetIndex.positions[n - 1]!;
          segment.nextOffset = segment.baseOffset + segment.offsetIndex.relOffsets[n - 1]!;
          segment.truncateIndexes(fromPosition, segment.nextOffset);
          // the scan indexes that batch again (its entry was just dropped), so the index comes back as it was
          segment.bytesSinceIndexEntry = this.indexIntervalBytes;
        }
      } else {
        await segment.removeIndexFiles(fs, files);
      }
      let scan = await scanSegment(fs, fd, segment, fromPosition, this.indexIntervalBytes);
      const whole = scan.validBytes === scan.fileBytes;
      if (lazy && whole && !scan.restarted) {
        // what is in memory now is the files' last entries and the batches after them: exactly the files' view
        segment.dropIndexes(lazy.firstTimestamp ?? segment.maxTimestamp);
        segment.indexFilesCurrent = true;
      } else {
        if (lazy && !whole && !scan.restarted) {
          // a sealed segment damaged at its end: every index entry is rebuilt from the data, kept in memory
          segment.clearIndexes();
          scan = await scanSegment(fs, fd, segment, 0, this.indexIntervalBytes);
        }
        if (!last) segment.trimIndexes();
        if (segment.sealed && saved === undefined && whole) {
          // index files naming other batches than the data holds (an older version's) are replaced by what the scan built
          if (scan.restarted) await segment.writeIndexes(this.env.durableFiles.write);
          segment.indexFilesCurrent = true;
          this.env.indexes.admit(segment);
        }
      }
      if (scan.validBytes < scan.fileBytes) await fs.ftruncate(fd, scan.validBytes);
      segment.writtenFrom = segment.size;
      if (scan.batches > 0) segment.firstAppendMs = this.env.now();
      return scan.fileBytes - scan.validBytes;
    } finally {
      this.env.handles.release(segment);
    }
  }
}

/** The partition directory's entries; a missing directory (a new partition) is created, empty. */
export async function listOrCreateDir(fs: FileSystem, dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await fs.mkdir(dir);
    return [];
  }
}

const isSegmentFile = (name: string): boolean => /^\d{20}\.log$/.test(name);
const isSnapshotFile = (name: string): boolean => /^\d{20}\.snapshot$/.test(name);
/** The offset a segment, index or snapshot file is named by. */
const fileOffset = (name: string): number => Number(name.slice(0, 20));
