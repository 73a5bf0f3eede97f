// OffsetCommit (key 8), v0-9. Members commit with their generation (v1+); clients outside a group commit with
// generation -1 and no member id (accepted for Empty groups). Offsets are durable in __consumer_offsets
// before the answer. v2-4 retention times are ignored (offsets.retention applies). The client needs READ on the
// group (else every partition gets GROUP_AUTHORIZATION_FAILED) and on each topic (TOPIC_AUTHORIZATION_FAILED).
import type { OffsetCommitRequest, OffsetCommitResponse } from '../../protocol/messages.generated.js';
import { ErrorCode } from '../../protocol/errors.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import type { ApiHandler } from '../handler.js';

export const offsetCommit: ApiHandler<OffsetCommitRequest, OffsetCommitResponse> = {
  apiKey: 8,
  minVersion: 0,
  maxVersion: 9,
  async handle({ broker, version, connection }, req) {
    const answer = (code: (topic: string) => number): OffsetCommitResponse => ({
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: code(t.name) })) })),
    });
    if (!broker.allows(connection, AclOperation.READ, ResourceType.GROUP, req.groupId)) return answer(() => ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const refused = new Set(req.topics.filter((t) => !broker.allows(connection, AclOperation.READ, ResourceType.TOPIC, t.name)).map((t) => t.name));
    const flat = req.topics.filter((t) => !refused.has(t.name)).flatMap((t) => t.partitions.map((p) => ({
      topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch ?? -1, metadata: p.committedMetadata ?? null,
    })));
    const errors = await broker.groups.commitOffsets(
      { groupId: req.groupId, generationId: version >= 1 ? req.generationIdOrMemberEpoch ?? -1 : -1, memberId: req.memberId ?? '', groupInstanceId: req.groupInstanceId ?? null },
      flat,
      (topic, partition) => broker.logs.getLog(topic, partition) !== undefined,
    );
    let i = 0;
    return answer((topic) => (refused.has(topic) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : errors[i++]!));
  },
};
