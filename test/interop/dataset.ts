import assert from 'node:assert/strict';

/** A message as test clients exchange it: strings or null, headers as [key, value] pairs. */
export interface TestMessage {
  key: string | null;
  value: string | null;
  headers: [string, string][];
  timestamp: number;
  /** Partition the producer must write to (so order can be checked per partition without knowing partitioners). */
  partition: number;
}

export interface ConsumedMessage extends TestMessage {
  offset: number;
}

/**
 * `count` messages spread over `partitions` partitions, with the awkward cases mixed in: null keys, null
 * values (tombstones), empty values, several headers, unicode, and explicit increasing timestamps.
 */
export function makeMessages(count: number, partitions: number, baseTimestamp = 1_700_000_000_000): TestMessage[] {
  const out: TestMessage[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      key: i % 97 === 0 ? null : `key-${i % 1000}`,
      value: i % 101 === 0 && i % 97 !== 0 ? null : i % 103 === 0 ? '' : `value-${i}-${'x'.repeat(i % 50)}${i % 211 === 0 ? '-ünïcødé-✓' : ''}`,
      headers: i % 3 === 0 ? [['trace', `t-${i}`], ['n', String(i % 7)]] : [],
      timestamp: baseTimestamp + i,
      partition: i % partitions,
    });
  }
  return out;
}

/** The messages without their headers, which the message formats before Kafka 0.11 cannot carry. */
export function withoutHeaders(messages: TestMessage[]): TestMessage[] {
  return messages.map((m) => ({ ...m, headers: [] }));
}

/** Checks that `consumed` holds exactly `expected`: per partition in produce order, at offsets 0..n-1. */
export function assertSameMessages(expected: TestMessage[], consumed: ConsumedMessage[], options: { checkTimestamps?: boolean } = {}): void {
  assert.equal(consumed.length, expected.length, 'message count');
  const byPartition = new Map<number, ConsumedMessage[]>();
  for (const m of consumed) {
    const list = byPartition.get(m.partition) ?? [];
    list.push(m);
    byPartition.set(m.partition, list);
  }
  const expectedBy = new Map<number, TestMessage[]>();
  for (const m of expected) {
    const list = expectedBy.get(m.partition) ?? [];
    list.push(m);
    expectedBy.set(m.partition, list);
  }
  assert.deepEqual([...byPartition.keys()].sort(), [...expectedBy.keys()].sort(), 'partitions');
  for (const [p, want] of expectedBy) {
    const got = byPartition.get(p)!.sort((a, b) => a.offset - b.offset);
    assert.deepEqual(got.map((m) => m.offset), want.map((_, i) => i), `offsets of partition ${p}`);
    for (let i = 0; i < want.length; i++) {
      const g = got[i]!;
      const w = want[i]!;
      assert.equal(g.key, w.key, `key at ${p}/${i}`);
      assert.equal(g.value, w.value, `value at ${p}/${i}`);
      assert.deepEqual(g.headers, w.headers, `headers at ${p}/${i}`);
      if (options.checkTimestamps !== false) assert.equal(g.timestamp, w.timestamp, `timestamp at ${p}/${i}`);
    }
  }
}

/**
 * For clients that read an empty value as null (kafka-go 0.2.1 and optiopay/kafka make no slice for zero bytes):
 * where the message sent at that place (offsets from 0 in each partition) had an empty value, the one read takes it.
 * A null sent must still read null.
 */
export function emptiesAsSent(read: ConsumedMessage[], sent: TestMessage[]): ConsumedMessage[] {
  const byPartition = new Map<number, TestMessage[]>();
  for (const m of sent) {
    const list = byPartition.get(m.partition) ?? [];
    list.push(m);
    byPartition.set(m.partition, list);
  }
  return read.map((m) => (m.value === null && byPartition.get(m.partition)?.[m.offset]?.value === '' ? { ...m, value: '' } : m));
}
