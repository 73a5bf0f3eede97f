import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { systemClock, type Clock } from '../io/clock.js';
import { nodeFileSystem, type FileSystem } from '../io/file-system.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { inParallel } from './in-parallel.js';
import { SharedWrite } from './shared-write.js';
import { IndexCache } from './index-cache.js';
import { Catalogue, type TopicRecord } from './catalogue.js';
import { Cleaner } from './cleaner.js';
import { applyCleanerSettings, DEFAULT_CLEANER_SETTINGS, isCleanerSetting, type CleanerSettings } from './cleaner-settings.js';
import { compactLog, type CompactionResult } from './compaction.js';
import { DurableFiles } from './durable-files.js';
import { GroupCommit, type SyncKind } from './group-commit.js';
import { HandleCache } from './handle-cache.js';
import { Journal, leftoverEntries } from './journal.js';
import { DEFAULT_LOG_CONFIG, applyTopicConfigs, type LogConfig } from './log-config.js';
import { PartitionLog, type LogEnv, type RecoveryLeft } from './partition-log.js';
import { decodeShutdownState, encodeShutdownState, stateKey, type PartitionShutdownState } from './shutdown-state.js';
import { decodeSealedCheckpoint, encodeSealedCheckpoint, type PartitionCheckpoint } from './sealed-checkpoint.js';

export interface TopicState {
  name: string;
  /** 32 hex digits (Kafka's topic UUID). */
  id: string;
  partitions: PartitionLog[];
  /**
   * Partitions on disk whose catalogue write has not finished (a new topic's, or added ones): served only once
   * the catalogue that lists them is durable, so no append is acknowledged to a partition a crash would forget.
   */
  creating?: PartitionLog[];
  /** Resolves once the topic's creation is over, done or failed (a deletion waits for it: nothing is left behind). */
  created?: Promise<void>;
  overrides: Record<string, string>;
  config: LogConfig;
}

export interface LogManagerOptions {
  dataDir: string;
  /** Broker-wide defaults for topic configs. */
  defaults?: Partial<LogConfig>;
  fs?: FileSystem;
  clock?: Clock;
  maxOpenFiles?: number;
  /** Memory for closed segments' indexes; past it, the least recently used are dropped and read back on use. */
  indexCacheBytes?: number;
  retentionCheckMs?: number;
  /** How often the sealed-segment checkpoint is written, if the sealed segments changed (default 60 s). */
  sealedCheckpointMs?: number;
  /**
   * Memory for one compaction round's key map (default 128 MiB, as Kafka's log.cleaner.dedupe.buffer.size): a
   * log with more distinct keys to clean than it holds (24 bytes each) is compacted in several rounds.
   */
  compactionMapBytes?: number;
  /** Bytes a second compaction may read and write together (Kafka's log.cleaner.io.max.bytes.per.second; default: no bound). */
  compactionIoBytesPerSecond?: number;
  /** Group commit rounds with more dirty segments than this use the journal (default 4)... */
  directSyncMax?: number;
  /** ...unless they average at least this many bytes per segment (default 512 KiB). */
  journalBytesPerSegmentMax?: number;
  /** Journal bytes after which its segments are synced and the file deleted (default JOURNAL_CHECKPOINT_BYTES). */
  journalCheckpointBytes?: number;
  /** The topic catalogue's log of changes is folded into a new snapshot past this size (default 1 MiB) or the snapshot's. */
  catalogueFoldBytes?: number;
  onError?: (err: unknown, what: string) => void;
  /** The process ran out of file descriptors, and the open-file cache was cut to `maxOpen` segment files. */
  onOpenFilesCut?: (maxOpen: number) => void;
  /** A compaction pass rewrote segments of `log`, taking `ms`: for the operator's log, as Kafka's cleaner reports each. */
  onCompacted?: (log: PartitionLog, result: CompactionResult, ms: number) => void;
  /** A sync the group commit waited for (what `fsync` appends are acknowledged after) took `seconds`: for metrics. */
  onSync?: (kind: SyncKind, seconds: number) => void;
}

/** Partitions a retention pass works on at once. */
const RETENTION_AT_ONCE = 16;
/** About 30 GiB of closed segments of 1 KiB batches (2.2 MB of indexes per GiB) stay indexed in memory. */
export const DEFAULT_INDEX_CACHE_BYTES = 64 * 1024 * 1024;
/**
 * A checkpoint syncs every segment the journal covered, about one disk write per segment file whatever it holds:
 * at 10,000 partitions, checkpoints every 256 MiB ran back to back, and 1 GiB took sustained 16 KiB appends from
 * 118–145 to 204–217 MB/s (16 s runs, four pairs), 1 KiB ones from 65–73 to 83–85. Replay after a crash reads
 * it a round at a time, so a larger journal costs start time, not memory.
 */
export const JOURNAL_CHECKPOINT_BYTES = 1024 * 1024 * 1024;
const CLEAN_SHUTDOWN_FILE = '.clean-shutdown';
/** The active segments' indexes and producer states at a clean shutdown; trusted only beside its marker. */
const SHUTDOWN_STATE_FILE = '.clean-shutdown-state';
/**
 * The sealed segments as of the last checkpoint, for a start after a crash (see encodeSealedCheckpoint). Every
 * minute, as Kafka's recovery point checkpoint (log.flush.offset.checkpoint.interval.ms).
 */
const SEALED_CHECKPOINT_FILE = '.sealed-checkpoint';
const SEALED_CHECKPOINT_MS = 60_000;
const LOG_START_FILE = 'log-start-offsets.json';
const DYNAMIC_DEFAULTS_FILE = 'broker-configs.json';
/**
 * How often the background flush of `none` logs checks whether one is due: a topic's flush.ms is kept to within
 * this (or the broker default's flush.ms, where lower).
 */
const NONE_FLUSH_CHECK_MS = 100;
const JOURNAL_DIR = 'journal';
const LEGAL_TOPIC = /^[a-zA-Z0-9._-]+$/;
const MAX_TOPIC_LENGTH = 249;
/** Past this many new partition directories, one filesystem sync costs less than an fsync of each. */
const MANY_NEW_DIRECTORIES = 32;

export function validateTopicName(name: string): void {
  if (name.length === 0 || name.length > MAX_TOPIC_LENGTH || name === '.' || name === '..' || !LEGAL_TOPIC.test(name)) {
    throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `invalid topic name ${JSON.stringify(name)}: use 1-${MAX_TOPIC_LENGTH} of [a-zA-Z0-9._-], not "." or ".."`);
  }
}

/**
 * All partition logs under one data directory: the topic catalogue (`catalogue.ts`), the shared file handle
 * cache and group commit, one retention scheduler for every partition, one background flusher for `none`
 * logs, and the clean-shutdown marker that lets the next start skip the tail scans.
 */
export class LogManager {
  readonly topics = new Map<string, TopicState>();
  /** The topic config defaults in force: the static ones (LogManagerOptions.defaults), under the dynamic ones. */
  private currentDefaults: LogConfig;
  private readonly staticDefaults: LogConfig;
  private dynamic: DynamicDefaults = { cluster: {}, broker: {} };
  private readonly dynamicWrite: SharedWrite;
  readonly fs: FileSystem;
  /**
   * `fs` making room in the open-file cache when out of descriptors, for every file but segments (the catalogue,
   * the journal, metadata, new directories): the manager's own, and the broker's beside them (producer ids).
   */
  readonly beside: FileSystem;
  readonly clock: Clock;
  readonly handles: HandleCache;
  groupCommit!: GroupCommit;
  private readonly env: LogEnv;
  /** `none` logs with bytes to fsync in the background, each once (a log marks itself once until flushed). */
  private dirtyNoneLogs: PartitionLog[] = [];
  /** Logs given appends to write since the last microtask checkpoint (see LogEnv.scheduleWrite). */
  private toWrite: PartitionLog[] = [];
  private readonly startScheduledWrites = (): void => {
    const logs = this.toWrite;
    this.toWrite = [];
    for (const log of logs) log.writeQueued();
  };
  /** When the first of the dirty `none` logs reaches its flush.ms: the background flush then syncs them all. */
  private noneFlushDueMs = Infinity;
  private retentionPass: Promise<number> | null = null;
  /** Does compaction's work on records, off the event loop; started by the first pass that has any. */
  readonly cleaner: Cleaner;
  /** Compaction's settings from the options, then those in force (with the dynamic ones over them). */
  private readonly staticCleanerSettings: CleanerSettings;
  private currentCleanerSettings: CleanerSettings;
  private noneFlush: Promise<void> | null = null;
  private closing = false;
  private partitionGrowth: Promise<unknown> = Promise.resolve();
  /** Topic and partition changes running (create, grow, delete, DeleteRecords): close waits for them. */
  private readonly changes = new Set<Promise<unknown>>();
  /** Deleted topics whose partition directories are still being removed, by name: a topic made again under it waits. */
  private readonly removing = new Map<string, Promise<void>>();
  private readonly stopTimers: (() => void)[] = [];
  private readonly catalogue: Catalogue;
  private readonly logStarts: SharedWrite;
  private readonly sealedCheckpoints = new SharedWrite(() => this.writeSealedCheckpoint());
  /** What the last sealed-segment checkpoint written holds: an unchanged one is not written again. */
  private lastSealedCheckpoint: Buffer | null = null;
  private releaseLock: () => Promise<void> = async () => undefined;
  /** Bytes cut from torn tails during this start's recovery. */
  recoveredTruncatedBytes = 0;
  /** Journal entries re-applied to their segments during this start's recovery. */
  journalReplayed = 0;
  /**
   * Journal entries this start skipped because they begin past their partition's end: rounds written after one
   * that a power loss cut short (its segment bytes lost), so never acknowledged, as rounds complete in order.
   */
  journalSkipped = 0;
  /** Partitions this start's recovery cut at a tail lost to a power loss (see PartitionLog.cutAtLostTail). */
  readonly recoveredCuts: { topic: string; partition: number; offset: number; bytes: number }[] = [];
  cleanStart = false;
  /**
   * Settles once what this start left to the background is done (see PartitionLog.recoveryLeft), or stopped by a
   * shutdown, with the segments it sealed and those it left unsealed (for the next start).
   */
  recoveryFinished: Promise<RecoveryLeft> = Promise.resolve({ sealed: 0, unsealed: 0 });

  private constructor(private readonly options: LogManagerOptions) {
    this.fs = options.fs ?? nodeFileSystem;
    this.clock = options.clock ?? systemClock;
    this.staticCleanerSettings = {
      ioBytesPerSecond: options.compactionIoBytesPerSecond ?? DEFAULT_CLEANER_SETTINGS.ioBytesPerSecond,
      mapBytes: options.compactionMapBytes ?? DEFAULT_CLEANER_SETTINGS.mapBytes,
    };
    this.currentCleanerSettings = this.staticCleanerSettings;
    this.cleaner = new Cleaner({ ioBytesPerSecond: this.staticCleanerSettings.ioBytesPerSecond, clock: this.clock });
    this.staticDefaults = { ...DEFAULT_LOG_CONFIG, ...options.defaults };
    this.currentDefaults = this.staticDefaults;
    this.handles = new HandleCache(this.fs, options.maxOpenFiles ?? 16384, { now: () => this.clock.now(), onCut: options.onOpenFilesCut });
    this.beside = this.handles.makingRoom(this.fs);
    this.dynamicWrite = new SharedWrite(() => this.beside.writeFileAtomic(join(this.dataDir, DYNAMIC_DEFAULTS_FILE), JSON.stringify(this.dynamic)));
    this.catalogue = new Catalogue(this.beside, this.dataDir, (name) => this.recordOf(name), () => this.catalogueRecords(), options.catalogueFoldBytes);
    // rewritten whole (temp file, fsync, rename)
    this.logStarts = new SharedWrite(() => this.beside.writeFileAtomic(join(this.dataDir, LOG_START_FILE), this.renderLogStarts()));
    this.env = {
      fs: this.fs,
      handles: this.handles,
      indexes: new IndexCache(this.fs, options.indexCacheBytes ?? DEFAULT_INDEX_CACHE_BYTES),
      groupCommit: null as unknown as GroupCommit, // set in load(), before any log exists
      durableFiles: new DurableFiles(this.beside, this.dataDir),
      now: () => this.clock.now(),
      markDirty: (log) => {
        this.dirtyNoneLogs.push(log);
        this.noneFlushDueMs = Math.min(this.noneFlushDueMs, this.clock.now() + log.config.flushMs);
      },
      scheduleWrite: (log) => {
        if (this.toWrite.push(log) === 1) queueMicrotask(this.startScheduledWrites);
      },
    };
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  /** The data directory's filesystem: its size and the bytes still usable (DescribeLogDirs). */
  diskSpace(): Promise<{ totalBytes: number; usableBytes: number }> {
    return this.fs.diskSpace(this.dataDir);
  }

  static async open(options: LogManagerOptions): Promise<LogManager> {
    const manager = new LogManager(options);
    try {
      await manager.load();
    } catch (err) {
      for (const stop of manager.stopTimers.splice(0)) stop();
      await manager.releaseFiles();
      throw err;
    }
    return manager;
  }

  /** Closes every file still open, keeping the journal's, and lets go of the data dir lock. */
  private async releaseFiles(): Promise<void> {
    await this.groupCommit?.release().catch(() => undefined);
    await this.catalogue.close().catch(() => undefined);
    await this.handles.closeAll();
    await this.releaseLock();
  }

  private async load(): Promise<void> {
    const fs = this.beside;
    await fs.mkdir(this.dataDir);
    this.releaseLock = await fs.lockDir(this.dataDir);
    const marker = join(this.dataDir, CLEAN_SHUTDOWN_FILE);
    const stateFile = join(this.dataDir, SHUTDOWN_STATE_FILE);
    this.cleanStart = await fs.exists(marker);
    const saved = this.cleanStart ? await this.readShutdownState(marker, stateFile) : new Map<string, PartitionShutdownState>();
    const checkpointFile = join(this.dataDir, SEALED_CHECKPOINT_FILE);
    const checkpointed = this.cleanStart ? new Map<string, PartitionCheckpoint>() : await this.readSealedCheckpoint(checkpointFile);
    await this.loadDynamicDefaults();
    const records = await this.catalogue.load();
    const startsFile = join(this.dataDir, LOG_START_FILE);
    const logStartOf = parseLogStarts((await fs.exists(startsFile)) ? (await fs.readFile(startsFile)).toString('utf8') : '{}');
    const { journal, leftoverFiles } = await Journal.open(fs, join(this.dataDir, JOURNAL_DIR));
    this.groupCommit = new GroupCommit(fs, this.handles, journal, {
      directSyncMax: this.options.directSyncMax ?? 4,
      // measured at 10,000 partitions: the journal is faster up to 256 KiB appends, direct fdatasyncs from 512 KiB
      journalBytesPerSegmentMax: this.options.journalBytesPerSegmentMax ?? 512 * 1024,
      checkpointBytes: this.options.journalCheckpointBytes ?? JOURNAL_CHECKPOINT_BYTES,
      dataDir: this.dataDir,
      onSync: this.options.onSync ?? (() => undefined),
    }, (err, what) => this.options.onError?.(err, what));
    this.env.groupCommit = this.groupCommit;
    for (const rec of records) {
      const config = applyTopicConfigs(this.defaults, rec.overrides);
      const topic: TopicState = { name: rec.name, id: rec.id, partitions: [], overrides: rec.overrides, config };
      topic.partitions = Array.from({ length: rec.partitions }, (_, p) => this.newLog(rec, p, config));
      await inParallel(topic.partitions, async (log) => {
        const key = stateKey(rec.id, log.partition);
        const { truncatedBytes } = await log.load(this.cleanStart, logStartOf(rec, log.partition), saved.get(key), checkpointed.get(key));
        this.recoveredTruncatedBytes += truncatedBytes;
      });
      this.topics.set(rec.name, topic);
    }
    await this.replayJournal(leftoverFiles);
    const logs = [...this.topics.values()].flatMap((t) => t.partitions);
    if ((!this.cleanStart && records.length > 0) || leftoverFiles.length > 0) await this.syncWhatACrashLeft(logs);
    await this.groupCommit.retireReplayed(leftoverFiles);
    await inParallel(logs, async (log) => {
      const cut = await log.cutAtLostTail();
      if (cut) this.recoveredCuts.push({ topic: log.topic, partition: log.partition, ...cut });
    });
    await inParallel(logs, (log) => log.resumeAtLogStart());
    await inParallel(logs, (log) => log.rebuildProducerState());
    // gone before anything changes (a cut above, appends from now on): the next is written from what is loaded; the
    // state before the marker, as a marker without it still means a clean start (its active segments scanned whole)
    let removed = false;
    for (const file of [checkpointFile, stateFile, marker]) {
      if (!(await fs.exists(file))) continue;
      await fs.unlink(file);
      removed = true;
    }
    // and gone for good: a power loss would otherwise bring the marker and its record back, and the start after it
    // take segments that a compaction's swap or a deletion changed since as the shutdown recorded them (records lost)
    if (removed) await fs.fsyncDir(this.dataDir);
    const retentionMs = this.options.retentionCheckMs ?? 30_000;
    this.stopTimers.push(this.clock.every(retentionMs, () => void this.runRetention()));
    this.stopTimers.push(this.clock.every(this.options.sealedCheckpointMs ?? SEALED_CHECKPOINT_MS, () => void this.checkpointSealedSegments()));
    this.stopTimers.push(this.clock.every(Math.max(10, Math.min(this.defaults.flushMs, NONE_FLUSH_CHECK_MS)), () => this.flushNoneLogs()));
    const total: RecoveryLeft = { sealed: 0, unsealed: 0 };
    const finishing = inParallel(logs.map((log) => log.recoveryLeft()), async (left) => {
      const { sealed, unsealed } = await left(() => this.closing);
      total.sealed += sealed;
      total.unsealed += unsealed;
    });
    this.recoveryFinished = this.tracked(finishing.then(() => total));
  }

  private async readSealedCheckpoint(file: string): Promise<Map<string, PartitionCheckpoint>> {
    try {
      return decodeSealedCheckpoint(await this.beside.readFile(file));
    } catch {
      return new Map();
    }
  }

  /**
   * Writes the sealed-segment checkpoint (durably, replacing the last) if the sealed segments changed since the last
   * one: a start after a crash takes the segments it records as recorded, where their files are unchanged, instead
   * of opening each and reading its index files' ends and its end. Writes requested meanwhile share one.
   */
  checkpointSealedSegments(): Promise<void> {
    if (this.closing) return Promise.resolve();
    return this.tracked(this.sealedCheckpoints.request()).catch((err) => this.options.onError?.(err, 'sealed-segment checkpoint'));
  }

  private async writeSealedCheckpoint(): Promise<void> {
    const logs = [...this.topics.values()].flatMap((t) => t.partitions);
    // in the partitions' order, so an unchanged checkpoint encodes the same
    const states: (PartitionCheckpoint | null)[] = [];
    await inParallel(logs.map((log, i) => [log, i] as const), async ([log, i]) => (states[i] = await log.sealedCheckpoint()));
    const encoded = encodeSealedCheckpoint(states.filter((s): s is PartitionCheckpoint => s !== null));
    if (this.lastSealedCheckpoint?.equals(encoded)) return;
    await this.beside.writeFileAtomic(join(this.dataDir, SEALED_CHECKPOINT_FILE), encoded);
    this.lastSealedCheckpoint = encoded;
  }

  /** What the clean shutdown that wrote `marker` recorded of the partitions; empty if unreadable or not its own. */
  private async readShutdownState(marker: string, stateFile: string): Promise<Map<string, PartitionShutdownState>> {
    try {
      const stamp = Number((await this.beside.readFile(marker)).toString('utf8'));
      return decodeShutdownState(await this.beside.readFile(stateFile), stamp);
    } catch {
      return new Map();
    }
  }

  private newLog(topic: TopicState | TopicRecord, partition: number, config: LogConfig): PartitionLog {
    return new PartitionLog(topic.name, topic.id, partition, join(this.dataDir, `${topic.name}-${partition}`), config, this.env);
  }

  /** Re-applies journal entries whose bytes did not reach their segment before a crash. */
  private async replayJournal(files: readonly string[]): Promise<void> {
    const byId = new Map([...this.topics.values()].map((t) => [t.id, t]));
    for await (const round of leftoverEntries(this.beside, files)) {
      for (const e of round) {
        const log = byId.get(e.topicId)?.partitions[e.partition];
        if (!log) continue;
        const outcome = await log.recoverAppend(e.records);
        if (outcome === 'applied') this.journalReplayed++;
        else if (outcome === 'gap') this.journalSkipped++;
      }
    }
  }

  /**
   * After a process that did not shut down cleanly: what it wrote may still be in the page cache only (appends
   * the journal covered, a new segment's directory entry, a catalogue change never acknowledged), and the start
   * has just taken it all as the log. It is made durable before the journal is deleted and before anything new
   * is acknowledged; before, a power loss soon after such a start took acknowledged appends. With many
   * partitions, one syncfs of the data directory's filesystem; else (or without syncfs) every file and directory
   * the start builds on, which leaves out whatever else the filesystem holds unsynced.
   */
  private async syncWhatACrashLeft(logs: readonly PartitionLog[]): Promise<void> {
    if (logs.length > MANY_PARTITIONS && (await this.beside.syncFileSystem(this.dataDir))) return;
    await inParallel(logs, (log) => log.syncAfterCrash());
    await this.catalogue.sync();
    await this.beside.fsyncDir(this.dataDir);
  }

  getLog(topic: string, partition: number): PartitionLog | undefined {
    return this.topics.get(topic)?.partitions[partition];
  }

  createTopic(name: string, partitions: number, overrides: Record<string, string> = {}): Promise<TopicState> {
    return this.tracked(this.addTopic(name, partitions, overrides));
  }

  private async addTopic(name: string, partitions: number, overrides: Record<string, string>): Promise<TopicState> {
    validateTopicName(name);
    if (this.topics.has(name)) throw new KafkaError(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${name} already exists`);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 100_000) {
      throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `partition count must be 1-100000, got ${partitions}`);
    }
    const config = applyTopicConfigs(this.defaults, overrides);
    let created!: () => void;
    const topic: TopicState = { name, id: randomBytes(16).toString('hex'), partitions: [], overrides: { ...overrides }, config, created: new Promise<void>((r) => (created = r)) };
    this.topics.set(name, topic);
    try {
      // the deleted topic's removal works on the same directory names, and would take this one's with it
      await this.removing.get(name);
      const logs = Array.from({ length: partitions }, (_, p) => this.newLog(topic, p, config));
      await inParallel(logs, (log) => log.create());
      await this.persistNewDirectories(logs);
      topic.creating = logs;
      await this.catalogue.record([name]);
      topic.partitions = logs;
    } catch (err) {
      if (this.topics.get(name) === topic) this.topics.delete(name);
      throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `could not create topic ${name}: ${(err as Error).message}`, { cause: err });
    } finally {
      topic.creating = undefined;
      created();
    }
    return topic;
  }

  /** Adds partitions to a topic; requests for any topic are handled one after another. */
  createPartitions(name: string, total: number): Promise<void> {
    const run = this.partitionGrowth.then(() => this.growPartitions(name, total));
    this.partitionGrowth = run.catch(() => undefined);
    return this.tracked(run);
  }

  private async growPartitions(name: string, total: number): Promise<void> {
    const topic = this.requireTopic(name);
    if (total <= topic.partitions.length) {
      throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `topic ${name} has ${topic.partitions.length} partitions; the new count must be larger, got ${total}`);
    }
    const logs = Array.from({ length: total - topic.partitions.length }, (_, i) => this.newLog(topic, topic.partitions.length + i, topic.config));
    await inParallel(logs, (log) => log.create());
    await this.persistNewDirectories(logs);
    topic.creating = logs;
    try {
      await this.catalogue.record([name]);
    } finally {
      topic.creating = undefined;
    }
    topic.partitions.push(...logs);
  }

  /**
   * Makes new partitions' directories and first segment files durable before the catalogue names them: the
   * group commit fdatasyncs a segment file, which on its own does not make the file's name durable, so a
   * power loss could otherwise take back a partition directory with acknowledged appends in it. Many at once
   * take one filesystem sync; a few, or where that is unavailable, an fsync of each directory.
   */
  private async persistNewDirectories(logs: PartitionLog[]): Promise<void> {
    if (logs.length > MANY_NEW_DIRECTORIES && (await this.beside.syncFileSystem(this.dataDir))) return;
    await inParallel(logs, (log) => this.beside.fsyncDir(log.dir));
    await this.beside.fsyncDir(this.dataDir);
  }

  deleteTopic(name: string): Promise<void> {
    return this.tracked(this.removeTopic(name));
  }

  private async removeTopic(name: string): Promise<void> {
    const topic = this.requireTopic(name);
    await topic.created;
    // partitions being added go with the rest (they were left behind, directories and all, for ever)
    await this.partitionGrowth;
    if (this.topics.get(name) !== topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic ${name}`);
    this.topics.delete(name);
    const removal = this.removePartitions(topic);
    const waited = removal.catch(() => undefined);
    this.removing.set(name, waited);
    try {
      await removal;
    } finally {
      if (this.removing.get(name) === waited) this.removing.delete(name);
    }
  }

  /**
   * The name is free once the topic is out of `topics`: a topic made again under it (CreateTopics, a producer's
   * metadata request creating it) waits for this before making its directories. Before, it made them while these
   * were being removed, by name, and lost them: a librdkafka producer's 1.18 M acknowledged messages to a topic
   * auto-created right after a deletion were read back while the broker ran, from files no longer in any
   * directory, and gone after a restart.
   */
  private async removePartitions(topic: TopicState): Promise<void> {
    await Promise.all([this.catalogue.record([topic.name]), this.logStarts.request()]);
    const removed = new Set(topic.partitions);
    this.dirtyNoneLogs = this.dirtyNoneLogs.filter((log) => !removed.has(log));
    await inParallel(topic.partitions, (log) => log.destroy());
  }

  get defaults(): Readonly<LogConfig> {
    return this.currentDefaults;
  }

  get dynamicDefaults(): Readonly<DynamicDefaults> {
    return this.dynamic;
  }

  /** Compaction's settings in force: the options', or the dynamic ones set over them. */
  get cleanerSettings(): Readonly<CleanerSettings> {
    return this.currentCleanerSettings;
  }

  /**
   * Replaces one layer of the dynamic broker configs (Kafka's: topic config defaults by topic config name, and
   * compaction's settings by their broker config names): validated as a whole, stored durably, then in force for
   * every topic without its own value, and for compaction. With `validateOnly`, only validated.
   */
  async setDynamicDefaults(scope: keyof DynamicDefaults, overrides: Record<string, string>, validateOnly = false): Promise<void> {
    const next = { ...this.dynamic, [scope]: { ...overrides } };
    const defaults = layeredDefaults(this.staticDefaults, next);
    const cleanerSettings = layeredCleanerSettings(this.staticCleanerSettings, next);
    if (validateOnly) return;
    const previous = this.dynamic;
    this.dynamic = next;
    try {
      await this.dynamicWrite.request();
    } catch (err) {
      if (this.dynamic === next) this.dynamic = previous;
      throw err;
    }
    if (this.dynamic !== next) return; // a later change was made while this one was written: it applies its own
    this.applyCleanerSettings(cleanerSettings);
    this.currentDefaults = defaults;
    for (const topic of this.topics.values()) {
      topic.config = applyTopicConfigs(defaults, topic.overrides);
      for (const log of topic.partitions) log.config = topic.config;
    }
  }

  /** Reads the stored dynamic defaults; a value this version cannot take is dropped, with a warning, rather than failing the start. */
  private async loadDynamicDefaults(): Promise<void> {
    const file = join(this.dataDir, DYNAMIC_DEFAULTS_FILE);
    if (!(await this.beside.exists(file))) return;
    const stored = JSON.parse((await this.beside.readFile(file)).toString('utf8')) as DynamicDefaults;
    for (const scope of ['cluster', 'broker'] as const) {
      for (const [name, value] of Object.entries(stored[scope] ?? {})) {
        try {
          const next = { ...this.dynamic, [scope]: { ...this.dynamic[scope], [name]: value } };
          layeredDefaults(this.staticDefaults, next);
          layeredCleanerSettings(this.staticCleanerSettings, next);
          this.dynamic[scope][name] = value;
        } catch (err) {
          this.options.onError?.(err, `stored dynamic default ${name}=${value}`);
        }
      }
    }
    this.currentDefaults = layeredDefaults(this.staticDefaults, this.dynamic);
    this.applyCleanerSettings(layeredCleanerSettings(this.staticCleanerSettings, this.dynamic));
  }

  /** The map size counts from the next pass; the I/O bound from the next byte. */
  private applyCleanerSettings(settings: CleanerSettings): void {
    this.currentCleanerSettings = settings;
    this.cleaner.ioBytesPerSecond = settings.ioBytesPerSecond;
  }

  /** Replaces the topic's overrides (AlterConfigs) after validating them all. */
  async setTopicOverrides(name: string, overrides: Record<string, string>): Promise<void> {
    const topic = this.requireTopic(name);
    const config = applyTopicConfigs(this.defaults, overrides);
    topic.overrides = { ...overrides };
    topic.config = config;
    for (const log of topic.partitions) log.config = config;
    await this.catalogue.record([name]);
  }

  requireTopic(name: string): TopicState {
    const topic = this.topics.get(name);
    if (!topic) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic ${name}`);
    return topic;
  }

  deleteRecords(topic: string, partition: number, beforeOffset: number): Promise<number> {
    return this.tracked(this.moveLogStart(topic, partition, beforeOffset));
  }

  private async moveLogStart(topic: string, partition: number, beforeOffset: number): Promise<number> {
    const log = this.getLog(topic, partition);
    if (!log) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown partition ${topic}-${partition}`);
    const start = await log.deleteRecordsBefore(beforeOffset === -1 ? log.highWatermark : beforeOffset);
    await this.logStarts.request();
    return start;
  }

  private tracked<T>(change: Promise<T>): Promise<T> {
    this.changes.add(change);
    const done = () => this.changes.delete(change);
    change.then(done, done);
    return change;
  }

  /** A topic as the catalogue records it: one still being created (no partition on disk yet) waits for its own write. */
  private recordOf(name: string): TopicRecord | null {
    const t = this.topics.get(name);
    const partitions = t ? t.partitions.length + (t.creating?.length ?? 0) : 0;
    return t && partitions > 0 ? { name: t.name, id: t.id, partitions, overrides: t.overrides } : null;
  }

  private catalogueRecords(): TopicRecord[] {
    return [...this.topics.keys()].map((name) => this.recordOf(name)).filter((r): r is TopicRecord => r !== null);
  }

  /** Log start offsets by topic id, not name: a topic created again under a deleted one's name gets none of them. */
  private renderLogStarts(): string {
    const topics: Record<string, Record<number, number>> = {};
    for (const t of this.topics.values()) {
      for (const log of t.partitions) if (log.logStartOffset > 0) (topics[t.id] ??= {})[log.partition] = log.logStartOffset;
    }
    return JSON.stringify({ version: 2, topics });
  }

  /**
   * One pass of retention and compaction over every partition; returns the segments deleted by retention. One
   * pass at a time: asked for while one runs (a slow compaction outlasting the timer's interval), it gets that
   * one, so no two passes ever rewrite the same segment at once.
   */
  runRetention(): Promise<number> {
    this.retentionPass ??= this.retentionPassOnce().finally(() => (this.retentionPass = null));
    return this.retentionPass;
  }

  private async retentionPassOnce(): Promise<number> {
    const now = this.clock.now();
    const logs = [...this.topics.values()].flatMap((t) => t.partitions);
    let deleted = 0;
    // retention of several partitions side by side: a partition's deletions wait for its running seal batch, and one
    // after the other a pass over 4 partitions rolling 4 MiB segments at 25 MB/s each took a second, while each
    // partition grew to three times its retention.bytes
    let next = 0;
    const retain = async (): Promise<void> => {
      // close waits for the partitions being worked on, not for the rest
      for (let log = logs[next++]; log !== undefined && !this.closing; log = logs[next++]) {
        if (log.closed) continue; // its topic was deleted since the pass began
        try {
          const n = await log.applyRetention(now); // (not `deleted += await`: that reads `deleted` before waiting)
          deleted += n;
          log.producers.expire(now, this.defaults.producerIdExpirationMs);
        } catch (err) {
          // a topic deleted meanwhile takes its files, and the work on them fails: no error of the disk's
          if (!log.closed) this.options.onError?.(err, `retention of ${log.topic}-${log.partition}`);
        }
      }
    };
    await Promise.all(Array.from({ length: RETENTION_AT_ONCE }, retain));
    // compaction one partition at a time: each round holds a key map of up to compactionMapBytes
    for (const log of logs) {
      if (this.closing) break;
      if (log.closed) continue;
      try {
        const started = performance.now();
        const result = await compactLog(log, this.fs, this.cleaner, now, this.currentCleanerSettings.mapBytes);
        if (result.segmentsRewritten > 0) this.options.onCompacted?.(log, result, performance.now() - started);
      } catch (err) {
        if (!log.closed && !this.closing) this.options.onError?.(err, `compaction of ${log.topic}-${log.partition}`);
      }
    }
    if (deleted > 0) await this.logStarts.request().catch((err) => this.options.onError?.(err, 'saving log start offsets'));
    return deleted;
  }

  /**
   * The `none` policy's background flush: once the first dirty log reaches its topic's flush.ms, every dirty log
   * is synced (the others early, which costs nothing extra: many files are synced with one syncfs).
   */
  private flushNoneLogs(): void {
    if (this.dirtyNoneLogs.length === 0 || this.noneFlush || this.clock.now() < this.noneFlushDueMs) return;
    const logs = this.dirtyNoneLogs;
    this.dirtyNoneLogs = [];
    this.noneFlushDueMs = Infinity;
    this.noneFlush = Promise.all(logs.map((l) => l.flushToDisk().catch((err) => this.options.onError?.(err, `background flush of ${l.topic}-${l.partition}`)))).then(() => {
      this.noneFlush = null;
    });
  }

  /**
   * Clean shutdown: drain appends, fsync, write one file of the active segments' indexes and producer states and
   * the sealed segments' sizes, offsets and timestamps, then the marker that lets the next start skip scans. With
   * many partitions, one filesystem sync at the end replaces a few fsyncs per partition (the marker is written
   * only after it, so a crash before then still recovers by scanning).
   */
  async close(): Promise<void> {
    for (const stop of this.stopTimers.splice(0)) stop();
    // background work must not touch the files after close returns (or a new manager of the same directory)
    this.closing = true;
    // a compaction pass under way fails at its next step, changing nothing, rather than hold the close up
    this.cleaner.close();
    await this.retentionPass;
    await this.noneFlush;
    await Promise.allSettled(this.changes);
    try {
      await this.shutDownCleanly();
    } finally {
      // after a failure part-way (a dead disk, say) there is no clean-shutdown marker, and the next start recovers
      // by scanning and replays the journal, but what is still open is let go all the same: an embedding process
      // goes on after it
      await this.releaseFiles();
    }
  }

  /** Syncs and closes every file, then writes the clean-shutdown marker that lets the next start skip recovery. */
  private async shutDownCleanly(): Promise<void> {
    const logs = [...this.topics.values()].flatMap((t) => t.partitions);
    // the seals of a storm of rolls still waiting (each partition's close waits for its own), and a checkpoint's syncs
    this.groupCommit.hurry();
    const syncAll = logs.length > MANY_PARTITIONS && (await this.beside.syncFileSystem(this.dataDir).catch(() => false));
    const states: PartitionShutdownState[] = [];
    const failures: unknown[] = [];
    await inParallel(logs, async (log) => {
      try {
        states.push(await log.close(syncAll));
      } catch (err) {
        // every partition is closed all the same: none may still be writing once the files are closed
        failures.push(err);
      }
    });
    if (failures.length > 0) throw failures[0];
    const stamp = this.clock.now();
    await this.beside.writeFileAtomic(join(this.dataDir, SHUTDOWN_STATE_FILE), encodeShutdownState(stamp, states), !syncAll);
    if (syncAll) {
      await this.beside.syncFileSystem(this.dataDir);
      for (const log of logs) log.markSynced();
    }
    await this.groupCommit.close();
    await this.catalogue.close();
    await this.logStarts.request();
    await this.handles.closeAll();
    await this.beside.writeFileAtomic(join(this.dataDir, CLEAN_SHUTDOWN_FILE), String(stamp));
  }
}

/** Partitions past which a clean shutdown syncs the whole filesystem once instead of each partition's files. */
const MANY_PARTITIONS = 32;

/**
 * Reads log-start-offsets.json: `{ version: 2, topics: { <topic id>: { <partition>: offset } } }`, or the first
 * version's `{ "<topic>-<partition>": offset }` (keyed by name, which a topic created again under a deleted one's
 * name inherited).
 */
function parseLogStarts(text: string): (topic: TopicRecord, partition: number) => number {
  const saved = JSON.parse(text) as { version?: number; topics?: Record<string, Record<string, number>> } & Record<string, unknown>;
  if (saved.version === 2) return (topic, partition) => saved.topics?.[topic.id]?.[partition] ?? 0;
  return (topic, partition) => Number(saved[`${topic.name}-${partition}`] ?? 0);
}

/**
 * Dynamic broker configs, cluster-wide, then this broker's (which win): topic config defaults by topic config name,
 * and compaction's settings by their broker config names (see cleaner-settings.ts; no topic config name starts with
 * `log.`, as those do).
 */
export interface DynamicDefaults {
  cluster: Record<string, string>;
  broker: Record<string, string>;
}

const topicDefaultsIn = (layer: Readonly<Record<string, string>>): Record<string, string> => Object.fromEntries(Object.entries(layer).filter(([name]) => !isCleanerSetting(name)));

function layeredDefaults(base: Readonly<LogConfig>, dynamic: DynamicDefaults): LogConfig {
  return applyTopicConfigs(applyTopicConfigs(base, topicDefaultsIn(dynamic.cluster)), topicDefaultsIn(dynamic.broker));
}

function layeredCleanerSettings(base: Readonly<CleanerSettings>, dynamic: DynamicDefaults): CleanerSettings {
  return applyCleanerSettings(applyCleanerSettings(base, dynamic.cluster), dynamic.broker);
}
