// Kafka's records of a KIP-848 consumer group in `__consumer_offsets`: with them the group's epochs, members,
// target assignment and each member's current assignment outlive a restart, so members carry on heartbeating
// instead of joining again (and tools that read the topic find the records Kafka writes there).
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';

/** The key versions (record types) of the consumer group records; 4, partition metadata, is no longer written. */
export const ConsumerRecordType = {
  GROUP_EPOCH: 3,
  MEMBER: 5,
  TARGET_EPOCH: 6,
  TARGET: 7,
  CURRENT: 8,
} as const;

export interface TopicPartitions {
  topicId: string;
  partitions: number[];
}

/** ConsumerGroupMemberMetadataValue: a member's subscription and identity. */
export interface StoredConsumerMember {
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  rebalanceTimeoutMs: number;
  serverAssignor: string | null;
}

/** Kafka's member states in ConsumerGroupCurrentMemberAssignmentValue. */
export const MemberState = { STABLE: 0, UNREVOKED_PARTITIONS: 1, UNRELEASED_PARTITIONS: 2 } as const;

/** ConsumerGroupCurrentMemberAssignmentValue: what a member holds, and what it must still give up. */
export interface StoredCurrentAssignment {
  memberEpoch: number;
  previousMemberEpoch: number;
  state: number;
  assigned: TopicPartitions[];
  pendingRevocation: TopicPartitions[];
}

export type ConsumerGroupRecord =
  | { kind: 'consumer-epoch'; group: string; value: { epoch: number } | null }
  | { kind: 'consumer-member'; group: string; memberId: string; value: StoredConsumerMember | null }
  | { kind: 'consumer-target-epoch'; group: string; value: { assignmentEpoch: number } | null }
  | { kind: 'consumer-target'; group: string; memberId: string; value: TopicPartitions[] | null }
  | { kind: 'consumer-current'; group: string; memberId: string; value: StoredCurrentAssignment | null };

const KIND_TYPES = {
  'consumer-epoch': ConsumerRecordType.GROUP_EPOCH,
  'consumer-member': ConsumerRecordType.MEMBER,
  'consumer-target-epoch': ConsumerRecordType.TARGET_EPOCH,
  'consumer-target': ConsumerRecordType.TARGET,
  'consumer-current': ConsumerRecordType.CURRENT,
} as const;

/** The record's key: its type (int16), the group id and, for a member's records, the member id (non-flexible strings). */
export function encodeConsumerKey(r: ConsumerGroupRecord): Buffer {
  const key = new Writer(64);
  key.int16(KIND_TYPES[r.kind]);
  key.string(r.group, false);
  if ('memberId' in r) key.string(r.memberId, false);
  return key.toBuffer();
}

/** The record's value, version 0 in the flexible encoding (compact strings and arrays, tagged fields after each struct). */
export function encodeConsumerValue(r: ConsumerGroupRecord): Buffer | null {
  if (r.value === null) return null;
  const w = new Writer(128);
  w.int16(0);
  switch (r.kind) {
    case 'consumer-epoch':
      w.int32(r.value.epoch);
      break;
    case 'consumer-target-epoch':
      w.int32(r.value.assignmentEpoch);
      break;
    case 'consumer-member': {
      const m = r.value;
      w.nullableString(m.instanceId, true);
      w.nullableString(m.rackId, true);
      w.string(m.clientId, true);
      w.string(m.clientHost, true);
      w.arrayLength(m.subscribedTopicNames.length, true);
      for (const t of m.subscribedTopicNames) w.string(t, true);
      w.nullableString(m.subscribedTopicRegex, true);
      w.int32(m.rebalanceTimeoutMs);
      w.nullableString(m.serverAssignor, true);
      break;
    }
    case 'consumer-target':
      writeTopicPartitions(w, r.value);
      break;
    case 'consumer-current':
      w.int32(r.value.memberEpoch);
      w.int32(r.value.previousMemberEpoch);
      w.int8(r.value.state);
      writeTopicPartitions(w, r.value.assigned);
      writeTopicPartitions(w, r.value.pendingRevocation);
      break;
  }
  w.uvarint(0); // no tagged fields
  return w.toBuffer();
}

function writeTopicPartitions(w: Writer, topics: TopicPartitions[]): void {
  w.arrayLength(topics.length, true);
  for (const t of topics) {
    w.uuid(t.topicId);
    w.arrayLength(t.partitions.length, true);
    for (const p of t.partitions) w.int32(p);
    w.uvarint(0);
  }
}

/**
 * A consumer group record from its key (past its type, given) and value `v`, or null for a type this does not keep
 * (partition metadata). A value version other than 0 is refused (CORRUPT_MESSAGE), as a newer layout would be misread.
 */
export function decodeConsumerRecord(type: number, key: Reader, v: Reader | null): ConsumerGroupRecord | null {
  const group = key.string(false);
  const version = v?.int16();
  if (version !== undefined && version !== 0) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, `consumer group record type ${type} has value version ${version}`);
  switch (type) {
    case ConsumerRecordType.GROUP_EPOCH:
      return { kind: 'consumer-epoch', group, value: v && { epoch: ended(v, v.int32()) } };
    case ConsumerRecordType.TARGET_EPOCH:
      return { kind: 'consumer-target-epoch', group, value: v && { assignmentEpoch: ended(v, v.int32()) } };
    case ConsumerRecordType.MEMBER:
      return { kind: 'consumer-member', group, memberId: key.string(false), value: v && ended(v, readMember(v)) };
    case ConsumerRecordType.TARGET:
      return { kind: 'consumer-target', group, memberId: key.string(false), value: v && ended(v, readTopicPartitions(v)) };
    case ConsumerRecordType.CURRENT:
      return { kind: 'consumer-current', group, memberId: key.string(false), value: v && ended(v, readCurrent(v)) };
    default:
      return null;
  }
}

/** The value read, once the tagged fields that end it are skipped. */
function ended<T>(r: Reader, value: T): T {
  r.skipTaggedFields();
  return value;
}

function readMember(r: Reader): StoredConsumerMember {
  const instanceId = r.nullableString(true);
  const rackId = r.nullableString(true);
  const clientId = r.string(true);
  const clientHost = r.string(true);
  const subscribedTopicNames: string[] = [];
  for (let n = r.arrayLength(true); n > 0; n--) subscribedTopicNames.push(r.string(true));
  const subscribedTopicRegex = r.nullableString(true);
  const rebalanceTimeoutMs = r.int32();
  const serverAssignor = r.nullableString(true);
  return { instanceId, rackId, clientId, clientHost, subscribedTopicNames, subscribedTopicRegex, rebalanceTimeoutMs, serverAssignor };
}

function readCurrent(r: Reader): StoredCurrentAssignment {
  const memberEpoch = r.int32();
  const previousMemberEpoch = r.int32();
  const state = r.int8();
  const assigned = readTopicPartitions(r);
  const pendingRevocation = readTopicPartitions(r);
  return { memberEpoch, previousMemberEpoch, state, assigned, pendingRevocation };
}

function readTopicPartitions(r: Reader): TopicPartitions[] {
  const topics: TopicPartitions[] = [];
  for (let n = r.arrayLength(true); n > 0; n--) {
    const topicId = r.uuid();
    const partitions: number[] = [];
    for (let m = r.arrayLength(true); m > 0; m--) partitions.push(r.int32());
    r.skipTaggedFields(); // AssignmentEpochs (tag 0) of newer Kafka versions among them
    topics.push({ topicId, partitions });
  }
  return topics;
}
