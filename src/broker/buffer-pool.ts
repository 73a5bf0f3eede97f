/** Buffers from this size up are pooled; smaller ones come from Node's shared slabs. */
export const POOLED_MIN_BYTES = 16 * 1024;
/** Larger ones get memory of their own, freed by the collector as before. */
const POOLED_MAX_BYTES = 16 * 1024 * 1024;
/** Free memory the pool keeps for later use, across all size classes. */
const KEPT_MAX_BYTES = 64 * 1024 * 1024;
/** How many classes above its own a take may be served from: at most about a quarter more than asked for. */
const LARGER_CLASSES_LENT = 2;

/**
 * Memory for the large buffers requests pass through: produce requests, read into it from the socket, and the
 * stored batches a fetch reads for its response. Each is handed back once nothing holds a view of it (a produce
 * request once every append is settled, a fetch read once its response is written) and lent again. Without it every
 * such buffer was a fresh allocation: at a gigabyte a second of produce traffic V8 counted that memory as external
 * and ran a full collection every 70 ms for it. Buffers come in size classes; each lent one is a view of its class's
 * memory.
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** What is lent out: only these may come back, each once. */
  private readonly lent = new WeakSet<ArrayBuffer>();
  private keptBytes = 0;
  private made = 0;

  /** A buffer of exactly `size` bytes, contents undefined. */
  take(size: number): Buffer {
    if (size < POOLED_MIN_BYTES || size > POOLED_MAX_BYTES) return Buffer.allocUnsafe(size);
    const capacity = classOf(size);
    let memory: ArrayBuffer | undefined;
    // a free buffer of a class or two above serves too: sizes that vary a little still find memory kept for them
    for (let larger = capacity, step = 0; !memory && step <= LARGER_CLASSES_LENT; step++, larger = classOf(larger + 1)) {
      memory = this.free.get(larger)?.pop();
    }
    if (memory) this.keptBytes -= memory.byteLength;
    else {
      // left uninitialised, unlike `new ArrayBuffer`: zeroing it took a fifth of a busy fetch's main thread, and its
      // bytes are always overwritten before they are read
      memory = Buffer.allocUnsafeSlow(capacity).buffer as ArrayBuffer;
      this.made++;
    }
    this.lent.add(memory);
    return Buffer.from(memory, 0, size);
  }

  /**
   * Takes back a buffer from take(), given as it or any view of it; memory the pool did not lend, or has taken back
   * already, is ignored. The caller must hold no view of it, nor anything it handed the bytes to: the next request's
   * bytes go into it. Give each buffer back once: after that the pool may lend it again, and a second call would
   * take it from its new holder.
   */
  giveBack(view: Buffer): void {
    const memory = view.buffer;
    if (!(memory instanceof ArrayBuffer) || !this.lent.has(memory)) return;
    this.lent.delete(memory);
    // full: memory of other sizes makes room (produce requests and fetch reads differ in size, and the traffic
    // that filled the pool may have moved on)
    while (this.keptBytes + memory.byteLength > KEPT_MAX_BYTES) if (!this.dropOtherThan(memory.byteLength)) return;
    let list = this.free.get(memory.byteLength);
    if (!list) this.free.set(memory.byteLength, (list = []));
    list.push(memory);
    this.keptBytes += memory.byteLength;
  }

  private dropOtherThan(capacity: number): boolean {
    for (const [size, list] of this.free) {
      if (size === capacity || list.length === 0) continue;
      list.pop();
      this.keptBytes -= size;
      return true;
    }
    return false;
  }

  /** Free memory kept for later use. */
  get keptFreeBytes(): number {
    return this.keptBytes;
  }

  /** Buffers made so far (the others lent were reused). */
  get buffersMade(): number {
    return this.made;
  }
}

/**
 * Eight classes per doubling (2^k times 1, 9/8, 10/8 ... 15/8), so no more than an eighth of a buffer goes unused
 * in its own class. With powers of two and the halfway steps alone, a fetch read of 1 MiB and its 16 KiB of slack
 * took 1.5 MiB: a 50 MB response then needed 75 MiB, more than the pool keeps, and every such fetch made fresh ones.
 */
function classOf(size: number): number {
  const power = 2 ** Math.floor(Math.log2(size));
  const step = power / 8;
  return Math.ceil(size / step) * step;
}
