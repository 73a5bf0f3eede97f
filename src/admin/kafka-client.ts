import { connect, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { KafkaError, ProtocolError } from '../protocol/errors.js';
import { writeRequestHeader } from '../protocol/headers.js';
import { API_SCHEMAS } from '../protocol/messages.generated.js';
import { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';

const API_VERSIONS_KEY = 18;

/** TLS for a client: the CA that signed the broker's certificate, and the client's own where the broker asks for one. */
export interface ClientTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

interface Pending {
  apiKey: number;
  version: number;
  /** Resolve with the undecoded response (after the correlation id) instead of decoding it. */
  raw: boolean;
  resolve: (body: unknown) => void;
  reject: (err: Error) => void;
}

/**
 * A minimal Kafka client over one connection, built on Sluice's own codec: it sends a request at a given
 * API version and decodes the response. Used by the CLI and by protocol-level tests; applications should
 * use a full Kafka client.
 */
export class KafkaClient {
  private correlationId = 0;
  private readonly pending = new Map<number, Pending>();
  /** Bytes received and not yet framed, as they came: joined once a frame is whole, not at every chunk. */
  private received: Buffer[] = [];
  private receivedBytes = 0;
  private closedError: Error | null = null;

  private constructor(
    readonly socket: Socket,
    readonly clientId: string,
  ) {
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('close', () => this.failAll(new KafkaError(-1, 'connection closed')));
    socket.on('error', (err) => this.failAll(err));
  }

  /** Connects to host:port, over TLS when `tls` is given (its CA, and a certificate and key where the broker asks for one). */
  static connect(host: string, port: number, clientId = 'sluice-cli', timeoutMs = 10_000, tls: ClientTls | null = null): Promise<KafkaClient> {
    return new Promise((resolve, reject) => {
      const socket = tls === null ? connect({ host, port }) : connectTls({ host, port, ...tls, servername: isIP(host) ? undefined : host });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`could not connect to ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once(tls === null ? 'connect' : 'secureConnect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new KafkaClient(socket, clientId));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`could not connect to ${host}:${port}: ${err.message}`));
      });
    });
  }

  /** `host:port` → connected client. */
  static connectTo(bootstrap: string, clientId?: string, tls: ClientTls | null = null): Promise<KafkaClient> {
    const at = bootstrap.lastIndexOf(':');
    if (at < 0) throw new Error(`bootstrap must be host:port, got ${JSON.stringify(bootstrap)}`);
    return KafkaClient.connect(bootstrap.slice(0, at), Number(bootstrap.slice(at + 1)), clientId, 10_000, tls);
  }

  /** Sends one request and resolves with the decoded response body. */
  send<Res = any>(apiKey: number, version: number, body: unknown): Promise<Res> {
    const schema = API_SCHEMAS[apiKey];
    if (!schema) return Promise.reject(new Error(`unknown API key ${apiKey}`));
    const flexible = schema.flexibleMin >= 0 && version >= schema.flexibleMin;
    return this.request(apiKey, version, flexible, (w) => schema.encodeRequest(w, version, body), false) as Promise<Res>;
  }

  /**
   * Sends a request whose body the caller writes (any key or version, valid or not) and resolves with a
   * reader over the response after its correlation id.
   */
  sendRawBody(apiKey: number, version: number, flexibleHeader: boolean, body: Buffer): Promise<Reader> {
    return this.request(apiKey, version, flexibleHeader, (w) => w.raw(body), true) as Promise<Reader>;
  }

  private request(apiKey: number, version: number, flexible: boolean, writeBody: (w: Writer) => void, raw: boolean): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    const correlationId = ++this.correlationId;
    const w = new Writer(256);
    writeRequestHeader(w, { apiKey, apiVersion: version, correlationId, clientId: this.clientId }, flexible);
    writeBody(w);
    const chunks = w.finish();
    const size = Buffer.allocUnsafe(4);
    size.writeInt32BE(chunks.reduce((n, c) => n + c.length, 0));
    return new Promise((resolve, reject) => {
      this.pending.set(correlationId, { apiKey, version, raw, resolve, reject });
      this.socket.write(Buffer.concat([size, ...chunks]));
    });
  }

  /** Writes raw bytes (tests of malformed input). */
  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves when the broker closes the connection. */
  closed(): Promise<void> {
    return new Promise((resolve) => (this.socket.destroyed ? resolve() : this.socket.once('close', () => resolve())));
  }

  private onData(chunk: Buffer): void {
    this.received.push(chunk);
    this.receivedBytes += chunk.length;
    while (this.receivedBytes >= 4) {
      const size = this.joinReceived(4).readInt32BE(0);
      if (this.receivedBytes < 4 + size) return;
      const all = this.joinReceived(this.receivedBytes);
      const rest = all.subarray(4 + size);
      this.received = rest.length > 0 ? [rest] : [];
      this.receivedBytes = rest.length;
      this.onFrame(all.subarray(4, 4 + size));
    }
  }

  /** The received bytes as one buffer starting with at least `bytes` of them (a large response arrives in many chunks). */
  private joinReceived(bytes: number): Buffer {
    if (this.received[0]!.length < bytes) this.received = [Buffer.concat(this.received, this.receivedBytes)];
    return this.received[0]!;
  }

  private onFrame(frame: Buffer): void {
    const r = new Reader(frame);
    const correlationId = r.int32();
    const pending = this.pending.get(correlationId);
    if (!pending) {
      this.failAll(new ProtocolError(`response for unknown correlation id ${correlationId}`));
      return;
    }
    this.pending.delete(correlationId);
    if (pending.raw) return pending.resolve(r);
    try {
      const schema = API_SCHEMAS[pending.apiKey]!;
      const flexible = schema.flexibleMin >= 0 && pending.version >= schema.flexibleMin;
      if (flexible && pending.apiKey !== API_VERSIONS_KEY) r.skipTaggedFields();
      pending.resolve(schema.decodeResponse(r, pending.version));
    } catch (err) {
      pending.reject(err as Error);
    }
  }

  private failAll(err: Error): void {
    this.closedError ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  close(): void {
    this.socket.destroy();
  }
}
