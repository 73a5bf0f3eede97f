/** Requests from this size up are read into pooled memory; smaller ones come from Node's shared slabs. */
export const POOLED_MIN_BYTES = 16 * 1024;
/** Larger requests get memory of their own, freed by the collector as before. */
const POOLED_MAX_BYTES = 16 * 1024 * 1024;
/** Free memory the pool keeps for later requests, across all size classes. */
const KEPT_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Memory for large request frames, handed back by the handler once nothing holds a view of the request (produce,
 * once every append is settled) and lent again to a later request. Without it every produce request was a fresh
 * allocation: at a gigabyte a second of produce traffic, V8 counted that memory as external and ran a full
 * collection every 60–80 ms for it. Buffers come in power-of-two classes; a frame is a view of its class's buffer.
 */
export class RequestBuffers {
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** What is lent out: only these may come back, each once. */
  private readonly lent = new WeakSet<ArrayBuffer>();
  private keptBytes = 0;
  private made = 0;

  /** A buffer of exactly `size` bytes, contents undefined. */
  take(size: number): Buffer {
    if (size < POOLED_MIN_BYTES || size > POOLED_MAX_BYTES) return Buffer.allocUnsafe(size);
    const capacity = classOf(size);
    const memory = this.free.get(capacity)?.pop();
    if (memory) this.keptBytes -= capacity;
    if (!memory) this.made++;
    const lent = memory ?? new ArrayBuffer(capacity);
    this.lent.add(lent);
    return Buffer.from(lent, 0, size);
  }

  /**
   * Takes back a frame from take(); anything else is ignored. The caller must hold no view of it, nor anything it
   * handed the bytes to: the next request's bytes are read into it.
   */
  giveBack(frame: Buffer): void {
    const memory = frame.buffer;
    if (!(memory instanceof ArrayBuffer) || frame.byteOffset !== 0 || !this.lent.has(memory)) return;
    this.lent.delete(memory);
    if (this.keptBytes + memory.byteLength > KEPT_MAX_BYTES) return;
    let list = this.free.get(memory.byteLength);
    if (!list) this.free.set(memory.byteLength, (list = []));
    list.push(memory);
    this.keptBytes += memory.byteLength;
  }

  /** Free memory kept for later requests. */
  get keptFreeBytes(): number {
    return this.keptBytes;
  }

  /** Buffers made so far (the others lent were reused). */
  get buffersMade(): number {
    return this.made;
  }
}

function classOf(size: number): number {
  return 2 ** Math.ceil(Math.log2(size));
}
