import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';

/** The directory of the test certificates and keys (see its README); tests run from dist/, the files stay in the source tree. */
export const TLS_FIXTURES_DIR = fileURLToPath(new URL('../../../test/helpers/fixtures/tls', import.meta.url));

/** One of the test certificates or keys, by file name. */
export function tlsFixture(name: string): Buffer {
  return readFileSync(`${TLS_FIXTURES_DIR}/${name}`);
}

/** The subject of the certificate a TLS handshake with 127.0.0.1:`port` is served, trusting `ca`, with a client certificate if given. */
export async function servedSubject(port: number, ca: Buffer[], client: { cert?: Buffer; key?: Buffer } = {}): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port, ca, ...client });
  try {
    await once(socket, 'secureConnect');
    return socket.getPeerX509Certificate()!.subject;
  } finally {
    socket.destroy();
  }
}
