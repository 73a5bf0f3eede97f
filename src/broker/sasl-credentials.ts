import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

/** The SASL mechanisms that check a user's password, as Kafka names them. */
export const PASSWORD_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
/** The SASL mechanisms Sluice offers: those, and OAUTHBEARER, which checks a token an issuer signed (oauth-bearer.ts). */
export const SASL_MECHANISMS = [...PASSWORD_MECHANISMS, 'OAUTHBEARER'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];
export type PasswordMechanism = (typeof PASSWORD_MECHANISMS)[number];
export type ScramMechanism = Exclude<PasswordMechanism, 'PLAIN'>;

/** Each SCRAM mechanism's hash, and the length of its keys (RFC 5802, RFC 7677). */
export const SCRAM_HASHES: Readonly<Record<ScramMechanism, { hash: 'sha256' | 'sha512'; bytes: number }>> = {
  'SCRAM-SHA-256': { hash: 'sha256', bytes: 32 },
  'SCRAM-SHA-512': { hash: 'sha512', bytes: 64 },
};

/** The fewest PBKDF2 iterations Kafka accepts for a SCRAM credential, and what it uses by default. */
export const SCRAM_ITERATIONS = 4096;

/** What a server keeps of a password for one SCRAM mechanism (RFC 5802): never the password itself. */
export interface ScramCredential {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

export const hmac = (hash: string, key: Buffer, data: Buffer | string): Buffer => createHmac(hash, key).update(data).digest();
export const digest = (hash: string, data: Buffer): Buffer => createHash(hash).update(data).digest();

/** SaltedPassword (Hi, which is PBKDF2 with HMAC) for `mechanism`; run on the thread pool, as it is CPU work by design. */
export function saltedPassword(password: string, mechanism: ScramMechanism, salt: Buffer, iterations: number): Promise<Buffer> {
  const { hash, bytes } = SCRAM_HASHES[mechanism];
  return pbkdf2Async(Buffer.from(password.normalize('NFKC')), salt, iterations, bytes, hash);
}

/** ClientKey and ServerKey derived from a salted password (RFC 5802, section 3). */
export function scramKeys(mechanism: ScramMechanism, salted: Buffer): { clientKey: Buffer; serverKey: Buffer } {
  const { hash } = SCRAM_HASHES[mechanism];
  return { clientKey: hmac(hash, salted, 'Client Key'), serverKey: hmac(hash, salted, 'Server Key') };
}

async function scramCredential(password: string, mechanism: ScramMechanism, iterations = SCRAM_ITERATIONS): Promise<ScramCredential> {
  const salt = randomBytes(24);
  const { clientKey, serverKey } = scramKeys(mechanism, await saltedPassword(password, mechanism, salt, iterations));
  return { salt, iterations, storedKey: digest(SCRAM_HASHES[mechanism].hash, clientKey), serverKey };
}

/** Kafka's codes for the SCRAM mechanisms in the SCRAM credential APIs. */
export const SCRAM_MECHANISM_CODES: Readonly<Record<ScramMechanism, number>> = { 'SCRAM-SHA-256': 1, 'SCRAM-SHA-512': 2 };

/** A credential made from a salted password, as AlterUserScramCredentials carries it (the client salts and hashes). */
export function credentialFromSalted(mechanism: ScramMechanism, salt: Buffer, iterations: number, salted: Buffer): ScramCredential {
  const { clientKey, serverKey } = scramKeys(mechanism, salted);
  return { salt, iterations, storedKey: digest(SCRAM_HASHES[mechanism].hash, clientKey), serverKey };
}

/** A user's credentials, one per SCRAM mechanism it has. */
export type UserCredentials = Partial<Record<ScramMechanism, ScramCredential>>;

/** Where credentials changed at run time are looked up (ScramCredentialStore). */
export interface ManagedCredentials {
  get(user: string): UserCredentials | undefined;
}

/**
 * The users who may authenticate, each with a SCRAM credential per mechanism: those the broker was started with
 * (made from their passwords, which are not kept, and fixed for its run), then those managed through
 * AlterUserScramCredentials. PLAIN is checked against the SCRAM-SHA-512 credential, so no form of a password that
 * could be replayed is kept for it either.
 */
export class SaslUsers {
  private constructor(
    private readonly configured: ReadonlyMap<string, Readonly<Record<ScramMechanism, ScramCredential>>>,
    private readonly managed: ManagedCredentials,
  ) {}

  static async fromPasswords(passwords: Readonly<Record<string, string>>, managed: ManagedCredentials): Promise<SaslUsers> {
    const credentials = new Map<string, Record<ScramMechanism, ScramCredential>>();
    for (const [user, password] of Object.entries(passwords)) {
      credentials.set(user, {
        'SCRAM-SHA-256': await scramCredential(password, 'SCRAM-SHA-256'),
        'SCRAM-SHA-512': await scramCredential(password, 'SCRAM-SHA-512'),
      });
    }
    return new SaslUsers(credentials, managed);
  }

  /** Whether the user was configured at start (and so cannot be changed at run time). */
  configuredUser(user: string): boolean {
    return this.configured.has(user);
  }

  /** The configured users and their credentials. */
  configuredUsers(): [string, UserCredentials][] {
    return [...this.configured];
  }

  scram(user: string, mechanism: ScramMechanism): ScramCredential | null {
    return (this.configured.get(user) ?? this.managed.get(user))?.[mechanism] ?? null;
  }

  /** Whether `password` is `user`'s; an unknown user takes as long as a known one to be refused. */
  async passwordMatches(user: string, password: string): Promise<boolean> {
    const known = this.scram(user, 'SCRAM-SHA-512');
    const credential = known ?? UNKNOWN_USER;
    const salted = await saltedPassword(password, 'SCRAM-SHA-512', credential.salt, credential.iterations);
    const { clientKey } = scramKeys('SCRAM-SHA-512', salted);
    return timingSafeEqual(digest('sha512', clientKey), credential.storedKey) && known !== null;
  }
}

const UNKNOWN_USER: ScramCredential = { salt: randomBytes(24), iterations: SCRAM_ITERATIONS, storedKey: Buffer.alloc(64), serverKey: Buffer.alloc(64) };

/** A name as GS2 and SCRAM send it (RFC 5801, RFC 5802): ',' and '=' come as =2C and =3D; null where another '=' appears. */
export function unescapeSaslName(name: string): string | null {
  if (/=(?!2C|3D)/.test(name)) return null;
  return name.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/**
 * The GS2 header (RFC 5801) that opens a SCRAM or OAUTHBEARER client message: its channel binding flag ('n' or 'y';
 * 'p=...' asks for binding, which Kafka does not offer), its authorization field ('' or 'a=name'), the header itself,
 * and what follows; null when the message has none.
 */
export function splitGs2Header(message: string): { flag: string; authz: string; header: string; rest: string } | null {
  const flagEnd = message.indexOf(',');
  const authzEnd = message.indexOf(',', flagEnd + 1);
  if (flagEnd < 0 || authzEnd < 0) return null;
  return { flag: message.slice(0, flagEnd), authz: message.slice(flagEnd + 1, authzEnd), header: message.slice(0, authzEnd + 1), rest: message.slice(authzEnd + 1) };
}
