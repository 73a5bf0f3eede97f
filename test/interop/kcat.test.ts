// kcat (librdkafka's command-line client): metadata, keyed produce with headers, consume as JSON; the old message formats.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withBroker } from '../helpers/broker.js';
import { kcat } from '../helpers/kcat.js';
import { until } from '../helpers/until.js';

interface KcatMessage {
  partition: number;
  offset: number;
  key: string | null;
  payload: string | null;
  headers?: string[];
}

test('kcat: metadata lists the broker at its advertised address and the topic partitions', async () => {
  await withBroker(async ({ bootstrap, port, broker }) => {
    await broker.createTopic('listed', 6, {});
    const out = await kcat(['-b', bootstrap, '-L', '-J']);
    const meta = JSON.parse(out);
    assert.deepEqual(meta.brokers, [{ id: 1, name: `127.0.0.1:${port}` }]);
    const topic = meta.topics.find((t: { topic: string }) => t.topic === 'listed');
    assert.equal(topic.partitions.length, 6);
    assert.deepEqual(topic.partitions.map((p: { leader: number }) => p.leader), [1, 1, 1, 1, 1, 1]);
  });
});

test('kcat: 10,000 keyed lines with headers round-trip in order per partition', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('lines', 6, {});
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++) lines.push(`key-${i % 37}:line-${i}`);
    await kcat(['-b', bootstrap, '-P', '-t', 'lines', '-K:', '-H', 'source=kcat', '-X', 'acks=all', '-z', 'snappy'], lines.join('\n') + '\n');
    const out = await kcat(['-b', bootstrap, '-C', '-t', 'lines', '-o', 'beginning', '-e', '-J', '-q']);
    const got: KcatMessage[] = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(got.length, 10_000);
    const byPartition = new Map<number, KcatMessage[]>();
    for (const m of got) byPartition.set(m.partition, [...(byPartition.get(m.partition) ?? []), m]);
    const seen = new Set<string>();
    for (const [, list] of byPartition) {
      list.sort((a, b) => a.offset - b.offset);
      assert.deepEqual(list.map((m) => m.offset), list.map((_, i) => i));
      const indexes = list.map((m) => Number(m.payload!.slice(5)));
      assert.deepEqual(indexes, [...indexes].sort((a, b) => a - b), 'produce order kept within the partition');
      for (const m of list) {
        assert.equal(m.key, `key-${Number(m.payload!.slice(5)) % 37}`);
        assert.deepEqual(m.headers, ['source', 'kcat']);
        seen.add(m.payload!);
      }
    }
    assert.equal(seen.size, 10_000);
    // the same key always lands in the same partition
    const partitionOfKey = new Map<string, number>();
    for (const m of got) {
      const prev = partitionOfKey.get(m.key!);
      if (prev !== undefined) assert.equal(m.partition, prev);
      partitionOfKey.set(m.key!, m.partition);
    }
  });
});

test('kcat: 10,000 lines sent with acks=0 (no answers) are all stored, in order', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    await broker.createTopic('unacked', 1, {});
    const lines = Array.from({ length: 10_000 }, (_, i) => `line-${i}`);
    await kcat(['-b', bootstrap, '-P', '-t', 'unacked', '-X', 'acks=0', '-X', 'linger.ms=20'], lines.join('\n') + '\n');
    // kcat is done once its requests are sent; they are visible once durable, soon after
    const log = broker.logs.topics.get('unacked')!.partitions[0]!;
    await until(() => log.highWatermark === 10_000, 'all 10,000 lines to be durable', 30_000);
    const out = await kcat(['-b', bootstrap, '-C', '-t', 'unacked', '-o', 'beginning', '-e', '-J', '-q']);
    const got: KcatMessage[] = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(got.map((m) => m.offset), lines.map((_, i) => i));
    assert.deepEqual(got.map((m) => m.payload), lines);
  });
});

// librdkafka told not to ask for API versions speaks those of the Kafka version it falls back to: 0.8's message
// format for 0.8.2 and 0.9 (Produce v0 and v1, Fetch v0 and v1), 0.10's with timestamps (Produce v2, Fetch v2).
test('kcat with broker.version.fallback 0.8.2, 0.9.0 and 0.10.0: gzip and lz4 lines in the old message formats round-trip', async () => {
  await withBroker(async ({ bootstrap, broker }) => {
    const lines = Array.from({ length: 2000 }, (_, i) => `key-${i % 7}:line-${i}`);
    for (const fallback of ['0.8.2', '0.9.0', '0.10.0']) {
      for (const codec of ['gzip', 'lz4']) {
        const topic = `fallback-${fallback}-${codec}`;
        await broker.createTopic(topic, 1, {});
        const old = ['-X', 'api.version.request=false', '-X', `broker.version.fallback=${fallback}`];
        const before = Date.now();
        await kcat(['-b', bootstrap, '-P', '-t', topic, '-K:', '-z', codec, '-X', 'acks=all', ...old], lines.join('\n') + '\n');
        const after = Date.now();
        const out = await kcat(['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%o %k:%s %T\n', ...old]);
        const got = out.trim().split('\n').map((l) => l.split(' '));
        assert.deepEqual(got.map(([offset, line]) => [Number(offset), line]), lines.map((line, i) => [i, line]), `${topic}: offsets and lines`);
        // kcat prints 0 where a message has no timestamp; 0.10's carry the time librdkafka gave them
        const timestamps = new Set(got.map(([, , ts]) => Number(ts)));
        if (fallback === '0.10.0') assert.ok([...timestamps].every((ts) => ts >= before && ts <= after), `${topic}: timestamps`);
        else assert.deepEqual([...timestamps], [0], `${topic}: no timestamps`);
      }
    }
  });
});
