// SASL/OAUTHBEARER's server side (RFC 7628, KIP-255, KIP-768): the client's message parsed, and the bearer token in
// it validated as Kafka's OIDC validator does: a JWT signed with a key of the issuer's key set, unexpired, from the
// expected issuer for the expected audience, whose subject claim names the principal. Unsigned tokens (Kafka's
// default validator, for development) only when asked for.
import { errors, jwtVerify, UnsecuredJWT, type JSONWebKeySet, type JWTPayload } from 'jose';
import { fixedJwks, jwksSource, type JwksSource } from '../io/jwks-source.js';
import { splitGs2Header, unescapeSaslName } from './sasl-credentials.js';

export interface OAuthBearerConfig {
  /** The issuer's key set: an https:, http: or file: URL (Kafka's sasl.oauthbearer.jwks.endpoint.url). */
  jwksUrl?: string;
  /** The issuer's key set itself, instead of a URL. */
  jwks?: JSONWebKeySet;
  /** Accept unsigned tokens (`alg: none`), as Kafka does when given no key set: for development only. */
  unsecured?: boolean;
  /** The `iss` a token must carry (sasl.oauthbearer.expected.issuer); unset: any. */
  expectedIssuer?: string;
  /** The `aud` a token must carry one of (sasl.oauthbearer.expected.audience); unset: any. */
  expectedAudience?: readonly string[];
  /** The claim that names the principal (sasl.oauthbearer.sub.claim.name); default `sub`. */
  subClaimName?: string;
  /** Clock difference allowed for `exp`, `nbf` and `iat` (sasl.oauthbearer.clock.skew.seconds); default 30. */
  clockSkewSeconds?: number;
  /** How long fetched keys are used before they are fetched again (sasl.oauthbearer.jwks.endpoint.refresh.ms); default an hour. */
  jwksRefreshMs?: number;
  /** The least time between fetches that tokens naming unknown keys make (sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms); default 10 s. */
  jwksRetryBackoffMaxMs?: number;
}

const OAUTHBEARER_DEFAULTS = { subClaimName: 'sub', clockSkewSeconds: 30, jwksRefreshMs: 3_600_000, jwksRetryBackoffMaxMs: 10_000 } as const;

/** Signatures a token may carry: the public-key ones only, as a key set publishes public keys. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** `jose`'s errors that are the key set's, not the token's. */
const KEY_SET_FAILURES = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID']);

/** A token refused: the reason is logged and told to the client. */
export class InvalidTokenError extends Error {}

export interface ValidatedToken {
  principal: string;
  /** When the token expires, in milliseconds since the epoch. */
  expiresAt: number;
}

/** The validator's settings, complete and checked. */
export type OAuthBearerSettings = Required<Omit<OAuthBearerConfig, 'jwks' | 'jwksUrl' | 'expectedIssuer' | 'expectedAudience'>> & Pick<OAuthBearerConfig, 'jwksUrl' | 'expectedIssuer' | 'expectedAudience'>;

export class OAuthBearerValidator {
  private constructor(
    readonly settings: OAuthBearerSettings,
    private readonly keys: JwksSource | null,
  ) {}

  /** Checks `config` and makes its validator; throws with what is wrong. */
  static fromConfig(config: OAuthBearerConfig): OAuthBearerValidator {
    const sources = [config.jwksUrl !== undefined, config.jwks !== undefined, config.unsecured === true].filter(Boolean).length;
    if (sources !== 1) throw new Error('OAUTHBEARER needs exactly one of: a JWKS URL, a JWKS, or unsecured (unsigned) tokens');
    const settings: OAuthBearerSettings = {
      jwksUrl: config.jwksUrl,
      unsecured: config.unsecured === true,
      expectedIssuer: config.expectedIssuer,
      expectedAudience: config.expectedAudience,
      subClaimName: config.subClaimName ?? OAUTHBEARER_DEFAULTS.subClaimName,
      clockSkewSeconds: config.clockSkewSeconds ?? OAUTHBEARER_DEFAULTS.clockSkewSeconds,
      jwksRefreshMs: config.jwksRefreshMs ?? OAUTHBEARER_DEFAULTS.jwksRefreshMs,
      jwksRetryBackoffMaxMs: config.jwksRetryBackoffMaxMs ?? OAUTHBEARER_DEFAULTS.jwksRetryBackoffMaxMs,
    };
    for (const name of ['clockSkewSeconds', 'jwksRefreshMs', 'jwksRetryBackoffMaxMs'] as const) {
      const value = settings[name];
      if (!Number.isInteger(value) || value < (name === 'clockSkewSeconds' ? 0 : 1)) throw new Error(`OAUTHBEARER's ${name} must be a whole number${name === 'clockSkewSeconds' ? ' ≥ 0' : ' ≥ 1'}, got ${value}`);
    }
    if (settings.subClaimName === '') throw new Error('OAUTHBEARER\'s subClaimName must not be empty');
    if (settings.expectedAudience !== undefined && (settings.expectedAudience.length === 0 || settings.expectedAudience.some((a) => a === ''))) {
      throw new Error('OAUTHBEARER\'s expectedAudience must list at least one audience, none empty');
    }
    const keys = config.jwksUrl !== undefined
      ? jwksSource(config.jwksUrl, { refreshMs: settings.jwksRefreshMs, retryBackoffMaxMs: settings.jwksRetryBackoffMaxMs })
      : config.jwks !== undefined
        ? fixedJwks(config.jwks)
        : null;
    return new OAuthBearerValidator(settings, keys);
  }

  /** Reads or fetches the issuer's keys now. */
  async load(): Promise<void> {
    await this.keys?.load();
  }

  /** The token's principal and expiry; throws InvalidTokenError with the reason it is refused. */
  async validate(token: string): Promise<ValidatedToken> {
    const { subClaimName, clockSkewSeconds, expectedIssuer, expectedAudience } = this.settings;
    const checks = {
      issuer: expectedIssuer,
      audience: expectedAudience === undefined ? undefined : [...expectedAudience],
      clockTolerance: clockSkewSeconds,
      requiredClaims: ['exp', subClaimName],
    };
    let payload: JWTPayload;
    try {
      payload = this.keys === null ? UnsecuredJWT.decode(token, checks).payload : (await jwtVerify(token, this.keys.getKey, { ...checks, algorithms: ALGORITHMS })).payload;
    } catch (err) {
      if (err instanceof errors.JOSEError && !KEY_SET_FAILURES.has(err.code)) throw new InvalidTokenError(err.message);
      throw new InvalidTokenError(`the issuer's keys could not be read: ${(err as Error).message}`);
    }
    const principal = payload[subClaimName];
    if (typeof principal !== 'string' || principal === '') throw new InvalidTokenError(`the "${subClaimName}" claim must be a non-empty string`);
    return { principal, expiresAt: payload.exp! * 1000 };
  }
}

/** What a client's OAUTHBEARER message carries. */
export interface OAuthBearerResponse {
  /** The authorization identity asked for, or null. */
  authzid: string | null;
  token: string;
  /** SASL extensions (KIP-342), which Sluice takes and does not use. */
  extensions: Map<string, string>;
}

/** Thrown for a message that is not RFC 7628's client response. */
export class MalformedResponseError extends Error {}

const KVSEP = '\x01';
const KEY = /^[A-Za-z]+$/;
const VALUE = /^[\x21-\x7E \t\r\n]*$/;
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** Parses `gs2-header %x01 *(key=value %x01) %x01` (RFC 7628, section 3.1). */
export function parseClientResponse(message: string): OAuthBearerResponse {
  const gs2 = splitGs2Header(message);
  if (gs2 === null) throw new MalformedResponseError('no GS2 header');
  const { flag, authz, rest } = gs2;
  if (flag !== 'n' && flag !== 'y') throw new MalformedResponseError('channel binding is not supported');
  if (authz !== '' && !authz.startsWith('a=')) throw new MalformedResponseError('the authorization identity must be a=name');
  if (!rest.startsWith(KVSEP) || !rest.endsWith(KVSEP + KVSEP) || rest.length < 3) throw new MalformedResponseError('the key-value pairs must be between %x01 separators, ending with two');
  const pairs = new Map<string, string>();
  for (const pair of rest.slice(1, -2).split(KVSEP)) {
    const at = pair.indexOf('=');
    const key = pair.slice(0, at);
    const value = pair.slice(at + 1);
    if (at < 0 || !KEY.test(key) || !VALUE.test(value)) throw new MalformedResponseError(`invalid key-value pair ${JSON.stringify(pair.slice(0, 40))}`);
    if (pairs.has(key)) throw new MalformedResponseError(`"${key}" appears twice`);
    pairs.set(key, value);
  }
  const auth = pairs.get('auth');
  if (auth === undefined) throw new MalformedResponseError('no auth=Bearer token');
  const bearer = BEARER.exec(auth);
  if (bearer === null) throw new MalformedResponseError('auth must be "Bearer" and a token');
  pairs.delete('auth');
  const authzid = authz === '' ? null : unescapeSaslName(authz.slice(2));
  if (authz !== '' && authzid === null) throw new MalformedResponseError('invalid authorization identity');
  return { authzid, token: bearer[1]!, extensions: pairs };
}
