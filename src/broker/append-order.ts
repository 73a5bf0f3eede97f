const ignore = (): void => undefined;

/**
 * Keeps each partition's appends in the order their produce requests came, when some must wait for their records to
 * be prepared (in the records thread): an idempotent producer's pipelined batches would otherwise reach the log out
 * of sequence. While an append to a partition waits, every later one to it queues behind it; when none waits, an
 * append runs at once, as it always did.
 */
export class AppendOrder {
  /** Per partition log, the last append queued: settles once it has run or failed. */
  private readonly last = new Map<object, Promise<void>>();

  /** Whether an append to `log` waits now, so that the next must queue too. */
  waiting(log: object): boolean {
    return this.last.has(log);
  }

  /** Runs `append` with what `ready` gives, once it has and every append to `log` queued before has run. */
  queue<X, T>(log: object, ready: Promise<X>, append: (x: X) => T): Promise<T> {
    // handled now: a refusal that comes while earlier appends still wait is not an unhandled rejection
    ready.catch(ignore);
    const before = this.last.get(log);
    const run = (before === undefined ? ready : before.then(() => ready)).then(append);
    const settled = run.then(ignore, ignore);
    this.last.set(log, settled);
    void settled.then(() => {
      if (this.last.get(log) === settled) this.last.delete(log);
    });
    return run;
  }
}
