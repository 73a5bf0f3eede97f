import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { verifiedClientName, type AcceptedSocket } from '../io/tcp.js';
import { ProtocolError } from '../protocol/errors.js';
import type { BufferPool } from './buffer-pool.js';
import { foreignProtocol } from './foreign-protocol.js';
import type { QueuedRequestBytes } from './queued-request-bytes.js';
import type { SaslExchange } from './sasl-exchanges.js';
import type { PrincipalMapper } from './principal-mapping.js';
import type { Listener } from './listeners.js';

/** The response to one request frame. */
export interface FrameResponse {
  chunks: Buffer[];
  /** Runs once the chunks are written to the socket, or the socket is gone (memory they are views of may then go back). */
  afterWritten: (() => void) | null;
}

/**
 * Answers one request frame, or resolves to null when the request gets no response (acks=0). `taken` says the
 * request no longer holds its frame's memory, so the frame stops counting toward `queued.max.request.bytes`
 * before its answer (a long-poll fetch may wait for seconds).
 */
export type FrameHandler = (frame: Buffer, connection: Connection, taken: () => void) => Promise<FrameResponse | null>;

/** Bytes a listener's connections have read (requests, as framed) and written (answers, with their size prefix). */
export interface ListenerTraffic {
  received: number;
  sent: number;
}

export interface ConnectionOptions {
  maxRequestBytes: number;
  idleTimeoutMs: number;
  /** Requests read but not yet answered before the socket stops being read (back-pressure). */
  maxInFlight: number;
  /** Memory for frames; large ones come back from their handler when it is done with them. */
  buffers: BufferPool;
  /** The bytes of unanswered requests over all connections: past its limit, reading stops at the next frame boundary. */
  queued: QueuedRequestBytes;
  logger: Logger;
  /** Whether the client must authenticate (SASL) before anything but ApiVersions and SASL's own requests. */
  saslRequired: boolean;
  /** The principal name a verified TLS client certificate's distinguished name maps to; null: the client is refused. */
  certificateName: PrincipalMapper;
  /** The listener the client came in on. */
  listener: Listener;
  /** Its listener's byte counts, which its reads and answers add to (the metrics). */
  traffic: ListenerTraffic;
}

/** A SASL exchange under way on a connection; `rawTokens` after SaslHandshake v0, whose tokens come as bare frames. */
export interface SaslSession {
  mechanism: string;
  exchange: SaslExchange;
  rawTokens: boolean;
}

/** What a connection's SASL authentication established: KIP-368's re-authentication must keep both, and renews `expiresAt`. */
export interface SaslIdentity {
  mechanism: string;
  /** When the session ends unless the client authenticates again (Date.now() scale); Infinity: never. */
  expiresAt: number;
}

/**
 * The largest request a client may send before it has authenticated (Kafka's sasl.server.max.receive.size): a
 * stranger cannot make the broker take a frame of socket.request.max.bytes.
 */
export const UNAUTHENTICATED_MAX_REQUEST_BYTES = 512 * 1024;

/**
 * Where reads land between frames, shared by every connection: each read's bytes are taken (copied into their
 * frames) before the read callback returns, and reads of all sockets run one at a time on this thread.
 */
const SHARED_READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);
const EMPTY_FRAME = Buffer.alloc(0);

interface Slot {
  done: boolean;
  response: FrameResponse | null;
  /** The frame's size, counted in `queued` until the request is answered or has let go of the frame. */
  bytes: number;
}

/**
 * One client connection: splits the byte stream into size-prefixed frames, each read into a buffer of its own
 * (the rest of a large frame straight from the socket, with no copy), starts handling each as soon as it
 * arrives (pipelining), and writes responses strictly in request order. Reading pauses while too many
 * requests are unanswered or the socket's write buffer is full, so a client that does not read its
 * responses cannot make the broker buffer without bound. A malformed frame closes this connection only.
 */
export class Connection {
  /** Frames read whole, waiting to be started (while paused). */
  private readonly ready: Buffer[] = [];
  /** The size prefix being read, when a read ended inside it. */
  private readonly prefix = Buffer.alloc(4);
  private prefixFilled = 0;
  /** The frame being read, when a read ended inside it: the next reads land in it directly. */
  private frame: Buffer | null = null;
  private frameFilled = 0;
  private readonly slots: Slot[] = [];
  private paused = false;
  /** Not reading because the unanswered requests of all connections reached their limit. */
  private waitingForRoom = false;
  private closed = false;
  private tornDown = false;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Set while a quota's throttle mutes the connection (see throttle). */
  private throttleTimer: NodeJS.Timeout | null = null;
  private throttledUntil = 0;
  private certificatePrincipal: string | undefined;
  readonly socket: Socket;
  readonly remote: string;
  readonly remoteHost: string;
  clientId: string | null = null;
  /**
   * Whether requests other than ApiVersions and SASL's may be served: at once unless the broker requires SASL, else
   * once the client has authenticated. Until then a request may take UNAUTHENTICATED_MAX_REQUEST_BYTES at most.
   */
  authenticated: boolean;
  /** The SASL user the connection authenticated as; null without SASL. */
  user: string | null = null;
  /** The client's address, as ACLs name hosts (an IPv4 client of a dual-stack listener by its IPv4 address, as Kafka). */
  readonly host: string;
  /** The listener the client came in on: where it is told to connect, and what it must do (TLS, SASL). */
  readonly listener: Listener;
  /** The SASL exchange begun by a handshake, until it completes (see handlers 17 and 36). */
  sasl: SaslSession | null = null;
  /** How the connection authenticated, once it has (SASL). */
  saslIdentity: SaslIdentity | null = null;

  constructor(
    accepted: AcceptedSocket,
    private readonly handleFrame: FrameHandler,
    private readonly options: ConnectionOptions,
    private readonly onClose: (c: Connection) => void,
  ) {
    this.authenticated = !options.saslRequired;
    this.listener = options.listener;
    const socket = (this.socket = accepted.readWith({ nextBuffer: () => this.nextBuffer(), onRead: (bytes, into) => this.onRead(bytes, into) }));
    this.host = accepted.host;
    this.remoteHost = `/${this.host}`;
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.on('drain', () => this.maybeResume());
    socket.on('error', (err) => this.options.logger.debug({ remote: this.remote, err: err.message }, 'socket error'));
    socket.on('close', () => this.teardown());
    this.touch();
  }

  /**
   * Who the client is, as Kafka names principals for ACLs: `User:` and its SASL user, else the distinguished name of
   * its verified TLS certificate, else ANONYMOUS. Read once the client sends requests, so after any TLS handshake.
   */
  get principal(): string {
    if (this.user !== null) return `User:${this.user}`;
    return this.certificatePrincipal ?? 'User:ANONYMOUS';
  }

  /**
   * Names the client from its verified TLS certificate, once, before its first request: by the principal mapping
   * rules, which may refuse it (the connection is then closed, as Kafka fails its authentication). Under SASL the
   * SASL user is the principal, and the certificate's name is not used.
   */
  private identify(): boolean {
    const name = this.options.saslRequired ? null : verifiedClientName(this.socket);
    if (name === null) {
      this.certificatePrincipal = 'User:ANONYMOUS';
      return true;
    }
    const mapped = this.options.certificateName(name);
    if (mapped === null) {
      this.options.logger.warn({ remote: this.remote, certificate: name }, 'closing connection: no principal mapping rule matches the client certificate');
      this.close();
      return false;
    }
    this.certificatePrincipal = `User:${mapped}`;
    return true;
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
        if (this.slots.length > 0 || this.ready.length > 0 || this.frame !== null || this.socket.writableLength > 0) return this.touch();
        this.options.logger.info({ remote: this.remote, idleMs: this.options.idleTimeoutMs }, 'closing idle connection');
        this.close();
      }, this.options.idleTimeoutMs);
      this.idleTimer.unref();
    }
  }

  private nextBuffer(): Buffer {
    return this.frame === null ? SHARED_READ_BUFFER : this.frame.subarray(this.frameFilled);
  }

  private onRead(bytes: number, into: Buffer): void {
    if (this.closed) return;
    this.options.traffic.received += bytes;
    this.touch();
    try {
      if (into === SHARED_READ_BUFFER) this.split(bytes);
      else this.filled(bytes);
      this.startReady();
      // a frame begun is read to its end whatever the total (its memory is taken, and only its answer frees any)
      if (this.frame === null && this.options.queued.full) this.waitForRoom();
    } catch (err) {
      this.fail(err);
    }
  }

  /** Bytes read straight into the frame being read. */
  private filled(bytes: number): void {
    this.frameFilled += bytes;
    if (this.frameFilled === this.frame!.length) this.frameDone();
  }

  /**
   * Takes every byte of a read into the shared buffer before returning (the next read, of any connection, lands
   * there too): whole frames are copied out, and a frame that goes on past the read gets its own buffer, which the
   * following reads fill.
   */
  private split(bytes: number): void {
    let at = 0;
    while (at < bytes) {
      if (this.frame === null) {
        const used = Math.min(4 - this.prefixFilled, bytes - at);
        SHARED_READ_BUFFER.copy(this.prefix, this.prefixFilled, at, at + used);
        this.prefixFilled += used;
        at += used;
        if (this.prefixFilled < 4) return;
        this.prefixFilled = 0;
        this.startFrame(this.prefix.readInt32BE(0));
        if (this.frame === null) continue;
      }
      const used = Math.min(this.frame.length - this.frameFilled, bytes - at);
      SHARED_READ_BUFFER.copy(this.frame, this.frameFilled, at, at + used);
      at += used;
      this.filled(used);
    }
  }

  private startFrame(size: number): void {
    const max = this.authenticated ? this.options.maxRequestBytes : Math.min(this.options.maxRequestBytes, UNAUTHENTICATED_MAX_REQUEST_BYTES);
    if (size < 0 || size > max) {
      const foreign = foreignProtocol(this.prefix);
      const limit = this.authenticated ? 'socket.request.max.bytes' : 'before SASL authentication';
      throw new ProtocolError(`request size ${size} is outside 0..${max} (${limit})${foreign ? `; its bytes look like ${foreign}` : ''}`);
    }
    if (size === 0) {
      this.ready.push(EMPTY_FRAME);
      return;
    }
    this.frame = this.options.buffers.take(size);
    this.frameFilled = 0;
    this.options.queued.add(size);
  }

  private frameDone(): void {
    this.ready.push(this.frame!);
    this.frame = null;
  }

  private startReady(): void {
    // frames already read stay queued while paused: one read may hold hundreds of pipelined requests
    if (this.certificatePrincipal === undefined && this.ready.length > 0 && !this.identify()) return;
    while (this.ready.length > 0 && !this.paused && this.throttleTimer === null) {
      const frame = this.ready.shift()!;
      const slot: Slot = { done: false, response: null, bytes: frame.length };
      this.slots.push(slot);
      this.handleFrame(frame, this, () => this.uncount(slot)).then(
        (response) => {
          slot.done = true;
          slot.response = response;
          // never to be written: what waits for the write (memory going back) runs now
          if (this.closed) response?.afterWritten?.();
          else this.writeReady();
        },
        (err) => this.fail(err),
      );
      if (this.slots.length >= this.options.maxInFlight) this.pause();
    }
  }

  private uncount(slot: Slot): void {
    this.options.queued.remove(slot.bytes);
    slot.bytes = 0;
  }

  private writeReady(): void {
    if (this.closed) return;
    let wrote = false;
    while (this.slots.length > 0 && this.slots[0]!.done) {
      const slot = this.slots.shift()!;
      this.uncount(slot);
      const { response } = slot;
      if (response === null) continue;
      if (!wrote) this.socket.cork();
      wrote = true;
      const { chunks, afterWritten } = response;
      let size = 0;
      for (const c of chunks) size += c.length;
      const prefix = Buffer.allocUnsafe(4);
      prefix.writeInt32BE(size, 0);
      this.options.traffic.sent += 4 + size;
      this.socket.write(prefix);
      for (let i = 0; i < chunks.length - 1; i++) this.socket.write(chunks[i]!);
      // called once the bytes are written, or with an error once the socket is gone: either way no write reads them
      this.socket.write(chunks[chunks.length - 1]!, afterWritten ?? undefined);
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
      if (!this.waitingForRoom && this.throttleTimer === null) this.socket.resume();
      this.startReady();
    }
  }

  /** Stops reading until the unanswered requests of all connections are under their limit again. */
  private waitForRoom(): void {
    if (this.waitingForRoom) return;
    this.waitingForRoom = true;
    this.socket.pause();
    this.options.queued.whenRoom(this.roomFreed);
  }

  private readonly roomFreed = (): void => {
    this.waitingForRoom = false;
    if (!this.paused && !this.closed && this.throttleTimer === null) this.socket.resume();
  };

  /**
   * Mutes the connection for `ms` once a response carries a quota's throttle time: its requests are neither read
   * nor started until then, as Kafka mutes a throttled client's channel (KIP-219). Requests already started go on.
   * A throttle that ends later extends the mute.
   */
  throttle(ms: number): void {
    if (this.closed || ms <= 0) return;
    const until = Date.now() + ms;
    if (until <= this.throttledUntil) return;
    this.throttledUntil = until;
    if (this.throttleTimer) clearTimeout(this.throttleTimer);
    this.socket.pause();
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = null;
      this.throttledUntil = 0;
      if (this.closed) return;
      if (!this.paused && !this.waitingForRoom) this.socket.resume();
      this.startReady();
    }, ms);
  }

  private fail(err: unknown): void {
    if (this.closed) return;
    const message = err instanceof Error ? err.message : String(err);
    const who = { remote: this.remote, clientId: this.clientId, user: this.user ?? undefined };
    if (err instanceof ProtocolError) this.options.logger.warn({ ...who, reason: message }, 'closing connection: bad request');
    else this.options.logger.error({ ...who, err }, 'closing connection: request failed');
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
    if (this.tornDown) return;
    this.tornDown = true;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.throttleTimer) clearTimeout(this.throttleTimer);
    // what this connection read and will never answer no longer counts
    this.options.queued.forget(this.roomFreed);
    let unanswered = this.frame?.length ?? 0;
    for (const frame of this.ready) unanswered += frame.length;
    for (const slot of this.slots) {
      unanswered += slot.bytes;
      if (slot.done) slot.response?.afterWritten?.();
    }
    this.options.queued.remove(unanswered);
    this.onClose(this);
  }
}
