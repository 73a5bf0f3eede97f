// The server's side of the SASL mechanisms Sluice offers: PLAIN (RFC 4616) and SCRAM-SHA-256/512 (RFC 5802, RFC
// 7677), without channel binding, as Kafka offers them, and OAUTHBEARER (RFC 7628). Each exchange takes the client's
// tokens in turn.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { Connection } from './connection.js';
import type { BrokerMetrics } from './broker-metrics.js';
import { InvalidTokenError, MalformedResponseError, parseClientResponse, type OAuthBearerValidator } from './oauth-bearer.js';
import { digest, hmac, SCRAM_HASHES, splitGs2Header, unescapeSaslName, type PasswordMechanism, type SaslMechanism, type SaslUsers, type ScramCredential, type ScramMechanism } from './sasl-credentials.js';

/** A failed authentication: the client is told, and its connection closed. */
export class SaslAuthenticationError extends KafkaError {
  constructor(message: string) {
    super(ErrorCode.SASL_AUTHENTICATION_FAILED, message);
  }
}

/** The end of an OAUTHBEARER exchange whose token was refused (and logged) a step before. */
class RefusalConfirmed extends SaslAuthenticationError {}

/** One step's outcome: the token to send back, and the user once authentication is complete. */
export interface SaslStep {
  reply: Buffer;
  user: string | null;
  /** When the credential authenticated with ends (a token's expiry), in milliseconds since the epoch. */
  expiresAt?: number;
  /** Why the client's credential is refused, when the mechanism tells the client so before failing (OAUTHBEARER). */
  refused?: string;
}

export interface SaslExchange {
  /** Takes the client's next token. Throws SaslAuthenticationError when the client cannot be authenticated. */
  step(token: Buffer): Promise<SaslStep>;
}

/** What the exchanges check credentials against: the users' passwords, and the OAUTHBEARER validator if configured. */
export interface SaslVerifiers {
  users: SaslUsers;
  oauthBearer: OAuthBearerValidator | null;
}

export function saslExchange(mechanism: SaslMechanism, verifiers: SaslVerifiers): SaslExchange {
  if (mechanism === 'OAUTHBEARER') return new OAuthBearerExchange(verifiers.oauthBearer!);
  return mechanism === 'PLAIN' ? new PlainExchange(verifiers.users) : new ScramExchange(mechanism, verifiers.users);
}

/**
 * Takes the next token of the exchange `connection` began with its handshake, and returns the token to answer with;
 * the exchange's last authenticates the connection, for `maxReauthMs` (0: for good), or until its token expires if
 * sooner (KIP-368: a token's expiry ends a session only where sessions end). A re-authentication must name the user
 * the connection authenticated as. A failure ends the exchange, is logged, and is thrown.
 */
export async function saslStep(logger: Logger, metrics: BrokerMetrics, connection: Connection, token: Buffer, maxReauthMs: number): Promise<Buffer> {
  const session = connection.sasl!;
  const failed = (reason: string) => {
    metrics.authenticated(connection.listener.name, false);
    logger.warn({ remote: connection.remote, clientId: connection.clientId, mechanism: session.mechanism, reason }, 'SASL authentication failed');
  };
  try {
    const { reply, user, expiresAt, refused } = await session.exchange.step(token);
    if (refused !== undefined) {
      failed(refused);
      // bare frames (after SaslHandshake v0) cannot carry the failure that would follow: the connection closes now
      if (session.rawTokens) throw new RefusalConfirmed(refused);
    }
    if (user !== null) {
      const before = connection.user;
      if (before !== null && user !== before) throw new SaslAuthenticationError(`Cannot change principals during re-authentication from User:${before}: User:${user}`);
      connection.authenticated = true;
      connection.user = user;
      connection.sasl = null;
      const now = Date.now();
      connection.saslIdentity = { mechanism: session.mechanism, expiresAt: maxReauthMs > 0 ? Math.min(now + maxReauthMs, expiresAt ?? Infinity) : Infinity };
      metrics.authenticated(connection.listener.name, true);
      logger.debug({ remote: connection.remote, user, mechanism: session.mechanism }, before === null ? 'SASL authenticated' : 'SASL re-authenticated');
    }
    return reply;
  } catch (err) {
    connection.sasl = null;
    if (!(err instanceof RefusalConfirmed)) failed(err instanceof Error ? err.message : String(err));
    throw err;
  }
}

const invalidCredentials = (mechanism: PasswordMechanism) =>
  new SaslAuthenticationError(`Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`);

/** PLAIN: one token, `authzid NUL authcid NUL password`; the reply is empty. */
class PlainExchange implements SaslExchange {
  private done = false;

  constructor(private readonly users: SaslUsers) {}

  async step(token: Buffer): Promise<SaslStep> {
    if (this.done) throw new SaslAuthenticationError('PLAIN takes one token');
    this.done = true;
    const parts = token.toString('utf8').split('\0');
    if (parts.length !== 3) throw new SaslAuthenticationError('Invalid SASL/PLAIN response: expected 3 tokens');
    const [authzid, user, password] = parts as [string, string, string];
    if (user === '') throw new SaslAuthenticationError('Authentication failed: username not specified');
    if (authzid !== '' && authzid !== user) throw new SaslAuthenticationError('Authentication failed: Client requested an authorization id that is different from username');
    if (!(await this.users.passwordMatches(user, password))) throw invalidCredentials('PLAIN');
    return { reply: Buffer.alloc(0), user };
  }
}

/** `name=value` attributes of a SCRAM message, in order. */
function attributes(message: string): [string, string][] {
  return message.split(',').map((part) => {
    const at = part.indexOf('=');
    if (at !== 1) throw new SaslAuthenticationError(`Invalid SCRAM message attribute ${JSON.stringify(part.slice(0, 20))}`);
    return [part[0]!, part.slice(2)];
  });
}

function unescapeUsername(name: string): string {
  const user = unescapeSaslName(name);
  if (user === null) throw new SaslAuthenticationError('Invalid SCRAM username');
  return user;
}

/**
 * SCRAM: client-first (`n,,n=user,r=nonce`), answered with the server's nonce, salt and iterations; client-final
 * (`c=...,r=...,p=proof`), checked against the stored key and answered with the server's signature.
 */
class ScramExchange implements SaslExchange {
  /** The first exchange's state, with the credential it was answered from (a change meanwhile does not mix the two). */
  private first: { gs2Header: string; bare: string; user: string; nonce: string; serverFirst: string; credential: ScramCredential } | null = null;
  private done = false;

  constructor(
    private readonly mechanism: ScramMechanism,
    private readonly users: SaslUsers,
  ) {}

  async step(token: Buffer): Promise<SaslStep> {
    if (this.done) throw new SaslAuthenticationError(`${this.mechanism} takes two tokens`);
    const message = token.toString('utf8');
    if (this.first === null) return this.clientFirst(message);
    this.done = true;
    return this.clientFinal(message, this.first);
  }

  private clientFirst(message: string): SaslStep {
    const gs2 = splitGs2Header(message);
    if (gs2 === null) throw new SaslAuthenticationError('Invalid SCRAM client first message');
    const { flag, authz: authzid, rest: bare } = gs2;
    if (flag !== 'n' && flag !== 'y') throw new SaslAuthenticationError('SCRAM channel binding is not supported');
    // Kafka's one SCRAM extension, for delegation tokens, which Sluice does not issue
    if (bare.includes(',tokenauth=')) throw new SaslAuthenticationError('Delegation token authentication is not supported');
    const fields = attributes(bare);
    if (fields[0]?.[0] !== 'n' || fields[1]?.[0] !== 'r') throw new SaslAuthenticationError('Invalid SCRAM client first message: expected n= and r=');
    const user = unescapeUsername(fields[0][1]);
    if (authzid !== '' && authzid !== `a=${fields[0][1]}`) throw new SaslAuthenticationError('Authentication failed: Client requested an authorization id that is different from username');
    const credential = this.users.scram(user, this.mechanism);
    if (credential === null) throw new SaslAuthenticationError('Authentication failed: Invalid user credentials');
    const nonce = fields[1][1] + randomBytes(18).toString('base64');
    const serverFirst = `r=${nonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
    this.first = { gs2Header: gs2.header, bare, user, nonce, serverFirst, credential };
    return { reply: Buffer.from(serverFirst), user: null };
  }

  private clientFinal(message: string, first: NonNullable<ScramExchange['first']>): SaslStep {
    const proofAt = message.lastIndexOf(',p=');
    if (proofAt < 0) throw new SaslAuthenticationError('Invalid SCRAM client final message: no proof');
    const withoutProof = message.slice(0, proofAt);
    const fields = attributes(withoutProof);
    if (fields[0]?.[0] !== 'c' || fields[1]?.[0] !== 'r') throw new SaslAuthenticationError('Invalid SCRAM client final message: expected c= and r=');
    if (fields[0][1] !== Buffer.from(first.gs2Header).toString('base64')) throw new SaslAuthenticationError('Invalid SCRAM client final message: channel binding does not match');
    // the nonce must end with the server's; librdkafka (2.0 at least) sends its own nonce before it a second time,
    // and Kafka accepts that, checking the end only
    if (!fields[1][1].endsWith(first.nonce)) throw new SaslAuthenticationError('Invalid SCRAM client final message: nonce does not match');
    const { hash, bytes } = SCRAM_HASHES[this.mechanism];
    const proof = Buffer.from(message.slice(proofAt + 3), 'base64');
    const { credential } = first;
    const authMessage = `${first.bare},${first.serverFirst},${withoutProof}`;
    const clientSignature = hmac(hash, credential.storedKey, authMessage);
    if (proof.length !== bytes) throw invalidCredentials(this.mechanism);
    const clientKey = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    if (!timingSafeEqual(digest(hash, clientKey), credential.storedKey)) throw invalidCredentials(this.mechanism);
    return { reply: Buffer.from(`v=${hmac(hash, credential.serverKey, authMessage).toString('base64')}`), user: first.user };
  }
}

/**
 * OAUTHBEARER: one message, `n,[a=authzid],%x01auth=Bearer <token>%x01[key=value%x01...]%x01`, answered with nothing
 * once its token is valid. A refused token is answered with RFC 7628's error (`{"status":"invalid_token"}`), to which
 * the client sends %x01, and the exchange then fails, as Kafka's does.
 */
class OAuthBearerExchange implements SaslExchange {
  private refusal: string | null = null;
  private done = false;

  constructor(private readonly validator: OAuthBearerValidator) {}

  async step(token: Buffer): Promise<SaslStep> {
    if (this.refusal !== null) throw new RefusalConfirmed(`Authentication failed: invalid_token (${this.refusal})`);
    if (this.done) throw new SaslAuthenticationError('OAUTHBEARER takes one message');
    this.done = true;
    let response;
    try {
      response = parseClientResponse(token.toString('utf8'));
    } catch (err) {
      if (err instanceof MalformedResponseError) throw new SaslAuthenticationError(`Invalid OAUTHBEARER client response: ${err.message}`);
      throw err;
    }
    let validated;
    try {
      validated = await this.validator.validate(response.token);
    } catch (err) {
      if (!(err instanceof InvalidTokenError)) throw err;
      this.refusal = err.message;
      return { reply: Buffer.from(JSON.stringify({ status: 'invalid_token' })), user: null, refused: `invalid token: ${err.message}` };
    }
    const { principal, expiresAt } = validated;
    if (response.authzid !== null && response.authzid !== principal) {
      throw new SaslAuthenticationError(`Authentication failed: Client requested an authorization id (${response.authzid}) that is different from the token's principal name (${principal})`);
    }
    return { reply: Buffer.alloc(0), user: principal, expiresAt };
  }
}
