// The coordinators' internal topics: made at their first write, which on a fresh broker comes from many clients at
// once (the members of a new group, offset commits).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InternalTopic, jsonRecord, OFFSETS_TOPIC, parseJsonRecord } from '../../src/coordinator/internal-topic.js';
import { openLogs } from '../storage/helpers.js';
import { withTempDir } from '../helpers/temp-dir.js';

test('writes that come together before the internal topic exists all land, on a topic made once', () =>
  withTempDir(async (dir) => {
    const logs = await openLogs(dir);
    try {
      const topic = new InternalTopic(logs, OFFSETS_TOPIC, 8);
      const entities = Array.from({ length: 20 }, (_, i) => `group-${i}`);
      await Promise.all(entities.map((e) => topic.write(e, [jsonRecord(['group', e], { generation: 1 })])));
      assert.equal(logs.topics.get(OFFSETS_TOPIC)?.partitions.length, 8);
      const read: string[] = [];
      for await (const r of new InternalTopic(logs, OFFSETS_TOPIC, 8).readAll()) read.push(String(parseJsonRecord(r)!.key[1]));
      assert.deepEqual(read.sort(), [...entities].sort());
    } finally {
      await logs.close();
    }
  }));
