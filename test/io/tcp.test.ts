// The TCP listener: an accept that fails once it is listening is reported, and the listener goes on serving.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { listen, type AcceptedSocket } from '../../src/io/tcp.js';
import { until } from '../helpers/until.js';

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
