import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { BatchInfo } from '../protocol/record-batch.js';

/** How many recent batches per producer are remembered for duplicate detection (Kafka's in-flight limit). */
const CACHED_BATCHES = 5;
const INT32_MAX = 0x7fffffff;

interface CachedBatch {
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
  lastOffset: number;
}

interface ProducerEntry {
  epoch: number;
  batches: CachedBatch[];
  lastTimestampMs: number;
}

/** A producer's entry as it was before an append changed it: put back if that append is refused (see undo). */
export interface ProducerUndo {
  producerId: number;
  entry: ProducerEntry | undefined;
}

/** What an idempotent batch turned out to be. */
export type SequenceCheck = { kind: 'new' } | { kind: 'duplicate'; baseOffset: number };

const nextSeq = (seq: number, count: number) => (seq + count > INT32_MAX ? seq + count - INT32_MAX - 1 : seq + count);

/**
 * Idempotent producer state of one partition: per producer id, its epoch and its last five batches'
 * sequence ranges and offsets. Produce checks a batch before appending it: a retried batch that is already
 * in the log is a duplicate (answered with its original offset, not appended again), a gap in sequence
 * numbers is OUT_OF_ORDER_SEQUENCE_NUMBER, an old epoch is INVALID_PRODUCER_EPOCH. Rebuilt from the log's batch
 * headers on start.
 */
export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerEntry>();

  get size(): number {
    return this.producers.size;
  }

  /** Classifies an idempotent batch (producerId >= 0), or throws the Kafka error it must be answered with. */
  check(batch: BatchInfo): SequenceCheck {
    const entry = this.producers.get(batch.producerId);
    const firstSeq = batch.baseSequence;
    const lastSeq = nextSeq(firstSeq, batch.lastOffsetDelta);
    if (!entry) {
      if (firstSeq !== 0) {
        throw new KafkaError(ErrorCode.UNKNOWN_PRODUCER_ID, `producer ${batch.producerId} has no state here and sent sequence ${firstSeq}, not 0`);
      }
      return { kind: 'new' };
    }
    if (batch.producerEpoch < entry.epoch) {
      throw new KafkaError(ErrorCode.INVALID_PRODUCER_EPOCH, `producer ${batch.producerId} epoch ${batch.producerEpoch} is older than ${entry.epoch}`);
    }
    if (batch.producerEpoch > entry.epoch) {
      if (firstSeq !== 0) {
        throw new KafkaError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `producer ${batch.producerId} began epoch ${batch.producerEpoch} at sequence ${firstSeq}, not 0`);
      }
      return { kind: 'new' };
    }
    const dup = entry.batches.find((b) => b.firstSeq === firstSeq && b.lastSeq === lastSeq);
    if (dup) return { kind: 'duplicate', baseOffset: dup.baseOffset };
    const last = entry.batches[entry.batches.length - 1];
    const expected = last ? nextSeq(last.lastSeq, 1) : 0;
    if (firstSeq !== expected) {
      throw new KafkaError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `producer ${batch.producerId} sent sequence ${firstSeq}, expected ${expected}`);
    }
    return { kind: 'new' };
  }

  /**
   * Checks a batch that follows `previous`, a new batch of the same producer in the same append: checked
   * against the state as it will be once `previous` is recorded, it must continue its epoch and sequence.
   */
  checkNext(previous: BatchInfo, batch: BatchInfo): SequenceCheck {
    if (batch.producerEpoch !== previous.producerEpoch) {
      throw new KafkaError(ErrorCode.INVALID_PRODUCER_EPOCH, `producer ${batch.producerId} changes epoch within one append`);
    }
    const expected = nextSeq(previous.baseSequence, previous.lastOffsetDelta + 1);
    if (batch.baseSequence !== expected) {
      throw new KafkaError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, `producer ${batch.producerId} sent sequence ${batch.baseSequence}, expected ${expected}`);
    }
    return { kind: 'new' };
  }

  /**
   * Records a batch appended at `baseOffset` (after check() said new, or while rebuilding from the log); with
   * `undo`, what it changes is kept there first.
   */
  record(batch: BatchInfo, baseOffset: number, timestampMs: number, undo?: ProducerUndo[]): void {
    undo?.push(this.saved(batch.producerId));
    let entry = this.producers.get(batch.producerId);
    if (!entry || batch.producerEpoch > entry.epoch) {
      entry = { epoch: batch.producerEpoch, batches: [], lastTimestampMs: timestampMs };
      this.producers.set(batch.producerId, entry);
    }
    entry.batches.push({ firstSeq: batch.baseSequence, lastSeq: nextSeq(batch.baseSequence, batch.lastOffsetDelta), baseOffset, lastOffset: baseOffset + batch.lastOffsetDelta });
    if (entry.batches.length > CACHED_BATCHES) entry.batches.shift();
    entry.lastTimestampMs = timestampMs;
  }

  /**
   * Puts back the entries an append changed (its append was refused and the log rolled back), newest change
   * first: refused appends undone from the last one back leave the state exactly as it was before the first.
   * Forgetting only the refused batches was not enough: an epoch they began, a marker's epoch and last
   * timestamp stayed, and a producer whose cached batches were all refused lost the older ones' state with them
   * (its resend then got UNKNOWN_PRODUCER_ID).
   */
  undo(changes: readonly ProducerUndo[]): void {
    for (let i = changes.length - 1; i >= 0; i--) {
      const { producerId, entry } = changes[i]!;
      if (entry) this.producers.set(producerId, entry);
      else this.producers.delete(producerId);
    }
  }

  /** A copy of a producer's entry (its cached batches are never changed in place, only added and dropped). */
  private saved(producerId: number): ProducerUndo {
    const e = this.producers.get(producerId);
    return { producerId, entry: e && { epoch: e.epoch, lastTimestampMs: e.lastTimestampMs, batches: [...e.batches] } };
  }

  /**
   * A transaction marker written with `epoch`: a newer epoch (the coordinator fenced the producer, or it
   * re-initialised) replaces the producer's entry, so older epochs are refused and the new one starts at sequence 0.
   * With `undo`, what it changes is kept there first.
   */
  markerWritten(producerId: number, epoch: number, timestampMs: number, undo?: ProducerUndo[]): void {
    undo?.push(this.saved(producerId));
    const entry = this.producers.get(producerId);
    if (!entry || epoch > entry.epoch) this.producers.set(producerId, { epoch, batches: [], lastTimestampMs: timestampMs });
    else entry.lastTimestampMs = timestampMs;
  }

  /** The last offset of the producer's last batch of its current epoch, -1 if it has none. */
  lastBatchEnd(producerId: number): number {
    return this.producers.get(producerId)?.batches.at(-1)?.lastOffset ?? -1;
  }

  /** Each producer's epoch, last sequence (-1 before any batch of this epoch) and last append time. */
  describe(): { producerId: number; epoch: number; lastSequence: number; lastTimestampMs: number }[] {
    return [...this.producers].map(([producerId, e]) => ({ producerId, epoch: e.epoch, lastSequence: e.batches.at(-1)?.lastSeq ?? -1, lastTimestampMs: e.lastTimestampMs }));
  }

  /** The state in a JSON-ready form (part of a snapshot; the caller names the offset it is valid at). */
  toJSON(): unknown {
    return [...this.producers].map(([pid, e]) => [pid, e.epoch, e.lastTimestampMs, e.batches.map((b) => [b.firstSeq, b.lastSeq, b.baseOffset, b.lastOffset])]);
  }

  /** Replaces the state with one made by toJSON(). */
  restore(saved: unknown): void {
    this.producers.clear();
    for (const [pid, epoch, lastTimestampMs, batches] of saved as [number, number, number, number[][]][]) {
      this.producers.set(pid, { epoch, lastTimestampMs, batches: batches.map(([firstSeq, lastSeq, baseOffset, lastOffset]) => ({ firstSeq: firstSeq!, lastSeq: lastSeq!, baseOffset: baseOffset!, lastOffset: lastOffset! })) });
    }
  }

  /** Drops producers idle longer than `expirationMs` (Kafka's producer.id.expiration.ms). */
  expire(nowMs: number, expirationMs: number): void {
    for (const [pid, entry] of this.producers) if (nowMs - entry.lastTimestampMs > expirationMs) this.producers.delete(pid);
  }
}
