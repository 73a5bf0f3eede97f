// Go clients as Debian packages them (sarama, kafka-go): Debian ships their source, so a test builds its program
// with Debian's Go from Debian's copies of the client and its dependencies (GOPATH mode: no module download).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/run.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Where Debian installs the Go libraries it packages. */
const DEBIAN_GOPATH = '/usr/share/gocode';

// tests run from dist/; the Go sources stay in the source tree
const SOURCES = fileURLToPath(new URL('../../../test/interop/go/', import.meta.url));

/** Builds the Go program `<name>-clients.go` (with what the programs share) into a temp dir; `remove()` deletes it. */
export async function buildDebianGo(name: string): Promise<{ binary: string; remove: () => Promise<void> }> {
  const { dir, cleanup } = await tempDir(`sluice-${name}-`);
  const binary = join(dir, name);
  try {
    const built = await run('go', ['build', '-o', binary, join(SOURCES, `${name}-clients.go`), join(SOURCES, 'jsonlines.go')], {
      env: { GO111MODULE: 'off', GOPATH: DEBIAN_GOPATH, GOCACHE: join(dir, 'cache'), GOFLAGS: '' },
      timeoutMs: 300_000,
    });
    if (built.code !== 0) throw new Error(`go build of the ${name} clients failed: ${built.stderr.slice(-3000)}`);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { binary, remove: cleanup };
}

/** Runs one command of such a program, which takes JSON lines on stdin and prints JSON lines; fails on a non-zero exit. */
export async function runJsonLines(binary: string, what: string, args: string[], input: unknown[] = []): Promise<unknown[]> {
  const res = await run(binary, args, { input: input.map((m) => JSON.stringify(m)).join('\n'), timeoutMs: 180_000 });
  if (res.code !== 0) throw new Error(`${what} exited ${res.code}: ${res.stderr.slice(-2000)}`);
  return res.stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}
