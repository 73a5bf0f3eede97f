import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a GET of one path answers. */
export interface HttpAnswer {
  contentType: string;
  body: string;
}

/** An HTTP endpoint serving GETs of fixed paths (the metrics scrape). */
export interface HttpEndpoint {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Listens on host:port (port 0: any free one) and answers a GET of a path in `routes` with what its function gives;
 * any other path 404, any other method 405. A route that throws answers 500 and is reported to `onError`, which is
 * all it affects.
 */
export function serveHttp(
  host: string,
  port: number,
  routes: ReadonlyMap<string, () => Promise<HttpAnswer>>,
  onError: (err: unknown, path: string) => void,
): Promise<HttpEndpoint> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const route = routes.get(path);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET is served\n');
    } else if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no such path; try ${[...routes.keys()].join(', ')}\n`);
    } else {
      route().then(
        (answer) => res.writeHead(200, { 'content-type': answer.contentType }).end(req.method === 'HEAD' ? undefined : answer.body),
        (err: unknown) => {
          onError(err, path);
          res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error; see the broker log\n');
        },
      );
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
