// DescribeUserScramCredentials (key 50), v0: each user's SCRAM mechanisms and iterations (never a key), all users or
// those named: the users the broker was started with and those managed through AlterUserScramCredentials. A user
// named twice gets DUPLICATE_RESOURCE, one without credentials RESOURCE_NOT_FOUND. It needs DESCRIBE on the cluster
// (CLUSTER_AUTHORIZATION_FAILED).
import { ErrorCode } from '../../protocol/errors.js';
import type {
  DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse, DescribeUserScramCredentialsResponseDescribeUserScramCredentialsResult,
} from '../../protocol/messages.generated.js';
import { AclOperation } from '../../protocol/acl.js';
import type { Broker } from '../broker.js';
import type { ApiHandler } from '../handler.js';
import { SCRAM_MECHANISM_CODES, type ScramMechanism, type UserCredentials } from '../sasl-credentials.js';
import { requireClusterAllowed } from './acls.js';
import { toErrorCode } from './errors.js';

type Result = DescribeUserScramCredentialsResponseDescribeUserScramCredentialsResult;

/** Every user with credentials: those the broker was started with, then those managed through the API. */
function allUsers(broker: Broker): Map<string, UserCredentials> {
  const users = new Map(broker.scramCredentials.users());
  for (const [user, credentials] of broker.sasl?.users.configuredUsers() ?? []) users.set(user, credentials);
  return users;
}

function described(user: string, credentials: UserCredentials): Result {
  const credentialInfos = (Object.entries(credentials) as [ScramMechanism, { iterations: number }][])
    .map(([mechanism, c]) => ({ mechanism: SCRAM_MECHANISM_CODES[mechanism], iterations: c.iterations }))
    .sort((a, b) => a.mechanism - b.mechanism);
  return { user, errorCode: ErrorCode.NONE, errorMessage: null, credentialInfos };
}

export const describeUserScramCredentials: ApiHandler<DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse> = {
  apiKey: 50,
  minVersion: 0,
  maxVersion: 0,
  handle({ broker, connection }, req) {
    try {
      requireClusterAllowed(broker, connection, AclOperation.DESCRIBE);
    } catch (err) {
      return { throttleTimeMs: 0, ...toErrorCode(err), results: [] };
    }
    const users = allUsers(broker);
    const results: Result[] = [];
    if (!req.users) {
      for (const [user, credentials] of [...users].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) results.push(described(user, credentials));
    } else {
      const names = req.users.map((u) => u.name);
      for (const user of new Set(names)) {
        const credentials = users.get(user);
        if (names.indexOf(user) !== names.lastIndexOf(user)) results.push({ user, errorCode: ErrorCode.DUPLICATE_RESOURCE, errorMessage: `user ${user} is named more than once`, credentialInfos: [] });
        else if (!credentials) results.push({ user, errorCode: ErrorCode.RESOURCE_NOT_FOUND, errorMessage: `user ${user} has no SCRAM credential`, credentialInfos: [] });
        else results.push(described(user, credentials));
      }
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, results };
  },
};
