// The client's side of SASL, for the CLI against a broker that requires it: SaslHandshake v1, then the mechanism's
// tokens in SaslAuthenticate v1 requests, as Kafka clients send them.
import { randomBytes } from 'node:crypto';
import { digest, hmac, saltedPassword, SCRAM_HASHES, SCRAM_ITERATIONS, scramKeys, type PasswordMechanism, type ScramMechanism } from '../broker/sasl-credentials.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { KafkaClient } from './kafka-client.js';

/** A login with a user's password (PLAIN, SCRAM) or with a bearer token an issuer signed (OAUTHBEARER). */
export type SaslLogin = { mechanism: PasswordMechanism; username: string; password: string } | { mechanism: 'OAUTHBEARER'; token: string };

/** Authenticates `client`'s connection as `login` says. Throws KafkaError with the broker's code and reason. */
export async function authenticate(client: KafkaClient, login: SaslLogin): Promise<void> {
  const handshake = await client.send(17, 1, { mechanism: login.mechanism });
  if (handshake.errorCode !== ErrorCode.NONE) {
    throw new KafkaError(handshake.errorCode, `SASL mechanism ${login.mechanism} refused; the broker offers ${handshake.mechanisms.join(', ') || 'none'}`);
  }
  const step = async (token: string): Promise<string> => {
    const res = await client.send(36, 1, { authBytes: Buffer.from(token) });
    if (res.errorCode !== ErrorCode.NONE) throw new KafkaError(res.errorCode, res.errorMessage ?? 'SASL authentication failed');
    return (res.authBytes as Buffer).toString();
  };
  if (login.mechanism === 'OAUTHBEARER') {
    // a refused token is answered with an error, to which the client says %x01 to hear the failure (RFC 7628)
    if ((await step(`n,,\x01auth=Bearer ${login.token}\x01\x01`)) !== '') await step('\x01');
    return;
  }
  if (login.mechanism === 'PLAIN') {
    await step(`\0${login.username}\0${login.password}`);
    return;
  }
  const firstBare = `n=${login.username.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${randomBytes(18).toString('base64')}`;
  const serverFirst = await step(`n,,${firstBare}`);
  const { message, serverFinal } = await scramClientFinal(login.mechanism, login.password, firstBare, serverFirst);
  if ((await step(message)) !== serverFinal) throw new KafkaError(ErrorCode.SASL_AUTHENTICATION_FAILED, 'the broker\'s SCRAM signature does not match: it does not hold this password');
}

/**
 * SCRAM's client-final message for the exchange so far, and the server-final message a server that holds the
 * password answers with (RFC 5802, section 3).
 */
export async function scramClientFinal(mechanism: ScramMechanism, password: string, firstBare: string, serverFirst: string): Promise<{ message: string; serverFinal: string }> {
  const fields = new Map(serverFirst.split(',').map((part) => [part.slice(0, 1), part.slice(2)]));
  const nonce = fields.get('r') ?? '';
  const clientNonce = firstBare.slice(firstBare.indexOf(',r=') + 3);
  const iterations = Number(fields.get('i'));
  if (!nonce.startsWith(clientNonce) || nonce === clientNonce || !fields.has('s') || !(iterations >= SCRAM_ITERATIONS)) {
    throw new KafkaError(ErrorCode.SASL_AUTHENTICATION_FAILED, `invalid SCRAM server first message ${JSON.stringify(serverFirst)}`);
  }
  const { hash, bytes } = SCRAM_HASHES[mechanism];
  const { clientKey, serverKey } = scramKeys(mechanism, await saltedPassword(password, mechanism, Buffer.from(fields.get('s')!, 'base64'), iterations));
  const withoutProof = `c=biws,r=${nonce}`;
  const authMessage = `${firstBare},${serverFirst},${withoutProof}`;
  const clientSignature = hmac(hash, digest(hash, clientKey), authMessage);
  const proof = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
  return { message: `${withoutProof},p=${proof.toString('base64')}`, serverFinal: `v=${hmac(hash, serverKey, authMessage).toString('base64')}` };
}
