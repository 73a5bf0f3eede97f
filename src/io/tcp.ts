import { createServer, isIP, Socket, type Server, type SocketConstructorOpts } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';

/**
 * Says where each read from a socket lands. Reads go into memory the reader chooses instead of a fresh chunk per
 * read, so a large request can be read straight into its own buffer.
 */
export interface SocketReader {
  /** The memory the next read fills from its start (never empty); the reader's until onRead returns. */
  nextBuffer(): Buffer;
  /** `bytes` bytes were read into the start of `into`, the buffer nextBuffer() last returned. */
  onRead(bytes: number, into: Buffer): void;
}

/** An accepted connection, not yet read. */
export interface AcceptedSocket {
  /** The client's address, an IPv4 client of a dual-stack listener by its IPv4 address (as Kafka names it). */
  host: string;
  /** Starts reading it with the given reader. */
  readWith(reader: SocketReader): Socket;
  /** Closes it unread. */
  refuse(): void;
}

/**
 * What a TLS context is made of: PEM certificate chain and key, the CA clients' certificates must chain to, if any,
 * and that CA's certificate revocation list, if any (a client certificate it lists is refused).
 */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  crl?: Buffer;
}

/** The files TLS material was read from, which can be read again. */
export interface TlsFiles {
  cert: string;
  key: string;
  ca?: string;
  crl?: string;
}

/** The TLS versions and ciphers a context allows (Kafka's ssl.enabled.protocols and ssl.cipher.suites). */
export interface TlsProtocolOptions {
  /** The oldest TLS version taken; default TLSv1.2. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL's cipher list (TLS 1.3 suites by their names too); default Node's. */
  ciphers?: string;
}

/** A TLS listener's keys, and what it asks of clients. */
export interface TlsSettings extends TlsMaterial, TlsProtocolOptions {
  /** Whether clients must present a certificate the CA signed (Kafka's ssl.client.auth), may, or are not asked. */
  clientAuth: 'required' | 'requested' | 'none';
  /** Where the keys were read from (`sluice start`), so that the broker can read them again when they change. */
  files?: TlsFiles;
}

/**
 * The TLS context listeners serve, replaceable while they listen (a renewed certificate): each connection takes the
 * one current when it is accepted, and connections already open keep theirs.
 */
export class TlsContext {
  private current: SecureContext;

  /** Throws, as `replace` does, when the material is not a certificate and its key, or the options cannot be met. */
  constructor(
    material: TlsMaterial,
    private readonly options: TlsProtocolOptions = {},
  ) {
    this.current = TlsContext.make(material, options);
  }

  /** Serves `material` from the next connection on; throws, keeping the current context, when it cannot be used. */
  replace(material: TlsMaterial): void {
    this.current = TlsContext.make(material, this.options);
  }

  private static make(material: TlsMaterial, options: TlsProtocolOptions): SecureContext {
    const { cert, key, ca, crl } = material;
    return createSecureContext({ cert, key, ca, crl, minVersion: options.minVersion, ciphers: options.ciphers });
  }

  get secureContext(): SecureContext {
    return this.current;
  }
}

/** A TLS listener's context and what it asks of clients. */
export interface ListenerTls {
  context: TlsContext;
  clientAuth: TlsSettings['clientAuth'];
}

/** What the listener reports besides connections: a failed accept, and a TLS handshake that failed. */
export interface ListenerEvents {
  onAcceptError(err: Error): void;
  onTlsError(remote: string, err: Error): void;
}

/**
 * Starts a TCP listener, speaking TLS when `tls` is given, and resolves once it is bound (port 0 picks a free port).
 * A failed accept after that (ENOBUFS, ENOMEM, EPERM from a firewall rule: libuv passes these on, and handles EMFILE
 * itself by closing the connection) goes to `onAcceptError` and the listener goes on; Node reports it as the
 * server's 'error' event, which with no listener would end the process.
 */
export function listen(host: string, port: number, onSocket: (accepted: AcceptedSocket) => void, events: ListenerEvents, tls: ListenerTls | null = null): Promise<Server> {
  return new Promise((resolve, reject) => {
    // paused until taken over below: no byte is read into Node's own chunks first
    const server = createServer({ noDelay: true, pauseOnConnect: true }, (raw) =>
      onSocket({
        host: clientHost(raw),
        readWith: (reader) => (tls === null ? readWith(raw, reader) : readSecure(raw, reader, tls, events)),
        refuse: () => raw.destroy(),
      }),
    );
    server.once('error', reject);
    server.listen({ host, port, backlog: 1024 }, () => {
      server.off('error', reject);
      server.on('error', (err) => events.onAcceptError(err));
      resolve(server);
    });
  });
}

/**
 * Node takes a reader (`onread`) only for sockets it is given to construct, not for those a server accepts, so the
 * accepted socket's handle moves to a new socket built with one. The accepted socket then closes without its
 * handle, which also takes it off the server's count: closing the server does not wait for it (the broker closes
 * its connections itself).
 */
function readWith(raw: Socket, reader: SocketReader): Socket {
  const holder = raw as unknown as { _handle: object | null };
  const handle = holder._handle;
  if (!handle) {
    // closed by the peer before it was taken over
    raw.destroy();
    return raw;
  }
  const onread = { buffer: () => reader.nextBuffer(), callback: (bytes: number, into: Uint8Array) => void reader.onRead(bytes, into as Buffer) };
  // `handle` is a constructor option Node reads but its type declarations leave out
  const socket = new Socket({ handle, readable: true, writable: true, onread } as SocketConstructorOpts);
  holder._handle = null;
  raw.destroy();
  return socket;
}

/**
 * TLS over the accepted socket. Decrypted bytes arrive in chunks of Node's, so each is copied into the memory the
 * reader chooses (a copy the plain path does not make). A handshake that fails is reported, and the socket closed.
 */
function readSecure(raw: Socket, reader: SocketReader, tls: ListenerTls, events: ListenerEvents): Socket {
  const remote = `${raw.remoteAddress}:${raw.remotePort}`;
  const socket = new TLSSocket(raw, { isServer: true, secureContext: tls.context.secureContext, requestCert: tls.clientAuth !== 'none', rejectUnauthorized: tls.clientAuth === 'required' });
  let secure = false;
  socket.once('secure', () => {
    secure = true;
    if (tls.clientAuth === 'none') return;
    const refusal = clientCertificateRefusal(socket);
    if (refusal === null) verifiedClients.add(socket);
    else if (tls.clientAuth === 'required') {
      events.onTlsError(remote, refusal);
      socket.destroy();
    }
  });
  socket.on('error', (err) => {
    if (!secure) events.onTlsError(remote, err);
  });
  if (!readIntoReaderMemory(socket, reader)) {
    socket.on('data', (chunk: Buffer) => {
      for (let at = 0; at < chunk.length; ) {
        const into = reader.nextBuffer();
        const copied = chunk.copy(into, 0, at);
        at += copied;
        reader.onRead(copied, into);
      }
    });
  }
  raw.resume();
  return socket;
}

/**
 * Has the TLS socket's handle decrypt into the memory the reader chooses, as the plaintext path reads (Node's TLS
 * layer copies each decrypted record into the buffer it is given): without it, every record becomes a Buffer of its own,
 * which the reader then copies. Node takes a reader only for a TLS socket it connects itself, so this sets what its
 * `onread` option would, the socket's buffer fields (found by their names) and the handle's user buffer. Returns false,
 * and the caller reads 'data' chunks instead, where this Node has none of them.
 */
function readIntoReaderMemory(socket: TLSSocket, reader: SocketReader): boolean {
  const symbols = new Map(Object.getOwnPropertySymbols(socket).map((s) => [s.description, s]));
  const [kBuffer, kBufferCb, kBufferGen] = [symbols.get('kBuffer'), symbols.get('kBufferCb'), symbols.get('kBufferGen')];
  const handle = (socket as unknown as { _handle?: { useUserBuffer?(buffer: Uint8Array): void } })._handle;
  if (!kBuffer || !kBufferCb || !kBufferGen || typeof handle?.useUserBuffer !== 'function') return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  const first = reader.nextBuffer();
  fields[kBuffer] = first;
  fields[kBufferGen] = () => reader.nextBuffer();
  fields[kBufferCb] = (bytes: number, into: Buffer) => reader.onRead(bytes, into);
  handle.useUserBuffer(first);
  return true;
}

/** TLS sockets whose client presented a certificate the CA signed. */
const verifiedClients = new WeakSet<TLSSocket>();

/**
 * Why the client's certificate is not to be trusted, or null when it was verified. OpenSSL completes a handshake
 * whatever the certificate and keeps its verdict; a TLS server reads it once the handshake is done, and refuses the
 * client or sets `authorized`. A TLSSocket made from an accepted socket, as the listener makes them, gets neither, so
 * the verdict is read here, from the socket's handle as Node's own server reads it (where that is missing: refused).
 */
function clientCertificateRefusal(socket: TLSSocket): Error | null {
  if (socket.getPeerX509Certificate() === undefined) return new Error('the client presented no certificate');
  const handle = (socket as unknown as { _handle?: { verifyError?(): Error | null } })._handle;
  if (typeof handle?.verifyError !== 'function') return new Error('the client certificate cannot be verified on this Node.js');
  const error = handle.verifyError();
  return error === null ? null : new Error(`the client certificate is not trusted: ${error.message}`);
}

/**
 * The distinguished name of the certificate the TLS client presented and the listener verified, written as RFC 2253
 * does (most specific part first, `CN=alice,O=Example`), which is the principal Kafka takes from it by default; null
 * for a plaintext socket, or a client without a verified certificate.
 */
export function verifiedClientName(socket: Socket): string | null {
  if (!(socket instanceof TLSSocket) || !verifiedClients.has(socket)) return null;
  const subject = socket.getPeerX509Certificate()?.subject;
  if (subject === undefined || subject === '') return null;
  // Node lists the parts most general first, one a line
  return subject.split('\n').reverse().join(',');
}

/** Whether `text` is an IPv4 or IPv6 address (quotas name addresses, never host names to resolve). */
export function isIpAddress(text: string): boolean {
  return isIP(text) !== 0;
}

function clientHost(socket: Socket): string {
  return (socket.remoteAddress ?? 'unknown').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}
