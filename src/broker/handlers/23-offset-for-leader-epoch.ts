// OffsetForLeaderEpoch (key 23), v0-4. A single-node log has one leader epoch (0) from its first offset, so
// any epoch >= 0 ends at the log end offset; librdkafka uses this (v2) to validate positions after metadata. A topic
// the client may not DESCRIBE answers TOPIC_AUTHORIZATION_FAILED.
import { ErrorCode } from '../../protocol/errors.js';
import type { OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from '../../protocol/messages.generated.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import type { ApiHandler } from '../handler.js';

const LEADER_EPOCH = 0;

export const offsetForLeaderEpoch: ApiHandler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse> = {
  apiKey: 23,
  minVersion: 0,
  maxVersion: 4,
  handle({ broker, connection }, req) {
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => {
        const refused = !broker.allows(connection, AclOperation.DESCRIBE, ResourceType.TOPIC, t.topic);
        return {
        topic: t.topic,
        partitions: t.partitions.map((p) => {
          if (refused) return { errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
          const log = broker.logs.getLog(t.topic, p.partition);
          if (!log) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
          if ((p.currentLeaderEpoch ?? -1) > LEADER_EPOCH) {
            return { errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
          }
          if (p.leaderEpoch > LEADER_EPOCH) return { errorCode: 0, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
          return { errorCode: 0, partition: p.partition, leaderEpoch: LEADER_EPOCH, endOffset: log.logEndOffset };
        }),
        };
      }),
    };
  },
};
