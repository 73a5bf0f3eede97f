/**
 * Writes of one piece of state, one at a time, so an older content never lands after a newer one. A request made
 * while a write waits to start joins it; the write reads the state when it starts, so it covers every change made
 * before the request. Many changes at once (a request's topics or partitions) then cost a few writes, not one each.
 */
export class SharedWrite {
  private last: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;

  constructor(private readonly write: () => Promise<void>) {}

  /** Resolves once a write started after this call is done. */
  request(): Promise<void> {
    if (this.queued) return this.queued;
    const write = this.last
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.write();
      });
    this.queued = this.last = write;
    return write;
  }

  /** Waits for every write requested so far; never rejects. */
  settled(): Promise<void> {
    return this.last.catch(() => undefined);
  }
}
