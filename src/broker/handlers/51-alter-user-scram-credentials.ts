// AlterUserScramCredentials (key 51), v0: sets or removes users' SCRAM credentials at run time; the client sends
// the salt, iterations and salted password (never the password), and the broker keeps the keys derived from them,
// durably in the data dir, before answering. Results are per user, and a user's changes apply all or none:
// UNACCEPTABLE_CREDENTIAL (empty name, salt or salted password, one of the wrong length, iterations outside
// 4,096-16,384), UNSUPPORTED_SASL_MECHANISM, DUPLICATE_RESOURCE (a user and mechanism changed twice),
// RESOURCE_NOT_FOUND (removing a credential that does not exist), as Kafka answers; and INVALID_REQUEST for a user
// the broker was started with (`--sasl-users`), which changes there. It needs ALTER on the cluster. A connection
// already authenticated stays so, as in Kafka.
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type { AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse } from '../../protocol/messages.generated.js';
import { AclOperation } from '../../protocol/acl.js';
import type { Broker } from '../broker.js';
import type { ApiHandler } from '../handler.js';
import { SCRAM_HASHES, SCRAM_ITERATIONS, SCRAM_MECHANISM_CODES, credentialFromSalted, type ScramMechanism } from '../sasl-credentials.js';
import type { CredentialChange } from '../scram-store.js';
import { requireClusterAllowed } from './acls.js';
import { toErrorCode } from './errors.js';

/** The most PBKDF2 iterations Kafka accepts for a SCRAM credential. */
const MAX_ITERATIONS = 16_384;

const MECHANISMS = new Map((Object.entries(SCRAM_MECHANISM_CODES) as [ScramMechanism, number][]).map(([name, code]) => [code, name]));

function mechanismOf(code: number): ScramMechanism {
  const mechanism = MECHANISMS.get(code);
  if (!mechanism) throw new KafkaError(ErrorCode.UNSUPPORTED_SASL_MECHANISM, `unknown SCRAM mechanism ${code}`);
  return mechanism;
}

const unacceptable = (why: string) => new KafkaError(ErrorCode.UNACCEPTABLE_CREDENTIAL, why);

export const alterUserScramCredentials: ApiHandler<AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse> = {
  apiKey: 51,
  minVersion: 0,
  maxVersion: 0,
  async handle({ broker, connection }, req) {
    const alterations = [
      ...req.deletions.map((d) => ({ user: d.name, mechanism: d.mechanism, upsert: null })),
      ...req.upsertions.map((u) => ({ user: u.name, mechanism: u.mechanism, upsert: u })),
    ];
    const users = [...new Set(alterations.map((a) => a.user))];
    const answer = (errorOf: (user: string) => { errorCode: number; errorMessage: string | null }) => ({
      throttleTimeMs: 0, results: users.map((user) => ({ user, ...errorOf(user) })),
    });
    try {
      requireClusterAllowed(broker, connection, AclOperation.ALTER);
    } catch (err) {
      return answer(() => toErrorCode(err));
    }
    const errors = new Map<string, { errorCode: number; errorMessage: string }>();
    // a user whose changes are refused adds none
    const changes: CredentialChange[] = [];
    for (const user of users) {
      try {
        changes.push(...userChanges(broker, user, alterations.filter((a) => a.user === user)));
      } catch (err) {
        errors.set(user, toErrorCode(err));
      }
    }
    try {
      await broker.scramCredentials.apply(changes);
      for (const c of changes) broker.logger.info({ by: connection.principal, user: c.user, mechanism: c.mechanism, host: connection.host }, c.credential ? 'SCRAM credential set' : 'SCRAM credential removed');
    } catch (err) {
      broker.logger.error({ err }, 'writing the SCRAM credentials file failed: no credential of the request was changed');
      const failed = toErrorCode(err);
      for (const c of changes) errors.set(c.user, failed);
    }
    return answer((user) => errors.get(user) ?? { errorCode: ErrorCode.NONE, errorMessage: null });
  },
};

/** One user's alterations checked, as changes to the store; throws the first refusal. */
function userChanges(
  broker: Broker,
  user: string,
  alterations: { mechanism: number; upsert: { iterations: number; salt: Buffer; saltedPassword: Buffer } | null }[],
): CredentialChange[] {
  if (user === '') throw unacceptable('the user name is empty');
  if (broker.sasl?.users.configuredUser(user)) throw new KafkaError(ErrorCode.INVALID_REQUEST, `user ${user} is one the broker was started with (its users file): change it there`);
  const seen = new Set<ScramMechanism>();
  return alterations.map(({ mechanism: code, upsert }) => {
    const mechanism = mechanismOf(code);
    if (seen.has(mechanism)) throw new KafkaError(ErrorCode.DUPLICATE_RESOURCE, `user ${user}'s ${mechanism} credential is changed twice in the request`);
    seen.add(mechanism);
    if (upsert === null) {
      if (!broker.scramCredentials.get(user)?.[mechanism]) throw new KafkaError(ErrorCode.RESOURCE_NOT_FOUND, `user ${user} has no ${mechanism} credential to remove`);
      return { user, mechanism, credential: null };
    }
    const { iterations, salt, saltedPassword } = upsert;
    if (iterations < SCRAM_ITERATIONS) throw unacceptable(`too few iterations: ${iterations}, at least ${SCRAM_ITERATIONS}`);
    if (iterations > MAX_ITERATIONS) throw unacceptable(`too many iterations: ${iterations}, at most ${MAX_ITERATIONS}`);
    if (salt.length === 0) throw unacceptable('the salt is empty');
    const bytes = SCRAM_HASHES[mechanism].bytes;
    if (saltedPassword.length !== bytes) throw unacceptable(`a ${mechanism} salted password is ${bytes} bytes, got ${saltedPassword.length}`);
    // the salt is kept: a copy, not a view of the request's frame
    return { user, mechanism, credential: credentialFromSalted(mechanism, Buffer.from(salt), iterations, saltedPassword) };
  });
}
