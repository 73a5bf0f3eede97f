import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 that forwards to a target and records every client→broker frame, so tests can
 * look at the exact bytes a real client sent. `cut()` drops every open link (a network failure).
 */
export class RecordingProxy {
  readonly requests: Buffer[] = [];
  private readonly sockets = new Set<Socket>();
  targetPort = 0;
  /** When set, every link is dropped after each this many client frames (a flaky network, by count). */
  cutEveryFrames = 0;
  cuts = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<RecordingProxy> {
    const server = createServer();
    const proxy = new RecordingProxy(server);
    server.on('connection', (client) => proxy.link(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private link(client: Socket): void {
    const upstream = connect({ host: '127.0.0.1', port: this.targetPort });
    this.sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    client.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const size = pending.readInt32BE(0);
        this.requests.push(Buffer.from(pending.subarray(4, 4 + size)));
        pending = pending.subarray(4 + size);
        if (this.cutEveryFrames > 0 && this.requests.length % this.cutEveryFrames === 0) {
          // forward what arrived, then drop the link once the broker may be mid-answer
          upstream.write(chunk);
          setImmediate(() => {
            this.cuts++;
            this.cut();
          });
          return;
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  }

  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
