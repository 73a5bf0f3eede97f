import type { FileSystem } from '../io/file-system.js';

/**
 * A piece of the broker's state kept whole in one file of the data dir (the ACLs, the SCRAM credentials managed
 * through the API): each change is written, atomically and durably, before it takes effect, and changes are made one
 * at a time, so a change that cannot be written changes nothing and an answer is sent only for a change that lasts.
 */
export class DurableState<T> {
  private changes: Promise<unknown> = Promise.resolve();
  /** Runs as a change takes effect, before anything else can read the state (indexes kept beside it follow it). */
  onChange: (state: T) => void = () => undefined;

  constructor(
    private readonly fs: FileSystem,
    readonly path: string,
    private state: T,
    private readonly render: (state: T) => string,
    /** The file's permissions, where it holds secrets. */
    private readonly mode?: number,
  ) {}

  get current(): T {
    return this.state;
  }

  /**
   * Makes the change `next` computes from the state as it stands when the change's turn comes: the new state (null
   * when nothing changes, and nothing is written) and what the caller gets back.
   */
  change<R>(next: (current: T) => { state: T | null; result: R }): Promise<R> {
    const run = this.changes.catch(() => undefined).then(async () => {
      const { state, result } = next(this.state);
      if (state !== null) {
        await this.fs.writeFileAtomic(this.path, this.render(state), true, this.mode);
        this.state = state;
        this.onChange(state);
      }
      return result;
    });
    this.changes = run;
    return run;
  }
}
