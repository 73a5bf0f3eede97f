import { answerRequests, asBuffer, type Answer } from '../io/request-thread.js';
import { KafkaError } from '../protocol/errors.js';
import { batchesToMessageSet } from '../protocol/message-sets.js';
import { InvalidRecordError } from '../protocol/record-batch.js';
import { firstRecordAtTime } from '../protocol/records.js';
import { prepareRecords } from './produced-records.js';
import type { PrepareReply, RecordsRequest } from './records-work.js';

// The records thread (see records-work.ts): large work on records, one request at a time.
answerRequests((request: RecordsRequest): Answer => {
  if (request.op === 'message set') {
    const { batches, fromOffset, magic, maxBytes, firstWhole } = request;
    return handedOver(batchesToMessageSet(asBuffer(batches), fromOffset, magic, maxBytes, firstWhole));
  }
  if (request.op === 'time') return { value: firstRecordAtTime(asBuffer(request.batch), request.fromOffset, request.target) };
  try {
    const prepared = prepareRecords(asBuffer(request.records), request.preparation);
    const { value: records, transfer } = handedOver(prepared.records);
    return { value: { records, validated: prepared.validated } satisfies PrepareReply, transfer };
  } catch (err) {
    if (!(err instanceof KafkaError)) throw err;
    const recordIndex = err instanceof InvalidRecordError ? err.index : null;
    return { value: { code: err.code, message: err.message, recordIndex } satisfies PrepareReply };
  }
});

/**
 * Bytes to hand back without copying them, in memory of their own: the request's own copy, or what a conversion or
 * re-encoding made, as they are; a small buffer from Node's shared pool is copied out of it (handing the pool over
 * would take it from under every other buffer in it).
 */
function handedOver(bytes: Buffer): { value: Uint8Array; transfer: ArrayBuffer[] } {
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
  return { value: own, transfer: [own.buffer as ArrayBuffer] };
}
