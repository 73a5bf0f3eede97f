/** Items worked on at a time: enough to keep the file system busy, few enough for the descriptor limit. */
const CONCURRENCY = 64;

/** Runs `work` on every item, CONCURRENCY at a time; rejects with the first failure of a chunk. */
export async function inParallel<T>(items: readonly T[], work: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += CONCURRENCY) await Promise.all(items.slice(i, i + CONCURRENCY).map(work));
}
