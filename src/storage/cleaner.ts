import { systemClock, type Clock } from '../io/clock.js';
import { RequestThread } from '../io/request-thread.js';
import { Verdict, type CleaningRound } from './record-cleaning.js';

/** What the cleaner thread is asked to do (see cleaner-thread.ts). */
export type CleanerRequest =
  | { op: 'open'; map: number; keys: number; maxBytes: number }
  | { op: 'clear'; map: number }
  | { op: 'free'; map: number }
  | { op: 'map'; map: number; chunk: Uint8Array; skip: Uint8Array; from: number }
  | { op: 'judge'; map: number; chunk: Uint8Array; asked: Uint8Array; round: CleaningRound };

/** The thread's answer to `judge`, a field per batch of the chunk. */
export interface ChunkJudgement {
  verdicts: Uint8Array;
  removed: Int32Array;
  /** The rebuilt batches, one after the other; batch i's, if any, ends at rebuiltEnds[i]. */
  rebuilt: ArrayBuffer;
  rebuiltEnds: Int32Array;
  tombstoneDueMs: number;
}

/**
 * The thread that does compaction's work on records, as Kafka's log cleaner threads do: it holds each pass's key
 * map, hashes every key into it, and judges and rebuilds the batches. The event loop reads the segments, sends the
 * thread a copy of each chunk read, and writes the cleaned copies and swaps them in. On the event loop this work held
 * every request up: even given back every 0.25 ms, 1 KiB `fsync` appends to another partition were acknowledged p50
 * 1.05-1.35 ms during a pass over 200 MiB, 0.54-0.61 ms with the thread (0.32-0.38 ms alone).
 *
 * One per process, shared by every broker in it, as the small-I/O thread is: one per storage engine made a test that
 * restarts the engine hundreds of times three times slower.
 */
const thread = new RequestThread<CleanerRequest>(new URL('./cleaner-thread.js', import.meta.url), 'cleaner thread');

/** A key map id no other pass in the process has. */
let lastMap = 0;

/**
 * Ends the process's cleaner thread: the requests waiting on it are refused (their passes fail, changing nothing),
 * and the next request starts another. What a failed thread does to the passes, on demand.
 */
export const stopCleanerThread = (): Promise<void> => thread.stop();

/**
 * One storage engine's side of the cleaner thread: its passes' requests, and the bound on what they read and write,
 * as Kafka's log.cleaner.io.max.bytes.per.second (see throttle).
 */
export class Cleaner {
  /** What the passes may read and write a second (see throttle); Infinity: no bound. A change counts from the next byte. */
  ioBytesPerSecond: number;
  private readonly clock: Clock;
  private closed = false;
  /** This engine's requests waiting on the thread: refused at close. */
  private readonly mine = new Set<number>();
  /** When the bytes counted so far are paid for at the rate: throttle waits until then. */
  private ioFreeAtMs = -Infinity;
  /** Throttle's waits under way, cut short at close. */
  private readonly pauses = new Set<() => void>();

  constructor(options: { ioBytesPerSecond: number; clock: Clock } = { ioBytesPerSecond: Infinity, clock: systemClock }) {
    this.ioBytesPerSecond = options.ioBytesPerSecond;
    this.clock = options.clock;
  }

  /** A key map in the thread for up to `keys` keys in at most `maxBytes` (see OffsetMap). */
  async openMap(keys: number, maxBytes: number): Promise<CleanerMap> {
    const map = ++lastMap;
    await this.call({ op: 'open', map, keys, maxBytes });
    return new CleanerMap(this, map);
  }

  /**
   * Counts `bytes` a pass read or wrote, and waits, if need be, until they are within `ioBytesPerSecond` (a pass
   * over a segment file of a GiB would otherwise take the disk from the appends for as long as it reads and writes).
   * A pass that did no I/O for a while gets no credit for it: it is bounded from where it starts again.
   */
  async throttle(bytes: number): Promise<void> {
    const { ioBytesPerSecond, clock } = this;
    if (ioBytesPerSecond === Infinity) return;
    const now = clock.now();
    this.ioFreeAtMs = Math.max(this.ioFreeAtMs, now) + (bytes / ioBytesPerSecond) * 1000;
    if (this.ioFreeAtMs <= now) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.pauses.delete(done);
        cancel();
        resolve();
      };
      const cancel = clock.after(this.ioFreeAtMs - now, done);
      this.pauses.add(done);
    });
    if (this.closed) throw new Error('the cleaner was closed');
  }

  /**
   * For good: this engine's requests waiting on the thread are refused and its throttled waits cut short, so that a
   * pass under way fails at its next step, changing nothing, rather than hold the close up. The thread goes on for
   * the other engines of the process.
   */
  close(): void {
    this.closed = true;
    for (const done of [...this.pauses]) done();
    for (const id of [...this.mine]) thread.forget(id, new Error('the cleaner was closed'));
  }

  /** For CleanerMap; a closed cleaner still frees its maps. */
  call<T>(request: CleanerRequest): Promise<T> {
    if (this.closed && request.op !== 'free') return Promise.reject(new Error('the cleaner was closed'));
    const { id, reply } = thread.send<T>(request);
    this.mine.add(id);
    return reply.finally(() => this.mine.delete(id));
  }
}

/** One compaction pass's key map, held in the cleaner thread. */
export class CleanerMap {
  constructor(
    private readonly cleaner: Cleaner,
    private readonly map: number,
  ) {}

  /** Forgets every key, for the pass's next round. */
  clear(): Promise<void> {
    return this.cleaner.call({ op: 'clear', map: this.map });
  }

  /**
   * Maps the latest offset of every key in `chunk`'s batches but those flagged in `skip`, and in records from `from`
   * on, until the map is full; the offset of the first record it did not map, or -1 once every one is mapped.
   */
  mapKeys(chunk: Buffer, skip: Uint8Array, from: number): Promise<number> {
    return this.cleaner.call({ op: 'map', map: this.map, chunk, skip, from });
  }

  /** What stays of the records of each of `chunk`'s batches flagged in `asked` (see judgeRecords). */
  async judge(chunk: Buffer, asked: Uint8Array, round: CleaningRound): Promise<JudgedChunk> {
    return new JudgedChunk(await this.cleaner.call<ChunkJudgement>({ op: 'judge', map: this.map, chunk, asked, round }));
  }

  free(): Promise<void> {
    return this.cleaner.call({ op: 'free', map: this.map });
  }
}

/** A chunk's batches as the cleaner thread judged them. */
export class JudgedChunk {
  constructor(private readonly judgement: ChunkJudgement) {}

  get tombstoneDueMs(): number {
    return this.judgement.tombstoneDueMs;
  }

  /** What the copy keeps of batch `i`, whose bytes are `raw`: those bytes, a rebuilt batch, or nothing. */
  kept(i: number, raw: Buffer): { bytes: Buffer | null; removed: number } {
    const { verdicts, removed, rebuilt, rebuiltEnds } = this.judgement;
    const verdict = verdicts[i] as Verdict;
    if (verdict === Verdict.KEEP) return { bytes: raw, removed: removed[i]! };
    if (verdict === Verdict.REMOVE) return { bytes: null, removed: removed[i]! };
    const start = i === 0 ? 0 : rebuiltEnds[i - 1]!;
    return { bytes: Buffer.from(rebuilt, start, rebuiltEnds[i]! - start), removed: removed[i]! };
  }
}
