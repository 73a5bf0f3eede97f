// `__consumer_offsets` in Kafka's record formats, byte for byte as its schemas lay them out, and the JSON records of
// earlier Sluice versions read and rewritten.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeStoredRecord, encodeStoredRecord, GroupStore, type StoredRecord } from '../../src/coordinator/group-store.js';
import { InternalTopic, jsonRecord, OFFSETS_TOPIC, parseJsonRecord } from '../../src/coordinator/internal-topic.js';
import { openLogs } from '../storage/helpers.js';
import { withTempDir } from '../helpers/temp-dir.js';

const int16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const int64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(n));
  return b;
};
const str = (s: string | null) => (s === null ? int16(-1) : Buffer.concat([int16(Buffer.byteLength(s)), Buffer.from(s)]));
const bytes = (b: Buffer) => Buffer.concat([int32(b.length), b]);

const offset: StoredRecord = { kind: 'offset', group: 'billing', topic: 'orders', partition: 7, value: { offset: 1234, leaderEpoch: 3, metadata: 'm', commitTimestampMs: 1_700_000_000_000 } };
const group: StoredRecord = {
  kind: 'group', group: 'billing',
  value: {
    protocolType: 'consumer', protocolName: 'range', generationId: 5, leaderId: 'member-1',
    members: [{ memberId: 'member-1', groupInstanceId: 'static-1', clientId: 'client', clientHost: '/127.0.0.1', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 60_000, metadata: Buffer.from('subscription').toString('base64'), assignment: Buffer.from('assignment').toString('base64') }],
  },
};

test('offsets and group metadata are written in Kafka\'s formats: OffsetCommitKey v1, OffsetCommitValue v3, GroupMetadataKey v2, GroupMetadataValue v3', () => {
  const o = encodeStoredRecord(offset);
  assert.deepEqual(o.key, Buffer.concat([int16(1), str('billing'), str('orders'), int32(7)]));
  assert.deepEqual(o.value, Buffer.concat([int16(3), int64(1234), int32(3), str('m'), int64(1_700_000_000_000)]));
  const g = encodeStoredRecord(group);
  assert.deepEqual(g.key, Buffer.concat([int16(2), str('billing')]));
  assert.deepEqual(g.value, Buffer.concat([
    int16(3), str('consumer'), int32(5), str('range'), str('member-1'), int64(-1), int32(1),
    str('member-1'), str('static-1'), str('client'), str('/127.0.0.1'), int32(60_000), int32(10_000), bytes(Buffer.from('subscription')), bytes(Buffer.from('assignment')),
  ]));
  assert.deepEqual(decodeStoredRecord(o), offset);
  assert.deepEqual(decodeStoredRecord(g), group);
  assert.deepEqual(decodeStoredRecord({ key: o.key, value: null }), { ...offset, value: null });
});

// the flexible encoding of the KIP-848 records' values: compact strings and arrays (length + 1), tagged fields
const uvarint = (n: number) => Buffer.from([n]); // every length here is below 128
const cstr = (s: string | null) => (s === null ? uvarint(0) : Buffer.concat([uvarint(Buffer.byteLength(s) + 1), Buffer.from(s)]));
const noTags = uvarint(0);
const topicId = '0123456789abcdef0123456789abcdef';
const topicPartitions = (partitions: number[], tags = noTags) => Buffer.concat([Buffer.from(topicId, 'hex'), uvarint(partitions.length + 1), ...partitions.map(int32), tags]);

test('KIP-848 groups are written in Kafka\'s records: their keys typed 3, 5, 6, 7 and 8, their values version 0 in the flexible encoding', () => {
  const current: StoredRecord = {
    kind: 'consumer-current', group: 'g', memberId: 'm',
    value: { memberEpoch: 5, previousMemberEpoch: 4, state: 1, assigned: [{ topicId, partitions: [0, 1] }], pendingRevocation: [{ topicId, partitions: [2] }] },
  };
  const c = encodeStoredRecord(current);
  assert.deepEqual(c.key, Buffer.concat([int16(8), str('g'), str('m')]));
  assert.deepEqual(c.value, Buffer.concat([int16(0), int32(5), int32(4), Buffer.from([1]), uvarint(2), topicPartitions([0, 1]), uvarint(2), topicPartitions([2]), noTags]));
  const member: StoredRecord = {
    kind: 'consumer-member', group: 'g', memberId: 'm',
    value: { instanceId: 'i', rackId: null, clientId: 'c', clientHost: '/h', subscribedTopicNames: ['t', 'u'], subscribedTopicRegex: null, rebalanceTimeoutMs: 300_000, serverAssignor: 'uniform' },
  };
  const m = encodeStoredRecord(member);
  assert.deepEqual(m.key, Buffer.concat([int16(5), str('g'), str('m')]));
  assert.deepEqual(m.value, Buffer.concat([int16(0), cstr('i'), cstr(null), cstr('c'), cstr('/h'), uvarint(3), cstr('t'), cstr('u'), cstr(null), int32(300_000), cstr('uniform'), noTags]));
  const epoch: StoredRecord = { kind: 'consumer-epoch', group: 'g', value: { epoch: 9 } };
  assert.deepEqual(encodeStoredRecord(epoch), { key: Buffer.concat([int16(3), str('g')]), value: Buffer.concat([int16(0), int32(9), noTags]) });
  const targetEpoch: StoredRecord = { kind: 'consumer-target-epoch', group: 'g', value: { assignmentEpoch: 8 } };
  assert.deepEqual(encodeStoredRecord(targetEpoch), { key: Buffer.concat([int16(6), str('g')]), value: Buffer.concat([int16(0), int32(8), noTags]) });
  const target: StoredRecord = { kind: 'consumer-target', group: 'g', memberId: 'm', value: [{ topicId, partitions: [3] }] };
  assert.deepEqual(encodeStoredRecord(target), { key: Buffer.concat([int16(7), str('g'), str('m')]), value: Buffer.concat([int16(0), uvarint(2), topicPartitions([3]), noTags]) });
  for (const r of [current, member, epoch, targetEpoch, target]) {
    const encoded = encodeStoredRecord(r);
    assert.deepEqual(decodeStoredRecord(encoded), r);
    assert.deepEqual(decodeStoredRecord({ key: encoded.key, value: null }), { ...r, value: null });
  }
});

test('KIP-848 records with the tagged fields newer Kafka versions add are read; a value version this does not know is not', () => {
  // ConsumerGroupMetadataValue with MetadataHash (tag 0, int64) and CreationTimeMs (tag 1, int64)
  const withHash = Buffer.concat([int16(0), int32(7), uvarint(2), uvarint(0), uvarint(8), int64(12345), uvarint(1), uvarint(8), int64(1_700_000_000_000)]);
  assert.deepEqual(decodeStoredRecord({ key: Buffer.concat([int16(3), str('g')]), value: withHash }), { kind: 'consumer-epoch', group: 'g', value: { epoch: 7 } });
  // each topic of a current assignment with its AssignmentEpochs (tag 0, a compact array of int32)
  const epochs = Buffer.concat([uvarint(2), int32(3)]);
  const tagged = Buffer.concat([uvarint(1), uvarint(0), uvarint(epochs.length), epochs]);
  const value = Buffer.concat([int16(0), int32(3), int32(2), Buffer.from([0]), uvarint(2), topicPartitions([4], tagged), uvarint(1), noTags]);
  assert.deepEqual(decodeStoredRecord({ key: Buffer.concat([int16(8), str('g'), str('m')]), value }), {
    kind: 'consumer-current', group: 'g', memberId: 'm', value: { memberEpoch: 3, previousMemberEpoch: 2, state: 0, assigned: [{ topicId, partitions: [4] }], pendingRevocation: [] },
  });
  assert.equal(decodeStoredRecord({ key: Buffer.concat([int16(3), str('g')]), value: Buffer.concat([int16(1), int32(7), noTags]) }), null);
});

test('the older versions Kafka wrote are read: OffsetCommitKey v0, OffsetCommitValue v0 and v1, GroupMetadataValue v0-v2; other keys are not ours', () => {
  const key = Buffer.concat([int16(0), str('g'), str('t'), int32(0)]);
  const v0 = Buffer.concat([int16(0), int64(5), str(''), int64(1000)]);
  const v1 = Buffer.concat([int16(1), int64(6), str('meta'), int64(2000), int64(9000)]);
  assert.deepEqual(decodeStoredRecord({ key, value: v0 }), { kind: 'offset', group: 'g', topic: 't', partition: 0, value: { offset: 5, leaderEpoch: -1, metadata: '', commitTimestampMs: 1000 } });
  assert.deepEqual(decodeStoredRecord({ key, value: v1 })!.value, { offset: 6, leaderEpoch: -1, metadata: 'meta', commitTimestampMs: 2000 });
  const member = (version: number) => Buffer.concat([str('m1'), ...(version >= 3 ? [str(null)] : []), str('c'), str('h'), ...(version >= 1 ? [int32(30_000)] : []), int32(10_000), bytes(Buffer.from('s')), bytes(Buffer.from('a'))]);
  for (const version of [0, 1, 2]) {
    const value = Buffer.concat([int16(version), str(''), int32(0), str(null), str(null), ...(version >= 2 ? [int64(-1)] : []), int32(1), member(version)]);
    assert.deepEqual(decodeStoredRecord({ key: Buffer.concat([int16(2), str('g')]), value }), {
      kind: 'group', group: 'g',
      value: { protocolType: null, protocolName: null, generationId: 0, leaderId: null, members: [{ memberId: 'm1', groupInstanceId: null, clientId: 'c', clientHost: 'h', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: version >= 1 ? 30_000 : 10_000, metadata: 'cw==', assignment: 'YQ==' }] },
    }, `GroupMetadataValue v${version}`);
  }
  // KIP-848's partition metadata (version 4, no longer written), a type after the last known one, and a JSON record
  assert.equal(decodeStoredRecord({ key: Buffer.concat([int16(4), str('g')]), value: null }), null);
  assert.equal(decodeStoredRecord({ key: Buffer.concat([int16(9), str('g')]), value: null }), null);
  assert.equal(decodeStoredRecord(jsonRecord(['o', 'g', 't', 0], { offset: 1 })), null);
});

/** The state the records leave, read in order as the coordinator reads them: later records for a key win. */
async function stateOf(store: GroupStore): Promise<Map<string, unknown>> {
  const state = new Map<string, unknown>();
  for await (const r of store.readAll()) {
    const key = r.kind === 'offset' ? `${r.group}/${r.topic}/${r.partition}` : r.group;
    if (r.value === null) state.delete(key);
    else state.set(key, r.value);
  }
  return state;
}

test('JSON records of earlier versions are read, then rewritten in Kafka\'s form once: the same state, their keys tombstoned', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    try {
      const old = new InternalTopic(logs, OFFSETS_TOPIC, 4);
      const committed = (n: number) => ({ offset: n, leaderEpoch: -1, metadata: '', commitTimestampMs: 1000 + n });
      await old.write('a', [jsonRecord(['o', 'a', 't', 0], committed(1)), jsonRecord(['o', 'a', 't', 1], committed(2)), jsonRecord(['g', 'a'], group.value)]);
      await old.write('a', [jsonRecord(['o', 'a', 't', 0], committed(10)), jsonRecord(['o', 'a', 't', 1], null)]);
      await old.write('b', [jsonRecord(['o', 'b', 't', 0], committed(3))]);
      const expected = new Map<string, unknown>([['a/t/0', committed(10)], ['a', group.value], ['b/t/0', committed(3)]]);

      const store = new GroupStore(logs, 4);
      assert.deepEqual(await stateOf(store), expected);
      // the three keys still holding a value; a/t/1 was deleted in JSON already
      assert.equal(await store.rewriteJsonRecords(), 3);
      const again = new GroupStore(logs, 4);
      assert.deepEqual(await stateOf(again), expected);
      assert.equal(await again.rewriteJsonRecords(), 0, 'nothing left to rewrite');

      // each JSON key's last record is now a tombstone, and the values stand in Kafka's form after it
      const lastByKey = new Map<string, 'json value' | 'json tombstone' | 'kafka'>();
      for await (const r of new InternalTopic(logs, OFFSETS_TOPIC, 4).readAll()) {
        const json = parseJsonRecord(r);
        lastByKey.set(r.key.toString('hex'), json ? (r.value === null ? 'json tombstone' : 'json value') : 'kafka');
      }
      assert.deepEqual([...lastByKey.values()].sort(), ['json tombstone', 'json tombstone', 'json tombstone', 'json tombstone', 'kafka', 'kafka', 'kafka']);
    } finally {
      await logs.close();
    }
  }));
