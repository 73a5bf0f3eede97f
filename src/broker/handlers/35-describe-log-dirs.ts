// DescribeLogDirs (key 35), v0-4: the one data directory, the size in bytes of each partition held there (all
// partitions, or the listed ones that exist), and (v4) the filesystem's total and usable bytes (-1 when unknown).
// Tools that show topic sizes or free disk ask this. It needs DESCRIBE on the cluster (CLUSTER_AUTHORIZATION_FAILED
// and no directories, as Kafka answers).
import { resolve } from 'node:path';
import type { DescribeLogDirsRequest, DescribeLogDirsResponse } from '../../protocol/messages.generated.js';
import { ErrorCode } from '../../protocol/errors.js';
import { AclOperation, CLUSTER_NAME, ResourceType } from '../../protocol/acl.js';
import type { ApiHandler } from '../handler.js';

export const describeLogDirs: ApiHandler<DescribeLogDirsRequest, DescribeLogDirsResponse> = {
  apiKey: 35,
  minVersion: 0,
  maxVersion: 4,
  async handle({ broker, connection }, req) {
    if (!broker.allows(connection, AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME)) return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, results: [] };
    const { logs } = broker;
    const wanted = req.topics ?? [...logs.topics.values()].map((t) => ({ topic: t.name, partitions: t.partitions.map((_, i) => i) }));
    const topics = wanted
      .map(({ topic, partitions }) => ({
        name: topic,
        partitions: partitions.flatMap((partitionIndex) => {
          const log = logs.getLog(topic, partitionIndex);
          return log ? [{ partitionIndex, partitionSize: log.sizeBytes, offsetLag: 0, isFutureKey: false }] : [];
        }),
      }))
      .filter((t) => t.partitions.length > 0);
    const space = await logs.diskSpace().catch(() => ({ totalBytes: -1, usableBytes: -1 }));
    return { throttleTimeMs: 0, errorCode: 0, results: [{ errorCode: 0, logDir: resolve(logs.dataDir), topics, ...space }] };
  },
};
