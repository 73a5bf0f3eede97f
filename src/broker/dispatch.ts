import { ErrorCode, KafkaError, ProtocolError } from '../protocol/errors.js';
import { readRequestHeader, writeResponseHeader } from '../protocol/headers.js';
import { API_SCHEMAS, encodeApiVersionsResponse, type ApiVersionsResponse } from '../protocol/messages.generated.js';
import { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';
import type { Broker } from './broker.js';
import type { Connection, FrameResponse } from './connection.js';
import { supportedApiKeys } from './handlers/18-api-versions.js';
import { saslStep } from './sasl-exchanges.js';

const PRODUCE_KEY = 0;
const FETCH_KEY = 1;
const API_VERSIONS_KEY = 18;
const SASL_HANDSHAKE_KEY = 17;
const SASL_AUTHENTICATE_KEY = 36;
/** What a client may ask before it has authenticated, where the broker requires SASL. */
const BEFORE_AUTHENTICATION = new Set([API_VERSIONS_KEY, SASL_HANDSHAKE_KEY, SASL_AUTHENTICATE_KEY]);
/** What a client must always be able to ask, whatever its request_percentage quota (connecting and logging in). */
const REQUEST_QUOTA_EXEMPT = BEFORE_AUTHENTICATION;

/**
 * Decodes one request frame, runs its handler and encodes the response. Unknown API keys, unsupported
 * versions (other than ApiVersions, which gets the prescribed v0 answer) and undecodable bodies throw
 * ProtocolError, which closes that connection only.
 */
export async function dispatchFrame(broker: Broker, frame: Buffer, connection: Connection, taken: () => void): Promise<FrameResponse | null> {
  if (connection.sasl?.rawTokens) return rawSaslToken(broker, frame, connection, taken);
  const { throttling } = broker;
  const timed = throttling.requestTimeLimited;
  const started = performance.now();
  const r = new Reader(frame);
  const header = readRequestHeader(r);
  connection.clientId = header.clientId;
  const handler = broker.handlers.get(header.apiKey);
  const schema = API_SCHEMAS[header.apiKey];
  if (!handler || !schema) throw new ProtocolError(`unknown API key ${header.apiKey}`);
  if (!connection.authenticated && !BEFORE_AUTHENTICATION.has(header.apiKey)) {
    throw new ProtocolError(`unexpected ${schema.name} request before SASL authentication`);
  }
  const identity = connection.saslIdentity;
  if (identity !== null && identity.expiresAt <= Date.now() && !reauthenticating(header.apiKey, connection)) {
    // as Kafka: past its session, only a re-authentication is taken (KIP-368)
    broker.logger.info({ remote: connection.remote, user: connection.user, clientId: header.clientId }, 'closing connection: its SASL session ended (connections.max.reauth.ms) without re-authentication');
    taken();
    connection.close();
    return null;
  }
  const { apiVersion: version } = header;
  if (version < handler.minVersion || version > handler.maxVersion) {
    if (header.apiKey === API_VERSIONS_KEY) return unsupportedApiVersions(broker, header.correlationId);
    throw new ProtocolError(`${schema.name} v${version} is not supported (${handler.minVersion}-${handler.maxVersion})`);
  }
  const flexible = schema.flexibleMin >= 0 && version >= schema.flexibleMin;
  if (flexible) r.skipTaggedFields();
  const request = schema.decodeRequest(r, version);
  // a produce request's batches are views of its frame until they are written; any other request keeps small views
  // at most (group members' metadata), so it stops counting once decoded, as Kafka counts a request only until its
  // handler takes it
  if (header.apiKey !== PRODUCE_KEY) taken();
  // a holder, not a variable: set from the handler's callback, which the compiler's narrowing does not follow
  const after: { written: (() => void) | null } = { written: null };
  const afterResponseWritten = (run: () => void) => (after.written = run);
  const handling = handler.handle({ broker, header, version, connection, frame, afterResponseWritten }, request);
  // a request's time is what it held the event loop for: decoding and its handler's synchronous part (the rest of a
  // handler runs after its waits, in pieces not told apart from other requests')
  const requestThrottleMs = timed && !REQUEST_QUOTA_EXEMPT.has(header.apiKey) ? throttling.recordRequestTime(connection, performance.now() - started) : 0;
  const response = await handling;
  // a throttled client's connection is muted for the longest throttle its request met (its bytes, its time,
  // its partition mutations), as Kafka mutes it after answering; the answer says how long
  const throttleMs = Math.max(requestThrottleMs, response?.throttleTimeMs ?? 0);
  if (throttleMs > 0) {
    if (response !== null && 'throttleTimeMs' in response) response.throttleTimeMs = throttleMs;
    connection.throttle(throttleMs);
    broker.metrics.throttled(header.apiKey, throttleMs, connection.principal, header.clientId ?? '', broker.logs.clock.now());
  }
  if (response === null) {
    broker.metrics.requestServed(header.apiKey, version, started);
    return null;
  }
  const w = new Writer(512);
  try {
    // ApiVersions responses always use header v0, so a client can read them before it knows our versions
    writeResponseHeader(w, header.correlationId, flexible && header.apiKey !== API_VERSIONS_KEY);
    schema.encodeResponse(w, version, response);
  } catch (err) {
    // never to be written: what waits for the write (memory going back) runs now
    after.written?.();
    throw err;
  }
  broker.metrics.requestServed(header.apiKey, version, started);
  if (header.apiKey !== PRODUCE_KEY && header.apiKey !== FETCH_KEY) broker.metrics.answered(header.apiKey, response);
  return { chunks: w.finish(), afterWritten: after.written };
}

/** Whether the request begins or goes on with a re-authentication: a SaslHandshake, or a SaslAuthenticate of an exchange begun. */
function reauthenticating(apiKey: number, connection: Connection): boolean {
  return apiKey === SASL_HANDSHAKE_KEY || (apiKey === SASL_AUTHENTICATE_KEY && connection.sasl !== null);
}

/**
 * One token of a SASL exchange begun by SaslHandshake v0: a bare frame, answered with a bare frame (an empty one
 * where the mechanism has nothing to say, as PLAIN's success). A failure closes the connection, the only answer
 * this framing has.
 */
async function rawSaslToken(broker: Broker, frame: Buffer, connection: Connection, taken: () => void): Promise<FrameResponse | null> {
  taken();
  try {
    return { chunks: [await saslStep(broker.logger, broker.metrics, connection, frame, broker.sasl?.maxReauthMs ?? 0)], afterWritten: null };
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err;
    connection.close(); // saslStep logged why
    return null;
  }
}

/** The answer to an ApiVersions version we do not know: a v0 body with UNSUPPORTED_VERSION and our key list. */
function unsupportedApiVersions(broker: Broker, correlationId: number): FrameResponse {
  const w = new Writer(512);
  writeResponseHeader(w, correlationId, false);
  const body: ApiVersionsResponse = { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: supportedApiKeys(broker) };
  encodeApiVersionsResponse(w, 0, body);
  return { chunks: w.finish(), afterWritten: null };
}
