import type { Clock } from '../io/clock.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { validateBatches } from '../protocol/record-batch.js';
import { buildControlBatch } from '../protocol/records.js';
import type { LogManager } from '../storage/log-manager.js';
import type { OffsetToCommit } from './group-coordinator.js';
import { InternalTopic, jsonRecord, parseJsonRecord, TRANSACTION_STATE_TOPIC } from './internal-topic.js';

/** Kafka's transaction states, by the names DescribeTransactions and ListTransactions use. */
export const TXN_STATES = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort'] as const;
export type TxnState = (typeof TXN_STATES)[number];

export interface TransactionConfig {
  /** Largest transaction.timeout.ms a producer may ask for (Kafka's transaction.max.timeout.ms). */
  maxTimeoutMs: number;
  /** How often open transactions are checked for their timeout (Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms). */
  abortCheckMs: number;
  /** A transactional id with no transaction for this long is forgotten (Kafka's transactional.id.expiration.ms). */
  idExpirationMs: number;
  statePartitions: number;
}

export const DEFAULT_TRANSACTION_CONFIG: TransactionConfig = {
  maxTimeoutMs: 15 * 60 * 1000,
  abortCheckMs: 1000,
  idExpirationMs: 7 * 24 * 60 * 60 * 1000,
  statePartitions: 10,
};

/** What the transaction coordinator needs from the rest of the broker. */
export interface TransactionDeps {
  logs: LogManager;
  clock: Clock;
  nextProducerId: () => Promise<number>;
  /** Makes a committed transaction's consumer offsets the group's committed offsets, durably. */
  commitOffsets: (groupId: string, offsets: OffsetToCommit[]) => Promise<void>;
  onError: (err: unknown, what: string) => void;
}

interface TransactionMetadata {
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  /** The id and epoch before a bump the producer itself may retry or recover from (-1 when a new producer fenced the old one). */
  lastProducerId: number;
  lastProducerEpoch: number;
  timeoutMs: number;
  state: TxnState;
  /** Partitions in the transaction, keyed "topic\0partition", with the id of the topic they were added for. */
  partitions: Map<string, TxnPartition>;
  /** Consumer offsets the transaction commits, per group then "topic\0partition". */
  offsets: Map<string, Map<string, OffsetToCommit>>;
  startMs: number;
  updatedMs: number;
}

/**
 * A partition added to a transaction. Its topic id tells the topic it was added for from one deleted and made again
 * under the same name before the transaction ended (`undefined` in states stored before ids were kept: any topic).
 */
interface TxnPartition {
  topic: string;
  partition: number;
  topicId: string | undefined;
}

type StoredTransaction = Omit<TransactionMetadata, 'transactionalId' | 'partitions' | 'offsets'> & {
  partitions: ([string, number] | [string, number, string])[];
  offsets: [string, [string, number, number, number, string | null][]][];
};

/** The error code for a stale epoch: PRODUCER_FENCED for clients that know it, INVALID_PRODUCER_EPOCH before. */
export type FencedCode = typeof ErrorCode.PRODUCER_FENCED | typeof ErrorCode.INVALID_PRODUCER_EPOCH;

const MAX_EPOCH = 32766;
const tpKey = (topic: string, partition: number) => `${topic}\0${partition}`;

/**
 * Kafka's transaction coordinator for this broker: maps transactional ids to producer ids and epochs (fencing
 * zombies by bumping the epoch), tracks the partitions and group offsets of each open transaction, and ends a
 * transaction in two durable steps: PrepareCommit/PrepareAbort is written to `__transaction_state`, then a
 * marker goes to every partition (and committed offsets to their groups), then CompleteCommit/CompleteAbort.
 * A broker that stops between the two steps finishes the second on start. Transactions open longer than
 * their timeout are aborted with a bumped epoch, so the late producer is fenced.
 */
export class TransactionCoordinator {
  private readonly txns = new Map<string, TransactionMetadata>();
  private readonly store: InternalTopic;
  private readonly locks = new Map<string, Promise<unknown>>();
  private stopSweep: (() => void) | null = null;

  constructor(
    private readonly deps: TransactionDeps,
    readonly config: TransactionConfig = DEFAULT_TRANSACTION_CONFIG,
  ) {
    this.store = new InternalTopic(deps.logs, TRANSACTION_STATE_TOPIC, config.statePartitions);
  }

  /** Rebuilds transactions from `__transaction_state`, finishes the ones caught between prepare and complete, and starts the timeout sweep. */
  async load(): Promise<void> {
    for await (const record of this.store.readAll()) {
      const { key, value } = parseJsonRecord(record) ?? { key: [], value: null };
      if (key[0] !== 't' || typeof key[1] !== 'string') continue;
      if (value === null) this.txns.delete(key[1]);
      else this.txns.set(key[1], fromStored(key[1], value as StoredTransaction));
    }
    await this.forgetDeletedTopics().catch((err) => this.deps.onError(err, 'dropping the offsets open transactions hold for deleted topics'));
    for (const meta of this.txns.values()) {
      if (meta.state === 'PrepareCommit' || meta.state === 'PrepareAbort') await this.finish(meta).catch((err) => this.deps.onError(err, `completing transaction ${meta.transactionalId}`));
    }
    this.stopSweep = this.deps.clock.every(this.config.abortCheckMs, () => void this.sweep());
  }

  close(): void {
    this.stopSweep?.();
    this.stopSweep = null;
  }

  /**
   * InitProducerId for a transactional id: a new id gets a producer id at epoch 0; a known one gets its epoch
   * bumped, which fences every older instance, after its open transaction (if any) is aborted. A producer
   * passing its current id and epoch (KIP-360) recovers the same way; a retry of that is answered unchanged.
   */
  initProducerId(transactionalId: string, timeoutMs: number, expected: { producerId: number; producerEpoch: number }, fenced: FencedCode): Promise<{ errorCode: number; producerId: number; producerEpoch: number }> {
    const fail = (errorCode: number) => ({ errorCode, producerId: -1, producerEpoch: -1 });
    if (timeoutMs <= 0 || timeoutMs > this.config.maxTimeoutMs) return Promise.resolve(fail(ErrorCode.INVALID_TRANSACTION_TIMEOUT));
    return this.locked(transactionalId, async () => {
      const now = this.deps.clock.now();
      let meta = this.txns.get(transactionalId);
      if (!meta) {
        meta = await this.save({
          transactionalId, producerId: await this.deps.nextProducerId(), producerEpoch: 0, lastProducerId: -1, lastProducerEpoch: -1,
          timeoutMs, state: 'Empty', partitions: new Map(), offsets: new Map(), startMs: -1, updatedMs: now,
        });
        return { errorCode: 0, producerId: meta.producerId, producerEpoch: meta.producerEpoch };
      }
      const byItself = expected.producerId >= 0;
      if (byItself) {
        const retry = expected.producerId === meta.lastProducerId && expected.producerEpoch === meta.lastProducerEpoch && !isOpen(meta.state);
        if (retry) return { errorCode: 0, producerId: meta.producerId, producerEpoch: meta.producerEpoch };
        if (expected.producerId !== meta.producerId || expected.producerEpoch !== meta.producerEpoch) return fail(fenced);
      }
      if (isPreparing(meta.state)) meta = await this.finish(meta);
      // aborting an open transaction bumps the epoch already
      const bumped = meta.state === 'Ongoing' ? await this.abortWithBump(meta, byItself) : { ...meta, ...(await this.bumpedEpoch(meta, byItself)) };
      meta = await this.save({ ...bumped, timeoutMs, state: 'Empty', updatedMs: now });
      return { errorCode: 0, producerId: meta.producerId, producerEpoch: meta.producerEpoch };
    }).catch((err) => {
      this.deps.onError(err, `InitProducerId for ${transactionalId}`);
      return fail(err instanceof KafkaError ? err.code : ErrorCode.COORDINATOR_NOT_AVAILABLE);
    });
  }

  /** AddPartitionsToTxn: one error code per partition; with `verifyOnly`, only reports whether each is in the transaction. */
  addPartitions(
    transactionalId: string, producerId: number, producerEpoch: number, partitions: { topic: string; partition: number }[], verifyOnly: boolean, fenced: FencedCode,
  ): Promise<number[]> {
    return this.locked(transactionalId, async () => {
      const meta = this.txns.get(transactionalId);
      const error = this.validate(meta, producerId, producerEpoch, fenced);
      if (error !== ErrorCode.NONE) return partitions.map(() => error);
      if (verifyOnly) return partitions.map((p) => (meta!.partitions.has(tpKey(p.topic, p.partition)) && meta!.state === 'Ongoing' ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE));
      const unknown = partitions.map((p) => this.deps.logs.getLog(p.topic, p.partition) === undefined);
      if (unknown.some(Boolean)) return unknown.map((u) => (u ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.OPERATION_NOT_ATTEMPTED));
      // a partition added before its topic was deleted and made again is added anew, for the new topic
      const fresh = partitions.filter((p) => meta!.partitions.get(tpKey(p.topic, p.partition))?.topicId !== this.topicIdOf(p.topic));
      if (fresh.length > 0 || meta!.state !== 'Ongoing') {
        const partitionsNext = new Map(meta!.partitions);
        for (const p of fresh) partitionsNext.set(tpKey(p.topic, p.partition), { topic: p.topic, partition: p.partition, topicId: this.topicIdOf(p.topic) });
        await this.save({ ...meta!, ...this.opened(meta!), partitions: partitionsNext });
      }
      return partitions.map(() => ErrorCode.NONE);
    }, () => partitions.map(() => ErrorCode.COORDINATOR_NOT_AVAILABLE));
  }

  /** AddOffsetsToTxn: the transaction will commit offsets for `groupId`. */
  addOffsetsGroup(transactionalId: string, producerId: number, producerEpoch: number, groupId: string, fenced: FencedCode): Promise<number> {
    return this.locked(transactionalId, async () => {
      const meta = this.txns.get(transactionalId);
      const error = this.validate(meta, producerId, producerEpoch, fenced);
      if (error !== ErrorCode.NONE) return error;
      if (!groupId) return ErrorCode.INVALID_GROUP_ID;
      if (meta!.offsets.has(groupId) && meta!.state === 'Ongoing') return ErrorCode.NONE;
      const offsets = new Map(meta!.offsets);
      if (!offsets.has(groupId)) offsets.set(groupId, new Map());
      await this.save({ ...meta!, ...this.opened(meta!), offsets });
      return ErrorCode.NONE;
    }, () => ErrorCode.COORDINATOR_NOT_AVAILABLE);
  }

  /** TxnOffsetCommit: records offsets the transaction commits for `groupId` (AddOffsetsToTxn must come first). */
  addOffsets(transactionalId: string, producerId: number, producerEpoch: number, groupId: string, offsets: OffsetToCommit[], fenced: FencedCode): Promise<number> {
    return this.locked(transactionalId, async () => {
      const meta = this.txns.get(transactionalId);
      const error = this.validate(meta, producerId, producerEpoch, fenced);
      if (error !== ErrorCode.NONE) return error;
      if (meta!.state !== 'Ongoing' || !meta!.offsets.has(groupId)) return ErrorCode.INVALID_TXN_STATE;
      const forGroup = new Map(meta!.offsets.get(groupId));
      for (const o of offsets) forGroup.set(tpKey(o.topic, o.partition), o);
      await this.save({ ...meta!, offsets: new Map(meta!.offsets).set(groupId, forGroup), updatedMs: this.deps.clock.now() });
      return ErrorCode.NONE;
    }, () => ErrorCode.COORDINATOR_NOT_AVAILABLE);
  }

  /** EndTxn: commits or aborts the open transaction; a retry of a finished end is answered with success. */
  endTransaction(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean, fenced: FencedCode): Promise<number> {
    return this.locked(transactionalId, async () => {
      const meta = this.txns.get(transactionalId);
      const error = this.validate(meta, producerId, producerEpoch, fenced, true);
      if (error !== ErrorCode.NONE) return error;
      let m = meta!;
      const wanted: TxnState = commit ? 'PrepareCommit' : 'PrepareAbort';
      switch (m.state) {
        case 'Ongoing':
          m = await this.save({ ...m, state: wanted, updatedMs: this.deps.clock.now() });
          break;
        case 'PrepareCommit':
        case 'PrepareAbort':
          if (m.state !== wanted) return ErrorCode.INVALID_TXN_STATE;
          break;
        case 'CompleteCommit':
          return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
        case 'CompleteAbort':
        case 'Empty':
          return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE;
      }
      // the outcome is decided and durable: a failure below is retried by the sweep, the client sees CONCURRENT_TRANSACTIONS meanwhile
      await this.finish(m).catch((err) => this.deps.onError(err, `writing markers of ${transactionalId}`));
      return ErrorCode.NONE;
    }, () => ErrorCode.COORDINATOR_NOT_AVAILABLE);
  }

  /**
   * Whether a transactional produce to `topic`-`partition` belongs to the producer's open transaction (Kafka's
   * KIP-890 verification): it keeps a producer that skipped AddPartitionsToTxn, or a fenced one, from leaving
   * a transaction open in a partition that no marker will ever close.
   */
  verifyProduce(transactionalId: string | null | undefined, producerId: number, producerEpoch: number, topic: string, partition: number): number {
    const meta = transactionalId ? this.txns.get(transactionalId) : undefined;
    if (!meta || meta.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (producerEpoch < meta.producerEpoch) return ErrorCode.INVALID_PRODUCER_EPOCH;
    if (producerEpoch > meta.producerEpoch || meta.state !== 'Ongoing' || !meta.partitions.has(tpKey(topic, partition))) return ErrorCode.INVALID_TXN_STATE;
    return ErrorCode.NONE;
  }

  /**
   * After DeleteTopics (and at load, for a deletion a crash cut short): open transactions drop the offsets they hold
   * for topics that no longer exist, as Kafka drops a deleted partition's pending offsets. Only then is a topic
   * made again before such a transaction commits safe from offsets meant for the old one. Returns how many went.
   */
  async forgetDeletedTopics(): Promise<number> {
    const exists = (topic: string) => this.deps.logs.topics.has(topic);
    const holding = [...this.txns.values()].filter((m) => isOpen(m.state) && [...m.offsets.values()].some((os) => [...os.values()].some((o) => !exists(o.topic))));
    const dropped = await Promise.all(
      holding.map(({ transactionalId }) =>
        this.locked(transactionalId, async () => {
          const meta = this.txns.get(transactionalId);
          if (!meta || !isOpen(meta.state)) return 0;
          let gone = 0;
          const offsets = new Map<string, Map<string, OffsetToCommit>>();
          for (const [groupId, os] of meta.offsets) {
            const kept = new Map([...os].filter(([, o]) => exists(o.topic)));
            gone += os.size - kept.size;
            offsets.set(groupId, kept);
          }
          if (gone > 0) await this.save({ ...meta, offsets });
          return gone;
        }),
      ),
    );
    return dropped.reduce((sum, n) => sum + n, 0);
  }

  /** The id of the topic now under that name, if any. */
  private topicIdOf(topic: string): string | undefined {
    return this.deps.logs.topics.get(topic)?.id;
  }

  /** Whether an open transaction holds offsets for this group partition (OffsetFetch's require_stable). */
  hasPendingOffset(groupId: string, topic: string, partition: number): boolean {
    for (const meta of this.txns.values()) if (isOpen(meta.state) && meta.offsets.get(groupId)?.has(tpKey(topic, partition))) return true;
    return false;
  }

  /** DescribeTransactions. */
  describe(transactionalId: string) {
    const meta = this.txns.get(transactionalId);
    if (!meta) return null;
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of meta.partitions.values()) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition].sort((a, b) => a - b));
    return {
      transactionalId, state: meta.state, timeoutMs: meta.timeoutMs, startMs: meta.startMs, producerId: meta.producerId, producerEpoch: meta.producerEpoch,
      topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      groups: [...meta.offsets.keys()],
    };
  }

  /** ListTransactions: filtered by state, producer id and (v1) minimum running time in ms. */
  list(states: string[], producerIds: number[], minDurationMs: number): { transactionalId: string; producerId: number; state: TxnState }[] {
    const now = this.deps.clock.now();
    return [...this.txns.values()]
      .filter((m) => states.length === 0 || states.includes(m.state))
      .filter((m) => producerIds.length === 0 || producerIds.includes(m.producerId))
      .filter((m) => minDurationMs < 0 || (m.startMs >= 0 && now - m.startMs >= minDurationMs))
      .map((m) => ({ transactionalId: m.transactionalId, producerId: m.producerId, state: m.state }));
  }

  /** Aborts transactions past their timeout (fencing their producer), retries unfinished ends, forgets idle ids. */
  async sweep(): Promise<void> {
    const now = this.deps.clock.now();
    for (const meta of [...this.txns.values()]) {
      const id = meta.transactionalId;
      if (meta.state === 'Ongoing' && meta.startMs >= 0 && now - meta.startMs > meta.timeoutMs) {
        await this.locked(id, async () => {
          const m = this.txns.get(id);
          if (m?.state !== 'Ongoing' || now - m.startMs <= m.timeoutMs) return;
          await this.abortWithBump(m, true);
        }, (err) => this.deps.onError(err, `aborting timed-out transaction ${id}`));
      } else if (isPreparing(meta.state)) {
        await this.locked(id, async () => {
          const m = this.txns.get(id);
          if (m && isPreparing(m.state)) await this.finish(m);
        }, (err) => this.deps.onError(err, `completing transaction ${id}`));
      } else if (!isOpen(meta.state) && now - meta.updatedMs > this.config.idExpirationMs) {
        await this.locked(id, async () => {
          const m = this.txns.get(id);
          if (!m || isOpen(m.state) || now - m.updatedMs <= this.config.idExpirationMs) return;
          await this.store.write(id, [jsonRecord(['t', id], null)]);
          this.txns.delete(id);
        }, (err) => this.deps.onError(err, `expiring transactional id ${id}`));
      }
    }
  }

  private validate(meta: TransactionMetadata | undefined, producerId: number, producerEpoch: number, fenced: FencedCode, ending = false): number {
    if (!meta || meta.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (producerEpoch !== meta.producerEpoch) return fenced;
    if (!ending && isPreparing(meta.state)) return ErrorCode.CONCURRENT_TRANSACTIONS;
    return ErrorCode.NONE;
  }

  /** The changes that make a transaction Ongoing (the first partition or group added), or keep it so. */
  private opened(meta: TransactionMetadata): Pick<TransactionMetadata, 'state' | 'startMs' | 'updatedMs'> {
    const now = this.deps.clock.now();
    return { state: 'Ongoing', startMs: meta.state === 'Ongoing' ? meta.startMs : now, updatedMs: now };
  }

  /**
   * Aborts the open transaction with a bumped epoch: the ABORT markers carry the new epoch, so every partition
   * of the transaction refuses the old producer from then on. `byItself`: the producer may recover (KIP-360).
   */
  private async abortWithBump(meta: TransactionMetadata, byItself: boolean): Promise<TransactionMetadata> {
    const bumped = await this.bumpedEpoch(meta, byItself, true);
    return this.finish(await this.save({ ...meta, ...bumped, state: 'PrepareAbort', updatedMs: this.deps.clock.now() }));
  }

  /** The next epoch; an exhausted epoch moves to a new producer id (markers of an open transaction then keep the old one). */
  private async bumpedEpoch(meta: TransactionMetadata, byItself: boolean, keepProducerId = false): Promise<Pick<TransactionMetadata, 'producerId' | 'producerEpoch' | 'lastProducerId' | 'lastProducerEpoch'>> {
    const last = { lastProducerId: byItself ? meta.producerId : -1, lastProducerEpoch: byItself ? meta.producerEpoch : -1 };
    if (meta.producerEpoch < MAX_EPOCH) return { ...last, producerId: meta.producerId, producerEpoch: meta.producerEpoch + 1 };
    if (keepProducerId) return { ...last, producerId: meta.producerId, producerEpoch: meta.producerEpoch };
    return { ...last, producerId: await this.deps.nextProducerId(), producerEpoch: 0 };
  }

  /** The second step of ending a transaction: markers, then committed offsets, then the Complete state. */
  private async finish(meta: TransactionMetadata): Promise<TransactionMetadata> {
    const commit = meta.state === 'PrepareCommit';
    await Promise.all(
      [...meta.partitions.values()].map(async (p) => {
        const log = this.deps.logs.getLog(p.topic, p.partition);
        if (!log) return; // the topic was deleted meanwhile
        // Deleted and made again under its name: the new partition takes a marker only if the transaction wrote to
        // it (as Kafka, which keeps names only, lets it), not one that would take an offset and be skipped
        const madeAgain = p.topicId !== undefined && this.topicIdOf(p.topic) !== p.topicId;
        if (madeAgain && log.transactions.openTransactionStart(meta.producerId) < 0) return;
        const batch = buildControlBatch(commit, meta.producerId, meta.producerEpoch);
        await log.append(batch, validateBatches(batch, 1 << 20)).durable;
      }),
    );
    if (commit) for (const [groupId, offsets] of meta.offsets) if (offsets.size > 0) await this.deps.commitOffsets(groupId, [...offsets.values()]);
    return this.save({ ...meta, state: commit ? 'CompleteCommit' : 'CompleteAbort', partitions: new Map(), offsets: new Map(), startMs: -1, updatedMs: this.deps.clock.now() });
  }

  /**
   * Writes a transaction's new state durably, then makes it the current one. States are never changed in place:
   * if the write fails, the coordinator keeps answering from the last state that is on disk.
   */
  private async save(next: TransactionMetadata): Promise<TransactionMetadata> {
    await this.store.write(next.transactionalId, [jsonRecord(['t', next.transactionalId], toStored(next))]);
    this.txns.set(next.transactionalId, next);
    return next;
  }

  /** Runs `fn` after every earlier operation on the same transactional id; `onFail` answers if it throws. */
  private locked<T>(id: string, fn: () => Promise<T>, onFail?: (err: unknown) => T): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.catch(() => undefined);
    this.locks.set(id, settled);
    void settled.then(() => {
      if (this.locks.get(id) === settled) this.locks.delete(id);
    });
    if (!onFail) return run;
    return run.catch((err) => {
      this.deps.onError(err, `transaction ${id}`);
      return onFail(err);
    });
  }
}

const isPreparing = (s: TxnState) => s === 'PrepareCommit' || s === 'PrepareAbort';
const isOpen = (s: TxnState) => s === 'Ongoing' || isPreparing(s);

function toStored(m: TransactionMetadata): StoredTransaction {
  return {
    producerId: m.producerId, producerEpoch: m.producerEpoch, lastProducerId: m.lastProducerId, lastProducerEpoch: m.lastProducerEpoch,
    timeoutMs: m.timeoutMs, state: m.state, startMs: m.startMs, updatedMs: m.updatedMs,
    partitions: [...m.partitions.values()].map((p) => (p.topicId === undefined ? [p.topic, p.partition] : [p.topic, p.partition, p.topicId])),
    offsets: [...m.offsets].map(([g, os]) => [g, [...os.values()].map((o) => [o.topic, o.partition, o.offset, o.leaderEpoch, o.metadata])]),
  };
}

function fromStored(transactionalId: string, s: StoredTransaction): TransactionMetadata {
  return {
    ...s,
    transactionalId,
    partitions: new Map(s.partitions.map(([topic, partition, topicId]) => [tpKey(topic, partition), { topic, partition, topicId }])),
    offsets: new Map(s.offsets.map(([g, os]) => [g, new Map(os.map(([topic, partition, offset, leaderEpoch, metadata]) => [tpKey(topic, partition), { topic, partition, offset, leaderEpoch, metadata }]))])),
  };
}
