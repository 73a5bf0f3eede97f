/** An aborted transaction in one partition: its producer, its first offset and the offset of its ABORT marker. */
export interface AbortedTxn {
  producerId: number;
  firstOffset: number;
  lastOffset: number;
}

interface Completing {
  producerId: number;
  firstOffset: number;
  markerOffset: number;
}

/**
 * Transactions as one partition sees them, kept in log order: the first offset of each producer's open
 * transaction, and the aborted transactions (which read_committed consumers must filter out). The last stable
 * offset (LSO) is the lowest offset of a transaction whose outcome is not durable yet: a transaction stays
 * unstable until its marker is below the high watermark, as in Kafka. Saved with the producer snapshots and
 * rebuilt from the batch headers and markers after them.
 */
export class TransactionIndex {
  private readonly ongoing = new Map<number, number>();
  /** Transactions whose marker is appended but maybe not durable yet, in marker order. */
  private completing: Completing[] = [];
  /** Sorted by marker offset, since markers are appended in log order. */
  private aborted: AbortedTxn[] = [];
  /** How many times forget() changed `aborted`: a snapshot taken before the last of them is filtered before it is written. */
  forgets = 0;

  get openCount(): number {
    return this.ongoing.size;
  }

  /** Where the producer's open transaction begins in this partition, or -1 when it has none open here. */
  openTransactionStart(producerId: number): number {
    return this.ongoing.get(producerId) ?? -1;
  }

  /** A transactional data batch of `producerId` at `offset`: opens its transaction here unless already open. */
  begin(producerId: number, offset: number): void {
    if (!this.ongoing.has(producerId)) this.ongoing.set(producerId, offset);
  }

  /** A marker of `producerId` at `markerOffset` ends its open transaction (a marker without one changes nothing). */
  complete(producerId: number, markerOffset: number, commit: boolean): void {
    const firstOffset = this.ongoing.get(producerId);
    if (firstOffset === undefined) return;
    this.ongoing.delete(producerId);
    this.completing.push({ producerId, firstOffset, markerOffset });
    if (!commit) this.aborted.push({ producerId, firstOffset, lastOffset: markerOffset });
  }

  /** The last stable offset given the high watermark. */
  lastStableOffset(highWatermark: number): number {
    // most partitions never see a transaction: no iterator made for them (asked per partition at every fetch)
    if (this.ongoing.size === 0 && this.completing.length === 0) return highWatermark;
    let lso = highWatermark;
    for (const first of this.ongoing.values()) if (first < lso) lso = first;
    let stable = 0;
    while (stable < this.completing.length && this.completing[stable]!.markerOffset < highWatermark) stable++;
    if (stable > 0) this.completing = this.completing.slice(stable);
    for (const c of this.completing) if (c.firstOffset < lso) lso = c.firstOffset;
    return lso;
  }

  /** Aborted transactions that overlap [fromOffset, toOffset): what a read_committed fetch of that range needs. */
  abortedBetween(fromOffset: number, toOffset: number): AbortedTxn[] {
    const out: AbortedTxn[] = [];
    for (let i = this.firstEndingFrom(fromOffset); i < this.aborted.length; i++) {
      const a = this.aborted[i]!;
      if (a.firstOffset < toOffset) out.push(a);
    }
    return out;
  }

  /** Forgets everything at or after `offset` (those appends failed and were rolled back). */
  truncateFrom(offset: number): void {
    for (const [pid, first] of this.ongoing) if (first >= offset) this.ongoing.delete(pid);
    for (const c of this.completing) if (c.markerOffset >= offset && c.firstOffset < offset) this.ongoing.set(c.producerId, c.firstOffset);
    this.completing = this.completing.filter((c) => c.markerOffset < offset);
    this.aborted = this.aborted.filter((a) => a.lastOffset < offset);
  }

  /**
   * Forgets the aborted transactions whose ABORT markers are at `markerOffsets`: compaction removed every batch of
   * theirs and gives their markers a delete horizon, then removes them. Known without its marker, an aborted
   * transaction would have read_committed consumers skip its producer's later records (see compaction's keptMarker).
   */
  forget(markerOffsets: ReadonlySet<number>): void {
    const known = this.aborted.filter((a) => !markerOffsets.has(a.lastOffset));
    if (known.length === this.aborted.length) return;
    this.aborted = known;
    this.forgets++;
  }

  /**
   * A snapshot's transaction state (toJSON) without the aborted transactions no longer known here: forgotten since
   * it was taken (see forget), or below the log start. The same object when it names none.
   */
  knownOnly(saved: unknown): unknown {
    const { ongoing, aborted } = saved as { ongoing: [number, number][]; aborted: [number, number, number][] };
    const known = aborted.filter(([, , lastOffset]) => this.abortedEndingAt(lastOffset));
    return known.length === aborted.length ? saved : { ongoing, aborted: known };
  }

  private abortedEndingAt(markerOffset: number): boolean {
    return this.aborted[this.firstEndingFrom(markerOffset)]?.lastOffset === markerOffset;
  }

  /** The index of the first aborted transaction whose marker is at or after `offset` (a binary search). */
  private firstEndingFrom(offset: number): number {
    let lo = 0;
    let hi = this.aborted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.aborted[mid]!.lastOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Drops aborted transactions wholly below the log start offset (retention, DeleteRecords). */
  dropBefore(logStartOffset: number): void {
    let n = 0;
    while (n < this.aborted.length && this.aborted[n]!.lastOffset < logStartOffset) n++;
    if (n > 0) this.aborted = this.aborted.slice(n);
  }

  toJSON(): unknown {
    return { ongoing: [...this.ongoing], aborted: this.aborted.map((a) => [a.producerId, a.firstOffset, a.lastOffset]) };
  }

  /** Replaces the state with one from toJSON() (a snapshot: everything in it is durable). */
  restore(saved: unknown): void {
    const { ongoing, aborted } = saved as { ongoing: [number, number][]; aborted: [number, number, number][] };
    this.ongoing.clear();
    for (const [pid, first] of ongoing) this.ongoing.set(pid, first);
    this.completing = [];
    this.aborted = aborted.map(([producerId, firstOffset, lastOffset]) => ({ producerId, firstOffset, lastOffset }));
  }
}
