/**
 * Runs `fn`, then `cleanup`, whether `fn` failed or not. Should `fn` fail, its error is the one thrown: it says more
 * than a cleanup's that failed after it (a broker's stop, a directory still being written to).
 */
export async function withCleanup<T>(fn: () => Promise<T>, cleanup: () => Promise<void>): Promise<T> {
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }
  await cleanup();
  return result;
}
