import { Attributes, batchInfoAt, batchSizeAt, type BatchInfo } from '../protocol/record-batch.js';
import { ControlType, controlTypeAt, decodeBatchRecords, emptyBatchOf } from '../protocol/records.js';
import type { FileSystem } from '../io/file-system.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { LOG_PASS_READ_BYTES, type PartitionLog } from './partition-log.js';
import type { Cleaner, CleanerMap, JudgedChunk } from './cleaner.js';
import { deleteHorizon, rebuild, type CleaningRound } from './record-cleaning.js';
import type { Segment } from './segment.js';
import { compressionLevels } from './log-config.js';

export interface CompactionResult {
  /** Copies written, each replacing one segment or a group of them. */
  segmentsRewritten: number;
  /** Segments merged into the one before them. */
  segmentsMerged: number;
  recordsRemoved: number;
  /** Each maps as many keys as the map holds, then cleans (see compactLog). */
  rounds: number;
  /** What the pass read of the log, and wrote into its copies. */
  bytesRead: number;
  bytesWritten: number;
}

/** A pass's reads and writes, counted, and bounded by the cleaner's throttle. */
class PassIo {
  read = 0;
  written = 0;

  constructor(private readonly cleaner: Cleaner) {}

  async didRead(bytes: number): Promise<void> {
    this.read += bytes;
    await this.cleaner.throttle(bytes);
  }

  async didWrite(bytes: number): Promise<void> {
    this.written += bytes;
    await this.cleaner.throttle(bytes);
  }
}

const CLEANED_SUFFIX = '.cleaned';
/** A cleaned copy is written in chunks of this, and a segment's unchanged batches are held up to it. */
const HOLD_BYTES = 4 << 20;
const MAX_RELATIVE_OFFSET = 2 ** 31 - 1;
/** Whole batches of a log, as read at once, and their header fields. */
interface Chunk {
  bytes: Buffer;
  infos: BatchInfo[];
}

/** The batches of the log in [from, to), from the chunk read at `from`; null past the end. */
async function readChunk(log: PartitionLog, from: number, to: number): Promise<Chunk | null> {
  const { records } = await log.read(from, LOG_PASS_READ_BYTES);
  const infos: BatchInfo[] = [];
  let at = 0;
  while (at < records.length) {
    const size = batchSizeAt(records, at); // a read returns whole batches
    const info = batchInfoAt(records, at, size);
    if (info.baseOffset >= to) break;
    infos.push(info);
    at += size;
  }
  return infos.length === 0 ? null : { bytes: records.subarray(0, at), infos };
}

/** The log's batches in [from, to) in order, chunk by chunk, the next chunk read while the caller works on one. */
async function* chunksIn(log: PartitionLog, io: PassIo, from: number, to: number): AsyncGenerator<Chunk> {
  let next = readChunk(log, from, to);
  try {
    for (let chunk = await next; chunk !== null; chunk = await next) {
      await io.didRead(chunk.bytes.length);
      const last = chunk.infos[chunk.infos.length - 1]!;
      const end = last.baseOffset + last.lastOffsetDelta + 1;
      next = end < to ? readChunk(log, end, to) : Promise.resolve(null);
      next.catch(() => undefined); // awaited at the next step, or below when the caller stops early
      yield chunk;
    }
  } finally {
    await next.catch(() => undefined);
  }
}

/** A batch's bytes within its chunk. */
const rawOf = (chunk: Chunk, info: BatchInfo): Buffer => chunk.bytes.subarray(info.position, info.position + info.size);

/** Whether a batch belongs to a transaction that was aborted (its records are garbage). */
function inAbortedTransaction(log: PartitionLog, info: BatchInfo): boolean {
  if ((info.attributes & Attributes.TRANSACTIONAL) === 0 || (info.attributes & Attributes.CONTROL) !== 0) return false;
  return log.transactions.abortedBetween(info.baseOffset, info.baseOffset + 1).some((a) => a.producerId === info.producerId);
}

/**
 * Compacts a `cleanup.policy=compact` log: in every closed segment, keeps only the latest record of each key
 * (records without a key are kept), and drops a key's latest record too when it is a tombstone (null value)
 * past its delete horizon (see keptPart). Records of aborted transactions are removed and never count as a key's
 * latest; only segments below the last stable offset are cleaned, and markers are kept while their transaction has
 * records left (see keptMarker). Segments from the first one with records younger than `min.compaction.lag.ms` on
 * are left alone, and a pass runs only once enough is new (see worthCleaning). Each changed segment, or group of
 * small ones merged into one (see groupsOf), is written anew beside them, fsync'd and swapped in (see
 * PartitionLog.replaceSegments), so a crash mid-compaction loses nothing. Offsets never change; compaction leaves
 * gaps.
 *
 * As in Kafka's log cleaner, only the cleanable segments' keys count (a record of the active segment supersedes
 * nothing yet), and only those not mapped by an earlier pass: the segments below them were cleaned against
 * everything before them, so each key appears there once. The keys are mapped in at most `mapBytes` of memory
 * (see OffsetMap); more distinct keys than that holds are cleaned in several rounds, each mapping the keys of the
 * next stretch of offsets and cleaning every segment below that stretch's end. The map and the work on records are
 * the cleaner thread's (see Cleaner); the reads, the copies and the swaps are done here.
 */
export async function compactLog(log: PartitionLog, fs: FileSystem, cleaner: Cleaner, now: number, mapBytes: number): Promise<CompactionResult> {
  const result: CompactionResult = { segmentsRewritten: 0, segmentsMerged: 0, recordsRemoved: 0, rounds: 0, bytesRead: 0, bytesWritten: 0 };
  if (!log.config.cleanupPolicy.includes('compact') || log.compaction.swapPending) return result;
  const stableEnd = log.lastStableOffset;
  const { minCompactionLagMs } = log.config;
  const closed: Segment[] = [];
  for (const s of log.closedSegments()) {
    // a segment holding records younger than min.compaction.lag.ms stays as written, and so does what follows
    if (s.nextOffset > stableEnd || (minCompactionLagMs > 0 && (await s.newestTime(fs)) > now - minCompactionLagMs)) break;
    closed.push(s);
  }
  if (closed.length === 0) return result;
  const through = closed[closed.length - 1]!.nextOffset;
  if (now < log.compaction.nextTombstoneDueMs && !worthCleaning(log, closed, now)) return result;
  log.compaction.nextTombstoneDueMs = Infinity;
  // a record is removed only once the newer one is durable in its own segment file, or a power loss could take
  // every record of its key (a `none` topic's segment, or one whose sync at roll is still running); the segments
  // below cleanedThrough were synced by an earlier pass
  await log.syncSegments(closed.filter((s) => s.nextOffset > log.compaction.cleanedThrough));

  let from = Math.max(log.compaction.cleanedThrough, log.logStartOffset);
  const io = new PassIo(cleaner);
  const map = await cleaner.openMap(through - from, mapBytes);
  try {
    do {
      if (result.rounds++ > 0) await map.clear();
      const mappedEnd = await mapKeys(log, io, from, through, map);
      const segments = log.closedSegments().filter((s) => s.nextOffset <= through && s.baseOffset < mappedEnd);
      const round: CleaningRound = { mappedEnd, now, deleteRetentionMs: log.config.deleteRetentionMs, levels: compressionLevels(log.config) };
      const pass: CleaningPass = { io, map, round, withData: new Set(), withBatches: new Set(), abortsForgotten: new Set() };
      for (const group of groupsOf(segments, log.config.segmentBytes)) await cleanGroup(log, fs, group, pass, result);
      log.compaction.cleanedThrough = from = mappedEnd;
    } while (from < through);
  } finally {
    await map.free().catch(() => undefined); // a thread that failed or was stopped took its maps with it
  }
  result.bytesRead = io.read;
  result.bytesWritten = io.written;
  return result;
}

/**
 * Maps the latest offset of every key in [from, to), until the map is full; returns the offset of the first
 * record it did not map (`to` when it got through). A batch that cannot be decoded (corrupt, or its records past
 * MAX_DECOMPRESSED_BYTES) supersedes nothing.
 */
async function mapKeys(log: PartitionLog, io: PassIo, from: number, to: number, map: CleanerMap): Promise<number> {
  for await (const chunk of chunksIn(log, io, from, to)) {
    const skip = new Uint8Array(chunk.infos.length);
    chunk.infos.forEach((info, i) => {
      if ((info.attributes & Attributes.CONTROL) !== 0 || inAbortedTransaction(log, info)) skip[i] = 1;
    });
    const unmapped = await map.mapKeys(chunk.bytes, skip, from);
    if (unmapped >= 0) return unmapped;
  }
  return to;
}

/**
 * Rewrites a group of consecutive segments as one, without the records the map shows superseded, nor expired
 * tombstones. Records from `mappedEnd` on are kept: their keys were not looked at. A key the map does not hold
 * has no record in the mapped stretch, and at most one before it: its record there is still the latest. A
 * segment alone that neither loses anything nor has a tombstone or marker to give a delete horizon is left as it
 * is.
 *
 * At most HOLD_BYTES of the segments are in memory at once: the copy is written as it goes, and before the first
 * batch that changes a segment alone, its unchanged batches are held only up to that bound, then let go and read
 * again should a change come (a segment is up to segment.bytes, 1 GiB by default).
 */
async function cleanGroup(log: PartitionLog, fs: FileSystem, group: Segment[], pass: CleaningPass, result: CompactionResult): Promise<void> {
  const start = Math.max(group[0]!.baseOffset, log.logStartOffset);
  const end = group[group.length - 1]!.nextOffset;
  const path = group[0]!.logPath + CLEANED_SUFFIX;
  let copy = group.length > 1 ? await CleanedCopy.create(fs, pass.io, path) : null;
  pass.abortsForgotten = new Set();
  let held: Buffer[] = [];
  let heldBytes = 0;
  /** Unchanged batches from `start` up to here were let go. */
  let releasedTo = start;
  let removed = 0;
  try {
    for await (const chunk of chunksIn(log, pass.io, start, end)) {
      const judged = await judgeChunk(log, chunk, pass);
      for (const [i, info] of chunk.infos.entries()) {
        const raw = rawOf(chunk, info);
        const kept = keptPart(log, info, raw, pass, judged(i, raw));
        removed += kept.removed;
        if (copy === null) {
          if (kept.bytes === raw) {
            held.push(raw);
            heldBytes += raw.length;
            if (heldBytes > HOLD_BYTES) {
              held = [];
              heldBytes = 0;
              releasedTo = info.baseOffset + info.lastOffsetDelta + 1;
            }
            continue;
          }
          copy = await CleanedCopy.create(fs, pass.io, path);
          for await (const unchanged of chunksIn(log, pass.io, start, releasedTo)) await copy.add(unchanged.bytes);
          for (const b of held) await copy.add(b);
          held = [];
        }
        if (kept.bytes !== null) await copy.add(kept.bytes);
      }
    }
    if (copy === null) return;
    // what records without timestamps are aged by (see Segment.newestTime); the copy keeps it, as Kafka's cleaner
    // does, or each rewrite would make them young again (retention of `compact,delete` topics, min.compaction.lag.ms)
    await copy.finish(Math.max(...(await Promise.all(group.map((s) => s.modifiedTime(fs))))));
  } catch (err) {
    await copy?.discard();
    throw err;
  }
  await copy.close();
  if (await log.replaceSegments(group, copy.path, pass.abortsForgotten)) {
    result.segmentsRewritten++;
    result.segmentsMerged += group.length - 1;
    result.recordsRemoved += removed;
  }
}

/**
 * Splits consecutive segments into groups to be written as one each, as Kafka's cleaner does, so that a
 * compacted log does not keep a file for every segment it ever rolled: a group's bytes fit in segment.bytes,
 * and its offsets in the int32 relative offsets of an index.
 */
function groupsOf(segments: Segment[], maxBytes: number): Segment[][] {
  const groups: Segment[][] = [];
  let group: Segment[] = [];
  let bytes = 0;
  for (const s of segments) {
    if (group.length > 0 && (bytes + s.size > maxBytes || s.nextOffset - group[0]!.baseOffset > MAX_RELATIVE_OFFSET)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(s);
    bytes += s.size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/** One round of a compaction pass, as its groups of segments are cleaned in log order. */
interface CleaningPass {
  io: PassIo;
  /** The latest offset of each key in the stretch mapped for this round. */
  map: CleanerMap;
  round: CleaningRound;
  /** Producers whose committed transaction has a batch that keeps records, met since their last marker. */
  withData: Set<number>;
  /** Producers with a transactional batch met since their last marker, whether it stays or goes. */
  withBatches: Set<number>;
  /** The offsets of the ABORT markers in the group being cleaned whose transactions have no batch left (see keptMarker). */
  abortsForgotten: Set<number>;
}

type Kept = { bytes: Buffer | null; removed: number };

/**
 * Has the cleaner thread judge the records of the chunk's data batches that need it (see judgeRecords), and notes
 * the delete horizon of the tombstones they keep, so that a pass runs when it comes; what the thread made of each
 * batch, or undefined for a batch it was not asked about.
 */
async function judgeChunk(log: PartitionLog, chunk: Chunk, pass: CleaningPass): Promise<(i: number, raw: Buffer) => Kept | undefined> {
  const asked = new Uint8Array(chunk.infos.length);
  let any = false;
  chunk.infos.forEach((info, i) => {
    if ((info.attributes & Attributes.CONTROL) !== 0 || info.baseOffset >= pass.round.mappedEnd || info.recordsCount === 0 || inAbortedTransaction(log, info)) return;
    asked[i] = 1;
    any = true;
  });
  if (!any) return () => undefined;
  const judged: JudgedChunk = await pass.map.judge(chunk.bytes, asked, pass.round);
  log.compaction.nextTombstoneDueMs = Math.min(log.compaction.nextTombstoneDueMs, judged.tombstoneDueMs);
  return (i, raw) => (asked[i] === 0 ? undefined : judged.kept(i, raw));
}

/**
 * What a segment's copy keeps of a batch: the batch itself when nothing changes, a rebuilt batch of the records
 * that stay, or nothing. A data batch's records are as the cleaner thread `judged` them; one it was not asked about
 * is of an aborted transaction (its records all go), past the mapped stretch (kept: its keys were not looked at),
 * or left empty by an earlier pass (see below). Markers as keptMarker says.
 */
function keptPart(log: PartitionLog, info: BatchInfo, raw: Buffer, pass: CleaningPass, judged: Kept | undefined): Kept {
  if ((info.attributes & Attributes.CONTROL) !== 0) return keptMarker(log, info, raw, pass);
  const kept =
    judged ??
    (inAbortedTransaction(log, info) ? { bytes: null, removed: info.recordsCount } : { bytes: info.baseOffset >= pass.round.mappedEnd ? raw : null, removed: 0 });
  // a producer's last batch stays, if only as its header, so that its sequence outlives its records
  if (kept.bytes === null && info.producerId >= 0 && log.producers.lastBatchEnd(info.producerId) === info.baseOffset + info.lastOffsetDelta) {
    kept.bytes = info.recordsCount === 0 ? raw : emptyBatchOf(raw, info);
  }
  if ((info.attributes & Attributes.TRANSACTIONAL) !== 0) {
    pass.withBatches.add(info.producerId);
    if (kept.bytes !== null) pass.withData.add(info.producerId);
  }
  return kept;
}

/**
 * A transaction marker is kept while its transaction has a batch left in the log. Once it has none, the marker gets
 * a delete horizon, as a tombstone does, and goes once that comes, as in Kafka, so that a compacted topic written by
 * transactions does not keep a marker for each of them for ever.
 *
 * A COMMIT marker's transaction counts as empty once no batch of it keeps records: a batch removed in this pass is
 * gone, as its removal is swapped in before the marker's (groups are swapped in log order) or with it (the same
 * group), and the marker goes only at a later pass.
 *
 * An ABORT marker waits one pass more, for a pass that meets no batch of its transaction at all: the aborted
 * transaction is then forgotten (see PartitionLog.forgetAbortedTransactions) before the swap that stamps or removes
 * the marker, and the log's list of aborted transactions, sent to read_committed consumers, stops growing with
 * every abort. That pass is the next one the log's dirty bytes call for, as in Kafka: one at once would read the
 * whole log again. Forgotten while a batch of it was left, its records would be read as committed (a crash before
 * that batch's removal is swapped in); known with its marker gone, a consumer meets no marker to end it and skips
 * its producer's later records.
 */
function keptMarker(log: PartitionLog, info: BatchInfo, raw: Buffer, pass: CleaningPass): Kept {
  const hadData = pass.withData.delete(info.producerId);
  const hadBatches = pass.withBatches.delete(info.producerId);
  let type: number;
  try {
    type = controlTypeAt(raw, 0, raw.length);
  } catch {
    return { bytes: raw, removed: 0 }; // not a marker this broker knows: kept as it is
  }
  const ended = type === ControlType.COMMIT ? !hadData : type === ControlType.ABORT && !hadBatches;
  if (!ended) return { bytes: raw, removed: 0 };
  if (type === ControlType.ABORT) pass.abortsForgotten.add(info.baseOffset);
  const horizon = deleteHorizon(info, pass.round.now, log.config.deleteRetentionMs);
  if (pass.round.now >= horizon.at) return { bytes: null, removed: info.recordsCount };
  log.compaction.nextTombstoneDueMs = Math.min(log.compaction.nextTombstoneDueMs, horizon.at);
  const records = horizon.set ? null : decodeBatchRecords(raw);
  return { bytes: records ? rebuild(info, records, pass.round.levels, horizon.at) : raw, removed: 0 };
}

/** A segment's cleaned copy, written in writes of up to HOLD_BYTES as batches are added. */
class CleanedCopy {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private position = 0;

  private constructor(
    private readonly fs: FileSystem,
    private readonly io: PassIo,
    private readonly fd: number,
    readonly path: string,
  ) {}

  static async create(fs: FileSystem, io: PassIo, path: string): Promise<CleanedCopy> {
    return new CleanedCopy(fs, io, await fs.open(path, 'w'), path);
  }

  async add(batch: Buffer): Promise<void> {
    this.pending.push(batch);
    this.pendingBytes += batch.length;
    if (this.pendingBytes >= HOLD_BYTES) await this.write();
  }

  /** Writes what is pending, gives the file its sources' modification time (-1: none) and makes it durable. */
  async finish(modifiedMs: number): Promise<void> {
    await this.write();
    if (modifiedMs >= 0) await this.fs.setModifiedTime(this.fd, modifiedMs);
    await this.fs.fdatasync(this.fd);
  }

  async close(): Promise<void> {
    await this.fs.close(this.fd);
  }

  /** After a failure: closed and deleted (a start would delete it too). */
  async discard(): Promise<void> {
    await this.close().catch(() => undefined);
    await this.fs.unlink(this.path).catch(() => undefined);
  }

  private async write(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const written = await this.fs.writev(this.fd, this.pending, this.position);
    if (written !== this.pendingBytes) throw new KafkaError(ErrorCode.KAFKA_STORAGE_ERROR, `short write: ${written} of ${this.pendingBytes} bytes to ${this.path}`);
    this.position += written;
    this.pending = [];
    this.pendingBytes = 0;
    await this.io.didWrite(written);
  }
}

/**
 * Whether the cleanable segments have changed enough since the last pass: their new (dirty) bytes are at least
 * min.cleanable.dirty.ratio of all of them, or a dirty segment's first records are older than max.compaction.lag.ms.
 */
function worthCleaning(log: PartitionLog, cleanable: Segment[], now: number): boolean {
  const { cleanedThrough } = log.compaction;
  let dirty = 0;
  let total = 0;
  let overdue = false;
  for (const s of cleanable) {
    total += s.size;
    if (s.nextOffset <= cleanedThrough) continue;
    dirty += s.size;
    // records without timestamps (-1) make nothing overdue, as in Kafka
    const firstTimestamp = s.firstTimestamp;
    if (firstTimestamp >= 0 && now - firstTimestamp >= log.config.maxCompactionLagMs) overdue = true;
  }
  return dirty > 0 && (overdue || dirty >= total * log.config.minCleanableDirtyRatio);
}
