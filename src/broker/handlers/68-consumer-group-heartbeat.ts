// ConsumerGroupHeartbeat (key 68), v0-1: the consumer group protocol of KIP-848 with server-side assignment
// (uniform or range). v0 lets the coordinator pick the member id; v1 clients send their own, and may subscribe to a
// regular expression besides topic names.
import type { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';

export const consumerGroupHeartbeat: ApiHandler<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse> = {
  apiKey: 68,
  minVersion: 0,
  maxVersion: 1,
  async handle({ broker, version, header, connection }, req) {
    const r = await broker.groups.consumerHeartbeat(req.groupId, {
      memberId: req.memberId,
      memberEpoch: req.memberEpoch,
      instanceId: req.instanceId ?? null,
      rackId: req.rackId ?? null,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      subscribedTopicNames: req.subscribedTopicNames ?? null,
      subscribedTopicRegex: req.subscribedTopicRegex ?? null,
      serverAssignor: req.serverAssignor ?? null,
      ownedTopicPartitions: req.topicPartitions ?? null,
      clientId: header.clientId ?? '',
      clientHost: connection.remoteHost,
      serverGeneratesMemberId: version === 0,
    });
    return {
      throttleTimeMs: 0, errorCode: r.errorCode, errorMessage: r.errorMessage, memberId: r.memberId, memberEpoch: r.memberEpoch,
      heartbeatIntervalMs: r.heartbeatIntervalMs, assignment: r.assignment,
    };
  },
};
