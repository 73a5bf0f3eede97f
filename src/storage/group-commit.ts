import { outOfSpace, type FileSystem } from '../io/file-system.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { HandleCache } from './handle-cache.js';
import type { Journal, JournalSource, JournalWrite } from './journal.js';
import type { Segment } from './segment.js';

/** Told how the round that covered its request ended: no argument when durable, else the error. */
type Waiter = (err?: unknown) => void;

interface Pending {
  waiters: Waiter[];
  /** The segment's partition, and the bytes appended to it since the last round: what the journal would take. */
  source: JournalSource | null;
  buffers: Buffer[];
  /** False when a caller needs the segment file itself synced (roll, eviction, shutdown). */
  journalable: boolean;
}

export interface GroupCommitOptions {
  /** Rounds with more dirty segments than this go through the journal (one fdatasync) instead... */
  directSyncMax: number;
  /**
   * ...unless they average at least this many bytes per segment: then one fdatasync per file costs less than
   * writing every byte twice.
   */
  journalBytesPerSegmentMax: number;
  /** Journal bytes after which its segments are synced and a new journal file started, at most (see CHECKPOINT_SHARE_OF_SPACE). */
  checkpointBytes: number;
  /** Where the data lives: syncing more than MANY_SEGMENTS files at once flushes this filesystem instead. */
  dataDir: string;
  /** Each sync done, by what it synced, and how long it took. */
  onSync: (kind: SyncKind, seconds: number) => void;
}

/** What a sync made durable: one segment file, the journal's rounds, or the whole filesystem. */
export type SyncKind = 'segment' | 'journal' | 'filesystem';

/** Past this many segment files to sync at once, one syncfs of the data directory's filesystem is cheaper. */
const MANY_SEGMENTS = 32;
/**
 * Segment files synced at a time beside the rounds (syncApart, a checkpoint's syncs): the I/O threads are the
 * rounds' too, and the disk writes each file's bytes ahead of a round's journal sync.
 */
const SYNCS_BESIDE_ROUNDS = 2;
/** Segments a checkpoint syncs one by one before it projects, from their pace, whether the rest can go that way too. */
const PACE_SAMPLES = 8;
/**
 * A journal file is checkpointed once it holds this share of the space left on the data directory's filesystem
 * (measured as it starts), if that comes before checkpointBytes: its bytes also go to their segments, and the old
 * file stays until its checkpoint ends, so journaling takes about twice what it holds. Kept to checkpointBytes alone,
 * on a disk with less room than that the journal filled it and appends were refused with KAFKA_STORAGE_ERROR until
 * the checkpoint that followed freed the space.
 */
const CHECKPOINT_SHARE_OF_SPACE = 1 / 4;
/** Nor earlier than this many journal bytes: each checkpoint costs syncs of every segment its file covers. */
const CHECKPOINT_BYTES_MIN = 16 * 1024 * 1024;
/** The journal bytes a file may hold on a disk with `usableBytes` left (see CHECKPOINT_SHARE_OF_SPACE). */
const journalShare = (usableBytes: number): number => Math.max(CHECKPOINT_BYTES_MIN, Math.floor(usableBytes * CHECKPOINT_SHARE_OF_SPACE));

/**
 * Group commit for the `fsync` durability mode. Appends that finished writing ask for a sync; one round at a
 * time makes everything requested since the previous round durable, then acknowledges it all together.
 * A round with few dirty segments fdatasyncs each of them; a round with many writes their appends to the
 * shared journal and fdatasyncs that once, so the cost of a round does not grow with the partition count (unless
 * its appends are large: then the fdatasyncs cost less than writing every byte twice).
 * Journaled segments are made durable at the next checkpoint, in the background and a few at a time, before their
 * journal file is deleted (or kept as the spare the next file is written over). Whenever more than MANY_SEGMENTS
 * files must be synced at once, one syncfs of the filesystem replaces an fdatasync per file.
 */
export class GroupCommit {
  private pending = new Map<Segment, Pending>();
  private running: Promise<void> | null = null;
  private journaled = new Set<Segment>();
  private checkpointing: Promise<void> | null = null;
  /** A write failed for want of space: the next checkpoint is due as soon as the journal holds anything. */
  private reclaiming = false;
  /** Old journal files not yet deleted because their checkpoint failed. */
  private readonly uncheckpointed: string[] = [];
  /** Segments waiting for syncApart, and its syncs running. */
  private readonly apart: [Segment, Waiter][] = [];
  private apartSyncing = 0;
  private hurrying = false;
  /** Someone waits for the running checkpoint: what it has not synced yet goes at once. */
  private checkpointWaited = false;
  /** Journal bytes at which the current journal file is checkpointed (see CHECKPOINT_SHARE_OF_SPACE). */
  private checkpointAt: number;
  rounds = 0;
  journalRounds = 0;

  constructor(
    private readonly fs: FileSystem,
    private readonly handles: HandleCache,
    private readonly journal: Journal | null,
    private readonly options: GroupCommitOptions,
    private readonly onError: (err: unknown, what: string) => void,
  ) {
    this.checkpointAt = options.checkpointBytes;
    if (journal) this.sizeCheckpoint();
  }

  /** Sets when the journal file just started is checkpointed, from the space left now (until known: as before). */
  private sizeCheckpoint(): void {
    this.fs.diskSpace(this.options.dataDir).then(
      // the rounds see it: after each, they check whether a checkpoint is due
      ({ usableBytes }) => (this.checkpointAt = Math.min(this.options.checkpointBytes, journalShare(usableBytes))),
      () => undefined,
    );
  }

  /** Resolves once everything written to `segment` before this call is durable, in the segment file itself. */
  sync(segment: Segment): Promise<void> {
    return new Promise((resolve, reject) => this.request(segment, (err) => (err === undefined ? resolve() : reject(err)), null));
  }

  /**
   * As sync(), apart from the rounds of appends, SYNCS_BESIDE_ROUNDS at a time. For a rolled segment's seal, which
   * nothing but its index files waits for: segment.ms passing for thousands of partitions at once makes a storm of
   * seals, and through the rounds every round of appends waited for their syncs (one syncfs for many).
   */
  syncApart(segment: Segment): Promise<void> {
    return new Promise((resolve, reject) => {
      this.apart.push([segment, (err) => (err === undefined ? resolve() : reject(err))]);
      this.startApart();
    });
  }

  /**
   * A shutdown is under way: the segments waiting for syncApart, those asked for from now on, and what the
   * running checkpoint has not synced yet are synced together (one syncfs for many), as no append waits behind
   * them any more.
   */
  hurry(): void {
    this.hurrying = true;
    this.checkpointWaited = true;
    this.startApart();
  }

  /**
   * An fdatasync per segment, not a syncfs for many as the rounds do: that wrote out every journaled byte not yet
   * checkpointed at once, and the rounds' journal syncs waited behind it (acknowledgements held up to 1.5 s).
   * Hurrying, everything waiting is synced as one batch once the syncs running are done.
   */
  private startApart(): void {
    if (this.hurrying) {
      if (this.apartSyncing > 0 || this.apart.length === 0) return;
      const batch = this.apart.splice(0);
      this.apartSyncing++;
      this.syncMany([...new Set(batch.map(([segment]) => segment))])
        .then(() => undefined, (err: unknown) => err)
        .then((err) => {
          for (const [, done] of batch) done(err);
          this.apartSyncing--;
          this.startApart();
        });
      return;
    }
    while (this.apartSyncing < SYNCS_BESIDE_ROUNDS && this.apart.length > 0) {
      const [segment, done] = this.apart.shift()!;
      this.apartSyncing++;
      this.fdatasync(segment)
        .then(() => done(), (err: unknown) => {
          if (outOfSpace(err)) this.reclaimSpace();
          done(err);
        })
        .finally(() => {
          this.apartSyncing--;
          this.startApart();
        });
    }
  }

  /**
   * Calls `done` once everything written to `segment` before this call is durable; the round may journal
   * `buffers` (the bytes just appended to `source`'s segment) instead of syncing the segment file. A callback,
   * not a promise: this runs for every append. The round keeps `buffers` itself: the caller makes it for this call
   * and must not change it after.
   */
  commit(segment: Segment, source: JournalSource, buffers: Buffer[], done: Waiter): void {
    this.request(segment, done, source, buffers);
  }

  /**
   * Takes back what `source` committed that no round has taken yet, failing it with `err`: appends after one
   * whose round failed, refused with it. A later round would have journaled their bytes, and a restart would then
   * bring them back over the appends that reuse their offsets.
   */
  withdraw(source: JournalSource, err: unknown): void {
    for (const [segment, p] of this.pending) {
      if (p.source !== source || !p.journalable) continue;
      this.pending.delete(segment);
      for (const w of p.waiters) w(err);
    }
  }

  /** Without a source, the segment file itself must be synced: this round cannot journal it. */
  private request(segment: Segment, done: Waiter, source: JournalSource | null, buffers: Buffer[] = []): void {
    const p = this.pending.get(segment);
    if (!p) {
      // the first request of a segment in a round (with appends spread over thousands of partitions, nearly every
      // one): its arrays made to size, and the caller's buffers kept as they are; empty arrays pushed to would
      // each reserve room for 16 entries, 300 bytes an append to collect
      this.pending.set(segment, { waiters: [done], source, buffers, journalable: source !== null });
    } else {
      p.waiters.push(done);
      if (source) for (const b of buffers) p.buffers.push(b);
      else p.journalable = false;
    }
    this.running ??= this.run();
  }

  /**
   * Rounds, one after another. A journal round's sync overlaps the next round's write: while one fdatasync
   * runs, the appends arriving meanwhile are written, then synced once it is done (as one partition's segment
   * writes overlap its fdatasync).
   */
  private async run(): Promise<void> {
    let syncing: Promise<boolean> | null = null;
    for (;;) {
      if (this.pending.size === 0) {
        if (syncing) {
          await syncing;
          syncing = null;
          continue;
        }
        // idle: a checkpoint asked for to reclaim space starts now, as no append may come to start it
        if (this.checkpointDue()) await this.startCheckpoint();
        if (this.pending.size === 0) break;
        continue;
      }
      const round = this.pending;
      this.pending = new Map();
      this.rounds++;
      const useJournal = this.journal !== null && round.size > this.options.directSyncMax && this.smallAppends(round);
      const direct: [Segment, Pending][] = [];
      const viaJournal: [Segment, Pending][] = [];
      for (const item of round) (useJournal && item[1].journalable ? viaJournal : direct).push(item);
      const directDone = this.directRound(direct);
      syncing = (await this.journalRound(viaJournal, syncing)).sync;
      await directDone;
      if (this.checkpointDue()) {
        // rotate with no journal write or sync in flight; sync and delete the old file in the background
        await syncing;
        syncing = null;
        await this.startCheckpoint();
      }
    }
    this.running = null;
  }

  private checkpointDue(): boolean {
    if (!this.journal || this.checkpointing) return false;
    return this.journal.bytes >= this.checkpointAt || (this.reclaiming && this.journal.bytes > 0);
  }

  /** Starts a new journal file and syncs the old one's segments in the background, then lets go of it. */
  private async startCheckpoint(): Promise<void> {
    let old: string | null;
    try {
      old = await this.journal!.rotate();
    } catch (err) {
      // a failed round could not be cut off the file yet: the next round retries the cut, then the rotation
      this.onError(err, 'journal rotation');
      return;
    }
    const recycle = this.mayKeepSpare();
    this.reclaiming = false;
    this.sizeCheckpoint();
    const segments = [...this.journaled];
    this.journaled.clear();
    this.checkpointing = this.checkpoint(old, segments, recycle).finally(() => {
      this.checkpointing = null;
      this.checkpointWaited = this.hurrying;
      this.startIfCheckpointDue();
    });
  }

  /**
   * A write failed for want of space: checkpoint now rather than at checkpointAt. Once the journaled segments
   * are synced the journal file is deleted, and its space (up to a checkpoint's worth) is there for appends again.
   */
  reclaimSpace(): void {
    this.spaceRanOut();
    this.startIfCheckpointDue();
  }

  /** The spare journal file goes at once, and the next checkpoint deletes its file instead of keeping it. */
  private spaceRanOut(): void {
    this.reclaiming = true;
    void this.journal?.dropSpare();
  }

  /**
   * Whether a checkpointed journal file may stay as the spare the next one is written over: only while the disk
   * has room for four files (the journal's share of the space left allows a full checkpoint's worth) and no write
   * ran out of space since the current file started.
   */
  private mayKeepSpare(): boolean {
    return !this.reclaiming && this.checkpointAt >= this.options.checkpointBytes;
  }

  /**
   * Lets go of the journal files a start replayed (their segments synced since): the newest may stay as the spare,
   * as a checkpointed file does, so the journal after a crash is written over it too.
   */
  async retireReplayed(files: readonly string[]): Promise<void> {
    const room = await this.fs.diskSpace(this.options.dataDir).then(
      ({ usableBytes }) => journalShare(usableBytes) >= this.options.checkpointBytes,
      () => false,
    );
    for (const file of [...files].reverse()) await this.journal!.retire(file, room);
  }

  /**
   * Starts the rounds for a checkpoint that is due, and only then: with nothing to do, run() would finish before
   * `running` is assigned, which would then stay set, and no round would start again.
   */
  private startIfCheckpointDue(): void {
    if (this.checkpointDue()) this.running ??= this.run();
  }

  /** Whether a round's journalable appends average fewer bytes per segment than journalBytesPerSegmentMax. */
  private smallAppends(round: Map<Segment, Pending>): boolean {
    let bytes = 0;
    let segments = 0;
    for (const p of round.values()) {
      if (!p.journalable) continue;
      for (const b of p.buffers) bytes += b.length;
      segments++;
    }
    return bytes < segments * this.options.journalBytesPerSegmentMax;
  }

  /**
   * Writes a round's entries to the journal and returns its sync: that starts once the previous round's sync
   * is done, settles the round's appends, and resolves to whether it succeeded. A failed round fails the
   * round written after it too (the journal cuts both off). The sync comes wrapped in an object: an async
   * function returning a promise would wait for it, and the next round's write would no longer overlap it.
   */
  private async journalRound(items: [Segment, Pending][], previous: Promise<boolean> | null): Promise<{ sync: Promise<boolean> | null }> {
    if (items.length === 0) return { sync: previous };
    this.journalRounds++;
    const journal = this.journal!;
    const settle = (err?: unknown): boolean => {
      if (outOfSpace(err)) this.spaceRanOut();
      for (const [segment, p] of items) {
        if (err === undefined) this.journaled.add(segment);
        for (const w of p.waiters) w(err);
      }
      return err === undefined;
    };
    let written: { start: number; end: number };
    try {
      written = await journal.write(items.map(([, p]): JournalWrite => ({ source: p.source!, buffers: p.buffers })));
    } catch (err) {
      settle(err);
      return { sync: previous };
    }
    const sync = (async () => {
      try {
        if (previous && !(await previous)) {
          await journal.discardFrom(written.start);
          throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, 'journal round cut off: an earlier round failed');
        }
        await this.timed('journal', journal.sync(written.end));
      } catch (err) {
        return settle(err);
      }
      return settle();
    })();
    return { sync };
  }

  private async directRound(items: [Segment, Pending][]): Promise<void> {
    if (items.length > MANY_SEGMENTS) {
      const settle = (err?: unknown) => {
        for (const [, p] of items) for (const w of p.waiters) w(err);
      };
      return this.syncMany(items.map(([s]) => s)).then(() => settle(), settle);
    }
    await Promise.all(items.map(([s, p]) => this.syncSegment(s, p.waiters)));
  }

  private async syncSegment(segment: Segment, waiters: Waiter[]): Promise<void> {
    try {
      await this.fdatasync(segment);
      for (const w of waiters) w();
    } catch (err) {
      if (outOfSpace(err)) this.spaceRanOut();
      for (const w of waiters) w(err);
    }
  }

  /** Makes every listed segment durable: one filesystem sync when there are many, else one fdatasync each. */
  private async syncMany(segments: Segment[]): Promise<void> {
    if (segments.length > MANY_SEGMENTS) {
      const live = segments.filter((s) => !s.deleted);
      for (const s of live) s.dirty = false;
      try {
        if (await this.timed('filesystem', this.fs.syncFileSystem(this.options.dataDir))) return;
      } catch (err) {
        for (const s of live) s.dirty = true;
        throw err;
      }
      for (const s of live) s.dirty = true;
    }
    for (let i = 0; i < segments.length; i += 64) await Promise.all(segments.slice(i, i + 64).map((s) => this.fdatasync(s)));
  }

  /** `sync`'s outcome, its time reported once it succeeds. */
  private async timed<T>(kind: SyncKind, sync: Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await sync;
    this.options.onSync(kind, (performance.now() - started) / 1000);
    return result;
  }

  private async fdatasync(segment: Segment): Promise<void> {
    const fd = await this.handles.acquireUnlessDeleted(segment);
    if (fd === null) return; // nothing of it is left to make durable
    try {
      segment.dirty = false;
      await this.timed('segment', this.fs.fdatasync(fd));
    } catch (err) {
      segment.dirty = true;
      throw err;
    } finally {
      this.handles.release(segment);
    }
  }

  /**
   * Syncs the segments an old journal file covered, then lets go of it (see Journal.retire), and of any older
   * file whose checkpoint failed (its segments were retried in this one).
   */
  private async checkpoint(old: string | null, segments: Segment[], recycle: boolean): Promise<void> {
    if (old) this.uncheckpointed.push(old);
    try {
      await this.syncBesideRounds(segments);
      // the newest first: it was written last, so its blocks are the likeliest still in the page cache
      for (const file of this.uncheckpointed.splice(0).reverse()) await this.journal!.retire(file, recycle && !this.reclaiming);
    } catch (err) {
      // keep the journal files: the next start replays them; retry these segments at the next checkpoint
      for (const s of segments) this.journaled.add(s);
      this.onError(err, 'journal checkpoint');
    }
  }

  /**
   * Syncs a checkpoint's segments one by one, SYNCS_BESIDE_ROUNDS at a time. One syncfs for all of them had the disk
   * write every byte the old journal file covered (a gigabyte) at once, and the journal syncs of the rounds meanwhile
   * waited behind it: acknowledgements were held up to a second. What is left is synced with one syncfs once the
   * journal is due for its next checkpoint, or the pace so far says it would be before the syncs end (one by one,
   * thousands of files take about a millisecond each, and the journal would grow without bound), space is wanted, or
   * someone waits for the checkpoint (a shutdown).
   */
  private async syncBesideRounds(segments: Segment[]): Promise<void> {
    const journal = this.journal!;
    const journalFrom = journal.bytes;
    let next = 0;
    let synced = 0;
    let failed = false;
    // at the pace of the syncs and the rate of appends so far (measured over the same time, so the time cancels
    // out), the journal would be due before the syncs end: the rest at once, before the bytes appended meanwhile add
    // to what the syncfs writes
    const fallingBehind = (): boolean => {
      const appended = journal.bytes - journalFrom;
      return synced >= PACE_SAMPLES && appended > 0 && (segments.length - synced) * appended > (this.checkpointAt - journal.bytes) * synced;
    };
    const atOnce = () => this.checkpointWaited || this.reclaiming || journal.bytes >= this.checkpointAt || fallingBehind();
    const oneByOne = async (): Promise<void> => {
      try {
        while (next < segments.length && !failed && !atOnce()) {
          await this.fdatasync(segments[next++]!);
          synced++;
        }
      } catch (err) {
        // the checkpoint fails at once, and the next one syncs these segments again: the others stop here
        failed = true;
        throw err;
      }
    };
    await Promise.all(Array.from({ length: SYNCS_BESIDE_ROUNDS }, oneByOne));
    if (next < segments.length) await this.syncMany(segments.slice(next));
  }

  /** Resolves once the checkpoint running now, if any, is done, finishing it at once (see syncBesideRounds). */
  async checkpointDone(): Promise<void> {
    if (this.checkpointing) this.checkpointWaited = true;
    await this.checkpointing;
  }

  /**
   * After a shutdown or start that failed: waits for the running round and checkpoint, then closes the journal
   * file but keeps every one, as segments may not be synced: the next start replays them.
   */
  async release(): Promise<void> {
    await this.running;
    await this.checkpointing;
    await this.journal?.release();
  }

  /** Waits for the running round and checkpoint, then removes the journal (the caller synced every segment). */
  async close(): Promise<void> {
    await this.running;
    await this.checkpointing;
    this.journaled.clear();
    const recycle = this.mayKeepSpare();
    for (const file of this.uncheckpointed.splice(0)) await this.journal?.retire(file, false);
    await this.journal?.close(recycle);
  }
}
