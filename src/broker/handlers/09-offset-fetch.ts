// OffsetFetch (key 9), v0-9. A partition never committed answers offset -1 with no error (clients rely on it).
// Null topics (v2+) mean every committed partition; v8+ ask for several groups at once. With require_stable
// (v7+), a partition whose offset an open transaction will commit answers UNSTABLE_OFFSET_COMMIT (KIP-447).
// Authorization: see fetchGroup.
import { ErrorCode } from '../../protocol/errors.js';
import type { OffsetFetchRequest, OffsetFetchResponse } from '../../protocol/messages.generated.js';
import type { Broker } from '../broker.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import type { Requester } from '../authorizer.js';
import type { ApiHandler } from '../handler.js';

type Wanted = { name?: string; partitionIndexes?: number[] }[] | null | undefined;
type PartitionAnswer = { partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; metadata: string; errorCode: number };

const refusal = (partitionIndex: number, errorCode: number): PartitionAnswer => ({ partitionIndex, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode });

/**
 * One group's answer. The client needs DESCRIBE on the group (else GROUP_AUTHORIZATION_FAILED: on the group where
 * the version has a field for it, and on each partition asked for where it has not, v0-1) and on each topic: a
 * topic asked for by name answers TOPIC_AUTHORIZATION_FAILED, and a request for all is answered without it.
 */
function fetchGroup(broker: Broker, who: Requester, version: number, groupId: string, topics: Wanted, requireStable: boolean) {
  const wanted = topics === null || topics === undefined ? null : topics.map((t) => ({ name: t.name ?? '', partitions: t.partitionIndexes ?? [] }));
  if (!broker.allows(who, AclOperation.DESCRIBE, ResourceType.GROUP, groupId)) {
    const byPartition = version < 2 ? (wanted ?? []).map((w) => ({ name: w.name, partitions: w.partitions.map((p) => refusal(p, ErrorCode.GROUP_AUTHORIZATION_FAILED)) })) : [];
    return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, topics: byPartition };
  }
  // decided once a topic: a request for all offsets meets each topic once a partition
  const verdicts = new Map<string, boolean>();
  const described = (topic: string) => {
    let allowed = verdicts.get(topic);
    if (allowed === undefined) verdicts.set(topic, (allowed = broker.allows(who, AclOperation.DESCRIBE, ResourceType.TOPIC, topic, wanted !== null)));
    return allowed;
  };
  const refused = new Set((wanted ?? []).filter((w) => !described(w.name)).map((w) => w.name));
  const rows = broker.groups.fetchOffsets(groupId, wanted && wanted.filter((w) => !refused.has(w.name)));
  const byTopic = new Map<string, PartitionAnswer[]>();
  for (const w of wanted ?? []) byTopic.set(w.name, refused.has(w.name) ? w.partitions.map((p) => refusal(p, ErrorCode.TOPIC_AUTHORIZATION_FAILED)) : []);
  for (const r of rows) {
    if (wanted === null && !described(r.topic)) continue;
    const list = byTopic.get(r.topic) ?? [];
    const unstable = requireStable && broker.transactions.hasPendingOffset(groupId, r.topic, r.partition);
    list.push(
      unstable
        ? refusal(r.partition, ErrorCode.UNSTABLE_OFFSET_COMMIT)
        : { partitionIndex: r.partition, committedOffset: r.offset, committedLeaderEpoch: r.leaderEpoch, metadata: r.metadata, errorCode: 0 },
    );
    byTopic.set(r.topic, list);
  }
  return { errorCode: ErrorCode.NONE, topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })) };
}

export const offsetFetch: ApiHandler<OffsetFetchRequest, OffsetFetchResponse> = {
  apiKey: 9,
  minVersion: 0,
  maxVersion: 9,
  handle({ broker, version, connection }, req) {
    const answer = (groupId: string, topics: Wanted) => {
      const found = fetchGroup(broker, connection, version, groupId, topics, req.requireStable ?? false);
      return { errorCode: groupId ? found.errorCode : ErrorCode.INVALID_GROUP_ID, topics: found.topics };
    };
    if (version >= 8) return { throttleTimeMs: 0, groups: (req.groups ?? []).map((g) => ({ groupId: g.groupId ?? '', ...answer(g.groupId ?? '', g.topics) })) };
    return { throttleTimeMs: 0, ...answer(req.groupId ?? '', req.topics) };
  },
};
