// Fetch (key 1), v0-17; v0-3 answer with message sets of the old formats (magic 0 for v0-1, magic 1 for v2-3),
// converted from the batches read (protocol/message-sets.ts; in the records thread where that decodes 64 KiB or
// more, as a compressed batch of millions of records may), and read up to the high watermark, uncommitted
// transactions included, as they have no isolation level. Behavior: whole stored batches from the
// requested offset, bounded by partition_max_bytes and max_bytes (the first batch is always whole, KIP-74), the
// partitions read together in waves (readAll);
// long poll: when fewer than min_bytes are available the request waits up to max_wait_ms and is woken by
// appends to any partition it asked for. Fetch sessions (KIP-227) are answered session-less (session id 0),
// which clients accept and which makes every fetch a full fetch; an incremental request for a session id we
// never issued gets FETCH_SESSION_ID_NOT_FOUND. v13+ name topics by id. read_committed fetches stop at the last
// stable offset and list the aborted transactions in the range they return, which clients filter out.
// Reads land in the broker's buffer pool; the memory goes back once the response is written. A topic the client
// may not READ answers TOPIC_AUTHORIZATION_FAILED (one asked for by an unknown id, UNKNOWN_TOPIC_ID).
// Quotas: a client with a consumer_byte_rate reads at most what its quota allows over its whole measuring span (max
// and min bytes capped, as Kafka caps them); the records it gets count toward the quota, and a fetch that goes past
// it is answered without any partition, with the time to wait (its bytes then taken back out), and mutes the
// connection for that long.
import { ErrorCode } from '../../protocol/errors.js';
import type {
  FetchRequest,
  FetchResponse,
  FetchResponseFetchableTopicResponse,
  FetchResponsePartitionData,
} from '../../protocol/messages.generated.js';
import { Batch, batchSizeAt, readInt64 } from '../../protocol/record-batch.js';
import { messageSetMagicFor } from '../../protocol/message-sets.js';
import type { PartitionLog, ReadMemory } from '../../storage/partition-log.js';
import type { FetchMemory } from '../fetch-memory.js';
import type { BufferPool } from '../buffer-pool.js';
import type { Broker } from '../broker.js';
import type { ApiHandler } from '../handler.js';
import { messageSet } from '../records-work.js';
import { toErrorCode } from './errors.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import type { StorageErrorLog } from '../storage-error-log.js';
import type { TopicCounters } from '../broker-metrics.js';

const EMPTY = Buffer.alloc(0);
const FETCH_KEY = 1;
const READ_COMMITTED = 1;
const FIRST_RECORD_BATCH_VERSION = 4;

interface Slot {
  out: FetchResponsePartitionData;
  log: PartitionLog | null;
  fetchOffset: number;
  maxBytes: number;
  readCommitted: boolean;
  /** The high watermark when the last read began: an append after that must wake the long poll. */
  seenHighWatermark: number;
  /** Its topic's metrics; null where no topic of the name may be read. */
  counters: TopicCounters | null;
}

export const fetch: ApiHandler<FetchRequest, FetchResponse> = {
  apiKey: 1,
  minVersion: 0,
  maxVersion: 17,
  async handle({ broker, version, connection, afterResponseWritten }, req) {
    if ((req.sessionId ?? 0) !== 0) {
      broker.metrics.errorsAnswered(FETCH_KEY, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
      return { throttleTimeMs: 0, errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, sessionId: 0, responses: [] };
    }
    const byId = version >= 13;
    const readCommitted = req.isolationLevel === READ_COMMITTED;
    const responses: FetchResponseFetchableTopicResponse[] = [];
    const slots: Slot[] = [];
    for (const t of req.topics) {
      const topic = byId ? broker.topicById(t.topicId!) : broker.logs.topics.get(t.topic!);
      const name = byId ? topic?.name : t.topic!;
      const refused = name !== undefined && !broker.allows(connection, AclOperation.READ, ResourceType.TOPIC, name);
      const counters = topic && !refused ? broker.metrics.topic(topic.name) : null;
      const partitions: FetchResponsePartitionData[] = [];
      responses.push({ topic: t.topic, topicId: t.topicId, partitions });
      for (const p of t.partitions) {
        const out: FetchResponsePartitionData = {
          partitionIndex: p.partition, errorCode: 0, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1,
          abortedTransactions: readCommitted ? [] : null, preferredReadReplica: -1, records: EMPTY,
        };
        partitions.push(out);
        const log = refused ? null : (topic?.partitions[p.partition] ?? null);
        if (refused) out.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
        else if (!log) out.errorCode = topic || !byId ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.UNKNOWN_TOPIC_ID;
        slots.push({ out, log, fetchOffset: p.fetchOffset, maxBytes: p.partitionMaxBytes, readCommitted, seenHighWatermark: -1, counters });
      }
    }
    const deadline = Date.now() + Math.max(0, req.maxWaitMs);
    const memory = new LentMemory(broker.bufferPool, broker.fetchMemory);
    const quotaCap = broker.throttling.fetchByteCap(connection);
    const minBytes = Math.min(req.minBytes, quotaCap);
    let total = 0;
    try {
      for (;;) {
        const maxBytes = memory.reserve(Math.min(req.maxBytes ?? 0x7fffffff, quotaCap));
        total = await readAll(slots, maxBytes, memory, broker.storageErrors);
        // what counts against min_bytes is what the client gets: batches of control records alone convert to nothing
        if (version < FIRST_RECORD_BATCH_VERSION) total = await toMessageSets(slots, messageSetMagicFor(version), version >= 3 ? maxBytes : null);
        memory.settle();
        const anyError = slots.some((s) => s.out.errorCode !== 0);
        const remaining = deadline - Date.now();
        if (total >= minBytes || anyError || remaining <= 0 || broker.isClosing) break;
        // every slot is read again after the wait: a parked fetch holds no memory
        memory.giveBackAll();
        await waitForAppend(broker, slots, remaining);
      }
    } catch (err) {
      memory.giveBackAll();
      throw err;
    }
    const throttleTimeMs = broker.throttling.recordFetch(connection, total);
    let failed = 0;
    for (const { counters, out } of slots) {
      broker.metrics.count(counters, 'fetchRequests');
      if (out.errorCode !== ErrorCode.NONE) {
        failed++;
        broker.metrics.count(counters, 'failedFetchRequests');
        if (throttleTimeMs === 0) broker.metrics.errorsAnswered(FETCH_KEY, out.errorCode);
      } else if (throttleTimeMs === 0) {
        broker.metrics.count(counters, 'bytesOut', out.records?.length ?? 0);
      }
    }
    // a throttled fetch is answered without its partitions: its own NONE only
    broker.metrics.errorsAnswered(FETCH_KEY, ErrorCode.NONE, (throttleTimeMs > 0 ? 0 : slots.length - failed) + 1);
    if (throttleTimeMs > 0) {
      memory.giveBackAll();
      return { throttleTimeMs, errorCode: 0, sessionId: 0, responses: [], nodeEndpoints: [] };
    }
    afterResponseWritten(() => memory.giveBackAll());
    return { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses, nodeEndpoints: [] };
  },
};

/**
 * The pool's memory a fetch's reads took: the response's records are views of it until it is written. It is
 * counted in the broker's fetch memory: what a pass may read while it reads, then what it took.
 */
class LentMemory implements ReadMemory {
  private taken: Buffer[] = [];
  private takenBytes = 0;
  private counted = 0;

  constructor(
    private readonly pool: BufferPool,
    private readonly fetches: FetchMemory,
  ) {}

  /** What the next pass may read, counted before it reads (a pass starts with nothing taken). */
  reserve(maxBytes: number): number {
    this.counted = this.fetches.reserve(maxBytes);
    return this.counted;
  }

  /** The pass is read: what it took stays counted, the rest of what it may have read no longer is. */
  settle(): void {
    this.fetches.recount(this.counted, this.takenBytes);
    this.counted = this.takenBytes;
  }

  take(size: number): Buffer {
    const buffer = this.pool.take(size);
    this.taken.push(buffer); // the pool ignores the small ones it did not lend
    this.takenBytes += buffer.length;
    return buffer;
  }

  giveBackAll(): void {
    for (const buffer of this.taken) this.pool.giveBack(buffer);
    this.taken = [];
    this.takenBytes = 0;
    this.fetches.recount(this.counted, 0);
    this.counted = 0;
  }
}

type ReadOutcome = { records: Buffer } | { error: unknown };

/** A slot's read in flight: the limit it was read with, and at most how much its partition could give. */
interface PlannedRead {
  slot: Slot;
  log: PartitionLog;
  limit: number;
  readable: number;
  lastStable: number;
  upTo: number;
  outcome: Promise<ReadOutcome>;
}

/** A read whose failure is kept as its outcome: reads in flight together must not leave a rejection unhandled. */
function readRecords(log: PartitionLog, offset: number, limit: number, upTo: number, memory: ReadMemory): Promise<ReadOutcome> {
  return log.read(offset, limit, upTo, memory).then((r) => ({ records: r.records }), (error: unknown) => ({ error }));
}

/**
 * Reads the slots' partitions with the outcome of one pass in request order (each partition bounded by its
 * partition_max_bytes and what max_bytes has left, whole batches, the first batch of the response always whole),
 * but with the reads of a wave in flight together: a fetch over 10,000 partitions paid one I/O round trip per
 * partition, one after another. A wave takes slots in order while what their reads may return still fits the budget;
 * each result is then cut to the limit the pass in order gives it, or read again should that limit be larger than
 * the one it was read with while its partition may hold more (a partition's readable bytes bound what it returns).
 */
async function readAll(slots: Slot[], maxBytes: number, memory: ReadMemory, storageErrors: StorageErrorLog): Promise<number> {
  let budget = maxBytes;
  let total = 0;
  for (let next = 0; next < slots.length; ) {
    const wave: PlannedRead[] = [];
    let reserved = 0;
    for (; next < slots.length; next++) {
      const slot = slots[next]!;
      const log = slot.log;
      if (!log) continue;
      const room = budget - reserved;
      if (room <= 0 && wave.length > 0) break;
      slot.seenHighWatermark = log.highWatermark;
      if (room <= 0 && total > 0) {
        // nothing left for it: it answers without records (an offset out of range is still reported), as will every
        // slot after it
        try {
          log.checkReadable(slot.fetchOffset);
        } catch (err) {
          slot.out.errorCode = toErrorCode(err).errorCode;
        }
        fill(slot, log, EMPTY, log.lastStableOffset);
        continue;
      }
      const lastStable = log.lastStableOffset;
      const upTo = slot.readCommitted ? lastStable : log.highWatermark;
      const limit = Math.max(Math.min(slot.maxBytes, room), 1);
      const readable = log.readableBytes(slot.fetchOffset, upTo);
      if (readable === 0) {
        // caught up: answered now, without a read and its promise (a consumer of 10,000 partitions that keeps up
        // asks for all of them at every fetch, and most have nothing new)
        slot.out.errorCode = 0;
        fill(slot, log, EMPTY, lastStable);
        continue;
      }
      wave.push({ slot, log, limit, readable, lastStable, upTo, outcome: readRecords(log, slot.fetchOffset, limit, upTo, memory) });
      reserved += Math.min(readable, limit);
    }
    for (const planned of wave) {
      const { slot, log } = planned;
      const limit = Math.min(slot.maxBytes, budget);
      let outcome = await planned.outcome;
      if ('records' in outcome && outcome.records.length > 0 && limit > planned.limit && planned.readable > planned.limit) {
        // read with less room than it turns out to have, while its partition may hold more
        outcome = await readRecords(log, slot.fetchOffset, limit, planned.upTo, memory);
      }
      if ('error' in outcome) {
        // the partition's own failure (a Kafka error, or the disk's: KAFKA_STORAGE_ERROR); anything else is a bug
        const { errorCode } = toErrorCode(outcome.error);
        if (errorCode === ErrorCode.UNKNOWN_SERVER_ERROR) throw outcome.error;
        storageErrors.failed(outcome.error, `${log.topic}-${log.partition}`);
        slot.out.errorCode = errorCode;
        fill(slot, log, EMPTY, log.lastStableOffset);
        continue;
      }
      const records = limit <= 0 && total > 0 ? EMPTY : wholeBatchesWithin(outcome.records, Math.max(limit, 1));
      slot.out.errorCode = 0;
      fill(slot, log, records, planned.lastStable);
      total += records.length;
      budget -= records.length;
    }
  }
  return total;
}

/**
 * Replaces each slot's batches with a message set of `magic`, within its partition_max_bytes. v3's max_bytes bounds
 * the response, whose first message is always whole (KIP-74); before v3 every partition's first message is (Kafka
 * sent part of one too large, which the client could not read). Returns the bytes answered.
 */
async function toMessageSets(slots: Slot[], magic: 0 | 1, maxBytes: number | null): Promise<number> {
  let total = 0;
  for (const slot of slots) {
    const batches = slot.out.records;
    if (!batches || batches.length === 0) continue;
    const left = maxBytes === null ? slot.maxBytes : Math.min(slot.maxBytes, maxBytes - total);
    const firstWhole = maxBytes === null || total === 0;
    const set = await messageSet(batches, slot.fetchOffset, magic, left, firstWhole);
    slot.out.records = set;
    total += set.length;
  }
  return total;
}

/** Sets a slot's answer: its records, the partition's offsets, and for read_committed the aborted transactions in range. */
function fill(slot: Slot, log: PartitionLog, records: Buffer, lastStable: number): void {
  const { out } = slot;
  out.highWatermark = log.highWatermark;
  out.lastStableOffset = lastStable;
  out.logStartOffset = log.logStartOffset;
  out.records = records;
  if (slot.readCommitted && records.length > 0) {
    out.abortedTransactions = log.transactions
      .abortedBetween(slot.fetchOffset, endOffsetOf(records))
      .map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }));
  }
}

/** The leading whole batches of `records` that fit in `maxBytes`, and always the first (as PartitionLog.read cuts them). */
function wholeBatchesWithin(records: Buffer, maxBytes: number): Buffer {
  let end = 0;
  while (end + Batch.LOG_OVERHEAD <= records.length) {
    const size = batchSizeAt(records, end);
    if (end > 0 && end + size > maxBytes) break;
    end += size;
    if (end >= maxBytes) break;
  }
  return end === records.length ? records : records.subarray(0, end);
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
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const s of slots) s.log?.offAppend(finish);
      stopWaitingForClose();
      resolve();
    };
    const timer = setTimeout(finish, timeoutMs);
    for (const s of slots) s.log?.onAppend(finish);
    const stopWaitingForClose = broker.onClosing(finish);
  });
}
