import type { CompressionLevels } from '../protocol/compression.js';
import { Attributes, type BatchInfo } from '../protocol/record-batch.js';
import { buildRecordBatch, decodeBatchRecords, visitRecords, type KafkaRecord } from '../protocol/records.js';
import type { OffsetMap } from './offset-map.js';

/** What a compaction round's copy keeps of a data batch whose records were looked at. */
export const Verdict = {
  /** The batch as it is. */
  KEEP: 0,
  /** Nothing: every record goes. */
  REMOVE: 1,
  /** A batch rebuilt of the records that stay. */
  REBUILD: 2,
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** What a round's judging of records needs besides the key map. */
export interface CleaningRound {
  /** The first offset past the stretch mapped this round: records from there on are kept as they are. */
  mappedEnd: number;
  now: number;
  deleteRetentionMs: number;
  levels: CompressionLevels;
}

export interface JudgedBatch {
  verdict: Verdict;
  /** The rebuilt batch, for REBUILD. */
  rebuilt: Buffer | null;
  removed: number;
  /** The delete horizon of the tombstones the batch keeps (Infinity: it keeps none). */
  tombstoneDueMs: number;
}

const KEPT_AS_IS: JudgedBatch = { verdict: Verdict.KEEP, rebuilt: null, removed: 0, tombstoneDueMs: Infinity };

/**
 * What stays of a data batch's records (one below the round's mapped end, with records, of no aborted transaction):
 * those without a key, or past the mapped stretch, or their key's latest, but for tombstones past their delete
 * horizon. The batch is walked without decoding its records (most batches keep every one), and decoded only to be
 * rebuilt. A batch that cannot be decoded is kept whole.
 *
 * Tombstones go by a delete horizon, as in Kafka since KIP-534: the first pass that keeps a batch's tombstones
 * writes `now` + delete.retention.ms into its header, and a later pass drops them once that time has come. So a
 * tombstone stays delete.retention.ms after it was first cleaned, whatever timestamp its producer gave it: a
 * consumer reading from the start of the log has that long to see it.
 */
export function judgeRecords(raw: Buffer, info: BatchInfo, map: OffsetMap, round: CleaningRound): JudgedBatch {
  const { mappedEnd, now } = round;
  const horizon = deleteHorizon(info, now, round.deleteRetentionMs);
  /** The positions in the batch of the records that go, in order. */
  const gone: number[] = [];
  let tombstones = false;
  let index = -1;
  const readable = visitRecords(raw, info, (records, keyStart, keyEnd, offset, valueNull) => {
    index++;
    if (keyStart < 0 || offset >= mappedEnd) return;
    if (map.get(records, keyStart, keyEnd) > offset || (valueNull && now >= horizon.at)) gone.push(index);
    else if (valueNull) tombstones = true;
  });
  if (!readable) return KEPT_AS_IS;
  const tombstoneDueMs = tombstones ? horizon.at : Infinity;
  const removed = gone.length;
  if (removed === 0 && (horizon.set || !tombstones)) return { ...KEPT_AS_IS, tombstoneDueMs };
  if (removed === info.recordsCount) return { verdict: Verdict.REMOVE, rebuilt: null, removed, tombstoneDueMs };
  const records = decodeBatchRecords(raw);
  if (records === null) return { ...KEPT_AS_IS, tombstoneDueMs };
  let next = 0;
  const keep = records.filter((_r, i) => (i === gone[next] ? (next++, false) : true));
  const rebuilt = rebuild(info, keep, round.levels, horizon.set || tombstones ? horizon.at : undefined);
  return { verdict: Verdict.REBUILD, rebuilt, removed, tombstoneDueMs };
}

/** A batch's delete horizon: the one in its header, or the one a pass at `now` gives it. */
export function deleteHorizon(info: BatchInfo, now: number, deleteRetentionMs: number): { set: boolean; at: number } {
  const set = (info.attributes & Attributes.DELETE_HORIZON) !== 0;
  return { set, at: set ? info.baseTimestamp : now + deleteRetentionMs };
}

/**
 * A batch with some of its records, keeping its offsets, timestamps, producer fields and codec; with
 * `deleteHorizonMs`, given that delete horizon.
 */
export function rebuild(info: BatchInfo, records: KafkaRecord[], levels: Readonly<CompressionLevels>, deleteHorizonMs: number | undefined): Buffer {
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
