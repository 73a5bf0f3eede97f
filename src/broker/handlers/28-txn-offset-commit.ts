// TxnOffsetCommit (key 28), v0-4: consumer offsets that become the group's committed offsets only if the
// transaction commits (they are kept with the transaction's durable state until then). v3+ may name the
// consumer's member and generation (KIP-447), which are then checked like an OffsetCommit's. PRODUCER_FENCED from v3.
// It needs WRITE on the transactional id, READ on the group and READ on each topic (the *_AUTHORIZATION_FAILED codes).
import { ErrorCode } from '../../protocol/errors.js';
import type { TxnOffsetCommitRequest, TxnOffsetCommitResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { fencedCode } from './fenced.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';

export const txnOffsetCommit: ApiHandler<TxnOffsetCommitRequest, TxnOffsetCommitResponse> = {
  apiKey: 28,
  minVersion: 0,
  maxVersion: 4,
  async handle({ broker, version, connection }, req) {
    const answer = (codeOf: (topic: string, partition: number) => number): TxnOffsetCommitResponse => ({
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: codeOf(t.name, p.partitionIndex) })) })),
    });
    if (!broker.allows(connection, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, req.transactionalId)) return answer(() => ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    if (!req.groupId) return answer(() => ErrorCode.INVALID_GROUP_ID);
    if (!broker.allows(connection, AclOperation.READ, ResourceType.GROUP, req.groupId)) return answer(() => ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const refused = new Set(req.topics.filter((t) => !broker.allows(connection, AclOperation.READ, ResourceType.TOPIC, t.name)).map((t) => t.name));
    const ref = { groupId: req.groupId, generationId: req.generationId ?? -1, memberId: req.memberId ?? '', groupInstanceId: req.groupInstanceId ?? null };
    const groupError = broker.groups.committerError(ref, true);
    if (groupError !== ErrorCode.NONE) return answer(() => groupError);
    const maxMetadata = broker.groups.config.maxMetadataBytes;
    const invalid = (topic: string, partition: number, metadata: string | null | undefined) =>
      refused.has(topic) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : (metadata?.length ?? 0) > maxMetadata ? ErrorCode.OFFSET_METADATA_TOO_LARGE : broker.logs.getLog(topic, partition) ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    const perPartition = new Map<string, number>();
    const offsets = req.topics.flatMap((t) =>
      t.partitions.flatMap((p) => {
        const error = invalid(t.name, p.partitionIndex, p.committedMetadata);
        perPartition.set(`${t.name}\0${p.partitionIndex}`, error);
        return error === ErrorCode.NONE ? [{ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset, leaderEpoch: p.committedLeaderEpoch ?? -1, metadata: p.committedMetadata ?? null }] : [];
      }),
    );
    const txnError = await broker.transactions.addOffsets(req.transactionalId, req.producerId, req.producerEpoch, req.groupId, offsets, fencedCode(version, 3));
    return answer((topic, partition) => perPartition.get(`${topic}\0${partition}`) || txnError);
  },
};
