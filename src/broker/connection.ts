import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ProtocolError } from '../protocol/errors.js';

/** Answers one request frame: the response chunks, or null when the request gets no response (acks=0). */
export type FrameHandler = (frame: Buffer, connection: Connection) => Promise<Buffer[] | null>;

export interface ConnectionOptions {
  maxRequestBytes: number;
  idleTimeoutMs: number;
  /** Requests read but not yet answered before the socket stops being read (back-pressure). */
  maxInFlight: number;
  logger: Logger;
}

interface Slot {
  done: boolean;
  response: Buffer[] | null;
}

/**
 * One client connection: splits the byte stream into size-prefixed frames, starts handling each as soon
 * as it arrives (pipelining), and writes responses strictly in request order. Reading pauses while too many
 * requests are unanswered or the socket's write buffer is full, so a client that does not read its
 * responses cannot make the broker buffer without bound. A malformed frame closes this connection only.
 */
export class Connection {
  private readonly buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private readonly slots: Slot[] = [];
  private paused = false;
  private closed = false;
  private idleTimer: NodeJS.Timeout | null = null;
  readonly remote: string;
  readonly remoteHost: string;
  clientId: string | null = null;

  constructor(
    readonly socket: Socket,
    private readonly handleFrame: FrameHandler,
    private readonly options: ConnectionOptions,
    private readonly onClose: (c: Connection) => void,
  ) {
    this.remoteHost = `/${socket.remoteAddress ?? 'unknown'}`;
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('drain', () => this.maybeResume());
    socket.on('error', (err) => this.options.logger.debug({ remote: this.remote, err: err.message }, 'socket error'));
    socket.on('close', () => this.teardown());
    this.touch();
  }

  get inFlight(): number {
    return this.slots.length;
  }

  /** Response bytes written but not yet taken by the client. */
  get unsentBytes(): number {
    return this.socket.writableLength;
  }

  private touch(): void {
    if (this.idleTimer) this.idleTimer.refresh();
    else if (this.options.idleTimeoutMs > 0) {
      this.idleTimer = setTimeout(() => {
        // not idle while requests are being answered or wait, or answers wait for the client to read them
        if (this.slots.length > 0 || this.bufferedBytes > 0 || this.socket.writableLength > 0) return this.touch();
        this.options.logger.info({ remote: this.remote, idleMs: this.options.idleTimeoutMs }, 'closing idle connection');
        this.close();
      }, this.options.idleTimeoutMs);
      this.idleTimer.unref();
    }
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.touch();
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    try {
      this.extractFrames();
    } catch (err) {
      this.fail(err);
    }
  }

  private extractFrames(): void {
    // frames already read stay queued while paused: one chunk may hold hundreds of pipelined requests
    while (this.bufferedBytes >= 4 && !this.paused) {
      const head = this.peekSize();
      if (head < 0 || head > this.options.maxRequestBytes) {
        throw new ProtocolError(`request size ${head} is outside 0..${this.options.maxRequestBytes} (socket.request.max.bytes)`);
      }
      if (this.bufferedBytes < 4 + head) return;
      const frame = this.take(4 + head).subarray(4);
      const slot: Slot = { done: false, response: null };
      this.slots.push(slot);
      this.handleFrame(frame, this).then(
        (response) => {
          slot.done = true;
          slot.response = response;
          this.writeReady();
        },
        (err) => this.fail(err),
      );
      if (this.slots.length >= this.options.maxInFlight) this.pause();
    }
  }

  private peekSize(): number {
    let first = this.buffered[0]!;
    while (first.length < 4) {
      // the size prefix is split across chunks: join just enough of them
      first = Buffer.concat([first, this.buffered[1]!]);
      this.buffered.splice(0, 2, first);
    }
    return first.readInt32BE(0);
  }

  /**
   * Removes the next `n` buffered bytes. A frame inside one chunk is a view of it; a frame spread over chunks
   * is copied once into a buffer of its own size (the bytes after it stay views of their chunk).
   */
  private take(n: number): Buffer {
    this.bufferedBytes -= n;
    const first = this.buffered[0]!;
    if (first.length >= n) {
      if (first.length === n) this.buffered.shift();
      else this.buffered[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.buffered[0]!;
      const used = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.buffered.shift();
      else this.buffered[0] = chunk.subarray(used);
    }
    return out;
  }

  private writeReady(): void {
    if (this.closed) return;
    let wrote = false;
    while (this.slots.length > 0 && this.slots[0]!.done) {
      const { response } = this.slots.shift()!;
      if (response === null) continue;
      if (!wrote) this.socket.cork();
      wrote = true;
      let size = 0;
      for (const c of response) size += c.length;
      const prefix = Buffer.allocUnsafe(4);
      prefix.writeInt32BE(size, 0);
      this.socket.write(prefix);
      for (const c of response) this.socket.write(c);
    }
    if (wrote) this.socket.uncork();
    this.touch();
    // a client that does not read its responses: stop reading its requests until the socket drains
    if (this.socket.writableNeedDrain) this.pause();
    else this.maybeResume();
  }

  private pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private maybeResume(): void {
    if (!this.paused || this.closed) return;
    // otherwise 'drain' or the next answered request calls again
    if (this.slots.length < this.options.maxInFlight && !this.socket.writableNeedDrain) {
      this.paused = false;
      this.socket.resume();
      try {
        this.extractFrames();
      } catch (err) {
        this.fail(err);
      }
    }
  }

  private fail(err: unknown): void {
    if (this.closed) return;
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof ProtocolError) this.options.logger.warn({ remote: this.remote, clientId: this.clientId, reason: message }, 'closing connection: bad request');
    else this.options.logger.error({ remote: this.remote, clientId: this.clientId, err }, 'closing connection: request failed');
    this.close();
  }

  /** Closes the socket; responses not yet written are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.teardown();
  }

  /** Stops reading new requests and resolves once every started request is answered (graceful shutdown). */
  async drain(timeoutMs: number): Promise<void> {
    this.pause();
    const deadline = Date.now() + timeoutMs;
    while (this.slots.length > 0 && !this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    if (!this.closed) this.socket.end();
  }

  private teardown(): void {
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.onClose(this);
  }
}
