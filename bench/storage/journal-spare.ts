import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A broker under sustained load writes its journal over a file an earlier checkpoint kept (the spare); a fresh data
 * directory has none until its first checkpoint ends. Cases are measured as the broker runs under sustained load:
 * each starts with the spare the case before it left, the first with one written here, as large as a checkpoint's
 * worth of journal (the broker's own spare is an old journal file: blocks written once, likely still cached).
 */
export class JournalSpare {
  constructor(private readonly hold: string) {}

  async prime(bytes: number): Promise<void> {
    await mkdir(this.hold, { recursive: true });
    const h = await open(join(this.hold, `${'0'.repeat(20)}.spare`), 'w');
    try {
      const chunk = Buffer.alloc(8 << 20);
      for (let at = 0; at < bytes; at += chunk.length) await h.write(chunk, 0, Math.min(chunk.length, bytes - at), at);
      await h.datasync();
    } finally {
      await h.close();
    }
  }

  /** Moves the spare held into a data dir about to be opened. */
  async lendTo(dataDir: string): Promise<void> {
    const journal = join(dataDir, 'journal');
    await mkdir(journal, { recursive: true });
    for (const f of await readdir(this.hold).catch(() => [])) await rename(join(this.hold, f), join(journal, f));
  }

  /** Takes back the spare a closed data dir kept, if any (the one lent may have been written over and deleted). */
  async takeFrom(dataDir: string): Promise<void> {
    const journal = join(dataDir, 'journal');
    const spares = (await readdir(journal).catch(() => [])).filter((f) => f.endsWith('.spare'));
    if (spares.length === 0) return;
    await rm(this.hold, { recursive: true, force: true });
    await mkdir(this.hold, { recursive: true });
    await rename(join(journal, spares[0]!), join(this.hold, spares[0]!));
  }
}
