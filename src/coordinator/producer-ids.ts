import { join } from 'node:path';
import type { FileSystem } from '../io/file-system.js';

const BLOCK = 1000;
const FILE = 'producer-ids.json';

/**
 * Hands out producer ids that are never reused, across restarts: ids come from blocks whose end is written
 * durably before the first id of the block is handed out, so a crash skips the rest of a block, never repeats it.
 */
export class ProducerIdManager {
  private next = 0;
  private blockEnd = 0;
  private reserving: Promise<void> | null = null;

  constructor(
    private readonly fs: FileSystem,
    private readonly dataDir: string,
  ) {}

  async load(): Promise<void> {
    const path = join(this.dataDir, FILE);
    if (await this.fs.exists(path)) {
      const saved = JSON.parse((await this.fs.readFile(path)).toString('utf8')) as { nextBlockStart: number };
      this.next = this.blockEnd = saved.nextBlockStart;
    }
  }

  async nextId(): Promise<number> {
    while (this.next >= this.blockEnd) {
      this.reserving ??= this.reserveBlock().finally(() => (this.reserving = null));
      await this.reserving;
    }
    return this.next++;
  }

  private async reserveBlock(): Promise<void> {
    const end = this.blockEnd + BLOCK;
    await this.fs.writeFileAtomic(join(this.dataDir, FILE), JSON.stringify({ nextBlockStart: end }));
    this.next = Math.max(this.next, this.blockEnd);
    this.blockEnd = end;
  }
}
