// The TCP listener: an accept that fails once it is listening is reported, and the listener goes on serving; TLS reads
// land in the reader's memory.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { connect as connectTls } from 'node:tls';
import { listen, TlsContext, type AcceptedSocket, type ListenerTls, type SocketReader } from '../../src/io/tcp.js';
import { until } from '../helpers/until.js';
import { tlsFixture } from '../helpers/tls-fixtures.js';

test('an accept that fails after the listener is bound is reported, and later connections are still accepted', async () => {
  const accepted: AcceptedSocket[] = [];
  const failures: Error[] = [];
  const server = await listen('127.0.0.1', 0, (socket) => accepted.push(socket), { onAcceptError: (err) => failures.push(err), onTlsError: () => undefined });
  try {
    // what Node does with an accept(2) error libuv passes on (ENOBUFS here): the server's 'error' event
    const failure = Object.assign(new Error('accept ENOBUFS'), { code: 'ENOBUFS', syscall: 'accept' });
    server.emit('error', failure);
    assert.deepEqual(failures, [failure]);
    const { port } = server.address() as { port: number };
    const client = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
    await until(() => accepted.length > 0, 'the connection to be accepted');
    assert.equal(accepted.length, 1);
    client.destroy();
    accepted[0]!.refuse();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a TLS listener decrypts into the memory the reader chooses, as the plaintext one reads: bytes in order, into the buffers it handed out, no data events', async () => {
  const tls: ListenerTls = { context: new TlsContext({ cert: tlsFixture('server.pem'), key: tlsFixture('server.key') }), clientAuth: 'none' };
  const handedOut = new Set<Buffer>();
  const received: Buffer[] = [];
  const sockets: Socket[] = [];
  const reader: SocketReader = {
    nextBuffer: () => {
      const b = Buffer.alloc(1000); // smaller than a TLS record: one record fills several
      handedOut.add(b);
      return b;
    },
    onRead: (bytes, into) => {
      assert.ok(handedOut.has(into), 'read into a buffer the reader chose');
      received.push(Buffer.from(into.subarray(0, bytes)));
    },
  };
  const server = await listen('127.0.0.1', 0, (accepted) => sockets.push(accepted.readWith(reader)), { onAcceptError: () => undefined, onTlsError: () => undefined }, tls);
  const { port } = server.address() as { port: number };
  const client = connectTls({ host: '127.0.0.1', port, ca: tlsFixture('ca.pem') });
  try {
    const sent = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
    await new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject));
    client.write(sent);
    await until(() => received.reduce((n, b) => n + b.length, 0) >= sent.length, 'every byte to arrive');
    assert.ok(Buffer.concat(received).equals(sent));
    assert.equal(sockets[0]!.listenerCount('data'), 0, 'no chunk of Node\'s own was made and copied');
  } finally {
    client.destroy();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
