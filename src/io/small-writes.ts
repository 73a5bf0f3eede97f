import { getSystemErrorName } from 'node:util';
import { Worker } from 'node:worker_threads';
import { CONTROL, SLOT_FIELDS, Slot, type SmallWriteShared } from './small-writes-layout.js';

/**
 * Writes of at most this many bytes made beside others go through the writer thread (see nodeFileSystem.writev);
 * larger ones through libuv's I/O threads.
 */
export const SMALL_WRITE_MAX_BYTES = 64 * 1024;

export interface SmallWriterOptions {
  /** Bytes copied into the shared ring and not yet written, at most; past that, writes take the I/O threads. */
  ringBytes?: number;
  /** Writes queued to the thread at once, at most (a power of two). */
  slots?: number;
}

interface Waiting {
  resolve: (written: number) => void;
  reject: (err: Error) => void;
  /** Ring bytes it holds, counting the end of the ring it skipped when it wrapped. */
  reserved: number;
}

/**
 * Positioned writes of up to SMALL_WRITE_MAX_BYTES, done by one thread of ours with synchronous writes instead of
 * one libuv I/O-thread request each. With appends spread over thousands of partitions every append is a write of its own, and on a
 * small VM the wake-ups and lock hand-offs of one thread-pool request per write cost the event loop more than the
 * write itself: here a burst of writes costs one wake-up at most each way. The bytes are copied into a shared
 * ring (one memcpy per write); the writer thread reports completions in order, one message per burst.
 */
export class SmallWriter {
  private readonly ring: Buffer;
  private readonly slots: Float64Array;
  private readonly control: Int32Array;
  private readonly worker: Worker;
  private readonly waiting: (Waiting | undefined)[] = [];
  /** Writes queued (head) and completions handled (done), as counters; slot = counter % this.slotCount. */
  private head = 0;
  private done = 0;
  private readonly slotCount: number;
  private readonly space: RingSpace;
  /** The thread keeps the process alive while writes are queued, not otherwise. */
  private referenced = false;
  /** The thread died (it should not): every write then takes the I/O threads. */
  private dead = false;

  constructor({ ringBytes = 16 << 20, slots = 8192 }: SmallWriterOptions = {}) {
    // the thread finds a write's slot from an int32 counter that wraps at 2^32: only a power of two divides it
    if (!Number.isInteger(Math.log2(slots))) throw new RangeError(`slots must be a power of two, got ${slots}`);
    this.space = new RingSpace(ringBytes);
    this.slotCount = slots;
    const shared: SmallWriteShared = {
      ring: new SharedArrayBuffer(ringBytes),
      slots: new SharedArrayBuffer(slots * SLOT_FIELDS * Float64Array.BYTES_PER_ELEMENT),
      control: new SharedArrayBuffer(CONTROL.FIELDS * Int32Array.BYTES_PER_ELEMENT),
    };
    this.ring = Buffer.from(shared.ring);
    this.slots = new Float64Array(shared.slots);
    this.control = new Int32Array(shared.control);
    this.worker = new Worker(new URL('./small-writes-thread.js', import.meta.url), { workerData: shared });
    this.worker.on('message', () => this.complete());
    this.worker.on('error', (err) => this.failAll(err));
    this.worker.on('exit', () => this.failAll(new Error('the small-writes thread exited')));
    this.worker.unref();
  }

  /** Writes queued and not yet done. */
  get pending(): number {
    return this.head - this.done;
  }

  /**
   * Queues the write of `bytes` (the buffers' total), or returns null when the ring or the queue is full (the caller
   * writes it another way).
   */
  writev(fd: number, buffers: Buffer[], bytes: number, position: number): Promise<number> | null {
    if (this.dead || this.pending >= this.slotCount) return null;
    const start = this.space.take(bytes);
    if (start < 0) return null;
    let at = start;
    for (const b of buffers) at += b.copy(this.ring, at);
    const slot = (this.head % this.slotCount) * SLOT_FIELDS;
    this.slots[slot + Slot.FD] = fd;
    this.slots[slot + Slot.RING_AT] = start;
    this.slots[slot + Slot.BYTES] = bytes;
    this.slots[slot + Slot.POSITION] = position;
    const promise = new Promise<number>((resolve, reject) => (this.waiting[this.head % this.slotCount] = { resolve, reject, reserved: this.space.held }));
    this.head++;
    Atomics.store(this.control, CONTROL.HEAD, this.head | 0);
    if (Atomics.load(this.control, CONTROL.SLEEPING) === 1) Atomics.notify(this.control, CONTROL.HEAD);
    if (!this.referenced) {
      this.referenced = true;
      this.worker.ref();
    }
    return promise;
  }

  /** Settles, in order, every write the thread has finished. */
  private complete(): void {
    const finished = Atomics.load(this.control, CONTROL.TAIL);
    while ((this.done | 0) !== finished) {
      const index = this.done % this.slotCount;
      const w = this.waiting[index]!;
      this.waiting[index] = undefined;
      const result = this.slots[index * SLOT_FIELDS + Slot.RESULT]!;
      this.space.give(w.reserved);
      this.done++;
      if (result >= 0) w.resolve(result);
      else w.reject(errnoError(result));
    }
    if (this.head === this.done) {
      this.referenced = false;
      this.worker.unref();
    }
  }

  private failAll(err: Error): void {
    this.dead = true;
    this.worker.unref();
    for (; this.done < this.head; this.done++) this.waiting[this.done % this.slotCount]?.reject(err);
  }
}

/**
 * Space in a ring of bytes handed out and given back in the same order (writes are done in order): what is in use
 * runs from the oldest piece not yet given back to `next`, so a piece goes right after `next`, or wraps to the
 * start when it would not fit before the end (the end then stays unused until that piece is given back).
 */
export class RingSpace {
  private next = 0;
  private used = 0;
  /** Bytes the last take() holds: its own, and the end of the ring it skipped if it wrapped; give() them back. */
  held = 0;

  constructor(readonly size: number) {}

  /** Where `bytes` may go, or -1 when they do not fit now. */
  take(bytes: number): number {
    const at = this.next + bytes > this.size ? 0 : this.next;
    const held = at === this.next ? bytes : this.size - this.next + bytes;
    if (this.used + held > this.size) return -1;
    this.used += held;
    this.next = at + bytes;
    this.held = held;
    return at;
  }

  /** Gives back the oldest piece still taken (its `held` bytes). */
  give(held: number): void {
    this.used -= held;
    if (this.used === 0) this.next = 0; // the start is the memory most recently touched
  }
}

/** An error shaped like the one Node's own fs.write gives for the same errno. */
function errnoError(errno: number): Error {
  const code = getSystemErrorName(errno);
  return Object.assign(new Error(`${code}: write failed`), { errno, code, syscall: 'write' });
}
