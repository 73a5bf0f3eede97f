import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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

/**
 * Listens on host:port (port 0: any free one) and answers a GET of a path in `routes` with what its function gives;
 * any other path 404, any other method 405. A route that fails before its first piece answers 500, and after it
 * ends the connection mid-answer, so that the client sees a failed request, not a short one; either is reported to
 * `onError`, which is all it affects.
 */
export function serveHttp(host: string, port: number, routes: ReadonlyMap<string, () => HttpAnswer>, onError: (err: unknown, path: string) => void): Promise<HttpEndpoint> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes.get(path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
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
  // a scraper that keeps its connection open must not hold up a shutdown
  server.keepAliveTimeout = 5_000;
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
            server.close(() => done());
            server.closeAllConnections();
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
