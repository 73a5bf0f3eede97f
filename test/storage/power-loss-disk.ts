// A simulated disk for power-loss tests that promises no more than POSIX does: a file keeps the bytes an
// fdatasync or syncfs covered, and a directory keeps the entries (files created, renamed, replaced, unlinked) that
// an fsync of that directory or a syncfs covered. A power loss puts every directory back to its durable entries
// (a file renamed since gets its old name back, an unlinked one comes back, a new one is gone), gives bytes written
// over durable ones and not synced since their old content back (all, none, or the first or last part of a
// write), and then cuts every file somewhere past its durable bytes. Directories themselves are durable once made;
// only files are tracked, and only those opened for writing through this file system.
import { fstatSync, readSync, writeSync } from 'node:fs';
import { rename, stat, truncate, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import fc from 'fast-check';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Where a power loss cuts files, for `powerLoss((i) => cuts[i % cuts.length])`: each in [0, 1]. */
export const cutsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 8, maxLength: 8 });

/**
 * `spareDir` must be on the data directory's filesystem, outside it: files a power loss may bring back wait
 * there. `fsFor()` gives the file system of one process lifetime; after `powerLoss`, that process is dead: its
 * operations fail, and only a new `fsFor()` works. Without `syncfs`, the filesystem cannot be synced at once
 * (as where syncfs(2) is missing): the engine must sync file by file.
 */
export function powerLossDisk(spareDir: string, { syncfs = true } = {}) {
  let nextFileId = 0;
  /** The file at each path the engine created, by an id that stays with it through renames. */
  const fileAt = new Map<string, number>();
  /** Bytes of each file that an fdatasync or syncfs made durable. */
  const durable = new Map<number, number>();
  /** Each directory's entries that an fsync of it or a syncfs made durable: name → file. */
  const durableEntries = new Map<string, Map<string, number>>();
  /** Files unlinked or replaced while a durable entry still names them, kept here: a power loss brings them back. */
  const buried = new Map<number, string>();
  /**
   * Syncs still running, per file, with what each makes durable once it returns: the size when it began, lowered
   * by a truncation or unlink meanwhile. Syncs of one file can return out of order (a checkpoint's beside a
   * round's): an older one returning last must not take back what a newer one made durable.
   */
  const syncing = new Map<number, Set<{ upTo: number }>>();
  const syncStarts = (id: number, size: number) => {
    const sync = { upTo: size };
    let running = syncing.get(id);
    if (!running) syncing.set(id, (running = new Set()));
    running.add(sync);
    return sync;
  };
  const cover = (id: number, upTo: number) => durable.has(id) && durable.set(id, Math.max(durable.get(id)!, upTo));
  const syncEnds = (id: number, sync: { upTo: number }, covered: boolean) => {
    syncing.get(id)?.delete(sync);
    if (covered) cover(id, sync.upTo);
  };
  /**
   * Writes over durable bytes not synced since, per file, oldest first: where each wrote, what was there before, and
   * the write's number (a sync covers the writes numbered up to the count when it began).
   */
  const overwrites = new Map<number, { position: number; old: Buffer; write: number }[]>();
  let writes = 0;
  const coverOverwrites = (id: number, upToWrite: number) => {
    const left = overwrites.get(id)?.filter((o) => o.write > upToWrite);
    if (left?.length) overwrites.set(id, left);
    else overwrites.delete(id);
  };
  const cutSyncs = (id: number, length: number) => {
    for (const sync of syncing.get(id) ?? []) sync.upTo = Math.min(sync.upTo, length);
  };
  const namedDurably = (id: number) => [...durableEntries.values()].some((entries) => [...entries.values()].includes(id));
  /** A file no path and no durable entry names any more is gone for good. */
  const forget = async (id: number) => {
    const spare = buried.get(id);
    if (spare !== undefined) await unlink(spare);
    buried.delete(id);
    durable.delete(id);
    syncing.delete(id);
    overwrites.delete(id);
  };
  /** Takes the file at `path` out of its directory: kept aside while a durable entry names it, else deleted. */
  const takeAway = async (path: string) => {
    const id = fileAt.get(path)!;
    fileAt.delete(path);
    cutSyncs(id, 0);
    if (namedDurably(id)) {
      const spare = join(spareDir, `buried-${id}`);
      await rename(path, spare);
      buried.set(id, spare);
    } else {
      await unlink(path);
      await forget(id);
    }
  };
  const syncDirectory = async (dir: string) => {
    const entries = new Map<string, number>();
    for (const [path, id] of fileAt) if (dirname(path) === dir) entries.set(basename(path), id);
    durableEntries.set(dir, entries);
    for (const id of [...buried.keys()]) if (!namedDurably(id)) await forget(id);
  };

  /** The id of a file only read, that no process wrote through this file system. */
  const UNTRACKED = -1;
  let life = 0;
  /** Operations left before the power goes (Infinity: it stays on). */
  let budget = Infinity;
  /** Writes and syncs to let through, then how many to fail with ENOSPC (a write lands half its bytes first). */
  const full = { skip: 0, fail: 0 };
  const noSpace = (): boolean => {
    if (full.skip > 0) full.skip--;
    else if (full.fail > 0) return full.fail-- > 0;
    return false;
  };
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
  /** File operations started before the power went and still running (they finish before the cut). */
  let running = 0;
  /** How long each fdatasync takes at least, as on a real disk: other writes go on meanwhile. */
  let syncMs = 0;
  /** Directory changes run one at a time, so the model's bookkeeping follows the real renames and unlinks in order. */
  let directoryChange: Promise<unknown> = Promise.resolve();
  const serially = <T>(op: () => Promise<T>): Promise<T> => {
    const done = directoryChange.then(op);
    directoryChange = done.catch(() => undefined);
    return done;
  };

  const fsFor = (): FileSystem => {
    const mine = ++life;
    budget = Infinity;
    const files = new Map<number, number>();
    const powerOff = () => Object.assign(new Error('EIO: the power is off'), { code: 'EIO' });
    /**
     * Runs a file operation of this process unless the power is off, counted until it completes. One that was
     * running when the power went never reports success: its process is gone.
     */
    const guarded = async <T>(op: () => Promise<T>): Promise<T> => {
      if (mine === life && --budget < 0) life++;
      if (mine !== life) throw powerOff();
      running++;
      try {
        const result = await op();
        if (mine !== life) throw powerOff();
        return result;
      } finally {
        running--;
      }
    };
    const fs: FileSystem = {
      ...nodeFileSystem,
      open: (path, flags) =>
        guarded(() =>
          serially(async () => {
            const fd = await nodeFileSystem.open(path, flags);
            let id = fileAt.get(path);
            if (id === undefined && flags !== 'r') {
              id = nextFileId++;
              fileAt.set(path, id);
              durable.set(id, 0);
            } else if (id !== undefined && flags === 'w') {
              durable.set(id, 0);
              cutSyncs(id, 0);
              overwrites.delete(id);
            }
            if (mine !== life) {
              // the power went while it opened: its process never gets the descriptor, so nobody else closes it
              await nodeFileSystem.close(fd);
              throw powerOff();
            }
            files.set(fd, id ?? UNTRACKED); // a file read that nothing here wrote is never cut
            return fd;
          }),
        ),
      // a descriptor is closed once: the number may belong to the next process by the time a dead one retries
      close: async (fd) => {
        if (files.delete(fd)) await nodeFileSystem.close(fd);
      },
      writev: (fd, buffers, position) =>
        guarded(async () => {
          const id = files.get(fd)!;
          const durableBytes = durable.get(id) ?? 0;
          if (position < durableBytes) {
            const old = Buffer.alloc(Math.min(buffers.reduce((n, b) => n + b.length, 0), durableBytes - position));
            readSync(fd, old, 0, old.length, position);
            const list = overwrites.get(id) ?? [];
            list.push({ position, old, write: ++writes });
            overwrites.set(id, list);
          }
          if (noSpace()) {
            await nodeFileSystem.writev(fd, [buffers[0]!.subarray(0, buffers[0]!.length >> 1)], position);
            throw enospc();
          }
          return nodeFileSystem.writev(fd, buffers, position);
        }),
      fdatasync: (fd) =>
        guarded(async () => {
          if (noSpace()) throw enospc();
          const id = files.get(fd)!;
          const sync = syncStarts(id, fstatSync(fd).size); // what was written before the call is covered, nothing later
          const writtenBefore = writes;
          let done = false;
          try {
            if (syncMs > 0) await new Promise((r) => setTimeout(r, syncMs));
            await nodeFileSystem.fdatasync(fd);
            done = true;
          } finally {
            syncEnds(id, sync, done && mine === life);
            if (done && mine === life) coverOverwrites(id, writtenBefore);
          }
        }),
      ftruncate: (fd, length) =>
        guarded(async () => {
          await nodeFileSystem.ftruncate(fd, length);
          const id = files.get(fd)!;
          if (durable.has(id)) durable.set(id, Math.min(durable.get(id)!, length));
          cutSyncs(id, length);
          // what lay past the cut is gone; a power loss gives back no old bytes there
          const kept = overwrites.get(id)?.flatMap((o) => (o.position >= length ? [] : [{ ...o, old: o.old.subarray(0, length - o.position) }]));
          if (kept?.length) overwrites.set(id, kept);
          else overwrites.delete(id);
        }),
      rename: (from, to) =>
        guarded(() =>
          serially(async () => {
            if (fileAt.has(to)) await takeAway(to);
            await nodeFileSystem.rename(from, to);
            const id = fileAt.get(from);
            fileAt.delete(from);
            if (id !== undefined) fileAt.set(to, id);
          }),
        ),
      unlink: (path) =>
        guarded(() =>
          serially(async () => {
            if (!fileAt.has(path)) return nodeFileSystem.unlink(path);
            await takeAway(path);
          }),
        ),
      rmdir: (path) =>
        guarded(() =>
          serially(async () => {
            await nodeFileSystem.rmdir(path);
            const inside = (p: string) => p === path || p.startsWith(`${path}/`);
            for (const [p, id] of [...fileAt]) if (inside(p)) fileAt.delete(p) && (await forget(id));
            for (const dir of [...durableEntries.keys()]) if (inside(dir)) durableEntries.delete(dir);
          }),
        ),
      fsyncDir: (path) =>
        guarded(() =>
          serially(async () => {
            await nodeFileSystem.fsyncDir(path);
            if (mine === life) await syncDirectory(path);
          }),
        ),
      syncFileSystem: async () => {
        if (!syncfs) return false;
        return guarded(() =>
          serially(async () => {
            const writtenBefore = writes;
            const sizes = await Promise.all([...fileAt].map(async ([p, id]) => [id, await stat(p).then((s) => s.size, () => -1)] as const));
            if (mine !== life) return true;
            for (const [id, size] of sizes) if (size >= 0) cover(id, size);
            for (const id of [...overwrites.keys()]) coverOverwrites(id, writtenBefore);
            for (const dir of new Set([...durableEntries.keys(), ...[...fileAt.keys()].map(dirname)])) await syncDirectory(dir);
            return true;
          }),
        );
      },
      // built from the operations above, so the model sees its temp file, sync, rename and directory sync
      writeFileAtomic: async (path, data, isDurable = true) => {
        const tmp = `${path}.tmp`;
        const fd = await fs.open(tmp, 'w');
        try {
          await fs.writev(fd, [Buffer.from(data)], 0);
          if (isDurable) await fs.fdatasync(fd);
        } finally {
          await fs.close(fd);
        }
        await fs.rename(tmp, path);
        if (isDurable) await fs.fsyncDir(dirname(path));
      },
    };
    return fs;
  };

  /**
   * Cuts the power (now, if it is still on): the process's file system fails from then on, every directory goes
   * back to its durable entries, and each file is cut somewhere between its durable and its current size
   * (`cutAt(i, path)` in [0, 1] picks where, for the i-th file, at `path`).
   */
  const powerLoss = async (cutAt: (i: number, path: string) => number): Promise<void> => {
    if (budget >= 0) life++;
    while (running > 0) await new Promise((r) => setImmediate(r));
    await directoryChange;
    // every file not where a durable entry puts it steps aside, then each durable entry gets its file back
    const aside = new Map<number, string>();
    for (const [path, id] of [...fileAt]) {
      if (durableEntries.get(dirname(path))?.get(basename(path)) === id) continue;
      const spare = join(spareDir, `aside-${id}`);
      await rename(path, spare);
      fileAt.delete(path);
      aside.set(id, spare);
    }
    for (const [dir, entries] of durableEntries) {
      for (const [name, id] of entries) {
        const path = join(dir, name);
        if (fileAt.get(path) === id) continue;
        const from = aside.get(id) ?? buried.get(id);
        if (from === undefined) throw new Error(`disk model: the file durably named ${path} is lost`);
        await rename(from, path);
        aside.delete(id);
        buried.delete(id);
        fileAt.set(path, id);
      }
    }
    for (const id of [...aside.keys(), ...buried.keys()]) {
      await unlink(aside.get(id) ?? buried.get(id)!);
      durable.delete(id);
    }
    buried.clear();
    syncing.clear();
    // newest first, so a write given all its old bytes back leaves what was there before any of them
    let o = 0;
    for (const [path, id] of fileAt) {
      const list = overwrites.get(id) ?? [];
      if (list.length === 0) continue;
      const fd = await nodeFileSystem.open(path, 'r+');
      try {
        for (const { position, old } of list.reverse()) {
          // [0, 1): the write reached the disk; [1, 2): none of it did; [2, 3): its last part; [3, 4]: its first part
          const r = Math.min(cutAt(o++, path) * 4, 3.999);
          const part = Math.floor((r % 1) * old.length);
          if (r < 1) continue;
          if (r < 2) writeSync(fd, old, 0, old.length, position);
          else if (r < 3) writeSync(fd, old, 0, part, position);
          else writeSync(fd, old, part, old.length - part, position + part);
        }
      } finally {
        await nodeFileSystem.close(fd);
      }
    }
    overwrites.clear();
    let i = 0;
    for (const [path, id] of fileAt) {
      const size = (await stat(path)).size;
      const kept = Math.min(durable.get(id) ?? 0, size);
      const cut = kept + Math.floor(cutAt(i++, path) * (size - kept + 1));
      if (cut < size) await truncate(path, cut);
      durable.set(id, Math.min(cut, size));
    }
  };

  /**
   * Kills the process (now, if the power is still on) with the power left on: its file system fails from then on,
   * and what it wrote stays as the page cache holds it, synced or not, as after a SIGKILL.
   */
  const crash = async (): Promise<void> => {
    if (budget >= 0) life++;
    while (running > 0) await new Promise((r) => setImmediate(r));
    await directoryChange;
  };

  return {
    fsFor,
    powerLoss,
    crash,
    /** Makes every fdatasync from now on take at least `ms`. */
    slowSyncs: (ms: number) => (syncMs = ms),
    /** The power goes after `ops` more file operations, wherever the process is then. */
    failAfter: (ops: number) => (budget = ops),
    /** After `skip` more writes and syncs, `fail` of them fail with ENOSPC; then space is back. */
    fillUp: (skip: number, fail: number) => Object.assign(full, { skip, fail }),
    get on() {
      return budget >= 0;
    },
  };
}

export type PowerLossDisk = ReturnType<typeof powerLossDisk>;

/** Runs `body` with a new data directory on a new simulated disk; both are removed afterwards. */
export async function withPowerLossDisk(body: (dir: string, disk: PowerLossDisk) => Promise<void>, options?: { syncfs?: boolean }): Promise<void> {
  const { dir, cleanup } = await tempDir();
  const spare = await tempDir();
  try {
    await body(dir, powerLossDisk(spare.dir, options));
  } finally {
    await cleanup();
    await spare.cleanup();
  }
}
