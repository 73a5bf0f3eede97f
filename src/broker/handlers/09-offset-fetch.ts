// OffsetFetch (key 9), v0-9. A partition never committed answers offset -1 with no error (clients rely on it).
// Null topics (v2+) mean every committed partition; v8+ ask for several groups at once. With require_stable
// (v7+), a partition whose offset an open transaction will commit answers UNSTABLE_OFFSET_COMMIT (KIP-447).
import { ErrorCode } from '../../protocol/errors.js';
import type { OffsetFetchRequest, OffsetFetchResponse } from '../../protocol/messages.generated.js';
import type { Broker } from '../broker.js';
import type { ApiHandler } from '../handler.js';

function fetchGroup(broker: Broker, groupId: string, topics: { name?: string; partitionIndexes?: number[] }[] | null | undefined, requireStable: boolean) {
  const wanted = topics === null || topics === undefined ? null : topics.map((t) => ({ name: t.name ?? '', partitions: t.partitionIndexes ?? [] }));
  const rows = broker.groups.fetchOffsets(groupId, wanted);
  const byTopic = new Map<string, { partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; metadata: string; errorCode: number }[]>();
  for (const w of wanted ?? []) byTopic.set(w.name, []);
  for (const r of rows) {
    const list = byTopic.get(r.topic) ?? [];
    const unstable = requireStable && broker.transactions.hasPendingOffset(groupId, r.topic, r.partition);
    list.push(
      unstable
        ? { partitionIndex: r.partition, committedOffset: -1, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT }
        : { partitionIndex: r.partition, committedOffset: r.offset, committedLeaderEpoch: r.leaderEpoch, metadata: r.metadata, errorCode: 0 },
    );
    byTopic.set(r.topic, list);
  }
  return [...byTopic].map(([name, partitions]) => ({ name, partitions }));
}

export const offsetFetch: ApiHandler<OffsetFetchRequest, OffsetFetchResponse> = {
  apiKey: 9,
  minVersion: 0,
  maxVersion: 9,
  handle({ broker, version }, req) {
    if (version >= 8) {
      return {
        throttleTimeMs: 0,
        groups: (req.groups ?? []).map((g) => ({
          groupId: g.groupId ?? '',
          errorCode: g.groupId ? ErrorCode.NONE : ErrorCode.INVALID_GROUP_ID,
          topics: fetchGroup(broker, g.groupId ?? '', g.topics, req.requireStable ?? false),
        })),
      };
    }
    const groupId = req.groupId ?? '';
    return {
      throttleTimeMs: 0,
      errorCode: groupId ? ErrorCode.NONE : ErrorCode.INVALID_GROUP_ID,
      topics: fetchGroup(broker, groupId, req.topics, req.requireStable ?? false),
    };
  },
};
