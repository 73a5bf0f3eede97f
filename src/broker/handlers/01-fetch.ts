// Fetch (key 1), v4-17 (v0-3 would need the old message formats). Behavior: whole stored batches from the
// requested offset, bounded by partition_max_bytes and max_bytes (the first batch is always whole, KIP-74);
// long poll: when fewer than min_bytes are available the request waits up to max_wait_ms and is woken by
// appends to any partition it asked for. Fetch sessions (KIP-227) are answered session-less (session id 0),
// which clients accept and which makes every fetch a full fetch; an incremental request for a session id we
// never issued gets FETCH_SESSION_ID_NOT_FOUND. v13+ name topics by id. read_committed fetches stop at the last
// stable offset and list the aborted transactions in the range they return, which clients filter out.
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type {
  FetchRequest,
  FetchResponse,
  FetchResponseFetchableTopicResponse,
  FetchResponsePartitionData,
} from '../../protocol/messages.generated.js';
import { Batch, batchSizeAt, readInt64 } from '../../protocol/record-batch.js';
import type { PartitionLog } from '../../storage/partition-log.js';
import type { Broker } from '../broker.js';
import type { ApiHandler } from '../handler.js';
import { toErrorCode } from './errors.js';

const EMPTY = Buffer.alloc(0);
const READ_COMMITTED = 1;

interface Slot {
  out: FetchResponsePartitionData;
  log: PartitionLog | null;
  fetchOffset: number;
  maxBytes: number;
  readCommitted: boolean;
  /** The high watermark when the last read began: an append after that must wake the long poll. */
  seenHighWatermark: number;
}

export const fetch: ApiHandler<FetchRequest, FetchResponse> = {
  apiKey: 1,
  minVersion: 4,
  maxVersion: 17,
  async handle({ broker, version }, req) {
    if ((req.sessionId ?? 0) !== 0) {
      return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] };
    }
    const byId = version >= 13;
    const readCommitted = req.isolationLevel === READ_COMMITTED;
    const responses: FetchResponseFetchableTopicResponse[] = [];
    const slots: Slot[] = [];
    for (const t of req.topics) {
      const topic = byId ? broker.topicById(t.topicId!) : broker.logs.topics.get(t.topic!);
      const partitions: FetchResponsePartitionData[] = [];
      responses.push({ topic: t.topic, topicId: t.topicId, partitions });
      for (const p of t.partitions) {
        const out: FetchResponsePartitionData = {
          partitionIndex: p.partition, errorCode: 0, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1,
          abortedTransactions: readCommitted ? [] : null, preferredReadReplica: -1, records: EMPTY,
        };
        partitions.push(out);
        const log = topic?.partitions[p.partition] ?? null;
        if (!log) out.errorCode = topic || !byId ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.UNKNOWN_TOPIC_ID;
        slots.push({ out, log, fetchOffset: p.fetchOffset, maxBytes: p.partitionMaxBytes, readCommitted, seenHighWatermark: -1 });
      }
    }
    const deadline = Date.now() + Math.max(0, req.maxWaitMs);
    for (;;) {
      const total = await readAll(slots, req.maxBytes ?? 0x7fffffff);
      const anyError = slots.some((s) => s.out.errorCode !== 0);
      const remaining = deadline - Date.now();
      if (total >= req.minBytes || anyError || remaining <= 0 || broker.isClosing) break;
      await waitForAppend(broker, slots, remaining);
    }
    return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses, nodeEndpoints: [] };
  },
};

async function readAll(slots: Slot[], maxBytes: number): Promise<number> {
  let budget = maxBytes;
  let total = 0;
  for (const slot of slots) {
    const { out, log } = slot;
    if (!log) continue;
    slot.seenHighWatermark = log.highWatermark;
    try {
      const limit = Math.min(slot.maxBytes, budget);
      const lastStable = log.lastStableOffset;
      const upTo = slot.readCommitted ? lastStable : log.highWatermark;
      const res = limit > 0 || total === 0 ? await log.read(slot.fetchOffset, Math.max(limit, 1), upTo) : null;
      out.highWatermark = log.highWatermark;
      out.lastStableOffset = lastStable;
      out.logStartOffset = log.logStartOffset;
      out.records = res ? res.records : EMPTY;
      if (slot.readCommitted && out.records.length > 0) {
        out.abortedTransactions = log.transactions
          .abortedBetween(slot.fetchOffset, endOffsetOf(out.records))
          .map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }));
      }
      out.errorCode = 0;
      total += out.records!.length;
      budget -= out.records!.length;
    } catch (err) {
      const { errorCode } = toErrorCode(err);
      out.errorCode = errorCode;
      out.highWatermark = log.highWatermark;
      out.lastStableOffset = log.lastStableOffset;
      out.logStartOffset = log.logStartOffset;
      out.records = EMPTY;
      if (!(err instanceof KafkaError)) throw err;
    }
  }
  return total;
}

/** The offset after the last batch of `records` (whole batches; only their headers are read). */
function endOffsetOf(records: Buffer): number {
  let end = 0;
  for (let at = 0; at + Batch.LOG_OVERHEAD <= records.length; ) {
    const size = batchSizeAt(records, at);
    end = readInt64(records, at + Batch.BASE_OFFSET) + records.readInt32BE(at + Batch.LAST_OFFSET_DELTA) + 1;
    at += size;
  }
  return end;
}

/** Waits for an append to any of the slots' partitions, including one that landed while they were being read. */
function waitForAppend(broker: Broker, slots: Slot[], timeoutMs: number): Promise<void> {
  if (slots.some((s) => s.log && s.log.highWatermark !== s.seenHighWatermark)) return Promise.resolve();
  return new Promise((resolve) => {
    const cancels: (() => void)[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const c of cancels) c();
      resolve();
    };
    const timer = setTimeout(finish, timeoutMs);
    for (const s of slots) if (s.log) cancels.push(s.log.onAppend(finish));
    cancels.push(broker.onClosing(finish));
  });
}
