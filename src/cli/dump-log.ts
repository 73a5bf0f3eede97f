// `sluice dump-log`: what a partition's files hold, read offline (no broker needed), as Kafka's kafka-dump-log
// shows it. A `.log` segment: each batch's header fields and whether its CRC holds, with `records` each record
// too; the walk stops where the framing breaks (a torn tail, which recovery cuts) and says so. A segment of
// `__consumer_offsets` shows its records decoded (Kafka's tool needs --offsets-decoder for that). `.index` and
// `.timeindex`: their entries as absolute offsets. A producer `.snapshot`: its JSON.
import { basename, dirname } from 'node:path';
import { decodeStoredRecord } from '../coordinator/group-store.js';
import { OFFSETS_TOPIC } from '../coordinator/internal-topic.js';
import type { FileSystem } from '../io/file-system.js';
import { Attributes, Batch, batchCrcValid, batchInfoAt, batchSizeAt, type BatchInfo } from '../protocol/record-batch.js';
import { ControlType, controlTypeAt, decodeBatchRecords } from '../protocol/records.js';
import { OffsetIndex, TimeIndex } from '../storage/sparse-index.js';
import { UsageError } from './usage-error.js';

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
/** Bytes of a segment read at a time; a larger batch gets a buffer of its own size. */
const CHUNK_BYTES = 1 << 20;

export async function dumpFile(fs: FileSystem, path: string, records: boolean, print: (line: string) => void): Promise<void> {
  const name = basename(path);
  const base = /^(\d{20})\./.exec(name);
  if (!base) throw new UsageError(`${path} is not a segment, index or snapshot file (named by a 20-digit offset)`);
  const baseOffset = Number(base[1]);
  if (name.endsWith('.log')) return dumpSegment(fs, path, records, print, basename(dirname(path)).startsWith(`${OFFSETS_TOPIC}-`) ? offsetsRecordText : plainRecordText);
  if (name.endsWith('.index')) {
    const index = OffsetIndex.deserialize(await fs.readFile(path));
    for (let i = 0; i < index.count; i++) print(`offset: ${baseOffset + index.relOffsets[i]!} position: ${index.positions[i]}`);
    return;
  }
  if (name.endsWith('.timeindex')) {
    const index = TimeIndex.deserialize(await fs.readFile(path));
    for (let i = 0; i < index.count; i++) print(`timestamp: ${index.timestamps[i]} offset: ${baseOffset + index.relOffsets[i]!}`);
    return;
  }
  if (name.endsWith('.snapshot')) {
    print((await fs.readFile(path)).toString('utf8'));
    return;
  }
  throw new UsageError(`${path}: dump-log reads .log, .index, .timeindex and .snapshot files`);
}

/** A record's key and value as dump-log prints them. */
type RecordText = (key: Buffer | null, value: Buffer | null) => string;

const text = (b: Buffer | null) => (b === null ? 'null' : JSON.stringify(b.toString('utf8')));

const plainRecordText: RecordText = (key, value) => `key: ${text(key)} payload: ${text(value)}`;

/** A record of `__consumer_offsets` decoded from Kafka's formats, JSON; as plain text where it is not one. */
const offsetsRecordText: RecordText = (key, value) => {
  const decoded = key === null ? null : decodeStoredRecord({ key, value });
  if (!decoded) return plainRecordText(key, value);
  const { value: stored, ...which } = decoded;
  return `key: ${JSON.stringify(which)} payload: ${JSON.stringify(stored)}`;
};

async function dumpSegment(fs: FileSystem, path: string, records: boolean, print: (line: string) => void, recordText: RecordText): Promise<void> {
  const fd = await fs.open(path, 'r');
  try {
    const fileBytes = await fs.fstatSize(fd);
    let chunk = Buffer.allocUnsafe(Math.max(Batch.HEADER_BYTES, Math.min(CHUNK_BYTES, fileBytes)));
    let position = 0;
    let batches = 0;
    let invalid = 0;
    let count = 0;
    while (position < fileBytes) {
      const got = await fs.read(fd, chunk, Math.min(chunk.length, fileBytes - position), position);
      const view = chunk.subarray(0, got);
      let at = 0;
      let broken = false;
      for (;;) {
        const size = batchSizeAt(view, at);
        if (size === -1) break; // its length field was not read: read again from here
        if (size < Batch.HEADER_BYTES || position + at + size > fileBytes) {
          broken = true;
          break;
        }
        if (at + size > got) break; // the batch was not read whole: read again from its start
        const info = batchInfoAt(view, at, size);
        const magic = view.readInt8(at + Batch.MAGIC);
        const valid = magic === 2 && batchCrcValid(view, at, size);
        print(batchLine(info, position + at, magic, valid));
        if (records) for (const line of recordLines(view.subarray(at, at + size), info, recordText)) print(line);
        batches++;
        if (!valid) invalid++;
        count += info.recordsCount;
        at += size;
      }
      position += at;
      if (broken) break;
      if (at === 0) {
        // not one whole batch read: fewer than its length field's bytes are left (torn), or it is larger than the buffer
        const size = batchSizeAt(view, 0);
        if (size === -1) break;
        chunk = Buffer.allocUnsafe(size);
      }
    }
    if (position < fileBytes) print(`torn or corrupt data from position ${position} to the end (${fileBytes - position} bytes): recovery cuts a segment's tail here`);
    print(`${batches} batches (${invalid} with a bad CRC), ${count} records, ${position} of ${fileBytes} bytes in whole batches`);
  } finally {
    await fs.close(fd);
  }
}

function batchLine(info: BatchInfo, position: number, magic: number, valid: boolean): string {
  const a = info.attributes;
  const timestampType = (a & Attributes.TIMESTAMP_LOG_APPEND) !== 0 ? 'LogAppendTime' : 'CreateTime';
  const lastSequence = info.baseSequence < 0 ? -1 : info.baseSequence + info.lastOffsetDelta;
  return [
    `baseOffset: ${info.baseOffset} lastOffset: ${info.baseOffset + info.lastOffsetDelta} count: ${info.recordsCount}`,
    `baseSequence: ${info.baseSequence} lastSequence: ${lastSequence} producerId: ${info.producerId} producerEpoch: ${info.producerEpoch}`,
    `isTransactional: ${(a & Attributes.TRANSACTIONAL) !== 0} isControl: ${(a & Attributes.CONTROL) !== 0}`,
    `deleteHorizonMs: ${(a & Attributes.DELETE_HORIZON) !== 0 ? info.baseTimestamp : 'none'}`,
    `position: ${position} ${timestampType}: ${info.maxTimestamp} size: ${info.size} magic: ${magic}`,
    `compresscodec: ${CODECS[a & Attributes.COMPRESSION_MASK] ?? `unknown(${a & Attributes.COMPRESSION_MASK})`} isvalid: ${valid}`,
  ].join(' ');
}

function recordLines(batch: Buffer, info: BatchInfo, recordText: RecordText): string[] {
  if ((info.attributes & Attributes.CONTROL) !== 0) {
    try {
      const type = controlTypeAt(batch, 0, batch.length);
      return [`| offset: ${info.baseOffset} endTxnMarker: ${type === ControlType.COMMIT ? 'COMMIT' : type === ControlType.ABORT ? 'ABORT' : `type ${type}`}`];
    } catch {
      return ['| (control record that cannot be read)'];
    }
  }
  let decoded: ReturnType<typeof decodeBatchRecords>;
  try {
    decoded = decodeBatchRecords(batch);
  } catch {
    decoded = null; // a corrupt batch's varints can break the decoder in ways it does not name
  }
  if (decoded === null) return ['| (records that cannot be decoded)'];
  return decoded.map((r) => {
    const headers = r.headers.map((h) => `${JSON.stringify(h.key)}=${text(h.value)}`).join(',');
    return `| offset: ${r.offset} timestamp: ${r.timestamp} ${recordText(r.key, r.value)} headers: [${headers}]`;
  });
}
