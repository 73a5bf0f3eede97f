import type { Logger } from 'pino';
import type { Clock } from '../io/clock.js';
import { ErrorCode } from '../protocol/errors.js';
import { toErrorCode } from './handlers/errors.js';

/** While storage keeps failing, one line this often says how much was refused since the last. */
export const STORAGE_ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * Tells the operator why clients are getting KAFKA_STORAGE_ERROR (a full disk, a failing one), without a line per
 * refused append: a producer retries every few milliseconds, and a full disk refuses thousands a second. The first
 * failure is logged at once, then a count at most every STORAGE_ERROR_LOG_INTERVAL_MS while failures go on, and one
 * line when an append succeeds again.
 */
export class StorageErrorLog {
  private failingSince = -1;
  private lastLineMs = 0;
  private refusedSinceLine = 0;
  private refusedInAll = 0;
  private readonly partitionsSinceLine = new Set<string>();
  /** Requests refused with KAFKA_STORAGE_ERROR since the broker started, for the metrics. */
  refusedTotal = 0;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  /** An append or read of `partition` failed with `err`; only the storage's own errors count. */
  failed(err: unknown, partition: string): void {
    if (toErrorCode(err).errorCode !== ErrorCode.KAFKA_STORAGE_ERROR) return;
    const now = this.clock.now();
    this.refusedInAll++;
    this.refusedTotal++;
    if (this.failingSince < 0) {
      this.failingSince = this.lastLineMs = now;
      this.logger.error({ err, partition }, `storage error: appends and reads that meet it are answered with KAFKA_STORAGE_ERROR; while it lasts, a count is logged every ${STORAGE_ERROR_LOG_INTERVAL_MS / 1000} s`);
      return;
    }
    this.refusedSinceLine++;
    if (this.partitionsSinceLine.size < 10) this.partitionsSinceLine.add(partition);
    if (now - this.lastLineMs < STORAGE_ERROR_LOG_INTERVAL_MS) return;
    this.logger.error(
      { err, refused: this.refusedSinceLine, partitions: [...this.partitionsSinceLine], seconds: Math.round((now - this.lastLineMs) / 1000) },
      'storage errors go on: requests refused with KAFKA_STORAGE_ERROR since the last line',
    );
    this.lastLineMs = now;
    this.refusedSinceLine = 0;
    this.partitionsSinceLine.clear();
  }

  /** Whether storage errors go on: one was met, and no append has been stored since. */
  get failing(): boolean {
    return this.failingSince >= 0;
  }

  /** An append was stored: if storage had been failing, says that it works again. */
  succeeded(): void {
    if (this.failingSince < 0) return;
    this.logger.warn({ refused: this.refusedInAll, failingMs: this.clock.now() - this.failingSince }, 'storage takes appends again after errors');
    this.failingSince = -1;
    this.refusedSinceLine = 0;
    this.refusedInAll = 0;
    this.partitionsSinceLine.clear();
  }
}
