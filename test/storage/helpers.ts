import { readdir } from 'node:fs/promises';
import { ErrorCode, KafkaError } from '../../src/protocol/errors.js';
import { validateBatches } from '../../src/protocol/record-batch.js';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import type { Clock } from '../../src/io/clock.js';
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js';
import { LogManager, type LogManagerOptions } from '../../src/storage/log-manager.js';
import type { AppendResult, PartitionLog } from '../../src/storage/partition-log.js';
import { changesIn, type CatalogueChange } from '../../src/storage/catalogue.js';

/** A clock that reads `now` and runs no timers: retention, compaction and flushes run when a test asks for them. */
export function clockAt(now: () => number): Clock {
  return { now, every: () => () => undefined, after: () => () => undefined };
}

export function batchOf(values: string[], timestamp?: number): Buffer {
  return buildRecordBatch(values.map((v) => ({ key: `k-${v}`, value: v, timestamp })));
}

export function appendValues(log: PartitionLog, values: string[], timestamp?: number): AppendResult {
  const batch = batchOf(values, timestamp);
  return log.append(batch, validateBatches(batch, 1 << 30));
}

/** Every record from `from` to the high watermark, as [offset, value]. */
export async function readAll(log: PartitionLog, from = log.logStartOffset): Promise<[number, string][]> {
  const out: [number, string][] = [];
  let offset = from;
  while (offset < log.highWatermark) {
    const { records } = await log.read(offset, 64 * 1024);
    if (records.length === 0) break;
    out.push(...recordsFrom(records, offset));
    offset = out.length > 0 ? out[out.length - 1]![0] + 1 : offset;
  }
  return out;
}

/** The records of one read's batches at or after `offset`, as [offset, value]. */
export function recordsFrom(records: Buffer, offset: number): [number, string][] {
  const out: [number, string][] = [];
  for (const b of decodeRecordBatches(records)) for (const r of b.records) if (r.offset >= offset) out.push([r.offset, r.value!.toString()]);
  return out;
}

const crashes = new WeakMap<LogManager, () => Promise<void>>();

/** Opens the logs of a data dir, as one process lifetime that `crash` can end. */
export async function openLogs(dataDir: string, extra: Partial<LogManagerOptions> = {}): Promise<LogManager> {
  const lifetime = processFileSystem(extra.fs ?? nodeFileSystem);
  const logs = await LogManager.open({ dataDir, retentionCheckMs: 3_600_000, ...extra, fs: lifetime.fs });
  crashes.set(logs, lifetime.kill);
  return logs;
}

/**
 * Ends `logs` as the death of its process would: no clean shutdown, and nothing it still had running (a roll's
 * index writes, a rollback, a journal round) touches the data dir afterwards, where the next process works.
 */
export async function crash(logs: LogManager): Promise<void> {
  await crashes.get(logs)!();
}

/**
 * A file system for one process lifetime. `kill` lets the operations already running finish (a descriptor closed
 * under one could be reused by the next process before the operation runs), then closes every descriptor still
 * open; from then on each operation fails, and a close does nothing.
 */
function processFileSystem(base: FileSystem): { fs: FileSystem; kill: () => Promise<void> } {
  let dead = false;
  const open = new Set<number>();
  const running = new Set<Promise<unknown>>();
  const gone = () => Object.assign(new Error('EIO: the process crashed'), { code: 'EIO' });
  const wrap = <K extends keyof FileSystem>(name: K) =>
    (async (...args: unknown[]) => {
      if (dead) {
        if (name === 'close') return undefined;
        throw gone();
      }
      const op = (base[name] as (...a: unknown[]) => Promise<unknown>)(...args);
      running.add(op);
      try {
        const result = await op;
        if (name === 'open') open.add(result as number);
        if (name === 'close') open.delete(args[0] as number);
        return result;
      } finally {
        running.delete(op);
      }
    }) as FileSystem[K];
  const fs = Object.fromEntries(Object.keys(base).map((name) => [name, wrap(name as keyof FileSystem)])) as unknown as FileSystem;
  const kill = async () => {
    dead = true;
    while (running.size > 0) await Promise.allSettled([...running]);
    for (const fd of open) await base.close(fd).catch(() => undefined);
    open.clear();
  };
  return { fs, kill };
}

/**
 * `base`, calling `onWrite` before each write of topic catalogue changes (`topics.changes`) with the changes it
 * carries; the write waits for what `onWrite` returns.
 */
export function onCatalogueWrite(base: FileSystem, onWrite: (changes: CatalogueChange[]) => unknown): FileSystem {
  const logFds = new Set<number>();
  return {
    ...base,
    open: async (path, flags) => {
      const fd = await base.open(path, flags);
      if (path.endsWith('/topics.changes')) logFds.add(fd);
      else logFds.delete(fd);
      return fd;
    },
    writev: async (fd, buffers, position) => {
      if (logFds.has(fd)) await onWrite(changesIn(Buffer.concat(buffers)).changes);
      return base.writev(fd, buffers, position);
    },
  };
}

/**
 * Calls `append` again, as a client retries, while the partition refuses appends (KAFKA_STORAGE_ERROR, thrown at
 * once) because it is still rolling back an earlier failed write; how long that takes depends on the disk.
 */
export async function whenRecovered<T>(append: () => T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return append();
    } catch (err) {
      if (!(err instanceof KafkaError && err.code === ErrorCode.KAFKA_STORAGE_ERROR) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

/**
 * Sends again, as a client or coordinator does, while the send is refused with KAFKA_STORAGE_ERROR (a rollback
 * running, a round cut off behind a failed one); a refusal that outlasts `attempts` is a real answer.
 */
export async function untilAcknowledged<T>(send: () => Promise<T>, attempts = 50): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (attempt === attempts || !(err instanceof KafkaError && err.code === ErrorCode.KAFKA_STORAGE_ERROR)) throw err;
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

/** Polls `condition` until it holds; fails after `timeoutMs` (background writes take as long as the disk does). */
export async function waitUntil(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The producer snapshot files in a partition directory. */
export async function snapshotFiles(partitionDir: string): Promise<string[]> {
  return (await readdir(partitionDir)).filter((f) => f.endsWith('.snapshot')).sort();
}

/**
 * A writeFileAtomic that holds the first write whose path `matches` until `release()` (a slow disk just there);
 * `held` resolves once that write waits.
 */
export function holdFirstAtomicWrite(matches: (path: string) => boolean): { writeFileAtomic: FileSystem['writeFileAtomic']; held: Promise<void>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let nowHeld!: () => void;
  const held = new Promise<void>((r) => (nowHeld = r));
  let armed = true;
  const writeFileAtomic: FileSystem['writeFileAtomic'] = async (path, data, durable) => {
    if (armed && matches(path)) {
      armed = false;
      nowHeld();
      await gate;
    }
    return nodeFileSystem.writeFileAtomic(path, data, durable);
  };
  return { writeFileAtomic, held, release };
}

/** The error a write gets from a full disk. */
export function noSpaceError(): Error {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
}

/** A file system whose writes fail with ENOSPC while `full` is set. */
export function fullDisk(): { fs: FileSystem; setFull: (v: boolean) => void } {
  let full = false;
  const fs: FileSystem = {
    ...nodeFileSystem,
    writev: async (fd, buffers, position) => {
      if (full) {
        // a torn write: half the bytes land, then the device is full
        const first = buffers[0]!;
        await nodeFileSystem.writev(fd, [first.subarray(0, first.length >> 1)], position);
        throw noSpaceError();
      }
      return nodeFileSystem.writev(fd, buffers, position);
    },
  };
  return { fs, setFull: (v) => (full = v) };
}

/**
 * A disk filling up as Linux shows it, once `full` is set: a write takes part of its bytes and says how many; the
 * next one fails with ENOSPC.
 */
export function shortWritesDisk(): { fs: FileSystem; setFull: (v: boolean) => void } {
  let full = false;
  let shortened = false;
  const fs: FileSystem = {
    ...nodeFileSystem,
    writev: async (fd, buffers, position) => {
      if (!full) return nodeFileSystem.writev(fd, buffers, position);
      if (shortened) throw noSpaceError();
      shortened = true;
      const first = buffers[0]!;
      return nodeFileSystem.writev(fd, [first.subarray(0, first.length >> 1)], position);
    },
  };
  return { fs, setFull: (v) => ((full = v), (shortened = false)) };
}

/** A record as a compaction test sees it. */
export interface KeyedRecord {
  key: string | null;
  value: string | null;
  timestamp: number;
}

/** Every record from the log start to the high watermark, by offset. */
export async function keyedContents(log: PartitionLog): Promise<Map<number, KeyedRecord>> {
  const out = new Map<number, KeyedRecord>();
  let offset = log.logStartOffset;
  while (offset < log.highWatermark) {
    const { records } = await log.read(offset, 1 << 20);
    if (records.length === 0) break;
    offset = addKeyedRecords(records, out);
  }
  return out;
}

/** Adds the records of one read's bytes to `out`, by offset; returns the offset after its last batch. */
export function addKeyedRecords(records: Buffer, out: Map<number, KeyedRecord>): number {
  let end = -1;
  for (const b of decodeRecordBatches(records)) {
    for (const r of b.records) out.set(r.offset, { key: r.key?.toString() ?? null, value: r.value?.toString() ?? null, timestamp: r.timestamp });
    end = b.info.baseOffset + b.info.lastOffsetDelta + 1;
  }
  return end;
}

/** The file system's `open`, remembering each descriptor's path: for fault injection by file. */
export function pathRecordingOpen(): { open: FileSystem['open']; pathOf: (fd: number) => string | undefined } {
  const paths = new Map<number, string>();
  return {
    open: async (path, flags) => {
      const fd = await nodeFileSystem.open(path, flags);
      paths.set(fd, path);
      return fd;
    },
    pathOf: (fd) => paths.get(fd),
  };
}

/** A file system that keeps the descriptors it opened and has not closed yet. */
export function countingDescriptors(base: FileSystem): { fs: FileSystem; descriptors: Set<number> } {
  const descriptors = new Set<number>();
  const fs: FileSystem = {
    ...base,
    open: async (path, flags) => {
      const fd = await base.open(path, flags);
      descriptors.add(fd);
      return fd;
    },
    close: async (fd) => {
      descriptors.delete(fd);
      await base.close(fd);
    },
  };
  return { fs, descriptors };
}

/** A file system whose fdatasyncs wait while `held` is set: appends stay written but not durable. */
export function heldSyncs(): { fs: FileSystem; held: boolean } {
  const control = {
    held: false,
    fs: {
      ...nodeFileSystem,
      fdatasync: async (fd: number) => {
        while (control.held) await new Promise<void>((r) => setTimeout(r, 5));
        return nodeFileSystem.fdatasync(fd);
      },
    } as FileSystem,
  };
  return control;
}
