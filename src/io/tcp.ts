import { createServer, type Server, type Socket } from 'node:net';

/** Starts a TCP listener and resolves once it is bound (port 0 picks a free port). */
export function listen(host: string, port: number, onSocket: (socket: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ noDelay: true }, onSocket);
    server.once('error', reject);
    server.listen({ host, port, backlog: 1024 }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
