// The `sluice quotas` commands against `sluice start`: quotas set on users, client ids and addresses (by name or as
// the default), listed all or by entity, removed key by key; usage errors and the broker's refusals are clear.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { SLUICE_BIN, startCli, stopCli } from '../helpers/cli-broker.js';
import { run } from '../helpers/run.js';
import { withTempDir } from '../helpers/temp-dir.js';

test('sluice quotas set, list and remove client quotas; mistakes are explained', () =>
  withTempDir(async (dir) => {
    const { child, bootstrap } = await startCli(['--data-dir', join(dir, 'data')]);
    try {
      const quotas = (args: string[]) => run(process.execPath, [SLUICE_BIN, 'quotas', ...args, '--bootstrap', bootstrap], { timeoutMs: 30_000 });
      const set = await quotas(['set', '--user', 'alice', '--client-id-default', '--config', 'producer_byte_rate=1048576', '--config', 'consumer_byte_rate=2097152']);
      assert.deepEqual([set.code, set.stdout.trim(), set.stderr], [0, 'changed\tuser=alice,client-id=<default>', '']);
      assert.equal((await quotas(['set', '--client-id', 'batch-loader', '--config', 'request_percentage=12.5', '--config', 'controller_mutation_rate=5'])).code, 0);
      assert.equal((await quotas(['set', '--ip-default', '--config', 'connection_creation_rate=50'])).code, 0);

      const all = await quotas(['list']);
      assert.deepEqual(all.stdout.trim().split('\n'), [
        'client-id=batch-loader\tcontroller_mutation_rate=5,request_percentage=12.5',
        'ip=<default>\tconnection_creation_rate=50',
        'user=alice,client-id=<default>\tconsumer_byte_rate=2097152,producer_byte_rate=1048576',
      ]);
      assert.equal((await quotas(['list', '--user', 'alice'])).stdout.trim(), 'user=alice,client-id=<default>\tconsumer_byte_rate=2097152,producer_byte_rate=1048576');
      assert.equal((await quotas(['list', '--user', 'bob'])).stdout.trim(), '');

      assert.equal((await quotas(['set', '--user', 'alice', '--client-id-default', '--delete-config', 'consumer_byte_rate'])).code, 0);
      assert.equal((await quotas(['list', '--user', 'alice'])).stdout.trim(), 'user=alice,client-id=<default>\tproducer_byte_rate=1048576');

      const refusals: [string[], number, string][] = [
        [['set', '--config', 'producer_byte_rate=1'], 2, 'sluice quotas set: name the entity: --user, --client-id, --ip or their --*-default (see sluice quotas set --help)'],
        [['set', '--user', 'a', '--user-default', '--config', 'producer_byte_rate=1'], 2, 'sluice quotas set: give --user or --user-default, not both (see sluice quotas set --help)'],
        [['set', '--user', 'a'], 2, 'sluice quotas set: give --config KEY=VALUE or --delete-config KEY (see sluice quotas set --help)'],
        [['set', '--user', 'a', '--config', 'producer_byte_rate=fast'], 2, 'sluice quotas set: a quota is key=number, e.g. producer_byte_rate=1048576; got "producer_byte_rate=fast" (see sluice quotas set --help)'],
        [['set', '--ip', '10.0.0.1', '--config', 'producer_byte_rate=1'], 1, 'sluice quotas set: change client quotas: INVALID_REQUEST (invalid quota key producer_byte_rate for an ip entity (connection_creation_rate))'],
        [['set', '--ip', 'localhost', '--config', 'connection_creation_rate=1'], 1, 'sluice quotas set: change client quotas: INVALID_REQUEST (localhost is not a valid IP address)'],
      ];
      for (const [args, code, stderr] of refusals) {
        const res = await quotas(args);
        assert.deepEqual([res.code, res.stderr.trim()], [code, stderr], args.join(' '));
      }
    } finally {
      await stopCli(child);
    }
  }));
