import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Checks HTTP Basic credentials (RFC 7617) against `users` (name → password), as Prometheus' `basic_auth` sends them.
 * Passwords are compared as SHA-256 digests in constant time, and an unknown user costs the same comparison.
 */
export function basicAuthorizer(users: Readonly<Record<string, string>>): (authorization: string | undefined) => boolean {
  const digests = new Map(Object.entries(users).map(([user, password]) => [user, digest(password)]));
  const nobody = digest('');
  return (authorization) => {
    const m = /^Basic +([A-Za-z0-9+/]+=*)$/i.exec(authorization?.trim() ?? '');
    if (!m) return false;
    const credentials = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = credentials.indexOf(':');
    if (colon < 0) return false;
    const expected = digests.get(credentials.slice(0, colon));
    const matches = timingSafeEqual(expected ?? nobody, digest(credentials.slice(colon + 1)));
    return expected !== undefined && matches;
  };
}
