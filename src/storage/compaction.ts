import { Attributes, batchInfoAt, batchSizeAt, type BatchInfo } from '../protocol/record-batch.js';
import { buildRecordBatch, decodeBatchRecords, type KafkaRecord } from '../protocol/records.js';
import type { FileSystem } from '../io/file-system.js';
import type { PartitionLog } from './partition-log.js';
import { OffsetMap } from './offset-map.js';
import type { Segment } from './segment.js';

export interface CompactionResult {
  segmentsRewritten: number;
  recordsRemoved: number;
  /** Each maps as many keys as the map holds, then cleans (see compactLog). */
  rounds: number;
}

const CLEANED_SUFFIX = '.cleaned';
const READ_CHUNK_BYTES = 4 << 20;

/**
 * Calls `fn` for every batch in [from, to) of the log, in order, decoding one batch at a time, until it returns
 * false. A batch that cannot be decoded (corrupt, or its records past MAX_DECOMPRESSED_BYTES) comes with `records`
 * null: it is kept whole, and its keys supersede nothing.
 */
async function forEachBatch(
  log: PartitionLog,
  from: number,
  to: number,
  fn: (info: BatchInfo, records: KafkaRecord[] | null, raw: Buffer) => boolean,
): Promise<void> {
  let offset = from;
  while (offset < to) {
    const { records } = await log.read(offset, READ_CHUNK_BYTES);
    if (records.length === 0) return;
    for (let at = 0; at < records.length; ) {
      const size = batchSizeAt(records, at);
      if (size <= 0 || at + size > records.length) break; // a partial trailing batch: read again from its offset
      const raw = records.subarray(at, at + size);
      const info = batchInfoAt(raw, 0, size);
      if (info.baseOffset >= to) return;
      if (!fn(info, decodeBatchRecords(raw), raw)) return;
      offset = info.baseOffset + info.lastOffsetDelta + 1;
      at += size;
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
 * older than `delete.retention.ms`. Records of aborted transactions are removed and never count as a key's
 * latest; only segments below the last stable offset are cleaned, and markers are kept. Segments from the first
 * one with records younger than `min.compaction.lag.ms` on are left alone, and a pass runs only once enough is
 * new (see worthCleaning). Each changed segment is written anew beside the old one, fsync'd, and renamed over
 * it, so a crash mid-compaction loses nothing. Offsets never change; compaction leaves gaps.
 *
 * As in Kafka's log cleaner, only the cleanable segments' keys count (a record of the active segment supersedes
 * nothing yet), and only those not mapped by an earlier pass: the segments below them were cleaned against
 * everything before them, so each key appears there once. The keys are mapped in at most `mapBytes` of memory
 * (see OffsetMap); more distinct keys than that holds are cleaned in several rounds, each mapping the keys of the
 * next stretch of offsets and cleaning every segment below that stretch's end.
 */
export async function compactLog(log: PartitionLog, fs: FileSystem, now: number, mapBytes: number): Promise<CompactionResult> {
  const result: CompactionResult = { segmentsRewritten: 0, recordsRemoved: 0, rounds: 0 };
  if (!log.config.cleanupPolicy.includes('compact')) return result;
  const stableEnd = log.lastStableOffset;
  const { minCompactionLagMs } = log.config;
  const closed: Segment[] = [];
  for (const s of log.closedSegments()) {
    // a segment holding records younger than min.compaction.lag.ms stays as written, and so does what follows
    if (s.nextOffset > stableEnd || (minCompactionLagMs > 0 && s.maxTimestamp > now - minCompactionLagMs)) break;
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
  const tombstoneHorizon = now - log.config.deleteRetentionMs;
  do {
    map.clear();
    result.rounds++;
    const mappedEnd = await mapKeys(log, from, through, map);
    const segments = log.closedSegments().filter((s) => s.nextOffset <= through && s.baseOffset < mappedEnd);
    for (const segment of segments) await cleanSegment(log, fs, segment, map, mappedEnd, tombstoneHorizon, result);
    log.compaction.cleanedThrough = from = mappedEnd;
  } while (from < through);
  return result;
}

/**
 * Maps the latest offset of every key in [from, to), until the map is full; returns the offset of the first
 * record it did not map (`to` when it got through).
 */
async function mapKeys(log: PartitionLog, from: number, to: number, map: OffsetMap): Promise<number> {
  let end = to;
  await forEachBatch(log, from, to, (info, records) => {
    if (records === null || (info.attributes & Attributes.CONTROL) !== 0 || inAbortedTransaction(log, info)) return true;
    for (const r of records) {
      if (r.key === null || r.offset < from) continue;
      if (map.full && map.get(r.key) < 0) {
        end = r.offset;
        return false;
      }
      map.put(r.key, r.offset);
    }
    return true;
  });
  return end;
}

/**
 * Rewrites a segment without the records the map shows superseded, nor expired tombstones. Records from
 * `mappedEnd` on are kept: their keys were not looked at. A key the map does not hold has no record in the
 * mapped stretch, and at most one before it: its record there is still the latest.
 */
async function cleanSegment(
  log: PartitionLog,
  fs: FileSystem,
  segment: Segment,
  map: OffsetMap,
  mappedEnd: number,
  tombstoneHorizon: number,
  result: CompactionResult,
): Promise<void> {
  const rewritten: Buffer[] = [];
  let removed = 0;
  await forEachBatch(log, Math.max(segment.baseOffset, log.logStartOffset), segment.nextOffset, (info, records, raw) => {
    if ((info.attributes & Attributes.CONTROL) !== 0 || records === null) {
      rewritten.push(raw);
      return true;
    }
    if (inAbortedTransaction(log, info)) {
      removed += info.recordsCount;
      return true;
    }
    const keep = records.filter((r) => {
      if (r.key === null || r.offset >= mappedEnd) return true;
      if (map.get(r.key) > r.offset) return false;
      if (r.value !== null) return true;
      if (info.maxTimestamp < tombstoneHorizon) return false;
      log.compaction.nextTombstoneDueMs = Math.min(log.compaction.nextTombstoneDueMs, info.maxTimestamp + log.config.deleteRetentionMs);
      return true;
    });
    removed += records.length - keep.length;
    if (keep.length > 0) rewritten.push(keep.length === records.length ? raw : rebuild(info, keep));
    return true;
  });
  if (removed === 0) return;
  if (await writeCleaned(fs, segment, rewritten, log)) {
    result.segmentsRewritten++;
    result.recordsRemoved += removed;
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
    const firstTimestamp = s.timeIndex.count > 0 ? s.timeIndex.timestamps[0]! : s.maxTimestamp;
    if (now - firstTimestamp >= log.config.maxCompactionLagMs) overdue = true;
  }
  return dirty > 0 && (overdue || dirty >= total * log.config.minCleanableDirtyRatio);
}

/** A batch with some of its records, keeping its offsets, timestamps, producer fields and codec. */
function rebuild(info: BatchInfo, records: KafkaRecord[]): Buffer {
  return buildRecordBatch(
    records.map((r) => ({
      key: r.key, value: r.value, timestamp: r.timestamp, offsetDelta: r.offset - info.baseOffset,
      headers: r.headers.map((h) => ({ key: h.key, value: h.value })),
    })),
    {
      compression: info.attributes & Attributes.COMPRESSION_MASK,
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
    },
  );
}

async function writeCleaned(fs: FileSystem, segment: Segment, batches: Buffer[], log: PartitionLog): Promise<boolean> {
  const path = segment.logPath + CLEANED_SUFFIX;
  const fd = await fs.open(path, 'w');
  try {
    if (batches.length > 0) await fs.writev(fd, batches, 0);
    await fs.fdatasync(fd);
  } finally {
    await fs.close(fd);
  }
  return log.replaceSegment(segment, path);
}
