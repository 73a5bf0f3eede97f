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
