// TLS files read again while the broker runs: a certificate renewed in place (Let's Encrypt, cert-manager) is served
// from the next connection on.
import { watchFile, unwatchFile, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { TlsFiles, TlsMaterial } from './tcp.js';

/** Reads TLS material from its files. */
export async function readTlsFiles(files: TlsFiles): Promise<TlsMaterial> {
  const optional = (path: string | undefined) => (path === undefined ? undefined : readFile(path));
  const [cert, key, ca, crl] = await Promise.all([readFile(files.cert), readFile(files.key), optional(files.ca), optional(files.crl)]);
  return { cert, key, ca, crl };
}

/**
 * Calls `onChange` when any of `paths` changes (size, time, inode: a file rewritten, or a link swapped to another, as
 * Kubernetes updates mounted secrets), looked at every `intervalMs`. Does not keep the process alive. Returns the stop.
 */
export function watchFiles(paths: readonly string[], intervalMs: number, onChange: () => void): () => void {
  const listener = (current: Stats, previous: Stats) => {
    if (current.mtimeMs !== previous.mtimeMs || current.size !== previous.size || current.ino !== previous.ino) onChange();
  };
  for (const path of paths) watchFile(path, { interval: intervalMs, persistent: false }, listener);
  return () => {
    for (const path of paths) unwatchFile(path, listener);
  };
}
