// SaslHandshake (key 17), v0-1: the client names its SASL mechanism (see sasl-exchanges.ts); v1's tokens then come in
// SaslAuthenticate requests, v0's as bare size-prefixed frames (kafka-python 2.0 still sends v0, which Kafka 4
// dropped). A mechanism not offered gets UNSUPPORTED_SASL_MECHANISM with the list, and the connection is closed once
// that is written, as Kafka does. On a connection already authenticated, a v1 handshake begins a re-authentication
// (KIP-368), which must use the mechanism it authenticated with (else UNSUPPORTED_SASL_MECHANISM, and the connection
// is closed). A broker without SASL, a connection that began an exchange, or a v0 handshake on an authenticated one
// answers ILLEGAL_SASL_STATE, as does a listener that does not ask for SASL (PLAINTEXT, SSL).
import { ErrorCode } from '../../protocol/errors.js';
import type { SaslHandshakeRequest, SaslHandshakeResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { saslExchange } from '../sasl-exchanges.js';
import type { SaslMechanism } from '../sasl-credentials.js';
import { usesSasl } from '../listeners.js';

export const saslHandshake: ApiHandler<SaslHandshakeRequest, SaslHandshakeResponse> = {
  apiKey: 17,
  minVersion: 0,
  maxVersion: 1,
  handle({ broker, version, connection, afterResponseWritten }, req) {
    // SASL is the listener's: a client of a PLAINTEXT or SSL listener cannot authenticate with it
    const sasl = usesSasl(connection.listener.securityProtocol) ? broker.sasl : null;
    const offered = sasl === null ? [] : (connection.listener.saslMechanisms ?? sasl.mechanisms);
    const mechanisms = [...offered];
    const identity = connection.saslIdentity;
    if (sasl === null || connection.sasl !== null || (connection.authenticated && (identity === null || version === 0))) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms };
    if (identity !== null && req.mechanism !== identity.mechanism) {
      broker.logger.info({ remote: connection.remote, user: connection.user, mechanism: req.mechanism, authenticatedWith: identity.mechanism }, 'closing connection: a re-authentication must use the SASL mechanism the connection authenticated with');
      afterResponseWritten(() => connection.close());
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: [identity.mechanism] };
    }
    if (!offered.includes(req.mechanism as SaslMechanism)) {
      broker.logger.info({ remote: connection.remote, mechanism: req.mechanism, offered: mechanisms }, 'closing connection: SASL mechanism not offered');
      afterResponseWritten(() => connection.close());
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms };
    }
    const mechanism = req.mechanism as SaslMechanism;
    connection.sasl = { mechanism, exchange: saslExchange(mechanism, sasl), rawTokens: version === 0 };
    return { errorCode: ErrorCode.NONE, mechanisms };
  },
};
