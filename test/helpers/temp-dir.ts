import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withCleanup } from './cleanup.js';

/** A fresh directory under the OS temp dir, removed by the returned cleanup function. */
export async function tempDir(prefix = 'sluice-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Runs `fn` with a fresh temp directory and removes the directory afterwards, whatever `fn` did. A test that failed
 * may leave logs still writing there, so the removal can fail too (ENOTEMPTY): the test's own error is reported.
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const { dir, cleanup } = await tempDir();
  return withCleanup(() => fn(dir), cleanup);
}
