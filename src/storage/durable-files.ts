import type { FileSystem } from '../io/file-system.js';
import { inParallel } from './in-parallel.js';

/** Past this many files in a batch, one filesystem sync makes them durable instead of two fsyncs each. */
const MANY_FILES = 32;
/** Files written at a time: the I/O threads are shared with the appends' writes and syncs. */
const WRITING_AT_ONCE = 2;

interface Waiting {
  path: string;
  data: Buffer | string;
  done: (err?: unknown) => void;
}

/**
 * Small files written atomically and durably (segments' index files, producer snapshots), in batches: while one
 * batch is written, the files asked for meanwhile wait for the next. A batch of more than MANY_FILES is written
 * without a sync per file, then made durable by one filesystem sync. Segment rolls come in storms (segment.ms
 * passing for thousands of partitions at once), and two fsyncs for each of a roll's three files took the I/O
 * threads from the appends for seconds.
 */
export class DurableFiles {
  private waiting: Waiting[] = [];
  private running: Promise<void> | null = null;

  constructor(
    private readonly fs: FileSystem,
    private readonly dataDir: string,
  ) {}

  /** Writes `data` to a temporary file renamed to `path`; resolves once both are durable. */
  readonly write = (path: string, data: Buffer | string): Promise<void> =>
    new Promise((resolve, reject) => {
      this.waiting.push({ path, data, done: (err) => (err === undefined ? resolve() : reject(err)) });
      this.running ??= this.run();
    });

  private async run(): Promise<void> {
    while (this.waiting.length > 0) {
      let batch = this.waiting;
      this.waiting = [];
      if (batch.length > MANY_FILES) batch = await this.writeThenSyncAll(batch);
      await this.writeEach(batch, true, (w) => w.done());
    }
    this.running = null;
  }

  /**
   * Settles the batch, or returns the files written where the filesystem cannot be synced at once (no syncfs): the
   * caller then writes them again, each durably.
   */
  private async writeThenSyncAll(batch: Waiting[]): Promise<Waiting[]> {
    const written: Waiting[] = [];
    await this.writeEach(batch, false, (w) => written.push(w));
    try {
      if (!(await this.fs.syncFileSystem(this.dataDir))) return written;
      for (const w of written) w.done();
    } catch (err) {
      for (const w of written) w.done(err);
    }
    return [];
  }

  /** Writes each file, WRITING_AT_ONCE at a time; a file whose write fails is failed with it. */
  private writeEach(batch: Waiting[], durable: boolean, written: (w: Waiting) => unknown): Promise<void> {
    return inParallel(batch, (w) => this.fs.writeFileAtomic(w.path, w.data, durable).then(() => written(w), w.done), WRITING_AT_ONCE);
  }
}
