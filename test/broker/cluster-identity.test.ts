// The cluster id a data dir answers with: made once, kept across restarts, and a start that contradicts it refused.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { startBroker, type StartBrokerOptions } from '../../src/index.js';
import { withTempDir } from '../helpers/temp-dir.js';

const METADATA = 3;
const DESCRIBE_CLUSTER = 60;

async function idsSeenByClients(options: StartBrokerOptions): Promise<{ metadata: string; describeCluster: string; broker: string }> {
  const b = await startBroker(options);
  try {
    const c = await KafkaClient.connectTo(b.bootstrap);
    try {
      const metadata = await c.send(METADATA, 12, { topics: [], allowAutoTopicCreation: false, includeTopicAuthorizedOperations: false });
      const cluster = await c.send(DESCRIBE_CLUSTER, 0, { includeClusterAuthorizedOperations: false });
      return { metadata: metadata.clusterId, describeCluster: cluster.clusterId, broker: b.broker.clusterId };
    } finally {
      c.close();
    }
  } finally {
    await b.close();
  }
}

test('the cluster id is made at the first start, kept in meta.properties, and the same after every restart', async () => {
  await withTempDir(async (dataDir) => {
    const first = await idsSeenByClients({ dataDir });
    assert.match(first.broker, /^sluice-[0-9a-f]{16}$/);
    assert.deepEqual(first, { metadata: first.broker, describeCluster: first.broker, broker: first.broker });
    assert.equal(await readFile(join(dataDir, 'meta.properties'), 'utf8'), `version=1\ncluster.id=${first.broker}\nnode.id=1\n`);
    for (let restart = 0; restart < 2; restart++) assert.deepEqual(await idsSeenByClients({ dataDir }), first);
  });
});

test('a configured cluster id is taken at the first start; a later start naming another cluster or node id is refused and changes nothing', async () => {
  await withTempDir(async (dataDir) => {
    assert.equal((await idsSeenByClients({ dataDir, clusterId: 'orders-eu' })).broker, 'orders-eu');
    assert.equal((await idsSeenByClients({ dataDir })).broker, 'orders-eu');
    assert.equal((await idsSeenByClients({ dataDir, clusterId: 'orders-eu' })).broker, 'orders-eu');
    await assert.rejects(startBroker({ dataDir, clusterId: 'orders-us' }), {
      name: 'InconsistentIdentityError',
      message: 'the data dir belongs to cluster orders-eu, but the cluster id configured is orders-us',
    });
    await assert.rejects(startBroker({ dataDir, nodeId: 2 }), {
      name: 'InconsistentIdentityError',
      message: 'the data dir belongs to node 1, but the node id configured is 2',
    });
    // the refused starts released the data dir and left the file as it was
    assert.equal(await readFile(join(dataDir, 'meta.properties'), 'utf8'), 'version=1\ncluster.id=orders-eu\nnode.id=1\n');
    assert.equal((await idsSeenByClients({ dataDir })).broker, 'orders-eu');
  });
});

test('meta.properties is read as Kafka writes it (comments, other keys); one without a cluster id refuses the start', async () => {
  await withTempDir(async (dataDir) => {
    const path = join(dataDir, 'meta.properties');
    await writeFile(path, '#\n#Wed Dec 02 10:00:00 UTC 2026\nnode.id=1\nversion=1\ncluster.id=q1Sh-9_ISia_zwGINzRvyQ\n');
    assert.equal((await idsSeenByClients({ dataDir })).broker, 'q1Sh-9_ISia_zwGINzRvyQ');
    await writeFile(path, 'version=1\nnode.id=1\n');
    await assert.rejects(startBroker({ dataDir }), { name: 'InconsistentIdentityError', message: `${path} lacks cluster.id or node.id: restore it, or remove it to take a new cluster id` });
  });
});
