// What a partition's produced records become before they are appended: an old version's message set converted
// into record batches, every batch validated under the topic's rules, and batches re-encoded in the topic's
// compression.type where they came in another codec. Pure, so that it runs on the event loop or in the records
// thread alike (records-thread.ts).
import { messageSetDecodingBytes, messageSetToBatches } from '../protocol/message-sets.js';
import type { CompressionLevels } from '../protocol/compression.js';
import { batchesDecodingBytes, validateBatches, type RecordRules, type ValidatedBatches } from '../protocol/record-batch.js';
import { recompressBatches } from '../protocol/records.js';
import { compressionLevels, recordRules, topicCodec, type LogConfig } from '../storage/log-config.js';

const FIRST_RECORD_BATCH_VERSION = 3;

/** How to prepare one partition's records: the Produce version, and the topic's settings when the request came. */
export interface Preparation {
  /** Below 3, the records are a message set of the old formats (magic 0 or 1). */
  version: number;
  nowMs: number;
  maxMessageBytes: number;
  rules: Readonly<RecordRules>;
  /** The topic's compression.type as a codec; null keeps the producer's. */
  codec: number | null;
  levels: Readonly<CompressionLevels>;
}

export function preparationFor(version: number, config: Readonly<LogConfig>, nowMs: number): Preparation {
  const codec = topicCodec(config.compressionType);
  return {
    version,
    nowMs,
    maxMessageBytes: config.maxMessageBytes,
    rules: recordRules(config, nowMs),
    codec,
    levels: codec === null ? NO_LEVELS : compressionLevels(config),
  };
}

// levels go unused where nothing is re-encoded; no object per request for them then
const NO_LEVELS: Readonly<CompressionLevels> = { gzip: -1, zstd: 0 };

/** Records as the log stores them, and what validating them found. */
export interface PreparedRecords {
  records: Buffer;
  validated: ValidatedBatches;
}

/**
 * Prepares `sent`: converted (old versions), validated, and re-encoded in the topic's codec, where it has one of its
 * own; re-encoding changes the batches' sizes, so max.message.bytes is checked again on what it makes, as Kafka does.
 * Throws KafkaError with the code the produce response carries.
 */
export function prepareRecords(sent: Buffer, p: Readonly<Preparation>): PreparedRecords {
  const batches = p.version < FIRST_RECORD_BATCH_VERSION ? messageSetToBatches(sent, p.nowMs, p.maxMessageBytes) : sent;
  const validated = validateBatches(batches, p.maxMessageBytes, p.rules);
  const recompressed = p.codec === null ? null : recompressBatches(batches, validated.batches, p.codec, p.levels);
  return recompressed ? { records: recompressed, validated: validateBatches(recompressed, p.maxMessageBytes) } : { records: batches, validated };
}

/** About how many bytes prepareRecords decompresses, compresses or converts for `sent` (header walks aside). */
export function preparationBytes(sent: Buffer, p: Readonly<Preparation>): number {
  return p.version < FIRST_RECORD_BATCH_VERSION ? messageSetDecodingBytes(sent) : batchesDecodingBytes(sent, p.rules, p.codec);
}
