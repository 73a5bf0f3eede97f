import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { Reader } from '../protocol/reader.js';
import { Writer } from '../protocol/writer.js';
import type { LogManager } from '../storage/log-manager.js';
import { ConsumerRecordType, decodeConsumerRecord, encodeConsumerKey, encodeConsumerValue, type ConsumerGroupRecord } from './consumer-group-records.js';
import { InternalTopic, OFFSETS_TOPIC, parseJsonRecord, type InternalRecord } from './internal-topic.js';
import type { CommittedOffset, Member } from './group.js';

/** What a group's durable record holds: enough to resume a Stable group and its static members after a restart. */
export interface StoredGroup {
  protocolType: string | null;
  protocolName: string | null;
  generationId: number;
  leaderId: string | null;
  members: (Pick<Member, 'memberId' | 'groupInstanceId' | 'clientId' | 'clientHost' | 'sessionTimeoutMs' | 'rebalanceTimeoutMs'> & {
    /** The member's protocol metadata and assignment, base64. */
    metadata: string;
    assignment: string;
  })[];
}

export type StoredRecord =
  | { kind: 'offset'; group: string; topic: string; partition: number; value: CommittedOffset | null }
  | { kind: 'group'; group: string; value: StoredGroup | null }
  | ConsumerGroupRecord;

// Kafka's record formats for `__consumer_offsets`, so that tools reading the topic directly (Burrow, Kafka's
// OffsetsMessageFormatter) read Sluice's too: the key and the value each start with their version (int16).
const OFFSET_KEY_VERSION = 1; // OffsetCommitKey (versions 0 and 1 are the same): group, topic, partition
const GROUP_KEY_VERSION = 2; // GroupMetadataKey: group
const OFFSET_VALUE_VERSION = 3; // OffsetCommitValue: offset, leader epoch, metadata, commit timestamp
const GROUP_VALUE_VERSION = 3; // GroupMetadataValue, with each member's group instance id

export function encodeStoredRecord(r: StoredRecord): InternalRecord {
  if (r.kind !== 'offset' && r.kind !== 'group') return { key: encodeConsumerKey(r), value: encodeConsumerValue(r) };
  const key = new Writer(64);
  if (r.kind === 'offset') {
    key.int16(OFFSET_KEY_VERSION);
    key.string(r.group, false);
    key.string(r.topic, false);
    key.int32(r.partition);
    return { key: key.toBuffer(), value: r.value === null ? null : encodeOffset(r.value) };
  }
  key.int16(GROUP_KEY_VERSION);
  key.string(r.group, false);
  return { key: key.toBuffer(), value: r.value === null ? null : encodeGroup(r.value) };
}

function encodeOffset(v: CommittedOffset): Buffer {
  const w = new Writer(64);
  w.int16(OFFSET_VALUE_VERSION);
  w.int64(v.offset);
  w.int32(v.leaderEpoch);
  w.string(v.metadata, false);
  w.int64(v.commitTimestampMs);
  return w.toBuffer();
}

function encodeGroup(v: StoredGroup): Buffer {
  const w = new Writer(256);
  w.int16(GROUP_VALUE_VERSION);
  w.string(v.protocolType ?? '', false);
  w.int32(v.generationId);
  w.nullableString(v.protocolName, false);
  w.nullableString(v.leaderId, false);
  w.int64(-1); // the state's timestamp: not kept
  w.arrayLength(v.members.length, false);
  for (const m of v.members) {
    w.string(m.memberId, false);
    w.nullableString(m.groupInstanceId, false);
    w.string(m.clientId, false);
    w.string(m.clientHost, false);
    w.int32(m.rebalanceTimeoutMs);
    w.int32(m.sessionTimeoutMs);
    w.bytes(Buffer.from(m.metadata, 'base64'), false);
    w.bytes(Buffer.from(m.assignment, 'base64'), false);
  }
  return w.toBuffer();
}

/**
 * The record in Kafka's formats (every version of the classic records a Kafka broker wrote, and the KIP-848 groups'
 * records: see consumer-group-records.ts), or null for another kind of record or one that does not parse.
 */
export function decodeStoredRecord(record: InternalRecord): StoredRecord | null {
  try {
    const k = new Reader(record.key);
    const keyVersion = k.int16();
    if (keyVersion < 0) return null;
    if (keyVersion > GROUP_KEY_VERSION) {
      return keyVersion <= ConsumerRecordType.CURRENT ? decodeConsumerRecord(keyVersion, k, record.value && new Reader(record.value)) : null;
    }
    const group = k.string(false);
    if (keyVersion === 0 || keyVersion === 1) {
      const topic = k.string(false);
      const partition = k.int32();
      return { kind: 'offset', group, topic, partition, value: record.value === null ? null : decodeOffset(new Reader(record.value)) };
    }
    return { kind: 'group', group, value: record.value === null ? null : decodeGroup(new Reader(record.value)) };
  } catch (err) {
    if (err instanceof KafkaError) return null;
    throw err;
  }
}

function unknownVersion(what: string, version: number): KafkaError {
  return new KafkaError(ErrorCode.CORRUPT_MESSAGE, `${what} version ${version} is not known`);
}

function decodeOffset(r: Reader): CommittedOffset {
  const version = r.int16();
  if (version < 0 || version > 3) throw unknownVersion('OffsetCommitValue', version);
  const offset = r.int64();
  const leaderEpoch = version >= 3 ? r.int32() : -1;
  const metadata = r.string(false);
  const commitTimestampMs = r.int64();
  return { offset, leaderEpoch, metadata, commitTimestampMs };
}

function decodeGroup(r: Reader): StoredGroup {
  const version = r.int16();
  if (version < 0 || version > 3) throw unknownVersion('GroupMetadataValue', version);
  const protocolType = r.string(false);
  const generationId = r.int32();
  const protocolName = r.nullableString(false);
  const leaderId = r.nullableString(false);
  if (version >= 2) r.int64();
  const members: StoredGroup['members'] = [];
  for (let n = r.arrayLength(false); n > 0; n--) {
    const memberId = r.string(false);
    const groupInstanceId = version >= 3 ? r.nullableString(false) : null;
    const clientId = r.string(false);
    const clientHost = r.string(false);
    const rebalanceTimeout = version >= 1 ? r.int32() : null;
    const sessionTimeoutMs = r.int32();
    const metadata = r.bytes(false).toString('base64');
    const assignment = r.bytes(false).toString('base64');
    members.push({ memberId, groupInstanceId, clientId, clientHost, sessionTimeoutMs, rebalanceTimeoutMs: rebalanceTimeout ?? sessionTimeoutMs, metadata, assignment });
  }
  return { protocolType: protocolType === '' ? null : protocolType, protocolName, generationId, leaderId, members };
}

/** A record as Sluice wrote it before 2026-12-04: JSON key ["o", group, topic, partition] or ["g", group]. */
function fromJson(record: InternalRecord): StoredRecord | null {
  const json = parseJsonRecord(record);
  if (!json) return null;
  const [kind, group, topic, partition] = json.key;
  if (typeof group !== 'string') return null;
  if (kind === 'o' && typeof topic === 'string' && typeof partition === 'number') return { kind: 'offset', group, topic, partition, value: json.value as CommittedOffset | null };
  if (kind === 'g') return { kind: 'group', group, value: json.value as StoredGroup | null };
  return null;
}

/**
 * Keeps group metadata and committed offsets in the compacted internal topic `__consumer_offsets`, in Kafka's record
 * formats; a null value deletes. Records in the JSON form of earlier versions are read too, and rewritten once read.
 */
export class GroupStore {
  private readonly topic: InternalTopic;
  /** The JSON records read whose key still holds a value, by group: what `rewriteJsonRecords` moves to Kafka's form. */
  private jsonHeld = new Map<string, Map<string, { key: Buffer; record: StoredRecord }>>();

  constructor(logs: LogManager, partitions: number) {
    this.topic = new InternalTopic(logs, OFFSETS_TOPIC, partitions);
  }

  /** Appends records of one group durably (acks=all semantics). */
  write(group: string, records: StoredRecord[]): Promise<void> {
    return this.topic.write(group, records.map(encodeStoredRecord));
  }

  /** Every record of the topic, oldest first, as stored (later records for a key win). */
  async *readAll(): AsyncGenerator<StoredRecord> {
    this.jsonHeld.clear();
    for await (const raw of this.topic.readAll()) {
      const binary = decodeStoredRecord(raw);
      if (binary) {
        yield binary;
        continue;
      }
      const json = fromJson(raw);
      if (!json) continue;
      const held = this.jsonHeld.get(json.group) ?? new Map<string, { key: Buffer; record: StoredRecord }>();
      this.jsonHeld.set(json.group, held);
      if (json.value === null) held.delete(raw.key.toString('latin1'));
      else held.set(raw.key.toString('latin1'), { key: raw.key, record: json });
      yield json;
    }
  }

  /**
   * Rewrites, after `readAll`, each JSON record that still holds a value in Kafka's form: per group one batch of a
   * tombstone for each JSON key, then the same records in Kafka's form. Read in order at the next start, they leave
   * the same state, and compaction then drops the JSON records. A crash between groups leaves the rest for the next start.
   */
  async rewriteJsonRecords(): Promise<number> {
    let rewritten = 0;
    for (const [group, held] of this.jsonHeld) {
      if (held.size === 0) continue;
      const entries = [...held.values()];
      await this.topic.write(group, [...entries.map(({ key }) => ({ key, value: null })), ...entries.map(({ record }) => encodeStoredRecord(record))]);
      rewritten += entries.length;
    }
    this.jsonHeld.clear();
    return rewritten;
  }
}
