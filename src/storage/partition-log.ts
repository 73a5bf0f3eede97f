import { join } from 'node:path';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { Attributes, Batch, assignOffsets, batchInfoAt, batchSizeAt, readInt64, type BatchInfo, type ValidatedBatches } from '../protocol/record-batch.js';
import { outOfSpace, type FileSystem } from '../io/file-system.js';
import { ControlType, controlTypeAt } from '../protocol/records.js';
import type { DurableFiles } from './durable-files.js';
import type { GroupCommit } from './group-commit.js';
import type { HandleCache } from './handle-cache.js';
import type { LogConfig } from './log-config.js';
import { Segment, scanSegment, swapFileName } from './segment.js';
import type { CheckpointedSegment, PartitionCheckpoint } from './sealed-checkpoint.js';
import { Outcome } from './outcome.js';
import type { IndexCache } from './index-cache.js';
import { PartitionLoader, listOrCreateDir } from './partition-loader.js';
import { ProducerSnapshots } from './producer-snapshots.js';
import { ProducerStateManager, type ProducerUndo } from './producer-state.js';
import type { ActiveSegmentState, PartitionShutdownState } from './shutdown-state.js';
import { TransactionIndex } from './transaction-index.js';

/** What a partition log needs from the engine around it. */
export interface LogEnv {
  fs: FileSystem;
  handles: HandleCache;
  /** Closed segments' indexes, dropped from memory past a budget and read back on use. */
  indexes: IndexCache;
  groupCommit: GroupCommit;
  /** Index files and producer snapshots, written durably in batches. */
  durableFiles: DurableFiles;
  now: () => number;
  /** Called when a `none` log comes to have bytes to fsync in the background: once, until its flushToDisk(). */
  markDirty: (log: PartitionLog) => void;
  /** Has the log's writeQueued() called once the caller's run of appends is over. */
  scheduleWrite: (log: PartitionLog) => void;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  /** Records and bytes appended, as stored: none for a producer's retry of a batch already appended. */
  records: number;
  bytes: number;
  /** The append time written into the batches, or -1 for CreateTime topics. */
  logAppendTimeMs: number;
  /** Resolves when the bytes reached the OS (acks=1). */
  written: Promise<void>;
  /** Resolves when the append is durable under the topic's flush policy (acks=all); it is then visible. */
  durable: Promise<void>;
}

export interface ReadResult {
  /** Whole batches starting with the one holding the requested offset; empty when nothing is available. */
  records: Buffer;
  highWatermark: number;
  logStartOffset: number;
}

/** An append from acceptance until it is durable; it is also what append() returns to its caller. */
class PendingAppend implements AppendResult {
  readonly writeOutcome = new Outcome();
  /** Settled in log order, once every append before this one is durable too (it is then visible). */
  readonly durableOutcome = new Outcome();
  /** Its own bytes are durable. */
  synced = false;
  /** The producer entries it changed, as they were before (idempotent batches only): put back if it is refused. */
  producerUndo: ProducerUndo[] | null = null;

  constructor(
    readonly segment: Segment,
    readonly position: number,
    readonly bytes: number,
    public buffer: Buffer,
    readonly startOffset: number,
    readonly endOffset: number,
    readonly logAppendTimeMs: number,
  ) {}

  get baseOffset(): number {
    return this.startOffset;
  }

  get lastOffset(): number {
    return this.endOffset - 1;
  }

  get records(): number {
    return this.endOffset - this.startOffset;
  }

  get written(): Promise<void> {
    return this.writeOutcome.promise;
  }

  get durable(): Promise<void> {
    return this.durableOutcome.promise;
  }
}

const READ_SLACK_BYTES = 16 * 1024;

/**
 * Where a read's buffers come from. A fetch lends pooled memory and takes it back once its response is written; the
 * records a read returns are a view of one of the buffers taken, and the others it took hold nothing it returned.
 */
export interface ReadMemory {
  take(size: number): Buffer;
}

const FRESH_MEMORY: ReadMemory = { take: (size) => Buffer.allocUnsafe(size) };
/**
 * What a pass over a log (producer state rebuilt at a start, compaction, an internal topic's load, timestamp
 * look-ups) reads at a time. Kept well below 4 MiB: `sluice start` has glibc take every allocation from 4 MiB up
 * straight from the kernel (see bin/sluice.js), so each read of 4 MiB and its slack came into fresh pages, a fault
 * per 4 KiB. With such reads a start after a crash that rebuilt producer state from 1 GB of active segments took
 * 4.3–4.9 s; with these, 1.3–1.4 s.
 */
export const LOG_PASS_READ_BYTES = 1 << 20;
/**
 * A read this close to the end of the active segment reads bytes written lately, taken to be in the page cache (if
 * this process wrote them); one further back is read as one that may wait for the disk (see FileSystem.read).
 */
const RECENTLY_WRITTEN_BYTES = 1 << 20;
/** Offsets one segment may span: its indexes keep offsets relative to its base as int32. */
const MAX_SEGMENT_OFFSETS = 2 ** 31;
/**
 * Bytes per segment writev. Measured on ext4: 1 MiB writes alongside the group commit's fdatasync of the same
 * file kept the disk busier than one large write per round; it also bounds how long one partition holds an
 * I/O thread.
 */
const WRITE_MAX_BYTES = 1 << 20;
/** Seals written in one batch: a change to the list of segments waits for one batch at most (see sealSegment). */
const SEALS_AT_ONCE = 32;
const NO_BYTES = Buffer.alloc(0);
const NO_RUN: PendingAppend[] = [];

/**
 * One partition's log: an ordered list of segments, the offsets that bound it, and the append pipeline.
 * Offsets are assigned synchronously when an append is accepted; writes go out in order, at most one
 * `writev` in flight per partition (everything queued meanwhile goes in the next one); the high watermark,
 * which bounds what readers see, advances in order as appends become durable. A failed write or fsync
 * fails that append and every later one, and rolls the log back to the failed append's start.
 */
export class PartitionLog {
  /** Change only with segmentsChanged() after. */
  readonly segments: Segment[] = [];
  private active!: Segment;
  readonly producers = new ProducerStateManager();
  readonly transactions = new TransactionIndex();
  /**
   * Where compaction stands: closed segments up to this offset are cleaned; kept tombstones and markers come due
   * then; a swap that failed half-way waits for the next start (see replaceSegments).
   */
  readonly compaction = { cleanedThrough: -1, nextTombstoneDueMs: Infinity, swapPending: false };
  /** Retried idempotent batches answered from the log instead of being appended again. */
  duplicatesDropped = 0;
  logStartOffset = 0;
  highWatermark = 0;
  private hwSegment!: Segment;
  private hwPosition = 0;
  /** Appends not yet durable, in log order, from `pendingHead` (a head index: no O(n) shift per ack). */
  private pending: PendingAppend[] = [];
  private pendingHead = 0;
  /** Index in `pending` of the first append not yet written. */
  private writeIndex = 0;
  /** Set from the write's scheduling until the writer finds nothing left to write (see writeQueued). */
  private writing = false;
  /** The run of appends being written, and its bytes. */
  private run: PendingAppend[] = NO_RUN;
  private runBytes = 0;
  /** `none` logs: records written since the last sync that covers them, counted against flush.messages. */
  private unsyncedRecords = 0;
  /** `none` logs: given to the background flush (env.markDirty) and not flushed since. */
  private flushQueued = false;
  private failing: Promise<void> | null = null;
  /** The first append the running rollback (`failing`) refuses. */
  private failingFrom: PendingAppend | null = null;
  /**
   * The long-poll fetch waiting for the high watermark to move, and a set of any more: a partition usually has one
   * consumer waiting, and a set made, filled and emptied for each wait cost a fetch over 10,000 caught-up partitions
   * about 9 ms (a field: 0.1–0.4 ms).
   */
  private waiter: (() => void) | null = null;
  private moreWaiters: Set<() => void> | null = null;
  /** The producer state a clean shutdown recorded at the log end, until rebuildProducerState uses it. */
  private shutdownSnapshot: { offset: number; json: string } | null = null;
  /** The producer state as of the active segment's base that a start rebuilt from sealed segments: written after it (see recoveryLeft). */
  private rebuiltSnapshot: { offset: number; taken: TakenSnapshot } | null = null;
  /** Index and snapshot writes of rolled segments still running: a close waits for them. */
  private readonly sealing = new Set<Promise<void>>();
  /** Rolled segments whose bytes are durable, oldest first, waiting for a batch of seals (see sealSegment). */
  private readySeals: ReadySeal[] = [];
  /** Whether a batch of seals is queued as a change and not started yet. */
  private sealBatchQueued = false;
  /** The last change to the list of segments that must not interleave with another (see changingSegments). */
  private segmentChange: Promise<unknown> = Promise.resolve();
  private readonly snapshots: ProducerSnapshots;
  closed = false;
  /** Its topic was deleted: no change to its segments touches a file any more (see destroy). */
  private destroyed = false;

  constructor(
    readonly topic: string,
    readonly topicId: string,
    readonly partition: number,
    readonly dir: string,
    public config: LogConfig,
    private readonly env: LogEnv,
  ) {
    this.snapshots = new ProducerSnapshots(env.fs, dir, (path, json) => env.durableFiles.write(path, json));
  }

  get activeSegment(): Segment {
    return this.active;
  }

  /** After any change to `segments`: the last is kept at hand, one object fewer to fetch per append across many partitions. */
  private segmentsChanged(): void {
    this.active = this.segments[this.segments.length - 1]!;
  }

  get logEndOffset(): number {
    return this.activeSegment.nextOffset;
  }

  /** The last stable offset: read_committed consumers see nothing at or past it (see TransactionIndex). */
  get lastStableOffset(): number {
    return this.transactions.lastStableOffset(this.highWatermark);
  }

  get sizeBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  /**
   * Loads the partition's segments from its directory and recovers the tail (see PartitionLoader). After a clean
   * shutdown, `saved` is what it recorded of this partition; after a crash, `checkpointed` is what the last
   * sealed-segment checkpoint recorded.
   */
  async load(cleanShutdown: boolean, logStartOffset: number, saved?: PartitionShutdownState, checkpointed?: PartitionCheckpoint): Promise<{ truncatedBytes: number }> {
    return this.loadFrom(await listOrCreateDir(this.env.fs, this.dir), cleanShutdown, logStartOffset, cleanShutdown ? saved : undefined, cleanShutdown ? undefined : checkpointed);
  }

  /**
   * Starts a partition that is new to the catalogue, empty. A directory of its name may hold the files of a
   * deleted topic of the same name (a crash between the catalogue write and the removal, or a removal that
   * failed): they are removed, not loaded as this partition's records.
   */
  async create(): Promise<void> {
    const { fs } = this.env;
    // a directory just made needs no listing: only one that was already there can hold such files
    if (!(await fs.mkdir(this.dir)) && (await fs.readdir(this.dir)).length > 0) {
      await fs.rmdir(this.dir);
      await fs.mkdir(this.dir);
    }
    await this.loadFrom([], true, 0);
  }

  private async loadFrom(names: string[], cleanShutdown: boolean, logStartOffset: number, saved?: PartitionShutdownState, checkpointed?: PartitionCheckpoint): Promise<{ truncatedBytes: number }> {
    const loader = new PartitionLoader(this.env, this.dir, this.config.indexIntervalBytes);
    const { segments, snapshotOffsets, truncatedBytes } = await loader.load(names, cleanShutdown, logStartOffset, saved, checkpointed);
    for (const segment of segments) this.segments.push(segment);
    this.segmentsChanged();
    this.snapshots.adopt(snapshotOffsets);
    // may be past the log end until the journal is replayed; see resumeAtLogStart
    this.logStartOffset = Math.max(logStartOffset, this.segments[0]!.baseOffset);
    this.highWatermark = this.logEndOffset;
    this.hwSegment = this.activeSegment;
    this.hwPosition = this.activeSegment.size;
    if (saved) this.shutdownSnapshot = { offset: saved.active.snapshotOffset, json: saved.active.snapshot };
    return { truncatedBytes };
  }

  /**
   * What the sealed-segment checkpoint records of this partition: each closed segment whose index files are current,
   * with its file's inode number (looked up once per segment). Null when there is none.
   */
  sealedCheckpoint(): Promise<PartitionCheckpoint | null> {
    // one at a time with swaps, deletions and rollbacks: a file looked up must still be the segment's own
    return this.changingSegments(async () => {
      const sealed: CheckpointedSegment[] = [];
      for (const segment of this.segments.slice(0, -1)) {
        if (!segment.indexFilesCurrent || segment.deleted) continue;
        if (segment.inode < 0) {
          const file = await this.env.fs.stat(segment.logPath).catch(() => null);
          segment.inode = file?.inode ?? -1;
          segment.changedMs = file?.changedMs ?? 0;
        }
        if (segment.inode >= 0) sealed.push({ ...segment.sealedState(), inode: segment.inode, changedMs: segment.changedMs });
      }
      return sealed.length > 0 ? { topicId: this.topicId, partition: this.partition, sealed } : null;
    });
  }

  /**
   * Accepts validated batches, as the topic stores them (the produce path re-encodes them in a topic's own
   * compression.type first): assigns offsets in place (and the append time for LogAppendTime topics),
   * queues the write, and returns at once with the assigned offsets and two promises (written, durable).
   */
  append(records: Buffer, validated: ValidatedBatches): AppendResult {
    if (this.closed) throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `partition ${this.topic}-${this.partition} is closed`);
    if (this.failing) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `partition ${this.topic}-${this.partition} is recovering from a write error`);
    if (validated.records > MAX_SEGMENT_OFFSETS) {
      throw new KafkaError(ErrorCode.INVALID_RECORD, `an append of ${validated.records} offsets is more than one segment's indexes can hold`);
    }
    const now = this.env.now();
    const duplicate = this.checkSequences(validated);
    if (duplicate) return duplicate;
    this.maybeRoll(records.length, validated.records, now);
    const segment = this.activeSegment;
    const startOffset = segment.nextOffset;
    const position = segment.size;
    const logAppendTime = this.config.timestampType === 'LogAppendTime' ? now : null;
    let offset = startOffset;
    let producerUndo: ProducerUndo[] | null = null;
    for (const batch of validated.batches) {
      assignOffsets(records, batch, offset, logAppendTime);
      const lastOffset = offset + batch.lastOffsetDelta;
      segment.indexBatch(position + batch.position, batch.size, offset, lastOffset, batch.maxTimestamp, this.config.indexIntervalBytes);
      // the batch's max timestamp, as a rebuild from the log finds it
      if (batch.producerId >= 0) this.trackProducerBatch(records, batch, offset, batch.maxTimestamp, (producerUndo ??= []));
      offset = lastOffset + 1;
    }
    segment.size += records.length;
    if (segment.firstAppendMs < 0) segment.firstAppendMs = now;

    const appended = new PendingAppend(segment, position, records.length, records, startOffset, offset, logAppendTime ?? -1);
    appended.producerUndo = producerUndo;
    this.pending.push(appended);
    if (!this.writing) {
      this.writing = true;
      this.env.scheduleWrite(this);
    }
    return appended;
  }

  private maybeRoll(incomingBytes: number, incomingOffsets: number, now: number): void {
    const active = this.activeSegment;
    if (active.size === 0) return;
    // relative offsets are int32 in the indexes, as in Kafka: a compressed batch's record count is not checked
    // against its records on append, so a few can claim billions of offsets
    const full = active.size + incomingBytes > this.config.segmentBytes || active.nextOffset + incomingOffsets - active.baseOffset > MAX_SEGMENT_OFFSETS;
    const { segmentIndexBytes } = this.config;
    const indexFull = active.offsetIndex.count >= Math.floor(segmentIndexBytes / 8) || active.timeIndex.count >= Math.floor(segmentIndexBytes / 12);
    // a compacted topic rolls by max.compaction.lag.ms too: compaction only cleans closed segments
    const rollMs = this.config.cleanupPolicy.includes('compact') ? Math.min(this.config.segmentMs, this.config.maxCompactionLagMs) : this.config.segmentMs;
    if (active.rollJitterMs < 0) active.rollJitterMs = Math.floor(Math.random() * Math.min(this.config.segmentJitterMs, this.config.segmentMs));
    const old = active.firstAppendMs >= 0 && now - active.firstAppendMs >= rollMs - active.rollJitterMs;
    if (full || indexFull || old) this.roll();
  }

  /**
   * Sequence checks of idempotent batches (producer id >= 0) before anything is appended: throws the Kafka
   * error for an old epoch or a gap; for a retried batch already in the log, returns the original append's
   * result (its offset, and promises that settle with the original) so nothing is appended twice.
   */
  private checkSequences(validated: ValidatedBatches): AppendResult | null {
    let duplicateOf = -1;
    /** Per producer, its latest new batch in this append: a next one continues it. */
    let latestNew: Map<number, BatchInfo> | null = null;
    for (const batch of validated.batches) {
      if (batch.producerId < 0 || (batch.attributes & Attributes.CONTROL) !== 0) continue;
      const previous = latestNew?.get(batch.producerId);
      const check = previous ? this.producers.checkNext(previous, batch) : this.producers.check(batch);
      if (check.kind === 'duplicate' ? latestNew !== null : duplicateOf >= 0) {
        throw new KafkaError(ErrorCode.INVALID_REQUEST, 'a request mixes a retried batch with new ones');
      }
      if (check.kind === 'duplicate') {
        if (duplicateOf < 0) duplicateOf = check.baseOffset; // answered with the first one's offset, as Kafka does
      } else (latestNew ??= new Map()).set(batch.producerId, batch);
    }
    if (duplicateOf < 0) return null;
    this.duplicatesDropped++;
    const original = this.pending.slice(this.pendingHead).find((p) => p.startOffset <= duplicateOf && duplicateOf < p.endOffset);
    const done = original ? original.durable : Promise.resolve();
    return { baseOffset: duplicateOf, lastOffset: duplicateOf, records: 0, bytes: 0, logAppendTimeMs: -1, written: done, durable: done };
  }

  /**
   * Producer and transaction bookkeeping for a batch with a producer id at `offset`: a data batch joins the
   * producer's sequence state (and opens its transaction here when transactional); a marker ends the
   * producer's transaction and fences its older epochs. With `undo` (a live append), the producer entries it
   * changes are kept there as they were.
   */
  private trackProducerBatch(buf: Buffer, batch: BatchInfo, offset: number, timestampMs: number, undo?: ProducerUndo[]): void {
    if ((batch.attributes & Attributes.CONTROL) !== 0) {
      this.producers.markerWritten(batch.producerId, batch.producerEpoch, timestampMs, undo);
      this.transactions.complete(batch.producerId, offset, controlTypeAt(buf, batch.position, batch.size) === ControlType.COMMIT);
      return;
    }
    this.producers.record(batch, offset, timestampMs, undo);
    if ((batch.attributes & Attributes.TRANSACTIONAL) !== 0) this.transactions.begin(batch.producerId, offset);
  }

  /**
   * Rebuilds idempotent producer and transaction state: from the newest snapshot not past the high watermark, then from the
   * batch headers of the log after it (records are not decoded). Snapshots are written at each segment roll
   * and recorded at clean shutdown, so at most the active segment is scanned, unless a crash came before the last
   * rolls' snapshots were written (their seals wait for syncs, which a storm of rolls queues): the state as of the
   * active segment's base is then written as its snapshot, so the next start does not read those segments again.
   */
  async rebuildProducerState(): Promise<void> {
    let offset = this.logStartOffset;
    const atShutdown = this.shutdownSnapshot;
    this.shutdownSnapshot = null;
    if (atShutdown && atShutdown.offset <= this.highWatermark && this.restoreSnapshot(atShutdown.json)) {
      offset = Math.max(atShutdown.offset, this.logStartOffset);
    } else {
      // an unreadable snapshot: an older one, or failing all, a scan of the whole log
      const at = await this.snapshots.restoreNewest(this.highWatermark, (json) => this.restoreSnapshot(json));
      if (at !== null) offset = Math.max(at, this.logStartOffset);
    }
    const activeBase = this.activeSegment.baseOffset;
    /** The state as of the active segment's base, once the batches before it are in, when no snapshot holds it. */
    let atActiveBase = offset < activeBase && !this.snapshots.has(activeBase) ? '' : null;
    while (offset < this.highWatermark) {
      if (atActiveBase === '' && offset >= activeBase) atActiveBase = this.snapshotState();
      const segment = this.segments[this.segmentFor(offset)]!;
      if (offset >= segment.producerFreeFrom && offset < segment.producerFreeTo) {
        // batches this start's scan found no producer id in: nothing to track, nothing to read again (a second
        // pass over every active segment after a crash was about a third of the start)
        offset = segment.producerFreeTo;
        continue;
      }
      const { records } = await this.read(offset, LOG_PASS_READ_BYTES);
      if (records.length === 0) break;
      for (let at = 0; at + Batch.LOG_OVERHEAD <= records.length; ) {
        const size = batchSizeAt(records, at);
        if (at + size > records.length) break;
        const info = batchInfoAt(records, at, size);
        if (atActiveBase === '' && info.baseOffset >= activeBase) atActiveBase = this.snapshotState();
        if (info.producerId >= 0) this.trackProducerBatch(records, info, info.baseOffset, info.maxTimestamp);
        offset = info.baseOffset + info.lastOffsetDelta + 1;
        at += size;
      }
    }
    // with no batch from the active segment's base on, the state at the end is the state as of that base
    if (atActiveBase === '' && offset >= activeBase) atActiveBase = this.snapshotState();
    if (atActiveBase) this.rebuiltSnapshot = { offset: activeBase, taken: { json: atActiveBase, forgets: this.transactions.forgets } };
  }

  /**
   * Starts a new active segment. Once the previous one's bytes are durable, its indexes and a snapshot of the
   * producer state as of the roll (taken now, before anything lands in the new segment) are written.
   */
  roll(): void {
    const previous = this.activeSegment;
    previous.trimIndexes();
    const next = new Segment(this.dir, previous.nextOffset);
    next.newFile = true;
    next.createOnOpen = true;
    this.segments.push(next);
    this.segmentsChanged();
    // appends to the previous segment may not be written yet: its sync must come after the last of them
    const last = this.pending.length > this.writeIndex ? this.pending[this.pending.length - 1]! : undefined;
    const lastWrite = last?.segment === previous ? last.written : undefined;
    const seal = { segment: previous, reactivations: previous.reactivations, snapshotOffset: next.baseOffset, snapshot: this.takeSnapshot() };
    const sealing = this.sealSegment(seal, lastWrite).finally(() => this.sealing.delete(sealing));
    this.sealing.add(sealing);
  }

  /**
   * Seals a rolled segment: once its bytes are durable, its index files and the producer snapshot as of the roll
   * are written. Seals go in batches of up to SEALS_AT_ONCE, each batch a change to the list of segments (see
   * changingSegments), so retention, DeleteRecords, compaction and rollbacks wait for one batch at most, and a
   * batch skips the segments they deleted meanwhile. One at a time, a seal's durable writes took 50-140 ms under
   * load: a partition rolling faster (small segments, a fast producer) queued seals without end, and the changes
   * behind them waited for all (retention ran once, early, in 12 s of 64 KiB segments at 15 MB/s a partition).
   */
  private async sealSegment(seal: RollSeal, lastWrite: Promise<void> | undefined): Promise<void> {
    try {
      // index files mark a segment whose bytes are all durable (see recoverAppend): none before its last write
      // is done and synced, and none if that write failed (the roll is undone with it)
      await lastWrite;
      await this.env.groupCommit.syncApart(seal.segment);
    } catch {
      return; // indexes and producer state are rebuilt from the data on the next start
    }
    await new Promise<void>((sealed) => {
      this.readySeals.push({ ...seal, sealed });
      this.queueSealBatch();
    });
  }

  private queueSealBatch(): void {
    if (this.sealBatchQueued || this.readySeals.length === 0) return;
    this.sealBatchQueued = true;
    void this.changingSegments(async () => {
      this.sealBatchQueued = false;
      const batch = this.readySeals.splice(0, SEALS_AT_ONCE);
      await this.writeSeals(batch);
      for (const seal of batch) seal.sealed();
      this.queueSealBatch();
    });
  }

  /**
   * Writes the index files of a batch of seals side by side (in a storm of rolls, the files of every roll share one
   * DurableFiles batch), and one producer snapshot: the newest, as a start uses the newest it finds. Run as a change
   * to the list of segments: a closed segment may be rewritten at once, and its index files must then be the copy's;
   * a rollback may take a roll back, and nothing of it (index files, a snapshot counting refused batches) may land
   * after the rollback removed it. Never rejects: what fails is rebuilt from the data on the next start.
   */
  private async writeSeals(batch: readonly ReadySeal[]): Promise<void> {
    // gone, or active again after a rollback: that roll was undone. Active again and rolled again since, it took
    // appends this seal's sync may not cover (durable in the journal only): the later roll's seal writes the files
    const current = batch.filter(({ segment, reactivations }) => !segment.deleted && segment !== this.activeSegment && segment.reactivations === reactivations);
    if (current.length === 0) return;
    const newest = current.reduce((a, b) => (b.snapshotOffset > a.snapshotOffset ? b : a));
    await Promise.allSettled([
      ...current.map(({ segment }) =>
        segment.writeIndexes(this.env.durableFiles.write).then(() => {
          segment.indexFilesCurrent = true;
          this.env.indexes.admit(segment);
        }),
      ),
      this.writeSnapshot(newest.snapshotOffset, newest.snapshot),
    ]);
  }

  /** Restores the producer and transaction state a snapshot holds; false (and the state left empty) if it is unreadable. */
  private restoreSnapshot(json: string): boolean {
    try {
      const saved = JSON.parse(json) as { producers: unknown; transactions: unknown };
      this.producers.restore(saved.producers);
      this.transactions.restore(saved.transactions);
      return true;
    } catch {
      this.producers.restore([]);
      this.transactions.restore({ ongoing: [], aborted: [] });
      return false;
    }
  }

  private snapshotState(): string {
    return JSON.stringify({ producers: this.producers.toJSON(), transactions: this.transactions.toJSON() });
  }

  /** The producer state now, for a snapshot written later (see writeSnapshot). */
  private takeSnapshot(): TakenSnapshot {
    return { json: this.snapshotState(), forgets: this.transactions.forgets };
  }

  /**
   * Writes a snapshot taken earlier, without the aborted transactions compaction forgot since (see
   * forgetAbortedTransactions): the next start would know them again, with their markers gone.
   */
  private writeSnapshot(offset: number, taken: TakenSnapshot): Promise<void> {
    const current = taken.forgets === this.transactions.forgets ? taken.json : this.knownAbortsOnly(taken.json);
    return this.snapshots.write(offset, current);
  }

  /** A snapshot's JSON without the aborted transactions no longer known; the same string when it names none. */
  private knownAbortsOnly(json: string): string {
    const saved = JSON.parse(json) as { producers: unknown; transactions: unknown };
    const known = this.transactions.knownOnly(saved.transactions);
    return known === saved.transactions ? json : JSON.stringify({ producers: saved.producers, transactions: known });
  }

  /**
   * Forgets aborted transactions whose every batch compaction removed, before the swap that gives their markers a
   * delete horizon or removes them (see compaction's keptMarker): in memory, and in the snapshot files, so that no
   * start knows an aborted transaction whose marker is gone. Run within the swap's change to the segments, so no
   * seal writes a snapshot meanwhile; one taken before and written after is filtered then (see writeSnapshot).
   */
  private async forgetAbortedTransactions(markerOffsets: ReadonlySet<number>): Promise<void> {
    this.transactions.forget(markerOffsets);
    await this.snapshots.rewrite((json) => this.knownAbortsOnly(json));
  }

  /**
   * Writes the queued appends, in order: one writev per contiguous run in one segment (up to WRITE_MAX_BYTES), one
   * at a time, each next run started from the last one's completion. Started for the partition by the log
   * manager's scheduleWrite once the caller's run of appends is over, so a run takes all of them; callbacks
   * instead of an async loop per partition: with appends spread over 10,000 partitions, every append is a run of
   * its own, and an async frame per run was a third of what the event loop allocated.
   */
  writeQueued(): void {
    if (this.writeIndex >= this.pending.length || this.failing) {
      this.writing = false;
      this.run = NO_RUN;
      return;
    }
    const first = this.pending[this.writeIndex]!;
    if (this.destroyed) {
      // its files are closed and going: an open now, by path, could find the file of a topic made again under the name
      this.run = [first];
      this.stopWriting(new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${this.topic} was deleted`));
      return;
    }
    const run: PendingAppend[] = [first];
    let runBytes = first.bytes;
    for (let i = this.writeIndex + 1; i < this.pending.length && runBytes < WRITE_MAX_BYTES; i++) {
      const p = this.pending[i]!;
      if (p.segment !== first.segment) break;
      run.push(p);
      runBytes += p.bytes;
    }
    this.run = run;
    this.runBytes = runBytes;
    const fd = this.env.handles.acquireOpen(first.segment);
    if (fd !== null) this.writeRun(fd);
    else this.env.handles.acquire(first.segment).then(this.writeRunTo, this.runNotOpened);
  }

  private readonly writeRunTo = (fd: number): void => this.writeRun(fd);
  private readonly runNotOpened = (err: unknown): void => this.stopWriting(err);
  private readonly runWritten = (written: number): void => this.afterWrite(written);
  private readonly runNotWritten = (err: unknown): void => {
    this.env.handles.release(this.run[0]!.segment);
    this.stopWriting(err);
  };

  private writeRun(fd: number): void {
    const run = this.run;
    let written: Promise<number>;
    try {
      written = this.env.fs.writev(fd, run.map((p) => p.buffer), run[0]!.position);
    } catch (err) {
      // thrown, not rejected (a file system that cannot start the write): the writers of the other partitions
      // started in the same pass must still start
      this.runNotWritten(err);
      return;
    }
    written.then(this.runWritten, this.runNotWritten);
  }

  private afterWrite(written: number): void {
    const segment = this.run[0]!.segment;
    this.env.handles.release(segment);
    if (written !== this.runBytes) {
      // a regular file takes fewer bytes than asked only when the file system runs out of room
      this.env.groupCommit.reclaimSpace();
      this.stopWriting(new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `short write, the file system is out of room: ${written} of ${this.runBytes} bytes written to ${segment.logPath}`));
      return;
    }
    segment.dirty = true;
    if (!segment.newFile) {
      this.runDone();
      return;
    }
    // a new file's directory entry must be durable too, or a power loss could drop the whole segment
    this.env.handles.withRoom(() => this.env.fs.fsyncDir(this.dir)).then(() => {
      segment.newFile = false;
      this.runDone();
    }, (err) => this.stopWriting(err));
  }

  /** The run is written: it is acknowledged as written and handed to its durability policy; the next run starts. */
  private runDone(): void {
    const batch = this.run;
    const first = batch[0]!;
    const segment = first.segment;
    this.writeIndex += batch.length;
    for (const p of batch) p.writeOutcome.resolve();
    // an earlier append failed while this was written: the rollback under way refuses these too, and their
    // bytes must not reach the journal
    if (this.failing) {
      this.writing = false;
      this.run = NO_RUN;
      return;
    }
    if (this.config.flushPolicy === 'fsync') {
      const buffers = batch.map((p) => p.buffer);
      this.env.groupCommit.commit(segment, this, buffers, (err) => (err === undefined ? this.markDurable(batch) : this.commitFailed(first, err)));
    } else if ((this.unsyncedRecords += batch[batch.length - 1]!.endOffset - first.startOffset) >= this.config.flushMessages) {
      // flush.messages: this run brings the unsynced records to the limit, so it is acknowledged once synced
      // (and the appends after it with it, in order)
      this.unsyncedRecords = 0;
      this.env.groupCommit.sync(segment).then(() => this.markDurable(batch), (err) => void this.fail(first, err));
    } else {
      if (!this.flushQueued) {
        this.flushQueued = true;
        this.env.markDirty(this);
      }
      this.markDurable(batch);
    }
    this.writeQueued();
  }

  /** The run being written failed: it and every append after it are refused, then writing goes on with what came since. */
  private stopWriting(err: unknown): void {
    if (outOfSpace(err)) this.env.groupCommit.reclaimSpace();
    this.fail(this.run[0]!, err).then(
      () => this.writeQueued(),
      (rollbackErr: unknown) => {
        this.writing = false;
        throw rollbackErr;
      },
    );
  }

  /**
   * A round that held `first` failed: `first` and every append after it are refused, including those committed
   * since and waiting for the next round, which are taken back from it at once (before that round forms).
   * Unless an earlier failure's rollback refused `first` already: what is committed now came after that rollback.
   */
  private commitFailed(first: PendingAppend, err: unknown): void {
    if (this.pending.indexOf(first, this.pendingHead) < 0) return;
    void this.fail(first, err);
    this.env.groupCommit.withdraw(this, err);
  }

  /** These appends are durable: resolve, in log order, every durable append at the head and advance the high watermark. */
  private markDurable(batch: PendingAppend[]): void {
    for (const p of batch) p.synced = true;
    while (this.pendingHead < this.pending.length && this.pending[this.pendingHead]!.synced) {
      const head = this.pending[this.pendingHead++]!;
      head.durableOutcome.resolve();
      head.buffer = NO_BYTES; // the bytes are on disk: do not keep a request's worth of memory per settled append
      head.producerUndo = null;
      this.highWatermark = head.endOffset;
      this.hwSegment = head.segment;
      this.hwPosition = head.position + head.bytes;
    }
    if (this.pendingHead === this.pending.length) {
      // emptied in place: a new array per drain lived until the partition's next append, long enough across many
      // partitions to be promoted out of the young generation, and every collection then copied thousands of them.
      // Popped, not cut with `length = 0`, which drops the array's storage: with appends spread over thousands of
      // partitions, each append then paid for a new one
      while (this.pending.length > 0) this.pending.pop();
      this.writeIndex = 0;
      this.pendingHead = 0;
    } else if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.pendingHead);
      this.writeIndex -= this.pendingHead;
      this.pendingHead = 0;
    }
    this.wakeWaiters();
  }

  /**
   * Fails `from` and every append after it, then rolls the log back to where `from` started so nothing
   * half-written stays visible and the next append reuses those offsets.
   */
  private async fail(from: PendingAppend, cause: unknown): Promise<void> {
    while (this.failing) {
      const at = this.pending.indexOf(from, this.pendingHead);
      const failingAt = this.pending.indexOf(this.failingFrom!, this.pendingHead);
      // the rollback running takes `from` with it; not waiting for it matters when the writer calls, as that
      // rollback waits for the writer
      if (at < 0 || (failingAt >= 0 && at >= failingAt)) return;
      // `from` is earlier (its sync failed while a later write's rollback ran): it needs its own, or it would
      // stay pending for good, and every append after it with it
      await this.failing.catch(() => undefined);
    }
    if (this.pending.indexOf(from, this.pendingHead) < 0) return;
    this.failingFrom = from;
    // cleared before it settles: a caller waiting on it above then never finds it settled and still set
    this.failing = this.refuseFrom(from, cause).finally(() => {
      this.failing = null;
      this.failingFrom = null;
    });
    await this.failing;
  }

  /** Refuses `from` and every append after it, then rolls the log back to where `from` started. */
  private async refuseFrom(from: PendingAppend, cause: unknown): Promise<void> {
    while (this.writing && this.pending[this.writeIndex] !== from) await new Promise((r) => setImmediate(r));
    const index = this.pending.indexOf(from, this.pendingHead);
    const failed = this.pending.splice(index);
    this.writeIndex = Math.min(this.writeIndex, index);
    const error = cause instanceof KafkaError ? cause : new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `write to ${this.topic}-${this.partition} failed: ${(cause as Error)?.message ?? cause}`, { cause });
    for (let i = failed.length - 1; i >= 0; i--) if (failed[i]!.producerUndo) this.producers.undo(failed[i]!.producerUndo!);
    this.transactions.truncateFrom(from.startOffset);
    // callers hear of it once the rollback is durable: until then a sync of the segment (a checkpoint's, a
    // syncfs) can make the refused bytes durable, and a power loss would bring back an append its producer was
    // told failed
    try {
      await this.rollbackTo(from.segment, from.position, from.startOffset);
    } finally {
      for (const p of failed) {
        p.writeOutcome.reject(error);
        p.durableOutcome.reject(error);
      }
    }
  }

  /** Run as a change to the list of segments: a roll's index and snapshot writes still running finish first (see sealSegment). */
  private rollbackTo(segment: Segment, position: number, offset: number): Promise<void> {
    // destroyed: its directory may be gone, and the name another topic's (see destroy)
    return this.changingSegments(async () => (this.destroyed ? undefined : this.rollBackNow(segment, position, offset)));
  }

  private async rollBackNow(segment: Segment, position: number, offset: number): Promise<void> {
    const { fs } = this.env;
    const idx = this.segments.indexOf(segment);
    const later = this.segments.splice(idx + 1);
    this.segmentsChanged();
    await this.removeSegmentFiles(later);
    if (later.length > 0) {
      // active again: index files its roll may have written describe bytes it no longer ends with (its indexes
      // are read back first, should memory have dropped them)
      await this.env.indexes.use(segment);
      segment.reactivations++;
      segment.indexFilesCurrent = false;
      this.env.indexes.forget(segment);
      await segment.removeIndexFiles(fs).catch(() => undefined);
    }
    // producer snapshots taken past `offset` describe records that are gone
    const snapshotsDropped = await this.snapshots.dropAfter(offset);
    segment.size = position;
    segment.writtenFrom = Math.min(segment.writtenFrom, position);
    segment.nextOffset = offset;
    const maxBefore = { timestamp: segment.maxTimestamp, offset: segment.maxTimestampOffset };
    const lastIndexed = segment.truncateIndexes(position, offset);
    segment.bytesSinceIndexEntry = this.config.indexIntervalBytes;
    // made durable before appends resume: a power loss must not bring back the refused bytes, or the segment
    // files removed, beside the appends that reuse their offsets (see PartitionLoader.load)
    let tailRead = false;
    try {
      const fd = await this.env.handles.acquire(segment);
      try {
        // the batches after the last index entry left, for the largest timestamp the indexes no longer give
        const tail = Buffer.allocUnsafe(position - lastIndexed);
        if (tail.length > 0) segment.noteTimestamps(tail.subarray(0, await fs.read(fd, tail, tail.length, lastIndexed)));
        tailRead = true;
        await fs.ftruncate(fd, position);
        await fs.fdatasync(fd);
      } finally {
        this.env.handles.release(segment);
      }
    } catch {
      // a torn tail past `position` is cut by recovery on the next start
    }
    if (!tailRead) {
      // too large a maximum only makes a look-up by time read more; too small could make it miss this segment
      segment.maxTimestamp = maxBefore.timestamp;
      segment.maxTimestampOffset = maxBefore.offset;
    }
    // a segment file back from the dead is dropped at start too (see PartitionLoader.load), a snapshot is not
    if (later.length > 0 || snapshotsDropped) await fs.fsyncDir(this.dir).catch(() => undefined);
  }

  /**
   * Deletes segments' files, in log order one `.log` at a time: a crash part-way leaves a run of them, never a
   * hole, which a start would take for a lost tail and cut the log at. The rest (their index files, closing their
   * descriptors) goes on beside the next unlink: one after the other, the four file operations a segment took
   * each queued behind the appends' writes and syncs, and under load retention deleted a segment in about 75 ms.
   */
  private async removeSegmentFiles(segments: readonly Segment[]): Promise<void> {
    const rest: (Promise<unknown> | undefined)[] = [];
    for (const segment of segments) {
      segment.deleted = true;
      this.env.indexes.forget(segment);
      await this.env.fs.unlink(segment.logPath).catch(() => undefined);
      rest.push(segment.inUse === 0 ? this.env.handles.close(segment) : undefined, segment.removeIndexFiles(this.env.fs));
    }
    await Promise.all(rest);
  }

  /**
   * Re-applies an append found in the journal at start. Its bytes go to the segment whose range ends where
   * they begin (usually the active one; an earlier one if its unsynced tail was lost while a later segment
   * survived, which a sealed segment's cannot have been). Batches already present are skipped: a torn segment write may have kept an append's first
   * batches and lost the rest. Returns what happened.
   */
  async recoverAppend(entry: Buffer): Promise<'applied' | 'present' | 'gap'> {
    const segment = this.segments[this.segmentFor(readInt64(entry, Batch.BASE_OFFSET))]!;
    // all there, or what is not was removed by compaction: the journal must not bring that back
    if (segment.sealed) return 'present';
    let from = 0;
    while (from < entry.length) {
      const size = batchSizeAt(entry, from);
      const info = batchInfoAt(entry, from, size);
      if (info.baseOffset + info.lastOffsetDelta >= segment.nextOffset) break;
      from += size;
    }
    if (from === entry.length) return 'present';
    const base = readInt64(entry, from + Batch.BASE_OFFSET);
    if (base < segment.nextOffset) return 'present'; // (nextOffset is at least the segment's base offset)
    if (base > segment.nextOffset) return 'gap';
    const records = entry.subarray(from);
    const fd = await this.env.handles.acquire(segment);
    try {
      const written = await this.env.fs.writev(fd, [records], segment.size);
      if (written !== records.length) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `short write replaying the journal into ${segment.logPath}`);
    } finally {
      this.env.handles.release(segment);
    }
    for (let at = 0; at < records.length; ) {
      const size = batchSizeAt(records, at);
      const info = batchInfoAt(records, at, size);
      segment.indexBatch(segment.size + at, size, info.baseOffset, info.baseOffset + info.lastOffsetDelta, info.maxTimestamp, this.config.indexIntervalBytes);
      at += size;
    }
    segment.size += records.length;
    segment.dirty = true;
    this.highWatermark = this.logEndOffset;
    this.hwSegment = this.activeSegment;
    this.hwPosition = this.activeSegment.size;
    return 'applied';
  }

  /**
   * After recovery and the journal replay: cuts the log where a power loss took the unsynced tail of a closed
   * segment while later bytes survived in the next segment's file (the files are synced apart), deleting every
   * segment after it, as Kafka deletes the segments after one its recovery truncates. What survives is then a
   * prefix of what was appended: readers find no hole, and an idempotent producer's resend of the lost batches
   * lands in order instead of failing with OUT_OF_ORDER_SEQUENCE_NUMBER. Only a segment never sealed can have
   * lost its tail; a sealed one may end early because compaction removed its last records. Nothing cut was
   * acknowledged as durable: an append is acknowledged only once every earlier one is durable too, in its
   * segment or in the journal just replayed. A hole wholly below the log start is left: no reader sees it.
   * Returns where the log was cut and the bytes removed, or null.
   */
  async cutAtLostTail(): Promise<{ offset: number; bytes: number } | null> {
    for (let i = 0; i < this.segments.length - 1; i++) {
      const segment = this.segments[i]!;
      const next = this.segments[i + 1]!;
      if (segment.sealed || segment.nextOffset >= next.baseOffset || next.baseOffset <= this.logStartOffset) continue;
      const later = this.segments.slice(i + 1);
      // a roll syncs segments in log order: one sealed after this one means this one's bytes were all synced
      if (later.some((s) => s.sealed)) continue;
      let bytes = 0;
      for (const s of later) bytes += s.size;
      await this.rollBackNow(segment, segment.size, segment.nextOffset);
      this.highWatermark = this.logEndOffset;
      this.hwSegment = this.activeSegment;
      this.hwPosition = this.activeSegment.size;
      return { offset: this.logEndOffset, bytes };
    }
    return null;
  }

  /**
   * After recovery and the journal replay: when what survived ends before the log start offset (a tail lost
   * below an earlier DeleteRecords), the log restarts empty at its start offset, as Kafka's does, so offsets
   * already handed out are never given to new records.
   */
  async resumeAtLogStart(): Promise<void> {
    if (this.logStartOffset <= this.logEndOffset) return;
    const fresh = new Segment(this.dir, this.logStartOffset);
    fresh.newFile = true;
    fresh.createOnOpen = true;
    this.segments.push(fresh);
    this.segmentsChanged();
    await this.deleteSegmentsWhile((_s, next) => next !== undefined);
    this.highWatermark = this.logEndOffset;
    this.hwSegment = fresh;
    this.hwPosition = 0;
  }

  /**
   * What only the next start needs, left for after this one, to be done in the background: the producer snapshot it
   * rebuilt from sealed segments (so the next start does not read them again; 10,000 of them took 4.4 s to write),
   * then index files for the closed segments found without them (a crash came between their roll and their seal),
   * one at a time, as their seal would have written them. Unsealed, a segment is scanned whole at every start and
   * its indexes cannot leave memory; after a storm of rolls a crash can leave tens of thousands (23,800 of 64 KiB in
   * 200 partitions: 15.7 s of index files, which the start waited for). Taken as the start ends: a segment rolled
   * after it is its roll's to seal, once its last write is durable. The work returned stops early once `stopped`
   * (a shutdown; the next start does what is left) and counts the segments it sealed and those still unsealed.
   */
  recoveryLeft(): (stopped: () => boolean) => Promise<RecoveryLeft> {
    const snapshot = this.rebuiltSnapshot;
    this.rebuiltSnapshot = null;
    const unsealed = this.segments.slice(0, -1).filter((s) => !s.sealed).map((s) => [s, s.reactivations] as const);
    return async (stopped) => {
      if (snapshot) await this.inBackground(() => this.writeRebuiltSnapshot(snapshot));
      let sealed = 0;
      for (const [segment, reactivations] of unsealed) {
        if (stopped() || this.closed) break;
        await this.inBackground(() => this.sealRecovered(segment, reactivations));
        if (segment.sealed) sealed++;
      }
      return { sealed, unsealed: unsealed.filter(([s]) => !s.sealed && !s.deleted).length };
    };
  }

  /** Close and destroy wait for it, as for a roll's seal. */
  private inBackground(work: () => Promise<void>): Promise<void> {
    const running = work().finally(() => this.sealing.delete(running));
    this.sealing.add(running);
    return running;
  }

  private async writeRebuiltSnapshot(snapshot: { offset: number; taken: TakenSnapshot }): Promise<void> {
    await this.changingSegments(async () => {
      // rolled since the start: the roll's snapshot is newer
      if (!this.closed && this.activeSegment.baseOffset === snapshot.offset) await this.writeSnapshot(snapshot.offset, snapshot.taken);
    }).catch(() => undefined);
  }

  private async sealRecovered(segment: Segment, reactivations: number): Promise<void> {
    try {
      // its bytes were made durable by the start (after a crash) or by the last clean shutdown, and a segment closed
      // at the start takes no appends (a rollback reaches back only over appends since), so only a failed sync can
      // have left it dirty
      if (segment.dirty) await this.env.groupCommit.syncApart(segment);
      await this.changingSegments(async () => {
        // deleted meanwhile (retention, DeleteRecords, a compaction's swap, a rollback); the reactivation check is
        // the roll's seal's: index files must never describe appends whose durability this did not wait for
        if (segment.deleted || segment.sealed || segment.reactivations !== reactivations || this.closed) return;
        await segment.writeIndexes(this.env.durableFiles.write);
        segment.sealed = true;
        segment.indexFilesCurrent = true;
        this.env.indexes.admit(segment);
      });
    } catch {
      // left unsealed: the next start scans it again
    }
  }

  /** Calls `wake` once the high watermark moves (long-poll fetch), unless offAppend(wake) comes first. */
  onAppend(wake: () => void): void {
    if (this.waiter === null) this.waiter = wake;
    else (this.moreWaiters ??= new Set()).add(wake);
  }

  offAppend(wake: () => void): void {
    if (this.waiter === wake) this.waiter = null;
    else this.moreWaiters?.delete(wake);
  }

  private wakeWaiters(): void {
    const first = this.waiter;
    const more = this.moreWaiters;
    this.waiter = null;
    this.moreWaiters = null;
    first?.();
    if (more) for (const w of more) w();
  }

  private segmentFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.segments[mid]!.baseOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Bytes of `segment` that readers may see (everything below the high watermark). */
  private visibleBytes(segment: Segment): number {
    if (segment === this.hwSegment) return this.hwPosition;
    return segment.baseOffset < this.hwSegment.baseOffset ? segment.size : 0;
  }

  /**
   * Reads whole batches from `offset`, at most `maxBytes` unless the first batch alone is larger (then that
   * batch, so a consumer always makes progress). Throws OFFSET_OUT_OF_RANGE outside [logStart, logEnd].
   */
  async read(offset: number, maxBytes: number, upToOffset = this.highWatermark, memory = FRESH_MEMORY): Promise<ReadResult> {
    this.checkReadable(offset);
    const result: ReadResult = { records: NO_BYTES, highWatermark: this.highWatermark, logStartOffset: this.logStartOffset };
    let segment: Segment | undefined = this.segments[this.segmentFor(offset)];
    while (segment !== undefined && offset < upToOffset) {
      const records = await this.readSegment(segment, offset, maxBytes, upToOffset, memory);
      if (records.length > 0) {
        result.records = records;
        break;
      }
      if (segment.deleted) {
        // retention, DeleteRecords or a compaction swap removed it while this read waited: the offset is looked up
        // again (below the log start now, it is refused; the segment after this one is not where it lies)
        this.checkReadable(offset);
        segment = this.segments[this.segmentFor(offset)];
        if (segment?.deleted) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${this.topic}-${this.partition} was deleted`);
      } else {
        // followed by object, not index: the list may have changed while this read waited
        segment = this.segmentAfter(segment);
      }
    }
    return result;
  }

  /** The segment following `segment` in the log now, whether or not `segment` is still part of it. */
  private segmentAfter(segment: Segment): Segment | undefined {
    const i = this.segmentFor(segment.baseOffset);
    const found = this.segments[i]!;
    return found.baseOffset > segment.baseOffset ? found : this.segments[i + 1];
  }

  /** Throws OFFSET_OUT_OF_RANGE, as a read from `offset` would, when it lies outside [logStart, logEnd]. */
  checkReadable(offset: number): void {
    if (offset < this.logStartOffset || offset > this.logEndOffset) {
      throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset} is outside [${this.logStartOffset}, ${this.logEndOffset}] of ${this.topic}-${this.partition}`);
    }
  }

  /**
   * At most how many bytes a read from `offset` (up to `upToOffset`) can return, known without I/O: what the
   * segment of the high watermark holds past the offset's index entry when the offset lies in that segment, nothing
   * when there is nothing to read, and Infinity otherwise (an earlier segment, or an offset a read would refuse).
   */
  readableBytes(offset: number, upToOffset = this.highWatermark): number {
    if (offset < this.logStartOffset || offset > this.logEndOffset) return Infinity;
    if (offset >= upToOffset) return 0;
    const segment = this.segments[this.segmentFor(offset)]!;
    return segment === this.hwSegment ? this.hwPosition - segment.offsetIndex.lookup(offset - segment.baseOffset) : Infinity;
  }

  private async readSegment(segment: Segment, offset: number, maxBytes: number, upToOffset: number, memory: ReadMemory): Promise<Buffer> {
    await this.env.indexes.use(segment);
    if (segment.deleted) return NO_BYTES; // the caller looks the offset up again
    const limit = this.visibleBytes(segment);
    let position = segment.offsetIndex.lookup(offset - segment.baseOffset);
    if (position >= limit) return NO_BYTES;
    const fd = await this.env.handles.acquireUnlessDeleted(segment);
    if (fd === null) return NO_BYTES; // the caller looks the offset up again
    try {
      // a consumer that keeps up reads what was just written, still in the page cache; one catching up, or reading
      // what was there before a restart, may wait for the disk
      const mayMissCache = segment !== this.active || position < Math.max(segment.writtenFrom, segment.size - RECENTLY_WRITTEN_BYTES);
      let want = Math.min(limit - position, Math.max(maxBytes, 1) + READ_SLACK_BYTES);
      for (;;) {
        const buf = memory.take(want);
        const got = await this.env.fs.read(fd, buf, want, position, mayMissCache);
        if (got === 0) return NO_BYTES;
        const view = buf.subarray(0, got);
        let at = 0;
        let start = -1;
        let end = 0;
        while (at < got) {
          const size = batchSizeAt(view, at);
          if (size < 0 || at + size > got) break;
          const base = readInt64(view, at + Batch.BASE_OFFSET);
          const last = base + view.readInt32BE(at + Batch.LAST_OFFSET_DELTA);
          if (base >= upToOffset) {
            if (start < 0) return NO_BYTES; // nothing before upToOffset from here on
            break;
          }
          if (start < 0 && last >= offset) start = at;
          if (start >= 0) {
            if (at + size - start > maxBytes && end > start) break;
            end = at + size;
            if (end - start >= maxBytes) break;
          }
          at += size;
        }
        if (start >= 0 && end > start) return view.subarray(start, end);
        // nothing whole in this read: either skipped past the slack, or the next batch is larger than we read
        const nextSize = at < got ? batchSizeAt(view, at) : -1;
        if (position + at >= limit) return NO_BYTES;
        if (at === 0 && (got < want || nextSize < Batch.HEADER_BYTES || position + nextSize > limit)) {
          // not a batch where the index says one starts, or the file ends early: reading on would never get further
          throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `${segment.logPath} holds no whole batch at position ${position} (of ${limit} bytes)`);
        }
        position += at;
        want = Math.min(limit - position, Math.max(nextSize, maxBytes, 1) + READ_SLACK_BYTES);
      }
    } finally {
      this.env.handles.release(segment);
    }
  }

  /** Loads a segment's indexes into memory, within the index budget: for look-ups made outside the log (by time). */
  useIndexes(segment: Segment): Promise<void> {
    return this.env.indexes.use(segment);
  }

  /**
   * Makes these segments' bytes durable in their own files (not only in the journal). Each is synced even when
   * not dirty: a sync already running may have started before its last write.
   */
  async syncSegments(segments: readonly Segment[]): Promise<void> {
    await Promise.all(segments.map((s) => this.env.groupCommit.sync(s)));
  }

  /** Closed segments wholly below the high watermark: the ones compaction may rewrite. */
  closedSegments(): Segment[] {
    return this.segments.slice(0, -1).filter((s) => s.nextOffset <= this.highWatermark && s.baseOffset < this.hwSegment.baseOffset);
  }

  /**
   * Swaps in a rewritten copy of consecutive closed segments (compaction), holding what is left of all of them.
   * The copy is first renamed to `<base>.<end>.swap`, naming the offsets it stands for: from then on a start
   * finishes the swap (see PartitionLoader.finishSwap). Then the group's index files give way to the copy's, the group's files
   * are deleted and the copy renamed to the first one's name. The old files stay open until the swap is done, and
   * the new segment takes the old ones' place only then, so a reader never reads one file at another's positions.
   * Returns false, dropping the copy, if a segment of the group is gone (retention, DeleteRecords); those wait for
   * a swap in progress.
   */
  replaceSegments(group: readonly Segment[], cleanedPath: string, abortsForgotten: ReadonlySet<number>): Promise<boolean> {
    return this.changingSegments(async () => {
      const { fs, handles } = this.env;
      const first = group[0]!;
      if (this.destroyed) {
        // its directory may be gone, and the name another topic's (see destroy): a copy opened after the topic was
        // made again is in the new directory (the new topic's own compaction waits for this pass to end)
        await fs.unlink(cleanedPath).catch(() => undefined);
        return false;
      }
      const at = this.segments.indexOf(first);
      if (at < 0 || at + group.length >= this.segments.length || group.some((s, i) => this.segments[at + i] !== s)) {
        await fs.unlink(cleanedPath).catch(() => undefined);
        return false;
      }
      const end = this.segments[at + group.length]!.baseOffset;
      const fresh = new Segment(this.dir, first.baseOffset);
      const copy = await fs.open(cleanedPath, 'r');
      try {
        await scanSegment(fs, copy, fresh, 0, this.config.indexIntervalBytes);
      } finally {
        await fs.close(copy);
      }
      fresh.firstAppendMs = first.firstAppendMs;
      // an emptied segment still spans its offsets until the next segment's base
      fresh.nextOffset = Math.max(fresh.nextOffset, group[group.length - 1]!.nextOffset);
      const swapPath = join(this.dir, swapFileName(first.baseOffset, end));
      let pinned = 0;
      try {
        for (; pinned < group.length; pinned++) await handles.acquire(group[pinned]!);
        try {
          if (abortsForgotten.size > 0) await this.forgetAbortedTransactions(abortsForgotten);
          await fs.rename(cleanedPath, swapPath);
          await fs.fsyncDir(this.dir);
        } catch (err) {
          await fs.unlink(cleanedPath).catch(() => undefined);
          throw err;
        }
        try {
          // the copy's index files before it takes its name: at every point a crash finds a segment whose bytes
          // are synced marked so (index files, or the swap file), and the journal never replays into it what
          // compaction removed; a start that finishes the swap rebuilds them
          for (const s of group) await s.removeIndexFiles(fs);
          await fresh.writeIndexes(this.env.durableFiles.write);
          for (const s of group.slice(1)) await fs.unlink(s.logPath);
          await fs.rename(swapPath, first.logPath);
        } catch (err) {
          // the disk is failing: reads go on from the old files, kept open, and the next start finishes the swap;
          // no other swap may start before, or that one would replace what this one's copy stands for
          this.compaction.swapPending = true;
          pinned = 0;
          throw err;
        }
        this.segments.splice(this.segments.indexOf(first), group.length, fresh);
        this.segmentsChanged();
        for (const s of group) {
          s.deleted = true;
          this.env.indexes.forget(s);
        }
        fresh.indexFilesCurrent = true;
        this.env.indexes.admit(fresh);
        await fs.fsyncDir(this.dir);
      } finally {
        for (const s of group.slice(0, pinned)) handles.release(s);
      }
      return true;
    });
  }

  /** Runs changes to the list of segments and their files (compaction's swaps, deletions, rollbacks, a roll's index files) one at a time. */
  private changingSegments<T>(change: () => Promise<T>): Promise<T> {
    const done = this.segmentChange.then(change);
    this.segmentChange = done.catch(() => undefined);
    return done;
  }

  /** Moves the log start offset forward (DeleteRecords) and drops segments wholly below it. */
  async deleteRecordsBefore(offset: number): Promise<number> {
    if (offset < 0 || offset > this.highWatermark) {
      throw new KafkaError(ErrorCode.OFFSET_OUT_OF_RANGE, `cannot delete before ${offset}: high watermark is ${this.highWatermark}`);
    }
    if (offset > this.logStartOffset) this.logStartOffset = offset;
    this.transactions.dropBefore(this.logStartOffset);
    await this.deleteSegmentsWhile((_s, next) => next !== undefined && next.baseOffset <= this.logStartOffset);
    return this.logStartOffset;
  }

  /**
   * Applies time and size retention to whole segments, oldest first; returns how many went. As in Kafka, the active
   * segment is among them once every record of it is below the high watermark: the log rolls first, and the old
   * segment goes. Before, it never went, so a partition no longer written to kept its expired records for ever.
   */
  async applyRetention(now: number): Promise<number> {
    if (this.config.cleanupPolicy === 'compact') return 0;
    const modified = await this.untimedSegmentsModified();
    // segments go oldest first, so with the first one not due nothing goes: then the pass does not queue behind the
    // partition's other changes (under load, a roll's seal batch: 100-400 ms of durable writes each)
    if (!this.retentionDue(now, modified)(this.segments[0]!)) return 0;
    const due = this.retentionDue(now, modified);
    const deleted = await this.deleteSegmentsWhile((s, next) => next !== undefined && s.baseOffset < this.hwSegment.baseOffset && due(s));
    if (this.segments.length > 1) return deleted;
    const rolled = await this.rollForRetention(due);
    // that segment alone: appends since the roll may have rolled again, and what they wrote stays
    return rolled ? deleted + (await this.deleteSegmentsWhile((s) => s === rolled)) : deleted;
  }

  /**
   * The file modification times that time retention ages segments without timestamps by (see Segment.newestTime).
   * Before, such a segment never expired. Clients stamp their records, so there is rarely a file to look at.
   */
  private async untimedSegmentsModified(): Promise<Map<Segment, number>> {
    const modified = new Map<Segment, number>();
    if (this.config.retentionMs < 0) return modified;
    for (const segment of this.segments.filter((s) => s.maxTimestamp < 0 && s.size > 0)) modified.set(segment, await segment.modifiedTime(this.env.fs));
    return modified;
  }

  /**
   * Whether retention deletes a segment, asked of each in log order (the size retention keeps falls with each
   * deleted). `modified`: the files' modification times of segments without timestamps.
   */
  private retentionDue(now: number, modified: Map<Segment, number>): (s: Segment) => boolean {
    const { retentionMs, retentionBytes } = this.config;
    let total = retentionBytes >= 0 ? this.sizeBytes : 0;
    return (s) => {
      const newest = s.maxTimestamp >= 0 ? s.maxTimestamp : (modified.get(s) ?? -1);
      const expired = retentionMs >= 0 && newest >= 0 && now - newest > retentionMs;
      const oversize = retentionBytes >= 0 && total - s.size >= retentionBytes;
      if (expired || oversize) total -= s.size;
      return expired || oversize;
    };
  }

  /**
   * Rolls the active segment if retention would delete it were it closed: records in it, all below the high
   * watermark (none being appended), and `due`. The new segment's file is made durable before anything is deleted:
   * its name keeps the log's end, and a restart that found no file at all would begin the log again at the last
   * saved log start, giving out offsets already handed out. Returns the segment rolled.
   */
  private rollForRetention(due: (s: Segment) => boolean): Promise<Segment | null> {
    return this.changingSegments(async () => {
      const old = this.activeSegment;
      if (this.closed || this.failing || old.size === 0 || this.highWatermark !== this.logEndOffset || !due(old)) return null;
      const snapshot = this.takeSnapshot();
      this.roll();
      const fresh = this.activeSegment;
      // the high watermark stays where it is, at the new segment's base
      this.hwSegment = fresh;
      this.hwPosition = 0;
      const created = (async () => {
        await this.env.handles.acquire(fresh);
        this.env.handles.release(fresh);
        await this.env.handles.withRoom(() => this.env.fs.fsyncDir(this.dir));
        fresh.newFile = false;
      })();
      // the roll's own seal writes it only if the old segment is still there then; the producer state (idempotent
      // producers' sequences, open transactions) must outlive its segments, as a crash would otherwise lose it
      await Promise.all([created, this.writeSnapshot(fresh.baseOffset, snapshot)]);
      return old;
    });
  }

  /**
   * Drops the first segments while `pred` holds (never the last). The log start moves to the first segment kept
   * before any file goes: a read below it meanwhile gets OFFSET_OUT_OF_RANGE, as it will once they are gone.
   * (Moved after the deletions, a fetch landing in between was served the first kept segment's records in place
   * of the offset it asked for, and its consumer skipped ahead without an offset reset.)
   */
  private deleteSegmentsWhile(pred: (segment: Segment, next: Segment | undefined) => boolean): Promise<number> {
    return this.changingSegments(async () => {
      if (this.destroyed) return 0; // its directory may be gone, and the name another topic's (see destroy)
      let n = 0;
      while (n < this.segments.length - 1 && pred(this.segments[n]!, this.segments[n + 1])) n++;
      if (n === 0) return 0;
      this.logStartOffset = Math.max(this.logStartOffset, this.segments[n]!.baseOffset);
      this.transactions.dropBefore(this.logStartOffset);
      const dropped = this.segments.splice(0, n);
      this.segmentsChanged();
      await this.removeSegmentFiles(dropped);
      return n;
    });
  }

  /**
   * Waits for queued appends and a roll's file writes, then returns what the next start needs for the caller's
   * shutdown file: of the active segment, its indexes and the producer state at the log end; of each sealed
   * segment whose index files are current, what scanning its end would give. With `syncedByCaller`, nothing is
   * fsync'd here: the caller syncs the whole filesystem after closing every partition, instead of a few fsyncs per
   * partition.
   */
  async close(syncedByCaller = false): Promise<PartitionShutdownState> {
    this.closed = true;
    const last = this.pending.length > this.pendingHead ? this.pending[this.pending.length - 1] : undefined;
    if (last) await last.durable.catch(() => undefined);
    // a roll's index and snapshot writes finish first: nothing is written here after close() returns
    await Promise.all(this.sealing);
    if (!syncedByCaller) await this.flushToDisk();
    this.wakeWaiters();
    const activeSegment = this.activeSegment;
    const active: ActiveSegmentState = {
      segmentBaseOffset: activeSegment.baseOffset,
      snapshotOffset: this.logEndOffset,
      offsetIndex: activeSegment.offsetIndex.serialize(),
      timeIndex: activeSegment.timeIndex.serialize(),
      snapshot: this.snapshotState(),
    };
    const sealed = this.segments.filter((s) => s !== activeSegment && s.indexFilesCurrent && !s.deleted).map((s) => s.sealedState());
    return { topicId: this.topicId, partition: this.partition, active, sealed };
  }

  /** After the caller's filesystem sync: no segment has unsynced bytes. */
  markSynced(): void {
    for (const s of this.segments) s.dirty = false;
  }

  /** Fsyncs the active segment if it has unsynced bytes (background flush of `none` logs, shutdown). */
  async flushToDisk(): Promise<void> {
    this.unsyncedRecords = 0; // every record counted was written before this sync
    this.flushQueued = false;
    // the dirty ones now, not the live list: retention may drop segments from its front while a sync waits
    for (const s of this.segments.filter((segment) => segment.dirty)) await this.env.groupCommit.sync(s);
  }

  /**
   * At a start after a crash (few partitions, or no syncfs): makes durable every segment not sealed (a dead
   * process may have left its bytes in the page cache only) and the directory's entries.
   */
  async syncAfterCrash(): Promise<void> {
    for (const s of this.segments) if (!s.sealed) s.dirty = true;
    await this.flushToDisk();
    await this.env.fs.fsyncDir(this.dir);
  }

  /** Removes the whole partition directory (topic deletion). */
  async destroy(): Promise<void> {
    this.closed = true;
    this.destroyed = true;
    for (const s of this.segments.slice()) {
      s.deleted = true;
      this.env.indexes.forget(s);
      if (s.inUse === 0) await this.env.handles.close(s);
    }
    // a seal's index files written after the directory is gone would fail, or land in a new topic's directory
    await Promise.all(this.sealing);
    // after the change to the segments in progress, if any (a checkpoint's look-ups, a compaction's swap); those
    // queued behind find the log destroyed. Before, a retention queued behind one ran after the directory was gone,
    // and its unlinks, by path, took the files of the topic made again under the name.
    await this.changingSegments(() => this.env.fs.rmdir(this.dir));
    this.wakeWaiters();
  }
}

/** A roll's seal: its segment as it was closed, and the producer state as of the roll. */
interface RollSeal {
  segment: Segment;
  reactivations: number;
  snapshotOffset: number;
  snapshot: TakenSnapshot;
}

/** A producer snapshot's JSON, and how many times the aborted transactions had been forgotten when it was taken. */
interface TakenSnapshot {
  json: string;
  forgets: number;
}

interface ReadySeal extends RollSeal {
  sealed: () => void;
}

/** What the background work after a start did (see recoveryLeft): segments sealed, and found unsealed and still so. */
export interface RecoveryLeft {
  sealed: number;
  unsealed: number;
}
