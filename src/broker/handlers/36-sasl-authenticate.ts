// SaslAuthenticate (key 36), v0-2: one token of the SASL exchange a SaslHandshake v1 began, answered with the
// server's token; the exchange's last one authenticates the connection. Failed authentication gets
// SASL_AUTHENTICATION_FAILED with the reason, and the connection is closed once that is written, as Kafka does.
// With connections.max.reauth.ms the answer that authenticates says how long the session lasts (session_lifetime_ms,
// v1+; no longer than an OAUTHBEARER token lasts); the client then authenticates again on its connection before that (KIP-368: SaslHandshake, then these), as
// the user it was, or the connection is closed at its next request (dispatch.ts). Without an exchange under way (no
// handshake, a v0 handshake, already authenticated, a broker without SASL): ILLEGAL_SASL_STATE.
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { SaslAuthenticateRequest, SaslAuthenticateResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { saslStep } from '../sasl-exchanges.js';
import { usesSasl } from '../listeners.js';

const NO_BYTES = Buffer.alloc(0);

export const saslAuthenticate: ApiHandler<SaslAuthenticateRequest, SaslAuthenticateResponse> = {
  apiKey: 36,
  minVersion: 0,
  maxVersion: 2,
  async handle({ broker, connection, afterResponseWritten }, req) {
    const session = connection.sasl;
    const sasl = usesSasl(connection.listener.securityProtocol) ? broker.sasl : null;
    if (sasl === null || session === null || session.rawTokens) {
      const errorMessage = connection.authenticated && sasl !== null ? 'SaslAuthenticate request received after successful authentication' : 'SaslAuthenticate request received without a SaslHandshake v1 before it';
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, errorMessage, authBytes: NO_BYTES, sessionLifetimeMs: 0 };
    }
    try {
      const reply = await saslStep(broker.logger, broker.metrics, connection, req.authBytes, sasl.maxReauthMs);
      // 0 until the exchange's last token, and where sessions never end
      const expiresAt = connection.saslIdentity?.expiresAt ?? Infinity;
      const sessionLifetimeMs = connection.sasl === null && expiresAt !== Infinity ? Math.max(1, expiresAt - Date.now()) : 0;
      return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: reply, sessionLifetimeMs };
    } catch (err) {
      if (!(err instanceof KafkaError)) throw err;
      afterResponseWritten(() => connection.close());
      return { errorCode: err.code, errorMessage: err.message, authBytes: NO_BYTES, sessionLifetimeMs: 0 };
    }
  },
};
