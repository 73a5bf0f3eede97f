// Where an OAuth issuer's public keys (a JSON Web Key Set, RFC 7517) come from: an http(s) URL, fetched and cached by
// `jose`, or a `file:` URL, read again once it changes, as Kafka's sasl.oauthbearer.jwks.endpoint.url takes either.
import { stat, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

export interface JwksSourceOptions {
  /** How long fetched keys are used before they are fetched again (Kafka's sasl.oauthbearer.jwks.endpoint.refresh.ms). */
  refreshMs: number;
  /** The least time between two fetches that a token naming an unknown key makes (rotation). */
  retryBackoffMaxMs: number;
}

export interface JwksSource {
  /** The key a token's header names, for `jose`'s verification. */
  readonly getKey: JWTVerifyGetKey;
  /** Reads or fetches the keys now: at start, so that a wrong address is told at once. */
  load(): Promise<void>;
}

/** How long the provider may take to answer a fetch of its keys. */
const FETCH_TIMEOUT_MS = 10_000;

/** How often a `file:` key set is looked at for a change, at most. */
const FILE_CHECK_MS = 1000;

export function jwksSource(url: string, options: JwksSourceOptions): JwksSource {
  const parsed = new URL(url);
  if (parsed.protocol === 'file:') return fileJwks(fileURLToPath(parsed));
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error(`a JWKS URL must be https:, http: or file:, got ${url}`);
  const remote = createRemoteJWKSet(parsed, {
    cacheMaxAge: options.refreshMs,
    cooldownDuration: options.retryBackoffMaxMs,
    timeoutDuration: FETCH_TIMEOUT_MS,
  });
  return { getKey: remote, load: () => remote.reload() };
}

/** A key set kept in the broker's memory (the embedded API's `jwks`). */
export function fixedJwks(keys: JSONWebKeySet): JwksSource {
  const getKey = createLocalJWKSet(keys);
  return { getKey, load: async () => undefined };
}

function parseKeySet(path: string, text: string): JSONWebKeySet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not a JSON Web Key Set: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as JSONWebKeySet).keys)) throw new Error(`${path} is not a JSON Web Key Set: it needs a "keys" array`);
  return parsed as JSONWebKeySet;
}

/** A key set read from a file, and read again when its size or modification time has changed (checked once a second at most). */
function fileJwks(path: string): JwksSource {
  let current: { getKey: JWTVerifyGetKey; version: string } | null = null;
  let checkedAt = -Infinity;
  const refresh = async (): Promise<JWTVerifyGetKey> => {
    const now = Date.now();
    if (current !== null && now - checkedAt < FILE_CHECK_MS) return current.getKey;
    checkedAt = now;
    const info = await stat(path);
    const version = `${info.size}:${info.mtimeMs}`;
    if (current === null || current.version !== version) current = { getKey: createLocalJWKSet(parseKeySet(path, await readFile(path, 'utf8'))), version };
    return current.getKey;
  };
  return {
    getKey: async (header, token) => (await refresh())(header, token),
    load: async () => {
      checkedAt = -Infinity;
      await refresh();
    },
  };
}
