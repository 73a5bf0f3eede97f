import { join } from 'node:path';
import type { FileSystem } from '../io/file-system.js';
import { DurableState, readStateFile, type StateFileKind } from './durable-state.js';
import type { ManagedCredentials, ScramCredential, ScramMechanism, UserCredentials } from './sasl-credentials.js';

/** Where a data dir keeps the SCRAM credentials managed through AlterUserScramCredentials. */
export const SCRAM_CREDENTIALS_FILE = 'scram-credentials.json';

type Users = ReadonlyMap<string, UserCredentials>;

/** One change of AlterUserScramCredentials: a user's credential for a mechanism set, or (null) removed. */
export interface CredentialChange {
  user: string;
  mechanism: ScramMechanism;
  credential: ScramCredential | null;
}

/**
 * The SCRAM credentials managed at run time (Kafka keeps them in its metadata; Sluice in the data dir's
 * `scram-credentials.json`, salts and keys in base64, never a password). Changes are durable before they apply.
 */
export class ScramCredentialStore implements ManagedCredentials {
  private constructor(private readonly stored: DurableState<Users>) {}

  /** The credentials the data dir holds; a file that cannot be read stops the start (no user is dropped). */
  static async open(fs: FileSystem, dataDir: string): Promise<ScramCredentialStore> {
    const path = join(dataDir, SCRAM_CREDENTIALS_FILE);
    const users = (await fs.exists(path)) ? parseCredentials((await fs.readFile(path)).toString('utf8'), path) : new Map<string, UserCredentials>();
    // its keys would allow an offline dictionary attack on the passwords: readable by the broker's user only
    return new ScramCredentialStore(new DurableState<Users>(fs, path, users, renderCredentials, 0o600));
  }

  get(user: string): UserCredentials | undefined {
    return this.stored.current.get(user);
  }

  users(): [string, UserCredentials][] {
    return [...this.stored.current];
  }

  /** Makes the changes, all or none. */
  apply(changes: readonly CredentialChange[]): Promise<void> {
    return this.stored.change((current) => {
      if (changes.length === 0) return { state: null, result: undefined };
      const next = new Map(current);
      for (const { user, mechanism, credential } of changes) {
        const credentials: UserCredentials = { ...next.get(user) };
        if (credential === null) delete credentials[mechanism];
        else credentials[mechanism] = credential;
        if (Object.keys(credentials).length === 0) next.delete(user);
        else next.set(user, credentials);
      }
      return { state: next, result: undefined };
    });
  }
}

type StoredCredential = { salt: string; iterations: number; storedKey: string; serverKey: string };

function renderCredentials(users: Users): string {
  const out: Record<string, Record<string, StoredCredential>> = {};
  for (const [user, credentials] of users) {
    out[user] = Object.fromEntries(Object.entries(credentials).map(([mechanism, c]) => [mechanism, {
      salt: c.salt.toString('base64'), iterations: c.iterations, storedKey: c.storedKey.toString('base64'), serverKey: c.serverKey.toString('base64'),
    }]));
  }
  return JSON.stringify({ version: 1, users: out }, null, 1) + '\n';
}

const CREDENTIALS_FILE: StateFileKind<{ version?: unknown; users?: Record<string, Record<string, StoredCredential>> }> = {
  kind: 'credentials',
  without: 'without the users it held',
  valid: (parsed) => typeof parsed.users === 'object' && parsed.users !== null,
};

function parseCredentials(text: string, path: string): Map<string, UserCredentials> {
  return readStateFile(text, path, CREDENTIALS_FILE, (parsed, refuse) => {
    const users = new Map<string, UserCredentials>();
    for (const [user, credentials] of Object.entries(parsed.users!)) {
      const own: UserCredentials = {};
      for (const [mechanism, c] of Object.entries(credentials)) {
        if (mechanism !== 'SCRAM-SHA-256' && mechanism !== 'SCRAM-SHA-512') return refuse(`user ${user} has an unknown mechanism ${mechanism}`);
        if (!Number.isInteger(c.iterations) || typeof c.salt !== 'string' || typeof c.storedKey !== 'string' || typeof c.serverKey !== 'string') return refuse(`user ${user}'s ${mechanism} credential is incomplete`);
        own[mechanism] = { salt: Buffer.from(c.salt, 'base64'), iterations: c.iterations, storedKey: Buffer.from(c.storedKey, 'base64'), serverKey: Buffer.from(c.serverKey, 'base64') };
      }
      users.set(user, own);
    }
    return users;
  });
}
