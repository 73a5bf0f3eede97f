/** A fetch may read at least this much whatever the others hold, so every consumer keeps making progress. */
export const FETCH_FLOOR_BYTES = 1024 * 1024;

/**
 * The memory fetch responses hold over all connections, from their reads until their bytes are written to the
 * socket. Kafka sends stored bytes to the socket straight from the file; Node cannot, so a response is read into
 * memory first, and a consumer that takes its responses slowly (a slow link, or one that stopped reading) keeps a
 * whole one in the broker: forty such consumers asking for 50 MB each held 2.2 GB. A fetch counts what it may read
 * before it reads (fetches starting together then share what is left), then only what it took: no more than what is
 * left under the limit, and never less than FETCH_FLOOR_BYTES.
 */
export class FetchMemory {
  private held = 0;

  constructor(readonly limit: number) {}

  get bytes(): number {
    return this.held;
  }

  /** Counts and returns what a fetch asking for `maxBytes` may read now. */
  reserve(maxBytes: number): number {
    const granted = Math.min(maxBytes, Math.max(FETCH_FLOOR_BYTES, this.limit - this.held));
    this.held += granted;
    return granted;
  }

  /** Changes what a fetch counts, from `from` bytes to `to`. */
  recount(from: number, to: number): void {
    this.held += to - from;
  }
}
