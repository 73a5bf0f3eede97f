import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type JWK, type JWTPayload } from 'jose';

/** An issuer's signing key, with its public half as a JWKS entry. */
export interface Issuer {
  kid: string;
  alg: string;
  publicJwk: JWK;
  sign(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
}

/** A new key pair named `kid`, for `alg` (RS256, ES256, ...). */
export async function issuer(kid: string, alg = 'RS256'): Promise<Issuer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    publicJwk,
    sign: (claims, header = {}) => new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT', ...header }).sign(privateKey),
  };
}

/** The key set publishing these issuers' public keys. */
export const keySet = (...issuers: Issuer[]) => ({ keys: issuers.map((i) => i.publicJwk) });

/** Seconds since the epoch, `fromNow` seconds from now. */
export const epochSeconds = (fromNow = 0) => Math.floor(Date.now() / 1000) + fromNow;

/** An unsigned token (`alg: none`), as librdkafka's `enable.sasl.oauthbearer.unsecure.jwt` makes. */
export const unsignedToken = (claims: JWTPayload) => new UnsecuredJWT(claims).encode();

/** OAUTHBEARER's client message for `token` (RFC 7628), with an authorization id and extensions if given. */
export function clientResponse(token: string, authzid = '', extensions: Record<string, string> = {}): Buffer {
  const ext = Object.entries(extensions).map(([k, v]) => `${k}=${v}\x01`).join('');
  return Buffer.from(`n,${authzid === '' ? '' : `a=${authzid}`},\x01auth=Bearer ${token}\x01${ext}\x01`);
}
