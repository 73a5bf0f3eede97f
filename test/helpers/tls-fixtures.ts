import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The directory of the test certificates and keys (see its README); tests run from dist/, the files stay in the source tree. */
export const TLS_FIXTURES_DIR = fileURLToPath(new URL('../../../test/helpers/fixtures/tls', import.meta.url));

/** One of the test certificates or keys, by file name. */
export function tlsFixture(name: string): Buffer {
  return readFileSync(`${TLS_FIXTURES_DIR}/${name}`);
}
