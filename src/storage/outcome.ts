const PENDING = 0;
const DONE = 1;
const FAILED = 2;

const ignore = () => undefined;

/**
 * A caller may ask for both steps and await only one: the other must not become an unhandled rejection. Marked
 * only when it fails (before it is rejected, so it never goes unhandled): a handler attached on every promise made
 * was one more promise per append.
 */
function ignoredIfUnhandled(promise: Promise<void>): Promise<void> {
  promise.catch(ignore);
  return promise;
}

/**
 * How one step of an append ended (written, durable), with its promise made only when somebody asks for it. A
 * caller awaits one step of an append at most, and an eager promise with its two resolvers and a rejection guard
 * is several objects per append, which thousands of partitions pay for in garbage collection.
 */
export class Outcome {
  private state = PENDING;
  private error: unknown;
  private made: Promise<void> | null = null;
  private resolveMade: (() => void) | null = null;
  private rejectMade: ((err: unknown) => void) | null = null;

  get promise(): Promise<void> {
    if (this.made) return this.made;
    if (this.state === DONE) return (this.made = Promise.resolve());
    if (this.state === FAILED) return (this.made = ignoredIfUnhandled(Promise.reject(this.error)));
    return (this.made = new Promise<void>((resolve, reject) => {
      this.resolveMade = resolve;
      this.rejectMade = reject;
    }));
  }

  resolve(): void {
    if (this.state !== PENDING) return;
    this.state = DONE;
    this.resolveMade?.();
    this.resolveMade = this.rejectMade = null;
  }

  reject(err: unknown): void {
    if (this.state !== PENDING) return;
    this.state = FAILED;
    this.error = err;
    if (this.made) ignoredIfUnhandled(this.made);
    this.rejectMade?.(err);
    this.resolveMade = this.rejectMade = null;
  }
}
