/**
 * The bytes of requests read but not yet answered, summed over every connection (Kafka's
 * `queued.max.request.bytes`). Each connection bounds its own unanswered requests by count; this bounds them all
 * together by size, so many producers pipelining large requests at a broker whose disk is slower than their
 * sum hold it to this much request memory, not to connections × 128 requests. Once the sum reaches the limit,
 * connections stop reading from their sockets at their next frame boundary (what they already read is still
 * handled, and a frame begun is read whole) until answers bring it back under.
 */
export class QueuedRequestBytes {
  private used = 0;
  private readonly waiting = new Set<() => void>();

  constructor(readonly limit: number) {}

  get bytes(): number {
    return this.used;
  }

  get full(): boolean {
    return this.used >= this.limit;
  }

  add(bytes: number): void {
    this.used += bytes;
  }

  remove(bytes: number): void {
    this.used -= bytes;
    if (this.used >= this.limit || this.waiting.size === 0) return;
    const resumes = [...this.waiting];
    this.waiting.clear();
    for (const resume of resumes) resume();
  }

  /** Calls `resume` once the sum is under the limit again. */
  whenRoom(resume: () => void): void {
    this.waiting.add(resume);
  }

  forget(resume: () => void): void {
    this.waiting.delete(resume);
  }
}
