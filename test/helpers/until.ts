/**
 * Resolves once `done()` holds, checking every 10 ms; rejects naming `what` after `timeoutMs`. Tests wait for the
 * state they need instead of sleeping a fixed time that a loaded machine may not honour.
 */
export async function until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * `step`'s outcome, or a failure naming `what` after `timeoutMs`: a client call that may wait for ever (a join that
 * never completes) fails the test with its name instead of hanging the file until the runner's timeout.
 */
export async function within<T>(step: Promise<T>, what: string, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([step, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
