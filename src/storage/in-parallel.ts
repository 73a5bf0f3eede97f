/** Items worked on at a time: enough to keep the file system busy, few enough for the descriptor limit. */
const CONCURRENCY = 64;

/**
 * Runs `work` on every item, `atOnce` at a time. A failure rejects once every item of its chunk has settled
 * (the first failure), and no later chunk starts: nothing is left running behind the rejection, so the caller
 * may close the files the work uses.
 */
export async function inParallel<T>(items: readonly T[], work: (item: T) => Promise<unknown>, atOnce = CONCURRENCY): Promise<void> {
  for (let i = 0; i < items.length; i += atOnce) {
    const outcomes = await Promise.allSettled(items.slice(i, i + atOnce).map(work));
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
