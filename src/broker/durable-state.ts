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

/** What a state file holds, for the message that refuses it: its kind, and what a start without it starts with. */
export interface StateFileKind<S> {
  kind: string;
  without: string;
  /** Whether the parsed file has the shape this version writes. */
  valid(parsed: S): boolean;
}

/**
 * A state file's JSON, checked to be version 1 of its kind and handed to `read`, which makes the state of it and may
 * call `refuse`: a file that cannot be read stops the start, saying why and how to recover (a backup, or starting
 * without it), rather than run without some of what it held.
 */
export function readStateFile<S extends { version?: unknown }, T>(text: string, path: string, file: StateFileKind<S>, read: (parsed: S, refuse: (why: string) => never) => T): T {
  const refuse = (why: string): never => {
    throw new Error(`${path} cannot be read (${why}): restore it from a backup, or remove it to start ${file.without}`);
  };
  let parsed: S;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return refuse((err as Error).message);
  }
  if (typeof parsed !== 'object' || parsed === null || parsed.version !== 1 || !file.valid(parsed)) return refuse(`not a version 1 ${file.kind} file`);
  return read(parsed, refuse);
}
