// SCRAM users managed at run time with real clients: @platformatic/kafka's AlterUserScramCredentials and
// DescribeUserScramCredentials (v0) add, list and remove a user, which librdkafka (confluent-kafka) and kafkajs then
// log in as, or no longer can; `sluice users set|list|delete` do the same from the CLI.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { alterUserScramCredentialsV0, Connection, describeUserScramCredentialsV0 } from '@platformatic/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { saltedPassword } from '../../src/broker/sasl-credentials.js';
import { withBroker } from '../helpers/broker.js';
import { SLUICE_BIN, startCli, stopCli } from '../helpers/cli-broker.js';
import { run } from '../helpers/run.js';
import { withTempDir } from '../helpers/temp-dir.js';
import { python } from './python-clients.js';

const sent = Array.from({ length: 20 }, (_, i) => `secure-${i}`);
const rdkafka = (mechanism: string, username: string, password: string) =>
  JSON.stringify({ 'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanism': mechanism, 'sasl.username': username, 'sasl.password': password });

async function kafkajsProduces(bootstrap: string, username: string, password: string): Promise<void> {
  const producer = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 }, sasl: { mechanism: 'scram-sha-256', username, password } }).producer();
  await producer.connect();
  try {
    const [sentTo] = await producer.send({ topic: 'kjs', messages: [{ value: 'x' }] });
    assert.equal(sentTo!.errorCode, 0);
  } finally {
    await producer.disconnect();
  }
}

test('@platformatic/kafka adds a user with AlterUserScramCredentials; librdkafka and kafkajs log in as it; removed, they are refused', async () => {
  await withBroker(async ({ bootstrap }) => {
    const [host, port] = bootstrap.split(':');
    const admin = new Connection('scram-admin', { sasl: { mechanism: 'SCRAM-SHA-512', username: 'admin', password: 'admin-secret' } });
    await admin.connect(host!, Number(port));
    try {
      // Kafka's codes: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512
      const upsertions = await Promise.all(([[1, 'SCRAM-SHA-256'], [2, 'SCRAM-SHA-512']] as const).map(async ([mechanism, scram]) => {
        const salt = randomBytes(16);
        return { name: 'carol', mechanism, iterations: 4096, salt, saltedPassword: await saltedPassword('carol-secret', scram, salt, 4096) };
      }));
      const altered = await alterUserScramCredentialsV0.api.async(admin, [], upsertions);
      assert.deepEqual(altered.results.map((r) => [r.user, r.errorCode]), [['carol', 0]]);
      const described = await describeUserScramCredentialsV0.api.async(admin, [{ name: 'carol' }]);
      assert.deepEqual(described.results.map((r) => [r.user, r.errorCode, r.credentialInfos.map((c) => [c.mechanism, c.iterations])]), [['carol', 0, [[1, 4096], [2, 4096]]]]);

      assert.deepEqual((await python('confluent-secure', [bootstrap, 'rd', rdkafka('SCRAM-SHA-512', 'carol', 'carol-secret'), String(sent.length)]))[0], { consumed: sent, errors: [] });
      await kafkajsProduces(bootstrap, 'carol', 'carol-secret');

      const removed = await alterUserScramCredentialsV0.api.async(admin, [{ name: 'carol', mechanism: 1 }, { name: 'carol', mechanism: 2 }], []);
      assert.deepEqual(removed.results.map((r) => [r.user, r.errorCode]), [['carol', 0]]);
      const [refused] = (await python('confluent-secure', [bootstrap, 'rd', rdkafka('SCRAM-SHA-512', 'carol', 'carol-secret'), '1'])) as { errors: string[] }[];
      assert.ok(refused!.errors.includes('_AUTHENTICATION'), `${refused!.errors}`);
      await assert.rejects(kafkajsProduces(bootstrap, 'carol', 'carol-secret'), (err: Error) => err.name === 'KafkaJSSASLAuthenticationError');
    } finally {
      await admin.close();
    }
  }, { sasl: { users: { admin: 'admin-secret' } } });
});

test('sluice users set, list and delete; the password only from SLUICE_USER_PASSWORD', () =>
  withTempDir(async (dir) => {
    const users = join(dir, 'users.json');
    await writeFile(users, JSON.stringify({ admin: 'admin-secret' }));
    const { child, bootstrap } = await startCli(['--data-dir', join(dir, 'data'), '--sasl-users', users]);
    try {
      const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
        run(process.execPath, [SLUICE_BIN, 'users', ...args, '--bootstrap', bootstrap, '--sasl-mechanism', 'SCRAM-SHA-256', '--sasl-username', 'admin'], {
          env: { ...process.env, SLUICE_SASL_PASSWORD: 'admin-secret', ...env }, timeoutMs: 30_000,
        });
      const noPassword = await cli(['set', 'carol']);
      assert.deepEqual([noPassword.code, noPassword.stderr.trim()], [2, 'sluice users set: the new password comes from SLUICE_USER_PASSWORD, never from the command line (see sluice users set --help)']);
      const set = await cli(['set', 'carol', '--mechanism', 'SCRAM-SHA-256', '--iterations', '8192'], { SLUICE_USER_PASSWORD: 'carol-secret' });
      assert.deepEqual([set.code, set.stdout.trim()], [0, 'set SCRAM-SHA-256 credentials of carol'], set.stderr);
      const listed = await cli(['list']);
      assert.deepEqual(listed.stdout.trim().split('\n'), ['admin\tSCRAM-SHA-256:4096,SCRAM-SHA-512:4096', 'carol\tSCRAM-SHA-256:8192']);
      await kafkajsProduces(bootstrap, 'carol', 'carol-secret');
      const fixed = await cli(['set', 'admin'], { SLUICE_USER_PASSWORD: 'x' });
      assert.deepEqual([fixed.code, fixed.stderr.trim()], [1, 'sluice users set: set user admin: INVALID_REQUEST (user admin is one the broker was started with (its users file): change it there)']);
      const deleted = await cli(['delete', 'carol']);
      assert.deepEqual([deleted.code, deleted.stdout.trim()], [0, 'deleted credentials of carol'], deleted.stderr);
      await assert.rejects(kafkajsProduces(bootstrap, 'carol', 'carol-secret'), (err: Error) => err.name === 'KafkaJSSASLAuthenticationError');
      const again = await cli(['delete', 'carol']);
      assert.deepEqual([again.code, again.stderr.trim()], [1, 'sluice users delete: delete user carol: RESOURCE_NOT_FOUND (no such user)']);
    } finally {
      await stopCli(child);
    }
  }));
