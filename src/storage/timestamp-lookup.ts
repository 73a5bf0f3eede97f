import { Batch, batchInfoAt, batchSizeAt, readInt64 } from '../protocol/record-batch.js';
import { firstRecordAtTime, visitRecords, type TimedOffset } from '../protocol/records.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { LOG_PASS_READ_BYTES, type PartitionLog } from './partition-log.js';

// ListOffsets by time over a partition's log: passes through what readers see (PartitionLog.read), guided by the
// segments' tracked maximum timestamps and time indexes; nothing here changes the log.

/**
 * Looks into one whole batch for its first record at or after an offset with a timestamp at least the target (see
 * firstRecordAtTime); a caller may have it done elsewhere than on the event loop.
 */
export type BatchTimeSearch = (batch: Buffer, fromOffset: number, target: number) => TimedOffset | null | Promise<TimedOffset | null>;

/**
 * The first record whose timestamp is >= `target` (ListOffsets by time): it may sit inside a batch, so the
 * matching batch is looked into (`search`); earlier batches are skipped by their header's max timestamp. Null if none.
 */
export async function offsetForTimestamp(log: PartitionLog, target: number, search: BatchTimeSearch = firstRecordAtTime): Promise<TimedOffset | null> {
  for (const segment of log.segments.slice()) {
    if (segment.maxTimestamp < target) continue;
    await log.useIndexes(segment);
    let offset = segment.baseOffset + segment.timeIndex.lookup(target);
    while (offset < log.highWatermark) {
      // retention or DeleteRecords may move the log start while this awaits: what lies below it is gone
      offset = Math.max(offset, log.logStartOffset);
      let records: Buffer;
      try {
        ({ records } = await log.read(offset, LOG_PASS_READ_BYTES));
      } catch (err) {
        if (err instanceof KafkaError && err.code === ErrorCode.OFFSET_OUT_OF_RANGE && offset < log.logStartOffset) continue;
        throw err;
      }
      if (records.length === 0) break;
      let at = 0;
      while (at < records.length) {
        const size = batchSizeAt(records, at);
        const batchEnd = readInt64(records, at + Batch.BASE_OFFSET) + records.readInt32BE(at + Batch.LAST_OFFSET_DELTA) + 1;
        const maxTimestamp = readInt64(records, at + Batch.MAX_TIMESTAMP);
        if (maxTimestamp >= target && batchEnd > offset) {
          const found = await search(records.subarray(at, at + size), offset, target);
          if (found !== null) return found;
        }
        offset = Math.max(offset, batchEnd);
        at += size;
      }
    }
  }
  return null;
}

/**
 * The first record with the largest timestamp between the log start offset and the high watermark
 * (ListOffsets MAX_TIMESTAMP), or null when there is none.
 */
export async function maxTimestampRecord(log: PartitionLog, search: BatchTimeSearch = firstRecordAtTime): Promise<TimedOffset | null> {
  let newest = -1;
  for (const s of log.segments) if (s.maxTimestamp > newest) newest = s.maxTimestamp;
  if (newest < 0) return null;
  const found = await offsetForTimestamp(log, newest, search);
  if (found) return found;
  // the newest timestamp is outside what readers see (deleted by DeleteRecords, or not durable yet)
  const visible = await maxVisibleTimestamp(log);
  return visible < 0 ? null : offsetForTimestamp(log, visible, search);
}

/**
 * The largest timestamp between the log start offset and the high watermark. A segment wholly inside gives its
 * tracked maximum; otherwise the time index's last entry below the high watermark, and the batches after the
 * offset index entry it covers up to (headers only), or, when that entry lies before the log start, every
 * visible batch (headers only, except a batch the log start cuts through).
 */
async function maxVisibleTimestamp(log: PartitionLog): Promise<number> {
  let max = -1;
  for (const segment of log.segments.slice()) {
    const from = Math.max(segment.baseOffset, log.logStartOffset);
    const to = Math.min(segment.nextOffset, log.highWatermark);
    if (from >= to) continue;
    if (from === segment.baseOffset && to === segment.nextOffset) {
      max = Math.max(max, segment.maxTimestamp);
      continue;
    }
    await log.useIndexes(segment);
    const { timestamps, relOffsets } = segment.timeIndex;
    let k = segment.timeIndex.count - 1;
    while (k >= 0 && segment.baseOffset + relOffsets[k]! >= to) k--;
    let scanFrom = from;
    if (k >= 0 && segment.baseOffset + relOffsets[k]! >= from) {
      // carried by a visible batch, and the largest of every batch up to the last offset index entry below
      // `to` (see Segment.indexBatch): only the batches from that entry on are read
      max = Math.max(max, timestamps[k]!);
      const index = segment.offsetIndex;
      let p = index.count - 1;
      while (p > 0 && segment.baseOffset + index.relOffsets[p]! >= to) p--;
      scanFrom = Math.max(from, segment.baseOffset + index.relOffsets[p]!);
    }
    for (let offset = scanFrom; offset < to; ) {
      const { records } = await log.read(offset, LOG_PASS_READ_BYTES, to);
      if (records.length === 0) break;
      for (let at = 0; at < records.length; ) {
        const size = batchSizeAt(records, at);
        const info = batchInfoAt(records, at, size);
        const from = offset;
        const readable =
          info.baseOffset < from &&
          visitRecords(records.subarray(at, at + size), info, (_records, _keyStart, _keyEnd, recordOffset, _valueNull, timestamp) => {
            if (recordOffset >= from) max = Math.max(max, timestamp);
          });
        // a batch wholly visible, or one that cannot be looked into: its header's max timestamp
        if (!readable) max = Math.max(max, info.maxTimestamp);
        offset = Math.max(offset, info.baseOffset + info.lastOffsetDelta + 1);
        at += size;
      }
    }
  }
  return max;
}
