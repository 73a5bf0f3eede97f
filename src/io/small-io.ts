import { getSystemErrorName } from 'node:util';
import { Worker } from 'node:worker_threads';
import { CONTROL, Op, SLOT_FIELDS, Slot, type SmallIoShared } from './small-io-layout.js';

/**
 * Writes and reads of at most this many bytes made beside other I/O go through the small-I/O thread (see
 * nodeFileSystem); larger ones through libuv's I/O threads.
 */
export const SMALL_IO_MAX_BYTES = 64 * 1024;

export interface SmallIoOptions {
  /** Bytes of the ring: what queued writes and reads may hold at once; past that, they take the I/O threads. */
  ringBytes?: number;
  /** Requests queued to the thread at once, at most (a power of two). */
  slots?: number;
}

interface Waiting {
  resolve: (bytes: number) => void;
  reject: (err: Error) => void;
  /** Ring bytes it holds, counting the end of the ring it skipped when it wrapped. */
  reserved: number;
  /** For a read: where its bytes are in the ring, and the buffer they go to. */
  ringAt: number;
  into: Buffer | null;
}

/**
 * Positioned writes and reads of up to SMALL_IO_MAX_BYTES, done by one thread of ours with synchronous calls instead
 * of one libuv I/O-thread request each. With appends spread over thousands of partitions every append is a write of
 * its own, and a fetch over them a read each; on a small VM the wake-ups and lock hand-offs of one thread-pool
 * request per call cost the event loop more than the call itself: here a burst costs one wake-up at most each way.
 * A write's bytes are copied into a shared ring, a read's out of it (one memcpy each); the thread reports
 * completions in order, one message per burst.
 */
export class SmallIo {
  private readonly ring: Buffer;
  private readonly slots: Float64Array;
  private readonly control: Int32Array;
  private readonly worker: Worker;
  private readonly waiting: (Waiting | undefined)[] = [];
  /** Requests queued (head) and completions handled (done), as counters; slot = counter % this.slotCount. */
  private head = 0;
  private done = 0;
  private readonly slotCount: number;
  private readonly space: RingSpace;
  /** The thread keeps the process alive while requests are queued, not otherwise. */
  private referenced = false;
  /** The thread died (it should not): every request then takes the I/O threads. */
  private dead = false;

  constructor({ ringBytes = 16 << 20, slots = 8192 }: SmallIoOptions = {}) {
    // the thread finds a request's slot from an int32 counter that wraps at 2^32: only a power of two divides it
    if (!Number.isInteger(Math.log2(slots))) throw new RangeError(`slots must be a power of two, got ${slots}`);
    this.space = new RingSpace(ringBytes);
    this.slotCount = slots;
    const shared: SmallIoShared = {
      ring: new SharedArrayBuffer(ringBytes),
      slots: new SharedArrayBuffer(slots * SLOT_FIELDS * Float64Array.BYTES_PER_ELEMENT),
      control: new SharedArrayBuffer(CONTROL.FIELDS * Int32Array.BYTES_PER_ELEMENT),
    };
    this.ring = Buffer.from(shared.ring);
    this.slots = new Float64Array(shared.slots);
    this.control = new Int32Array(shared.control);
    this.worker = new Worker(new URL('./small-io-thread.js', import.meta.url), { workerData: shared });
    this.worker.on('message', () => this.complete());
    this.worker.on('error', (err) => this.failAll(`failed: ${err.message}`, err));
    this.worker.on('exit', () => this.failAll('exited'));
    this.worker.unref();
  }

  /** Requests queued and not yet done. */
  get pending(): number {
    return this.head - this.done;
  }

  /**
   * Queues the write of `bytes` (the buffers' total), or returns null when the ring or the queue is full (the caller
   * writes it another way).
   */
  writev(fd: number, buffers: Buffer[], bytes: number, position: number): Promise<number> | null {
    const at = this.reserve(bytes);
    if (at < 0) return null;
    let end = at;
    for (const b of buffers) end += b.copy(this.ring, end);
    return this.queue(Op.WRITE, fd, at, bytes, position, null);
  }

  /**
   * Queues a read of up to `length` bytes into `into` (from its start), resolving with the bytes read; null when
   * the ring or the queue is full (the caller reads another way).
   */
  read(fd: number, into: Buffer, length: number, position: number): Promise<number> | null {
    const at = this.reserve(length);
    return at < 0 ? null : this.queue(Op.READ, fd, at, length, position, into);
  }

  /** Ring space for a request, or -1 when it cannot be queued now. */
  private reserve(bytes: number): number {
    if (this.dead || this.pending >= this.slotCount) return -1;
    return this.space.take(bytes);
  }

  private queue(op: number, fd: number, ringAt: number, bytes: number, position: number, into: Buffer | null): Promise<number> {
    const slot = (this.head % this.slotCount) * SLOT_FIELDS;
    this.slots[slot + Slot.OP] = op;
    this.slots[slot + Slot.FD] = fd;
    this.slots[slot + Slot.RING_AT] = ringAt;
    this.slots[slot + Slot.BYTES] = bytes;
    this.slots[slot + Slot.POSITION] = position;
    const promise = new Promise<number>((resolve, reject) => (this.waiting[this.head % this.slotCount] = { resolve, reject, reserved: this.space.held, ringAt, into }));
    this.head++;
    Atomics.store(this.control, CONTROL.HEAD, this.head | 0);
    if (Atomics.load(this.control, CONTROL.SLEEPING) === 1) Atomics.notify(this.control, CONTROL.HEAD);
    if (!this.referenced) {
      this.referenced = true;
      this.worker.ref();
    }
    return promise;
  }

  /** Settles, in order, every request the thread has finished. */
  private complete(): void {
    // a message the thread sent before it died may come after failAll settled everything
    if (this.dead) return;
    const finished = Atomics.load(this.control, CONTROL.TAIL);
    while ((this.done | 0) !== finished) {
      const index = this.done % this.slotCount;
      const w = this.waiting[index]!;
      this.waiting[index] = undefined;
      const result = this.slots[index * SLOT_FIELDS + Slot.RESULT]!;
      // a read's bytes leave the ring before its space is given back
      if (w.into && result > 0) this.ring.copy(w.into, 0, w.ringAt, w.ringAt + result);
      this.space.give(w.reserved);
      this.done++;
      if (result >= 0) w.resolve(result);
      else w.reject(errnoError(result, w.into ? 'read' : 'write'));
    }
    if (this.head === this.done) {
      this.referenced = false;
      this.worker.unref();
    }
  }

  /**
   * The thread is gone: what it had queued fails as an I/O error would (EIO, so callers answer KAFKA_STORAGE_ERROR
   * as for any failed write or read), and everything after takes the I/O threads.
   */
  private failAll(what: string, cause?: Error): void {
    this.dead = true;
    this.worker.unref();
    for (; this.done < this.head; this.done++) {
      const err = Object.assign(new Error(`EIO: the small-I/O thread ${what}`, { cause }), { errno: -5, code: 'EIO' });
      this.waiting[this.done % this.slotCount]?.reject(err);
    }
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

/** An error shaped like the one Node's own fs.write or fs.read gives for the same errno. */
function errnoError(errno: number, syscall: 'write' | 'read'): Error {
  const code = getSystemErrorName(errno);
  return Object.assign(new Error(`${code}: ${syscall} failed`), { errno, code, syscall });
}
