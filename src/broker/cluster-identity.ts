import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FileSystem } from '../io/file-system.js';

/** Kafka's name for the file that ties a data dir to its cluster and node; operators know it. */
const META_FILE = 'meta.properties';

/** A data dir that belongs to another cluster or node than the configuration says; the broker does not start. */
export class InconsistentIdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InconsistentIdentityError';
  }
}

/**
 * The cluster id clients see must not change across restarts: librdkafka warns that it is connected to two
 * clusters, and tools that remember the id take a restarted broker for another one. As Kafka does, the id is made
 * once, kept in the data dir's `meta.properties` with the node id, and a start configured with a different cluster
 * or node id is refused instead of serving one data dir under two identities.
 */
export async function loadClusterId(fs: FileSystem, dataDir: string, configured: { clusterId?: string; nodeId: number }): Promise<string> {
  const path = join(dataDir, META_FILE);
  if (await fs.exists(path)) {
    const stored = parseProperties((await fs.readFile(path)).toString('utf8'));
    const clusterId = stored.get('cluster.id');
    const nodeId = Number(stored.get('node.id'));
    if (!clusterId || !Number.isInteger(nodeId)) throw new InconsistentIdentityError(`${path} lacks cluster.id or node.id: restore it, or remove it to take a new cluster id`);
    if (configured.clusterId !== undefined && configured.clusterId !== clusterId) {
      throw new InconsistentIdentityError(`the data dir belongs to cluster ${clusterId}, but the cluster id configured is ${configured.clusterId}`);
    }
    if (configured.nodeId !== nodeId) throw new InconsistentIdentityError(`the data dir belongs to node ${nodeId}, but the node id configured is ${configured.nodeId}`);
    return clusterId;
  }
  const clusterId = configured.clusterId ?? newClusterId();
  await fs.writeFileAtomic(path, `version=1\ncluster.id=${clusterId}\nnode.id=${configured.nodeId}\n`);
  return clusterId;
}

function newClusterId(): string {
  return 'sluice-' + randomBytes(8).toString('hex');
}

/** Java properties as Kafka writes them: `key=value` lines, `#` comments. */
function parseProperties(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const eq = line.indexOf('=');
    if (eq > 0) entries.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return entries;
}
