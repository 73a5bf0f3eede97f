// ConsumerGroupDescribe (key 69), v0: epochs, assignor, and per member its subscription, current assignment
// and target assignment. A group that is not a KIP-848 consumer group gets GROUP_ID_NOT_FOUND; one the client may
// not DESCRIBE, GROUP_AUTHORIZATION_FAILED; one whose members hold or are to get a topic it may not DESCRIBE,
// TOPIC_AUTHORIZATION_FAILED (as Kafka since KAFKA-18813: the answer would name the topic).
import type { ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse } from '../../protocol/messages.generated.js';
import type { ApiHandler } from '../handler.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import { ErrorCode } from '../../protocol/errors.js';
import { authorizedOperations, NOT_ASKED } from './acls.js';

const GROUP_ID_NOT_FOUND = 69;

export const consumerGroupDescribe: ApiHandler<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse> = {
  apiKey: 69,
  minVersion: 0,
  maxVersion: 0,
  handle({ broker, connection }, req) {
    const assignment = (a: Map<string, number[]> | undefined) => ({
      topicPartitions: [...(a ?? new Map<string, number[]>())].map(([topicName, partitions]) => ({ topicId: broker.logs.topics.get(topicName)?.id ?? '0'.repeat(32), topicName, partitions })),
    });
    return {
      throttleTimeMs: 0,
      groups: req.groupIds.map((groupId) => {
        const nothing = { groupId, groupState: 'Dead', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [], authorizedOperations: NOT_ASKED };
        if (!broker.allows(connection, AclOperation.DESCRIBE, ResourceType.GROUP, groupId)) {
          return { ...nothing, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, errorMessage: `not authorized to DESCRIBE group ${groupId}` };
        }
        const d = broker.groups.describeConsumerGroup(groupId);
        if (!d) return { ...nothing, errorCode: GROUP_ID_NOT_FOUND, errorMessage: `${groupId} is not a consumer group` };
        const g = d.group;
        const topics = new Set([...g.members.values()].flatMap((m) => [...m.owned.keys(), ...(g.target.get(m.memberId)?.keys() ?? [])]));
        const hidden = [...topics].filter((t) => !broker.allows(connection, AclOperation.DESCRIBE, ResourceType.TOPIC, t, false));
        if (hidden.length > 0) {
          return { ...nothing, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: `group ${groupId} has topics the client may not DESCRIBE: ${hidden.sort().join(', ')}` };
        }
        return {
          errorCode: 0, errorMessage: null, groupId, groupState: d.state, groupEpoch: g.groupEpoch, assignmentEpoch: g.assignmentEpoch, assignorName: g.assignorName,
          members: [...g.members.values()].map((m) => ({
            memberId: m.memberId, instanceId: m.instanceId, rackId: m.rackId, memberEpoch: m.memberEpoch, clientId: m.clientId, clientHost: m.clientHost,
            subscribedTopicNames: m.subscribed, subscribedTopicRegex: m.regex, assignment: assignment(m.owned), targetAssignment: assignment(g.target.get(m.memberId)),
          })),
          authorizedOperations: authorizedOperations(broker, connection, ResourceType.GROUP, groupId, req.includeAuthorizedOperations),
        };
      }),
    };
  },
};
