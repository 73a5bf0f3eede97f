// ConsumerGroupHeartbeat (key 68), v0-1: the consumer group protocol of KIP-848 with server-side assignment
// (uniform or range). v0 lets the coordinator pick the member id; v1 clients send their own, and may subscribe to a
// regular expression besides topic names. It needs READ on the group (GROUP_AUTHORIZATION_FAILED) and DESCRIBE on
// each topic named (TOPIC_AUTHORIZATION_FAILED); a regex matches only topics the member's client may DESCRIBE (checked
// again at each of its heartbeats, so an ACL granted or removed changes its assignment, as in Kafka since KAFKA-18813).
import type { ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import { notAuthorized } from './acls.js';

export const consumerGroupHeartbeat: ApiHandler<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse> = {
  apiKey: 68,
  minVersion: 0,
  maxVersion: 1,
  async handle({ broker, version, header, connection }, req) {
    const refuse = (err: { code: number; message: string }) => ({
      throttleTimeMs: 0, errorCode: err.code, errorMessage: err.message, memberId: req.memberId, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: null,
    });
    if (!broker.allows(connection, AclOperation.READ, ResourceType.GROUP, req.groupId)) return refuse(notAuthorized(AclOperation.READ, ResourceType.GROUP, req.groupId));
    const hidden = (req.subscribedTopicNames ?? []).find((t) => !broker.allows(connection, AclOperation.DESCRIBE, ResourceType.TOPIC, t));
    if (hidden !== undefined) return refuse(notAuthorized(AclOperation.DESCRIBE, ResourceType.TOPIC, hidden));
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
      mayDescribe: broker.authorizer === null ? undefined : (topic) => broker.allows(connection, AclOperation.DESCRIBE, ResourceType.TOPIC, topic, false),
    });
    return {
      throttleTimeMs: 0, errorCode: r.errorCode, errorMessage: r.errorMessage, memberId: r.memberId, memberEpoch: r.memberEpoch,
      heartbeatIntervalMs: r.heartbeatIntervalMs, assignment: r.assignment,
    };
  },
};
