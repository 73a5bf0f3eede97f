import assert from 'node:assert/strict';
import { run } from './run.js';

/** Runs kcat (Debian's) with `args`, feeding `input`; fails the test with its stderr unless it exits 0. Returns its stdout. */
export async function kcat(args: string[], input?: string): Promise<string> {
  const res = await run('kcat', args, { input, timeoutMs: 60_000 });
  assert.equal(res.code, 0, `kcat ${args.join(' ')} failed: ${res.stderr}`);
  return res.stdout;
}
