import { parentPort, Worker } from 'node:worker_threads';

/** A request as it crosses to the thread: the caller's request and the id its reply comes back with. */
interface Numbered<Req> {
  id: number;
  request: Req;
}

/** The thread's answer to a request: its value, or why it could not be done. */
type Reply = { id: number; error: string } | { id: number; error?: undefined; value: unknown };

/** What a thread's handler answers with: a value, and the buffers to hand over with it instead of copying them. */
export interface Answer {
  value: unknown;
  transfer?: ArrayBuffer[];
}

type Waiter = { resolve(value: unknown): void; reject(err: Error): void };

/**
 * A worker thread that takes requests and answers each, one at a time in the order they come: work that would hold
 * the event loop up (decoding records, hashing keys) runs there, and the event loop awaits its reply.
 *
 * Started at the first request, and held by the process only while a request waits: an idle thread keeps no process
 * alive. A thread takes 90-120 ms to start (its own copy of the modules, the compression codecs among them), so one
 * per process serves every broker in it. A thread that fails or is stopped refuses what waits on it, and the next
 * request starts another.
 */
export class RequestThread<Req> {
  private worker: Worker | null = null;
  private readonly waiting = new Map<number, Waiter>();
  private lastId = 0;

  /** `script`: a module that calls answerRequests; `name`: what its failures say. */
  constructor(
    private readonly script: URL,
    private readonly name: string,
  ) {}

  /** Requests sent and not yet answered. */
  get waitingRequests(): number {
    return this.waiting.size;
  }

  /** Sends a request, handing `transfer` over to the thread; its id, to give up on it (forget), and its reply. */
  send<T>(request: Req, transfer: ArrayBuffer[] = []): { id: number; reply: Promise<T> } {
    const worker = this.worker ?? this.start();
    const id = ++this.lastId;
    if (this.waiting.size === 0) worker.ref();
    const reply = new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.postMessage({ id, request } satisfies Numbered<Req>, transfer);
    });
    return { id, reply };
  }

  /** Refuses a request with `err` now; the thread's reply, should one come, is dropped. */
  forget(id: number, err: Error): void {
    this.settled(id)?.reject(err);
  }

  /** Ends the thread; what waits on it is refused, and the next request starts another. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (worker === null) return;
    this.worker = null;
    await worker.terminate();
    this.refuseWaiting(new Error(`the ${this.name} was stopped`));
  }

  private start(): Worker {
    const worker = new Worker(this.script);
    worker.on('message', (reply: Reply) => {
      const waiter = this.settled(reply.id);
      if (reply.error !== undefined) waiter?.reject(new Error(`${this.name}: ${reply.error}`));
      else waiter?.resolve(reply.value);
    });
    const failed = (err: Error): void => {
      if (this.worker !== worker) return; // one stopped: stop() refused what waited
      this.worker = null;
      this.refuseWaiting(err);
    };
    worker.on('error', failed);
    worker.on('exit', (code) => failed(new Error(`the ${this.name} exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  /** A request's waiter, no longer waiting; the thread is let go of once none is. */
  private settled(id: number): Waiter | undefined {
    const waiter = this.waiting.get(id);
    this.waiting.delete(id);
    if (waiter !== undefined && this.waiting.size === 0) this.worker?.unref();
    return waiter;
  }

  private refuseWaiting(err: Error): void {
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) w.reject(err);
  }
}

/** The thread's side of a RequestThread: answers each request with `handle`, or with the message of what it threw. */
export function answerRequests<Req>(handle: (request: Req) => Answer): void {
  const port = parentPort!;
  port.on('message', ({ id, request }: Numbered<Req>) => {
    try {
      const { value, transfer } = handle(request);
      port.postMessage({ id, value } satisfies Reply, transfer ?? []);
    } catch (err) {
      port.postMessage({ id, error: err instanceof Error ? err.message : String(err) } satisfies Reply);
    }
  });
}

/** Bytes that came from another thread (a plain Uint8Array there) as a Buffer, without copying them. */
export const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
