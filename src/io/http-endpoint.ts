import { createServer, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { TlsContext } from './tcp.js';

/** What a GET of one path answers: its body written a piece at a time, as the pieces are made. */
export interface HttpAnswer {
  contentType: string;
  body: AsyncIterable<string>;
}

/** An HTTP endpoint serving GETs of fixed paths (the metrics scrape). */
export interface HttpEndpoint {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** What an endpoint asks of its clients, beyond HTTP. */
export interface HttpAccess {
  /** Speak HTTPS with this context: each connection takes the one current when it is accepted (a renewed certificate). */
  tls: TlsContext | null;
  /** Whether a request's Authorization header lets it in; a request it refuses gets 401 and a Basic challenge. */
  authorized: ((authorization: string | undefined) => boolean) | null;
  /** The realm the Basic challenge names. */
  realm: string;
}

const OPEN: HttpAccess = { tls: null, authorized: null, realm: '' };
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Listens on host:port (port 0: any free one) and answers a GET of a path in `routes` with what its function gives;
 * any other path 404, any other method 405, over TLS and behind a password where `access` asks. A route that fails
 * before its first piece answers 500, and after it ends the connection mid-answer, so that the client sees a failed
 * request, not a short one; either is reported to `onError`, which is all it affects. A failed TLS handshake goes
 * to `onTlsError`.
 */
export function serveHttp(
  host: string,
  port: number,
  routes: ReadonlyMap<string, () => HttpAnswer>,
  onError: (err: unknown, path: string) => void,
  access: HttpAccess = OPEN,
  onTlsError: (remote: string, err: Error) => void = () => undefined,
): Promise<HttpEndpoint> {
  const http = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes.get(path);
    if (access.authorized !== null && !access.authorized(req.headers.authorization)) {
      res.writeHead(401, { 'www-authenticate': `Basic realm="${access.realm}", charset="UTF-8"`, 'content-type': 'text/plain' }).end('a user and password are needed\n');
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET is served\n');
    } else if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no such path; try ${[...routes.keys()].join(', ')}\n`);
    } else {
      answer(res, route(), req.method === 'HEAD').catch((err: unknown) => {
        onError(err, path);
        if (res.headersSent) res.destroy();
        else res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error; see the broker log\n');
      });
    }
  });
  http.keepAliveTimeout = 5_000;
  // the TCP listener hands each connection to the HTTP server, through TLS where asked, so that each TLS connection
  // takes the context current when it comes
  const { tls } = access;
  const open = new Set<Socket>();
  const server = createTcpServer((raw) => {
    open.add(raw);
    raw.once('close', () => open.delete(raw));
    if (tls === null) {
      http.emit('connection', raw);
      return;
    }
    const remote = `${raw.remoteAddress}:${raw.remotePort}`;
    const secure = new TLSSocket(raw, { isServer: true, secureContext: tls.secureContext });
    // a client that connects and never finishes its handshake does not keep its connection
    secure.setTimeout(HANDSHAKE_TIMEOUT_MS, () => secure.destroy(new Error(`no TLS handshake in ${HANDSHAKE_TIMEOUT_MS} ms`)));
    secure.once('error', (err) => onTlsError(remote, err));
    secure.once('secure', () => {
      secure.setTimeout(0);
      http.emit('connection', secure);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      resolve({
        host,
        port: address.port,
        close: () =>
          new Promise<void>((done) => {
            // a scraper that keeps its connection open must not hold up a shutdown
            server.close(() => done());
            for (const socket of open) socket.destroy();
          }),
      });
    });
  });
}

/** Writes the answer's pieces as they come, waiting while the client reads what was written; headers go with the first. HEAD: headers only. */
async function answer(res: ServerResponse, { contentType, body }: HttpAnswer, headOnly: boolean): Promise<void> {
  if (headOnly) {
    res.writeHead(200, { 'content-type': contentType }).end();
    return;
  }
  for await (const piece of body) {
    if (res.destroyed) return; // the client went away: the rest is not made
    if (!res.headersSent) res.writeHead(200, { 'content-type': contentType });
    if (!res.write(piece)) await drained(res);
  }
  if (!res.headersSent) res.writeHead(200, { 'content-type': contentType });
  res.end();
}

/** Resolves once what was written has gone out, or the connection has closed. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}
