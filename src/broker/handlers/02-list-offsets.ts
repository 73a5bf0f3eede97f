// ListOffsets (key 2), v0-10. Timestamps: -1 latest (the high watermark), -2 earliest (log start), -3 the
// record with the largest timestamp (KIP-734), -4 earliest local (= earliest, no tiered storage), -5 latest
// tiered (none: -1). A timestamp >= 0 finds the first record at or after it, which may be inside a batch (looked into
// in the records thread where it decompresses to 64 KiB or more).
// v0 answers with the old offsets array. read_committed (v2+) latest is the last stable offset, and a record
// found by timestamp at or past it is not answered (-1) until its transaction ends. A topic the client may not
// DESCRIBE answers TOPIC_AUTHORIZATION_FAILED.
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type {
  ListOffsetsRequest,
  ListOffsetsResponse,
  ListOffsetsResponseListOffsetsPartitionResponse,
} from '../../protocol/messages.generated.js';
import type { PartitionLog } from '../../storage/partition-log.js';
import { maxTimestampRecord, offsetForTimestamp } from '../../storage/timestamp-lookup.js';
import type { ApiHandler } from '../handler.js';
import { timeSearch } from '../records-work.js';
import { toErrorCode } from './errors.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';

const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;
const EARLIEST_LOCAL = -4;
const LATEST_TIERED = -5;

const READ_COMMITTED = 1;

async function lookup(log: PartitionLog, timestamp: number, readCommitted: boolean): Promise<{ offset: number; timestamp: number }> {
  switch (timestamp) {
    case LATEST:
      return { offset: readCommitted ? log.lastStableOffset : log.highWatermark, timestamp: -1 };
    case EARLIEST:
    case EARLIEST_LOCAL:
      return { offset: log.logStartOffset, timestamp: -1 };
    case LATEST_TIERED:
      return { offset: -1, timestamp: -1 };
    case MAX_TIMESTAMP:
      return visible(log, await maxTimestampRecord(log, timeSearch), readCommitted);
    default:
      if (timestamp < 0) throw new KafkaError(ErrorCode.INVALID_REQUEST, `unknown special timestamp ${timestamp}`);
      return visible(log, await offsetForTimestamp(log, timestamp, timeSearch), readCommitted);
  }
}

/** A record found by timestamp, unless read_committed may not see it yet (at or past the last stable offset), as in Kafka. */
function visible(log: PartitionLog, found: { offset: number; timestamp: number } | null, readCommitted: boolean): { offset: number; timestamp: number } {
  return found && (!readCommitted || found.offset < log.lastStableOffset) ? found : { offset: -1, timestamp: -1 };
}

export const listOffsets: ApiHandler<ListOffsetsRequest, ListOffsetsResponse> = {
  apiKey: 2,
  minVersion: 0,
  maxVersion: 10,
  async handle({ broker, version, connection }, req) {
    const topics = [];
    for (const t of req.topics) {
      const refused = !broker.allows(connection, AclOperation.DESCRIBE, ResourceType.TOPIC, t.name);
      const topic = refused ? undefined : broker.logs.topics.get(t.name);
      const partitions: ListOffsetsResponseListOffsetsPartitionResponse[] = [];
      for (const p of t.partitions) {
        const out: ListOffsetsResponseListOffsetsPartitionResponse = {
          partitionIndex: p.partitionIndex, errorCode: 0, oldStyleOffsets: [], timestamp: -1, offset: -1, leaderEpoch: 0,
        };
        partitions.push(out);
        const log = topic?.partitions[p.partitionIndex];
        if (!log) {
          out.errorCode = refused ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          continue;
        }
        try {
          const found = await lookup(log, p.timestamp, req.isolationLevel === READ_COMMITTED);
          out.offset = found.offset;
          out.timestamp = found.timestamp;
          if (version === 0) out.oldStyleOffsets = found.offset >= 0 ? [found.offset] : [];
        } catch (err) {
          out.errorCode = toErrorCode(err).errorCode;
        }
      }
      topics.push({ name: t.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  },
};
