import { answerRequests, asBuffer, type Answer } from '../io/request-thread.js';
import { KafkaError } from '../protocol/errors.js';
import { InvalidRecordError } from '../protocol/record-batch.js';
import type { RecordsReply, RecordsRequest } from './prepare-in-thread.js';
import { prepareRecords } from './produced-records.js';

// The records thread (see prepareInThread): prepares produced records, one partition's at a time.
answerRequests(({ records, preparation }: RecordsRequest): Answer => {
  try {
    const prepared = prepareRecords(asBuffer(records), preparation);
    const out = ownMemory(prepared.records);
    return { value: { records: out, validated: prepared.validated } satisfies RecordsReply, transfer: [out.buffer as ArrayBuffer] };
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err;
    const recordIndex = err instanceof InvalidRecordError ? err.index : null;
    return { value: { code: err.code, message: err.message, recordIndex } satisfies RecordsReply };
  }
});

/**
 * The bytes in memory of their own, to hand over without copying: the request's own copy, or a re-encoding's, as they
 * are; a small buffer from Node's shared pool is copied out of it (handing the pool over would take it from under
 * every other buffer in it).
 */
function ownMemory(bytes: Buffer): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}
