// DeleteRecords (key 21), v0-2. Moves the log start offset; offset -1 means the high watermark. Internal topics
// get INVALID_TOPIC_EXCEPTION. It needs DELETE on the topic (TOPIC_AUTHORIZATION_FAILED).
import { ErrorCode } from '../../protocol/errors.js';
import type { DeleteRecordsRequest, DeleteRecordsResponse } from '../../protocol/messages.generated.js';
import { refuseInternalTopicChange } from '../../coordinator/internal-topic.js';
import { inParallel } from '../../storage/in-parallel.js';
import type { ApiHandler } from '../handler.js';
import { toErrorCode } from './errors.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';

export const deleteRecords: ApiHandler<DeleteRecordsRequest, DeleteRecordsResponse> = {
  apiKey: 21,
  minVersion: 0,
  maxVersion: 2,
  async handle({ broker, connection }, req) {
    const topics = [];
    // one list per partition: a partition named twice is worked on in request order, partitions side by side
    const byPartition = new Map<string, (() => Promise<void>)[]>();
    for (const t of req.topics) {
      const refused = !broker.allows(connection, AclOperation.DELETE, ResourceType.TOPIC, t.name);
      const partitions = [];
      for (const p of t.partitions) {
        const out = { partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: 0 };
        partitions.push(out);
        if (refused) {
          out.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
          continue;
        }
        if (!broker.logs.getLog(t.name, p.partitionIndex)) {
          out.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          continue;
        }
        const key = `${t.name}\0${p.partitionIndex}`;
        if (!byPartition.has(key)) byPartition.set(key, []);
        byPartition.get(key)!.push(async () => {
          try {
            refuseInternalTopicChange(t.name, 'delete records of');
            out.lowWatermark = await broker.logs.deleteRecords(t.name, p.partitionIndex, p.offset);
          } catch (err) {
            out.errorCode = toErrorCode(err).errorCode;
          }
        });
      }
      topics.push({ name: t.name, partitions });
    }
    // side by side, so the partitions share writes of the log start offsets instead of one each
    await inParallel([...byPartition.values()], async (steps) => {
      for (const step of steps) await step();
    });
    return { throttleTimeMs: 0, topics };
  },
};
