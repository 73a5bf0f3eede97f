const PENDING = 0;
const DONE = 1;
const FAILED = 2;

const ignore = () => undefined;

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
    this.made =
      this.state === FAILED
        ? Promise.reject(this.error)
        : new Promise<void>((resolve, reject) => {
            this.resolveMade = resolve;
            this.rejectMade = reject;
          });
    // a caller may ask for both steps and await only one: the other must not become an unhandled rejection
    this.made.catch(ignore);
    return this.made;
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
    this.rejectMade?.(err);
    this.resolveMade = this.rejectMade = null;
  }
}
