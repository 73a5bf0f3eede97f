import { asBuffer, RequestThread } from '../io/request-thread.js';
import { KafkaError } from '../protocol/errors.js';
import { InvalidRecordError, type ValidatedBatches } from '../protocol/record-batch.js';
import type { Preparation, PreparedRecords } from './produced-records.js';

/** What the records thread is asked: one partition's records, a copy of their own that the thread takes over. */
export interface RecordsRequest {
  records: Uint8Array;
  preparation: Preparation;
}

/** Its answer: the prepared records, handed back; or the refusal, as the produce response carries it. */
export type RecordsReply =
  | { records: Uint8Array; validated: ValidatedBatches }
  | { code: number; message: string; recordIndex: number | null };

/**
 * Produced records whose preparation decompresses, compresses or converts at least this many bytes are prepared in
 * the records thread. On the event loop, a batch of 1 MiB of gzip with 200,000 records of 100 B held every other
 * request up for 50-230 ms on a compacted topic; this much takes about half a millisecond there, about what the
 * hand-over to the thread and back costs.
 */
export const THREAD_PREPARATION_BYTES = 64 << 10;

/**
 * The thread that prepares large produced records (see prepareRecords) off the event loop, so that a batch that
 * decompresses to 128 MiB holds up its own request only. One per process, as the cleaner thread is.
 */
const thread = new RequestThread<RecordsRequest>(new URL('./records-thread.js', import.meta.url), 'records thread');

/** prepareRecords, done in the records thread; `sent` is copied, so its memory may go back once this is called. */
export async function prepareInThread(sent: Buffer, preparation: Preparation): Promise<PreparedRecords> {
  // a copy of these bytes only, in memory of its own to hand over (a view's whole backing memory would be copied)
  const records = new Uint8Array(sent);
  const reply = await thread.send<RecordsReply>({ records, preparation }, [records.buffer]).reply;
  if ('code' in reply) {
    throw reply.recordIndex === null ? new KafkaError(reply.code, reply.message) : new InvalidRecordError(reply.recordIndex, reply.message, reply.code);
  }
  return { records: asBuffer(reply.records), validated: reply.validated };
}

/** Ends the process's records thread: what waits on it is refused, and the next request starts another. */
export const stopRecordsThread = (): Promise<void> => thread.stop();
