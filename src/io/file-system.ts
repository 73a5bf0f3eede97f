import * as fs from 'node:fs';
import { processIdentity } from './process-identity.js';
import { SMALL_IO_MAX_BYTES, SmallIo } from './small-io.js';
import { FileSystemSyncer } from './syncfs.js';

/**
 * The file operations the storage engine uses. Storage never imports node:fs directly, so tests can inject
 * faults (ENOSPC, EIO, torn writes) by wrapping this object.
 */
export interface FileSystem {
  open(path: string, flags: string | number): Promise<number>;
  close(fd: number): Promise<void>;
  /** Writes all buffers at `position`, returns the bytes written. */
  writev(fd: number, buffers: Buffer[], position: number): Promise<number>;
  /**
   * Reads up to `length` bytes at `position` into `into` at offset 0, returns the bytes read. `mayMissCache`: the
   * bytes were not written lately, so the read may wait for the disk; it then takes libuv's I/O threads, which
   * read in parallel, and not the small-I/O thread, where the writes queued behind it (appends waiting to be
   * acknowledged, on every partition) would wait with it.
   */
  read(fd: number, into: Buffer, length: number, position: number, mayMissCache?: boolean): Promise<number>;
  fdatasync(fd: number): Promise<void>;
  ftruncate(fd: number, length: number): Promise<void>;
  fstatSize(fd: number): Promise<number>;
  /** Sets a file's modification time (and its access time, to the same). */
  setModifiedTime(fd: number, modifiedMs: number): Promise<void>;
  /**
   * A file's inode number, size, last status change (ctime) and last modification (mtime), the times in milliseconds
   * with a fraction, without opening it.
   */
  stat(path: string): Promise<FileIdentity>;
  /** Creates the directory and any missing parent; resolves whether it was created (false: it existed). */
  mkdir(path: string): Promise<boolean>;
  readdir(path: string): Promise<string[]>;
  readFile(path: string): Promise<Buffer>;
  /**
   * Replaces a whole file atomically: temp file, fsync, rename, fsync of the directory. With `durable`
   * false the two fsyncs are left to the caller (a syncFileSystem after many such writes).
   */
  /** `mode`: the file's permissions (for secrets, 0o600), whatever the process's umask. */
  writeFileAtomic(path: string, data: Buffer | string, durable?: boolean, mode?: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  fsyncDir(path: string): Promise<void>;
  /**
   * Flushes every dirty file of the filesystem that holds `path` in one call (Linux syncfs(2)), for when
   * thousands of files need syncing: one fdatasync per file costs a journal commit each. Resolves false
   * where syncfs is unavailable (then sync file by file); rejects on a writeback error.
   */
  syncFileSystem(path: string): Promise<boolean>;
  /** The size of the filesystem holding `path`, and the bytes an unprivileged writer may still use there. */
  diskSpace(path: string): Promise<{ totalBytes: number; usableBytes: number }>;
  /**
   * Takes an exclusive lock on a data directory (a `.lock` file naming this process by pid, start time and boot;
   * a lock left by a process that no longer runs is taken over, also when its pid was reused or it is a zombie).
   * Resolves with the release function; rejects if a live process holds it.
   */
  lockDir(dir: string): Promise<() => Promise<void>>;
}

export interface FileIdentity {
  inode: number;
  size: number;
  changedMs: number;
  modifiedMs: number;
}

/**
 * Read-write, created if missing, without O_APPEND: positioned writes at the end are as safe and, on ext4,
 * about twice as fast as appends through O_APPEND.
 */
export const OPEN_READ_WRITE_CREATE = fs.constants.O_RDWR | fs.constants.O_CREAT;
/** Read-write, failing with ENOENT if the file is gone. */
export const OPEN_READ_WRITE = fs.constants.O_RDWR;

/**
 * One per process, shared by every broker in it. Started when a data dir is locked, ahead of the writes that follow:
 * its thread takes 60 ms to start on an idle small VM and up to 200 ms beside a busy broker, and when it started at
 * the first small write, the first produce after a start was acknowledged that late, and everything behind it too.
 */
let smallIo: SmallIo | undefined;
const startSmallIo = (): SmallIo => (smallIo ??= new SmallIo());
/** One per process too, its shell started with the small-I/O thread (see FileSystemSyncer). */
const syncer = new FileSystemSyncer();
/** Writes and reads given to libuv's I/O threads and not yet done. */
let poolRequestsInFlight = 0;

/**
 * Alone, a write or read costs the same either way and the copy is saved; beside others, the small-I/O thread saves
 * their hand-offs (see SmallIo).
 */
function besideOthers(): boolean {
  return poolRequestsInFlight > 0 || (smallIo?.pending ?? 0) > 0;
}

/** Runs an fs call on libuv's I/O threads, counted while it is there. */
function onPool<T>(call: (done: (err: Error | null, result: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    // counted only once queued: a call that throws (a bad descriptor) never calls back
    call((err, result) => {
      poolRequestsInFlight--;
      if (err) reject(err);
      else resolve(result);
    });
    poolRequestsInFlight++;
  });
}

/** Whether a file system call failed for want of space: a full disk, or a quota used up. */
export function outOfSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export const nodeFileSystem: FileSystem = {
  open: (path, flags) => new Promise((resolve, reject) => fs.open(path, flags, (err, fd) => (err ? reject(err) : resolve(fd)))),
  close: (fd) => new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve()))),
  writev: (fd, buffers, position) => {
    let bytes = 0;
    for (const b of buffers) bytes += b.length;
    const small = bytes <= SMALL_IO_MAX_BYTES && besideOthers() ? startSmallIo().writev(fd, buffers, bytes, position) : null;
    return small ?? onPool((done) => fs.writev(fd, buffers, position, done));
  },
  read: (fd, into, length, position, mayMissCache = false) => {
    const small = !mayMissCache && length <= SMALL_IO_MAX_BYTES && besideOthers() ? startSmallIo().read(fd, into, length, position) : null;
    return small ?? onPool((done) => fs.read(fd, into, 0, length, position, done));
  },
  fdatasync: (fd) => new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve()))),
  ftruncate: (fd, length) => new Promise((resolve, reject) => fs.ftruncate(fd, length, (err) => (err ? reject(err) : resolve()))),
  fstatSize: (fd) => new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st.size)))),
  setModifiedTime: (fd, modifiedMs) => new Promise((resolve, reject) => fs.futimes(fd, modifiedMs / 1000, modifiedMs / 1000, (err) => (err ? reject(err) : resolve()))),
  stat: (path) => new Promise((resolve, reject) => fs.stat(path, (err, st) => (err ? reject(err) : resolve({ inode: st.ino, size: st.size, changedMs: st.ctimeMs, modifiedMs: st.mtimeMs })))),
  // recursive mkdir resolves with the first directory it created, undefined when the path existed
  mkdir: async (path) => (await fs.promises.mkdir(path, { recursive: true })) !== undefined,
  readdir: (path) => fs.promises.readdir(path),
  readFile: (path) => fs.promises.readFile(path),
  writeFileAtomic: async (path, data, durable = true, mode) => {
    const tmp = `${path}.tmp`;
    const h = await fs.promises.open(tmp, 'w');
    try {
      // before the data: a file left by an earlier attempt keeps its own permissions otherwise
      if (mode !== undefined) await h.chmod(mode);
      await h.writeFile(data);
      if (durable) await h.datasync();
    } finally {
      await h.close();
    }
    await fs.promises.rename(tmp, path);
    if (durable) await fsyncDirectory(path.slice(0, Math.max(path.lastIndexOf('/'), 1)));
  },
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (path) => fs.promises.unlink(path),
  // retried: a file created inside while the tree is removed (a compaction finishing) fails one attempt with ENOTEMPTY
  rmdir: (path) => fs.promises.rm(path, { recursive: true, force: true, maxRetries: 3 }),
  exists: (path) => fs.promises.access(path).then(() => true, () => false),
  fsyncDir: (path) => fsyncDirectory(path),
  syncFileSystem: (path) => syncer.sync(path),
  diskSpace: async (path) => {
    const s = await fs.promises.statfs(path);
    return { totalBytes: s.blocks * s.bsize, usableBytes: s.bavail * s.bsize };
  },
  lockDir,
};

async function lockDir(dir: string): Promise<() => Promise<void>> {
  // the engine's helpers start with its data dir, before its first writes and while the process is small
  startSmallIo();
  syncer.prepare();
  const path = `${dir}/.lock`;
  const me = (await processIdentity(process.pid)) ?? String(process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.promises.writeFile(path, me, { flag: 'wx' });
      return () => fs.promises.unlink(path).catch(() => undefined);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const recorded = (await fs.promises.readFile(path, 'utf8').catch(() => '')).trim();
      if (await heldByLiveProcess(recorded)) {
        throw Object.assign(new Error(`data dir ${dir} is in use by process ${recorded.split(' ')[0]}`), { code: 'ELOCKED' });
      }
      await fs.promises.unlink(path).catch(() => undefined);
    }
  }
  throw Object.assign(new Error(`could not lock data dir ${dir}`), { code: 'ELOCKED' });
}

/**
 * Whether the process a lock file names still runs. A lock records its holder's identity, so a crashed broker's
 * lock is taken over even when its pid now belongs to another process (after a reboot, in a new container) or
 * its parent has not reaped it yet; a lock of a bare pid (older versions) counts while that pid runs.
 */
async function heldByLiveProcess(recorded: string): Promise<boolean> {
  const pid = Number(recorded.split(' ')[0]);
  if (!(pid > 0) || pid === process.pid) return false;
  const running = await processIdentity(pid);
  if (running === null) return false;
  return !recorded.includes(' ') || running === recorded;
}

async function fsyncDirectory(path: string): Promise<void> {
  const h = await fs.promises.open(path, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}
