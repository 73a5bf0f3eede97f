// What the operator is told when the data dir refuses writes: one line at the first failure, a count while it lasts,
// one line once appends are stored again; and what clients get meanwhile.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaClient } from '../../src/admin/kafka-client.js';
import { StorageErrorLog, STORAGE_ERROR_LOG_INTERVAL_MS } from '../../src/broker/storage-error-log.js';
import { ErrorCode, KafkaError } from '../../src/protocol/errors.js';
import { buildRecordBatch, decodeRecordBatches } from '../../src/protocol/records.js';
import { withBroker } from '../helpers/broker.js';
import { capturedLogger, type LogLine } from '../helpers/captured-logger.js';
import { fullDisk, noSpaceError } from '../storage/helpers.js';

const PRODUCE = 0;
const FETCH = 1;

/** The storage lines, each with the error's message (the engine's KAFKA_STORAGE_ERROR, its cause the errno's). */
const storageLines = (lines: LogLine[]) =>
  lines.filter((l) => /storage/.test(l.msg)).map((l) => ({ level: l.level, msg: l.msg, partition: l.partition, refused: l.refused, err: (l.err as { message?: string } | undefined)?.message }));

test('a full disk: produces get KAFKA_STORAGE_ERROR, the log says why once, then says when appends are stored again; nothing refused is served', async () => {
  const disk = fullDisk();
  const { logger, lines } = capturedLogger();
  await withBroker(async (b) => {
    await b.broker.createTopic('t', 1, {});
    const c = await KafkaClient.connectTo(b.bootstrap);
    try {
      const produce = async (value: string) => {
        const res = await c.send(PRODUCE, 9, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: 't', partitionData: [{ index: 0, records: buildRecordBatch([{ value }]) }] }] });
        const p = res.responses[0].partitionResponses[0];
        return [p.errorCode, p.baseOffset];
      };
      assert.deepEqual(await produce('a'), [0, 0]);
      disk.setFull(true);
      assert.deepEqual(await produce('b'), [ErrorCode.KAFKA_STORAGE_ERROR, -1]);
      assert.deepEqual(await produce('c'), [ErrorCode.KAFKA_STORAGE_ERROR, -1]);
      assert.deepEqual(storageLines(lines), [
        { level: 50, msg: 'storage error: appends and reads that meet it are answered with KAFKA_STORAGE_ERROR; while it lasts, a count is logged every 10 s', partition: 't-0', refused: undefined, err: 'write to t-0 failed: ENOSPC: no space left on device, write: ENOSPC: no space left on device, write' },
      ]);
      disk.setFull(false);
      assert.deepEqual(await produce('d'), [0, 1]);
      assert.deepEqual(await produce('e'), [0, 2]);
      assert.deepEqual(storageLines(lines).slice(1), [{ level: 40, msg: 'storage takes appends again after errors', partition: undefined, refused: 2, err: undefined }]);
      const fetched = await c.send(FETCH, 11, {
        replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }], forgottenTopicsData: [], rackId: '',
      });
      const records = decodeRecordBatches(fetched.responses[0].partitions[0].records).flatMap((x) => x.records);
      assert.deepEqual(records.map((r) => [r.offset, r.value!.toString()]), [[0, 'a'], [1, 'd'], [2, 'e']]);
    } finally {
      c.close();
    }
  }, { fileSystem: disk.fs, logger });
});

test('while storage keeps failing, a count every interval instead of a line per refusal; other errors are not counted', () => {
  let now = 1_000_000;
  const { logger, lines } = capturedLogger();
  const log = new StorageErrorLog(logger, { now: () => now });
  const eio = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
  log.succeeded();
  log.failed(new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'bad CRC'), 't-0');
  assert.equal(lines.length, 0);
  log.failed(noSpaceError(), 't-0');
  for (let i = 1; i <= 9; i++) {
    now += 1000;
    log.failed(i % 2 ? noSpaceError() : eio, `t-${i % 3}`);
  }
  assert.equal(lines.length, 1);
  now += STORAGE_ERROR_LOG_INTERVAL_MS - 9000;
  log.failed(eio, 't-5');
  now += 1000;
  log.failed(eio, 't-5');
  now += 4000;
  log.succeeded();
  log.succeeded();
  assert.deepEqual(
    lines.map((l) => ({ level: l.level, msg: l.msg, refused: l.refused, partitions: l.partitions, seconds: l.seconds, failingMs: l.failingMs, code: (l.err as { code?: string } | undefined)?.code })),
    [
      { level: 50, msg: 'storage error: appends and reads that meet it are answered with KAFKA_STORAGE_ERROR; while it lasts, a count is logged every 10 s', refused: undefined, partitions: undefined, seconds: undefined, failingMs: undefined, code: 'ENOSPC' },
      { level: 50, msg: 'storage errors go on: requests refused with KAFKA_STORAGE_ERROR since the last line', refused: 10, partitions: ['t-1', 't-2', 't-0', 't-5'], seconds: 10, failingMs: undefined, code: 'EIO' },
      { level: 40, msg: 'storage takes appends again after errors', refused: 12, partitions: undefined, seconds: undefined, failingMs: 15_000, code: undefined },
    ],
  );
  // a new run of failures starts over with a line of its own
  log.failed(eio, 't-0');
  assert.equal(lines.length, 4);
});
