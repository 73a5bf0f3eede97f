// `sluice start --acls true --super-users` and the `sluice acls` commands: a super user adds, lists and removes ACLs,
// which then decide what another user's CLI may do; the refusals and usage errors are clear.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SLUICE_BIN, startCli, stopCli } from '../helpers/cli-broker.js';
import { run } from '../helpers/run.js';
import { withTempDir } from '../helpers/temp-dir.js';

const USERS = { admin: 'admin-secret', alice: 'alice-secret' };

test('sluice acls add, list and remove as a super user; they decide what alice\'s CLI may do', () =>
  withTempDir(async (dir) => {
    const users = join(dir, 'users.json');
    await writeFile(users, JSON.stringify(USERS));
    const refused = await run(process.execPath, [SLUICE_BIN, 'start', '--data-dir', join(dir, 'data'), '--super-users', 'User:admin'], { timeoutMs: 30_000 });
    assert.deepEqual([refused.code, refused.stderr.trim()], [2, 'sluice start: --super-users and --allow-everyone-if-no-acl-found need --acls true (see sluice start --help)']);
    const badPrincipal = await run(process.execPath, [SLUICE_BIN, 'start', '--data-dir', join(dir, 'data'), '--acls', 'true', '--super-users', 'admin'], { timeoutMs: 30_000 });
    assert.equal(badPrincipal.code, 2);
    assert.match(badPrincipal.stderr, /super-users must be principals Type:name separated by ;, e\.g\. User:admin; got "admin"/);

    const { child, bootstrap, output } = await startCli(['--data-dir', join(dir, 'data'), '--sasl-users', users, '--acls', 'true', '--super-users', 'User:admin;User:CN=ops']);
    try {
      assert.match(output(), /"acls":0/);
      const as = (user: keyof typeof USERS, args: string[]) =>
        run(process.execPath, [SLUICE_BIN, ...args, '--bootstrap', bootstrap, '--sasl-mechanism', 'SCRAM-SHA-512', '--sasl-username', user], {
          env: { ...process.env, SLUICE_SASL_PASSWORD: USERS[user] }, timeoutMs: 30_000,
        });
      const denied = await as('alice', ['topics', 'create', 'orders']);
      assert.deepEqual([denied.code, denied.stderr.trim()], [1, 'sluice topics create: create orders: TOPIC_AUTHORIZATION_FAILED (not authorized to CREATE topic orders)']);

      const added = await as('admin', ['acls', 'add', '--allow-principal', 'User:alice', '--operation', 'Create', '--operation', 'describe', '--topic', 'ord', '--resource-pattern-type', 'prefixed']);
      assert.equal(added.code, 0, added.stderr);
      assert.deepEqual(added.stdout.trim().split('\n'), [
        'added\tTOPIC\tPREFIXED\tord\tUser:alice\t*\tCREATE\tALLOW',
        'added\tTOPIC\tPREFIXED\tord\tUser:alice\t*\tDESCRIBE\tALLOW',
      ]);
      const denyGroup = await as('admin', ['acls', 'add', '--deny-principal', 'User:*', '--operation', 'all', '--group', 'g1', '--group', 'g2', '--host', '10.0.0.9']);
      assert.equal(denyGroup.code, 0, denyGroup.stderr);

      assert.equal((await as('alice', ['topics', 'create', 'orders'])).code, 0);
      const listedTopics = await as('alice', ['topics', 'list']);
      assert.deepEqual([listedTopics.code, listedTopics.stdout.trim()], [0, 'orders'], 'DESCRIBE on it');

      const everything = await as('admin', ['acls', 'list']);
      assert.deepEqual(everything.stdout.trim().split('\n'), [
        'GROUP\tLITERAL\tg1\tUser:*\t10.0.0.9\tALL\tDENY',
        'GROUP\tLITERAL\tg2\tUser:*\t10.0.0.9\tALL\tDENY',
        'TOPIC\tPREFIXED\tord\tUser:alice\t*\tCREATE\tALLOW',
        'TOPIC\tPREFIXED\tord\tUser:alice\t*\tDESCRIBE\tALLOW',
      ]);
      const matching = await as('admin', ['acls', 'list', '--topic', 'orders', '--resource-pattern-type', 'match']);
      assert.equal(matching.stdout.trim().split('\n').length, 2, 'the prefixed ACLs that apply to orders');
      assert.equal((await as('admin', ['acls', 'list', '--principal', 'User:*'])).stdout.trim().split('\n').length, 2);

      const removed = await as('admin', ['acls', 'remove', '--topic', 'ord', '--resource-pattern-type', 'prefixed', '--operation', 'create']);
      assert.deepEqual(removed.stdout.trim().split('\n'), ['removed\tTOPIC\tPREFIXED\tord\tUser:alice\t*\tCREATE\tALLOW']);
      assert.equal((await as('admin', ['acls', 'remove', '--group', 'g1'])).stdout.trim(), 'removed\tGROUP\tLITERAL\tg1\tUser:*\t10.0.0.9\tALL\tDENY');
      assert.equal((await as('admin', ['acls', 'remove', '--group', 'g1'])).stdout.trim(), 'no ACL matched');
      const deniedAgain = await as('alice', ['topics', 'create', 'orders2']);
      assert.equal(deniedAgain.code, 1);

      const notAdmin = await as('alice', ['acls', 'list']);
      assert.deepEqual([notAdmin.code, notAdmin.stderr.trim()], [1, 'sluice acls list: list ACLs: CLUSTER_AUTHORIZATION_FAILED (not authorized to DESCRIBE the cluster)']);
      const usage = [
        [['acls', 'add', '--allow-principal', 'User:alice', '--topic', 't'], /name what they may or may not do: --operation/],
        [['acls', 'add', '--operation', 'read', '--topic', 't'], /name who: --allow-principal or --deny-principal/],
        [['acls', 'add', '--allow-principal', 'User:a', '--operation', 'reed', '--topic', 't'], /unknown operation "reed"/],
        [['acls', 'remove', '--operation', 'read'], /name what the ACLs to remove are on/],
      ] as const;
      for (const [args, message] of usage) {
        const r = await as('admin', [...args]);
        assert.equal(r.code, 2, args.join(' '));
        assert.match(r.stderr, message);
      }
      const invalid = await as('admin', ['acls', 'add', '--allow-principal', 'alice', '--operation', 'read', '--topic', 't']);
      assert.deepEqual([invalid.code, invalid.stderr.trim()], [1, 'sluice acls add: add ACLs: INVALID_REQUEST (principal must be Type:name (User:alice), got "alice")']);
    } finally {
      await stopCli(child);
    }
  }));
