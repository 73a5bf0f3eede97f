import { buildRecordBatch } from '../../src/protocol/records.js';

/** A record batch of one record, `bytes` long in all. */
export function batchOfSize(bytes: number): Buffer {
  const overhead = buildRecordBatch([{ value: Buffer.alloc(0) }]).length;
  return buildRecordBatch([{ value: Buffer.alloc(Math.max(0, bytes - overhead - 4), 'x') }]);
}
