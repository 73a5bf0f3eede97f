// OffsetDelete (key 47), v0: deletes committed offsets of a group, refusing topics its members subscribe to.
import type { OffsetDeleteRequest, OffsetDeleteResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';

export const offsetDelete: ApiHandler<OffsetDeleteRequest, OffsetDeleteResponse> = {
  apiKey: 47,
  minVersion: 0,
  maxVersion: 0,
  async handle({ broker }, req) {
    const flat = req.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex })));
    const { groupError, errors } = await broker.groups.deleteOffsets(req.groupId, flat);
    let i = 0;
    return {
      errorCode: groupError,
      throttleTimeMs: 0,
      topics: groupError ? [] : req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: errors[i++]! })) })),
    };
  },
};
