import { Attributes, batchInfoAt, batchSizeAt, type BatchInfo } from '../protocol/record-batch.js';
import { buildRecordBatch, ControlType, controlTypeAt, decodeBatchRecords, emptyBatchOf, visitRecordKeys, type KafkaRecord } from '../protocol/records.js';
import type { FileSystem } from '../io/file-system.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { LOG_PASS_READ_BYTES, type PartitionLog } from './partition-log.js';
import { OffsetMap } from './offset-map.js';
import type { Segment } from './segment.js';
import { compressionLevels } from './log-config.js';
import type { CompressionLevels } from '../protocol/compression.js';

export interface CompactionResult {
  /** Copies written, each replacing one segment or a group of them. */
  segmentsRewritten: number;
  /** Segments merged into the one before them. */
  segmentsMerged: number;
  recordsRemoved: number;
  /** Each maps as many keys as the map holds, then cleans (see compactLog). */
  rounds: number;
}

const CLEANED_SUFFIX = '.cleaned';
/** A cleaned copy is written in chunks of this, and a segment's unchanged batches are held up to it. */
const HOLD_BYTES = 4 << 20;
const MAX_RELATIVE_OFFSET = 2 ** 31 - 1;
/**
 * A pass gives the event loop back after this much work on the batches of a chunk. Each 1 MiB chunk took 4-5 ms
 * to map or to clean, and every request waited behind it: 1 KiB `fsync` appends had p50 12 ms during a pass over
 * 200 MiB (0.2 alone); 0.8 ms with this (`npm run bench:storage -- --compaction`), the pass no slower.
 */
const WORK_SLICE_MS = 0.25;

/**
 * Every batch in [from, to) of the log, in order, read in chunks of LOG_PASS_READ_BYTES, as its header fields and
 * its bytes (a view of the chunk). The caller's work on the batches counts towards WORK_SLICE_MS.
 */
async function* batchesIn(log: PartitionLog, from: number, to: number): AsyncGenerator<{ info: BatchInfo; raw: Buffer }> {
  let offset = from;
  while (offset < to) {
    const { records } = await log.read(offset, LOG_PASS_READ_BYTES);
    if (records.length === 0) return;
    let sliceStart = performance.now();
    for (let at = 0; at < records.length; ) {
      const size = batchSizeAt(records, at);
      if (size <= 0 || at + size > records.length) break; // a partial trailing batch: read again from its offset
      const raw = records.subarray(at, at + size);
      const info = batchInfoAt(raw, 0, size);
      if (info.baseOffset >= to) return;
      yield { info, raw };
      offset = info.baseOffset + info.lastOffsetDelta + 1;
      at += size;
      if (performance.now() - sliceStart >= WORK_SLICE_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
  }
}

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
 * next stretch of offsets and cleaning every segment below that stretch's end.
 */
export async function compactLog(log: PartitionLog, fs: FileSystem, now: number, mapBytes: number): Promise<CompactionResult> {
  const result: CompactionResult = { segmentsRewritten: 0, segmentsMerged: 0, recordsRemoved: 0, rounds: 0 };
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
  const map = new OffsetMap(through - from, mapBytes);
  do {
    map.clear();
    result.rounds++;
    const mappedEnd = await mapKeys(log, from, through, map);
    const segments = log.closedSegments().filter((s) => s.nextOffset <= through && s.baseOffset < mappedEnd);
    const pass: CleaningPass = { map, mappedEnd, now, withData: new Set(), withBatches: new Set(), abortsForgotten: new Set() };
    for (const group of groupsOf(segments, log.config.segmentBytes)) await cleanGroup(log, fs, group, pass, result);
    log.compaction.cleanedThrough = from = mappedEnd;
  } while (from < through);
  return result;
}

/**
 * Maps the latest offset of every key in [from, to), until the map is full; returns the offset of the first
 * record it did not map (`to` when it got through). A batch that cannot be decoded (corrupt, or its records past
 * MAX_DECOMPRESSED_BYTES) supersedes nothing.
 */
async function mapKeys(log: PartitionLog, from: number, to: number, map: OffsetMap): Promise<number> {
  let unmapped = -1;
  const mapRecord = (records: Buffer, keyStart: number, keyEnd: number, offset: number): boolean => {
    if (keyStart < 0 || offset < from) return false;
    if (map.full && map.get(records, keyStart, keyEnd) < 0) {
      unmapped = offset;
      return true;
    }
    map.put(records, offset, keyStart, keyEnd);
    return false;
  };
  for await (const { info, raw } of batchesIn(log, from, to)) {
    if ((info.attributes & Attributes.CONTROL) !== 0 || inAbortedTransaction(log, info)) continue;
    visitRecordKeys(raw, info, mapRecord);
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
  let copy = group.length > 1 ? await CleanedCopy.create(fs, path) : null;
  pass.abortsForgotten = new Set();
  let held: Buffer[] = [];
  let heldBytes = 0;
  /** Unchanged batches from `start` up to here were let go. */
  let releasedTo = start;
  let removed = 0;
  try {
    for await (const { info, raw } of batchesIn(log, start, end)) {
      const kept = keptPart(log, info, raw, pass);
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
        copy = await CleanedCopy.create(fs, path);
        for await (const unchanged of batchesIn(log, start, releasedTo)) await copy.add(unchanged.raw);
        for (const b of held) await copy.add(b);
        held = [];
      }
      if (kept.bytes !== null) await copy.add(kept.bytes);
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
  /** The latest offset of each key in the stretch mapped for this round. */
  map: OffsetMap;
  /** The first offset past that stretch: records from there on are kept as they are. */
  mappedEnd: number;
  now: number;
  /** Producers whose committed transaction has a batch that keeps records, met since their last marker. */
  withData: Set<number>;
  /** Producers with a transactional batch met since their last marker, whether it stays or goes. */
  withBatches: Set<number>;
  /** The offsets of the ABORT markers in the group being cleaned whose transactions have no batch left (see keptMarker). */
  abortsForgotten: Set<number>;
}

/**
 * What a segment's copy keeps of a batch: the batch itself when nothing changes, a rebuilt batch of the records
 * that stay, or nothing. Batches that cannot be decoded are kept whole; records of aborted transactions all go;
 * markers as keptMarker says.
 *
 * Tombstones go by a delete horizon, as in Kafka since KIP-534: the first pass that keeps a batch's tombstones
 * writes `now` + delete.retention.ms into its header, and a later pass drops them once that time has come. So a
 * tombstone stays delete.retention.ms after it was first cleaned, whatever timestamp its producer gave it: a
 * consumer reading from the start of the log has that long to see it. (Aged by their timestamps before
 * 2026-12-04, tombstones with an old one, mirrored from another cluster for example, went at the first pass.)
 * A kept tombstone's horizon is noted, so that a pass runs when it comes.
 */
function keptPart(log: PartitionLog, info: BatchInfo, raw: Buffer, pass: CleaningPass): { bytes: Buffer | null; removed: number } {
  if ((info.attributes & Attributes.CONTROL) !== 0) return keptMarker(log, info, raw, pass);
  const kept = inAbortedTransaction(log, info) ? { bytes: null, removed: info.recordsCount } : keptRecords(log, info, raw, pass);
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
 * What stays of a data batch's records: those without a key, or past the mapped stretch, or their key's latest, but
 * for tombstones past their delete horizon. The batch is walked without decoding its records (most batches keep
 * every one), and decoded only to be rebuilt.
 */
function keptRecords(log: PartitionLog, info: BatchInfo, raw: Buffer, pass: CleaningPass): { bytes: Buffer | null; removed: number } {
  const { map, mappedEnd, now } = pass;
  if (info.baseOffset >= mappedEnd) return { bytes: raw, removed: 0 }; // its keys were not looked at: nothing to read
  if (info.recordsCount === 0) return { bytes: null, removed: 0 }; // left empty by an earlier pass (see keptPart)
  const horizon = deleteHorizon(log, info, now);
  /** The positions in the batch of the records that go, in order. */
  const gone: number[] = [];
  let tombstones = false;
  let index = -1;
  const readable = visitRecordKeys(raw, info, (records, keyStart, keyEnd, offset, valueNull) => {
    index++;
    if (keyStart < 0 || offset >= mappedEnd) return;
    if (map.get(records, keyStart, keyEnd) > offset || (valueNull && now >= horizon.at)) gone.push(index);
    else if (valueNull) tombstones = true;
  });
  if (!readable) return { bytes: raw, removed: 0 };
  if (tombstones) log.compaction.nextTombstoneDueMs = Math.min(log.compaction.nextTombstoneDueMs, horizon.at);
  const removed = gone.length;
  if (removed === 0 && (horizon.set || !tombstones)) return { bytes: raw, removed };
  if (removed === info.recordsCount) return { bytes: null, removed };
  const records = decodeBatchRecords(raw);
  if (records === null) return { bytes: raw, removed: 0 };
  let next = 0;
  const keep = records.filter((_r, i) => (i === gone[next] ? (next++, false) : true));
  return { bytes: rebuild(info, keep, compressionLevels(log.config), horizon.set || tombstones ? horizon.at : undefined), removed };
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
function keptMarker(log: PartitionLog, info: BatchInfo, raw: Buffer, pass: CleaningPass): { bytes: Buffer | null; removed: number } {
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
  const horizon = deleteHorizon(log, info, pass.now);
  if (pass.now >= horizon.at) return { bytes: null, removed: info.recordsCount };
  log.compaction.nextTombstoneDueMs = Math.min(log.compaction.nextTombstoneDueMs, horizon.at);
  const records = horizon.set ? null : decodeBatchRecords(raw);
  return { bytes: records ? rebuild(info, records, compressionLevels(log.config), horizon.at) : raw, removed: 0 };
}

/** A batch's delete horizon: the one in its header, or the one a pass at `now` gives it. */
function deleteHorizon(log: PartitionLog, info: BatchInfo, now: number): { set: boolean; at: number } {
  const set = (info.attributes & Attributes.DELETE_HORIZON) !== 0;
  return { set, at: set ? info.baseTimestamp : now + log.config.deleteRetentionMs };
}

/** A segment's cleaned copy, written in writes of up to HOLD_BYTES as batches are added. */
class CleanedCopy {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private position = 0;

  private constructor(
    private readonly fs: FileSystem,
    private readonly fd: number,
    readonly path: string,
  ) {}

  static async create(fs: FileSystem, path: string): Promise<CleanedCopy> {
    return new CleanedCopy(fs, await fs.open(path, 'w'), path);
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

/**
 * A batch with some of its records, keeping its offsets, timestamps, producer fields and codec; with
 * `deleteHorizonMs`, given that delete horizon.
 */
function rebuild(info: BatchInfo, records: KafkaRecord[], levels: Readonly<CompressionLevels>, deleteHorizonMs: number | undefined): Buffer {
  return buildRecordBatch(
    records.map((r) => ({
      key: r.key, value: r.value, timestamp: r.timestamp, offsetDelta: r.offset - info.baseOffset,
      headers: r.headers.map((h) => ({ key: h.key, value: h.value })),
    })),
    {
      compression: info.attributes & Attributes.COMPRESSION_MASK,
      compressionLevels: levels,
      baseOffset: info.baseOffset,
      producerId: info.producerId,
      producerEpoch: info.producerEpoch,
      baseSequence: info.baseSequence,
      transactional: (info.attributes & Attributes.TRANSACTIONAL) !== 0,
      control: (info.attributes & Attributes.CONTROL) !== 0,
      logAppendTime: (info.attributes & Attributes.TIMESTAMP_LOG_APPEND) !== 0,
      lastOffsetDelta: info.lastOffsetDelta,
      baseTimestamp: info.baseTimestamp,
      maxTimestamp: info.maxTimestamp,
      deleteHorizonMs,
    },
  );
}
