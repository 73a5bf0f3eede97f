// OffsetDelete (key 47), v0: deletes committed offsets of a group, refusing topics its members subscribe to. It
// needs DELETE on the group (GROUP_AUTHORIZATION_FAILED) and READ on each topic (TOPIC_AUTHORIZATION_FAILED).
import type { OffsetDeleteRequest, OffsetDeleteResponse } from '../../protocol/messages.generated.js';
import { ErrorCode } from '../../protocol/errors.js';
import type { ApiHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';

export const offsetDelete: ApiHandler<OffsetDeleteRequest, OffsetDeleteResponse> = {
  apiKey: 47,
  minVersion: 0,
  maxVersion: 0,
  async handle({ broker, connection }, req) {
    if (!broker.allows(connection, AclOperation.DELETE, ResourceType.GROUP, req.groupId)) return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, throttleTimeMs: 0, topics: [] };
    const refused = new Set(req.topics.filter((t) => !broker.allows(connection, AclOperation.READ, ResourceType.TOPIC, t.name)).map((t) => t.name));
    const flat = req.topics.filter((t) => !refused.has(t.name)).flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex })));
    const { groupError, errors } = await broker.groups.deleteOffsets(req.groupId, flat);
    let i = 0;
    return {
      errorCode: groupError,
      throttleTimeMs: 0,
      topics: groupError ? [] : req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: refused.has(t.name) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : errors[i++]! })),
      })),
    };
  },
};
