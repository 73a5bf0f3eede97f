import { asBuffer, RequestThread } from '../io/request-thread.js';
import { KafkaError } from '../protocol/errors.js';
import { Compression, decodingBytes } from '../protocol/compression.js';
import { Attributes, Batch, InvalidRecordError, type ValidatedBatches } from '../protocol/record-batch.js';
import { batchesToMessageSet, conversionBytes } from '../protocol/message-sets.js';
import { firstRecordAtTime, type TimedOffset } from '../protocol/records.js';
import { preparationBytes, prepareRecords, type Preparation, type PreparedRecords } from './produced-records.js';

/** What the records thread is asked; the records in it are a copy of their own, which the thread takes over. */
export type RecordsRequest =
  | { op: 'prepare'; records: Uint8Array; preparation: Preparation }
  | { op: 'message set'; batches: Uint8Array; fromOffset: number; magic: 0 | 1; maxBytes: number; firstWhole: boolean }
  | { op: 'time'; batch: Uint8Array; fromOffset: number; target: number };

/** Its answer to `prepare`: the prepared records, handed back; or the refusal, as the produce response carries it. */
export type PrepareReply =
  | { records: Uint8Array; validated: ValidatedBatches }
  | { code: number; message: string; recordIndex: number | null };

/**
 * Work on records that decompresses, compresses or converts at least this many bytes is done in the records thread.
 * On the event loop, produces of a 0.85 MB gzip batch of 200,000 records of 100 B to a compacted topic held every other
 * request up, p50 97 ms and up to 199 ms (`npm run bench:heavy-records`); this much takes about half a millisecond
 * there, about what the hand-over to the thread and back costs.
 */
export const RECORDS_THREAD_MIN_BYTES = 64 << 10;

/**
 * The thread that does large work on records off the event loop, so that a batch that decompresses to 128 MiB holds
 * up its own request only: produced records prepared (see prepareRecords), stored batches converted for an old fetch,
 * and a record looked for by time inside one. One per process, as the cleaner thread is.
 */
const thread = new RequestThread<RecordsRequest>(new URL('./records-thread.js', import.meta.url), 'records thread');

/** A copy of these bytes only, in memory of its own to hand over (a view's whole backing memory would be copied). */
const ownCopy = (bytes: Buffer): Uint8Array<ArrayBuffer> => new Uint8Array(bytes);

/**
 * prepareRecords, done in the records thread where it decompresses, compresses or converts RECORDS_THREAD_MIN_BYTES or
 * more (a promise then; `sent` is copied, so its memory may go back once this returns), else here and now.
 */
export function prepare(sent: Buffer, preparation: Preparation): PreparedRecords | Promise<PreparedRecords> {
  if (preparationBytes(sent, preparation) < RECORDS_THREAD_MIN_BYTES) return prepareRecords(sent, preparation);
  const records = ownCopy(sent);
  return thread.send<PrepareReply>({ op: 'prepare', records, preparation }, [records.buffer]).reply.then((reply) => {
    if ('code' in reply) {
      throw reply.recordIndex === null ? new KafkaError(reply.code, reply.message) : new InvalidRecordError(reply.recordIndex, reply.message, reply.code);
    }
    return { records: asBuffer(reply.records), validated: reply.validated };
  });
}

/** batchesToMessageSet, done in the records thread where it decodes RECORDS_THREAD_MIN_BYTES or more (`batches` is then copied). */
export function messageSet(batches: Buffer, fromOffset: number, magic: 0 | 1, maxBytes: number, firstWhole: boolean): Buffer | Promise<Buffer> {
  // a compressed batch is decoded whole, however little of it the set can hold: millions of records, at worst
  if (conversionBytes(batches, fromOffset) < RECORDS_THREAD_MIN_BYTES) return batchesToMessageSet(batches, fromOffset, magic, maxBytes, firstWhole);
  const copy = ownCopy(batches);
  const request: RecordsRequest = { op: 'message set', batches: copy, fromOffset, magic, maxBytes, firstWhole };
  return thread.send<Uint8Array>(request, [copy.buffer]).reply.then(asBuffer);
}

/**
 * firstRecordAtTime (ListOffsets by time, inside the batch that holds the answer), done in the records thread where the
 * batch decompresses to RECORDS_THREAD_MIN_BYTES or more.
 */
export function timeSearch(batch: Buffer, fromOffset: number, target: number): TimedOffset | null | Promise<TimedOffset | null> {
  const codec = batch.readInt16BE(Batch.ATTRIBUTES) & Attributes.COMPRESSION_MASK;
  if (codec === Compression.NONE || decodingBytes(codec, batch.subarray(Batch.HEADER_BYTES)) < RECORDS_THREAD_MIN_BYTES) return firstRecordAtTime(batch, fromOffset, target);
  const copy = ownCopy(batch);
  return thread.send<TimedOffset | null>({ op: 'time', batch: copy, fromOffset, target }, [copy.buffer]).reply;
}

/** Requests the records thread has not answered yet. */
export const recordsThreadWaiting = (): number => thread.waitingRequests;

/** Ends the process's records thread: what waits on it is refused, and the next request starts another. */
export const stopRecordsThread = (): Promise<void> => thread.stop();
