// Produce (key 0), v0-11. v0-2 carry message sets of the old formats (magic 0 and 1), each converted into record
// batches before anything else sees it (protocol/message-sets.ts); Kafka 4 refuses them, which also locks out
// clients that still send them (kafka-node, sarama at its default version).
// Behavior: batches are validated (framing, magic, CRC32C, record framing and offset deltas of uncompressed
// batches, max.message.bytes; on compacted topics every record needs a key, compressed batches decoded to check)
// and appended as sent with offsets patched in place; a topic with its own compression.type gets batches of other
// codecs re-encoded in it first, and max.message.bytes applies again to what that makes (produced-records.ts). Where
// that work decompresses, compresses or converts 64 KiB or more, it runs in the records thread, and the partition's
// later appends queue behind it (AppendOrder), so that one large batch holds up its own request only. A partition's records
// larger than its segment.bytes as stored (after any re-encoding, as in Kafka) get RECORD_LIST_TOO_LARGE (an append
// goes into one segment whole). acks=1 waits for the write, acks=-1
// for durability under the topic's flush policy (and gets NOT_ENOUGH_REPLICAS when the topic's min.insync.replicas
// exceeds the one replica a single broker has). acks=0 gets no response, but its request holds its place among the
// connection's unanswered ones until its appends are written, as acks=1 does, so a producer that never waits for
// answers is held back by the same limit; and when any of its partitions fails, the connection is closed, as Kafka
// does, so the client notices and refreshes its metadata. Clients may not write control batches (INVALID_RECORD)
// nor append to the internal topics (INVALID_TOPIC_EXCEPTION); a transactional batch must belong to its producer's
// open transaction that includes this partition (the transaction coordinator checks, as Kafka does since KIP-890).
// Authorization: a transactional request needs WRITE on its transactional id (else every partition gets
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED), each topic WRITE (TOPIC_AUTHORIZATION_FAILED), and one auto-created CREATE.
// Quotas: the request's bytes count toward its client's producer_byte_rate; past it the answer carries the time to
// wait, and the connection is muted for that long (with acks=0 too, which has no answer to carry it).
// The request's memory goes back to the broker's buffer pool once every append is durable or refused.
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import type {
  ProduceRequest,
  ProduceResponse,
  ProduceResponsePartitionProduceResponse,
  ProduceResponseTopicProduceResponse,
} from '../../protocol/messages.generated.js';
import { Attributes, InvalidRecordError, type ValidatedBatches } from '../../protocol/record-batch.js';
import { refuseInternalTopicChange } from '../../coordinator/internal-topic.js';
import type { AppendResult, PartitionLog } from '../../storage/partition-log.js';
import type { Broker } from '../broker.js';
import { prepare } from '../records-work.js';
import type { TopicCounters } from '../broker-metrics.js';
import { preparationFor, type PreparedRecords } from '../produced-records.js';
import type { ApiHandler } from '../handler.js';
import { toErrorCode } from './errors.js';
import { AclOperation, ResourceType } from '../../protocol/acl.js';
import { mayCreateTopic, notAuthorized } from './acls.js';

const PRODUCE_KEY = 0;

/**
 * Refusals that carry no log start offset (-1), as in Kafka; every other refusal by a partition's own checks
 * (sequence, epoch, transaction, record validation) carries it: an idempotent producer told UNKNOWN_PRODUCER_ID
 * compares it with its last acknowledged offset to tell records deleted by retention from records lost.
 */
const NO_LOG_START_OFFSET = new Set<number>([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.RECORD_LIST_TOO_LARGE,
  ErrorCode.CORRUPT_MESSAGE, ErrorCode.KAFKA_STORAGE_ERROR, ErrorCode.INVALID_TOPIC_EXCEPTION,
]);

function checkTransactional(broker: Broker, transactionalId: string | null | undefined, validated: ValidatedBatches, topic: string, partition: number): void {
  for (const b of validated.batches) {
    if ((b.attributes & Attributes.CONTROL) !== 0) throw new KafkaError(ErrorCode.INVALID_RECORD, 'clients may not produce control batches');
    if ((b.attributes & Attributes.TRANSACTIONAL) === 0) continue;
    const code = broker.transactions.verifyProduce(transactionalId, b.producerId, b.producerEpoch, topic, partition);
    if (code !== ErrorCode.NONE) throw new KafkaError(code, `transactional batch of producer ${b.producerId} epoch ${b.producerEpoch} is not part of an open transaction on ${topic}-${partition}`);
  }
}

/** Appends a partition's prepared records, and fills in its answer's offsets. Throws what refuses them. */
function appendPrepared(
  broker: Broker,
  transactionalId: string | null | undefined,
  topic: string,
  log: PartitionLog,
  out: ProduceResponsePartitionProduceResponse,
  { records, validated }: PreparedRecords,
): AppendResult {
  // (checked here, not in the engine, whose tests roll a segment per append with a tiny segment.bytes)
  if (records.length > log.config.segmentBytes) {
    throw new KafkaError(ErrorCode.RECORD_LIST_TOO_LARGE, `${records.length} bytes appended to ${topic}-${out.index} exceed its segment.bytes of ${log.config.segmentBytes}`);
  }
  checkTransactional(broker, transactionalId, validated, topic, out.index);
  const result = log.append(records, validated);
  out.baseOffset = result.baseOffset;
  out.logAppendTimeMs = result.logAppendTimeMs;
  out.logStartOffset = log.logStartOffset;
  return result;
}

/**
 * Settles once the append is as far as `acks` asks (written, or durable), its failure then in its answer. What it
 * appended counts in the topic's metrics once it is that far.
 */
function acknowledged(broker: Broker, acks: number, topic: string, counters: TopicCounters | null, out: ProduceResponsePartitionProduceResponse, result: AppendResult): Promise<void> {
  return (acks === -1 ? result.durable : result.written).then(
    () => {
      broker.storageErrors.succeeded();
      broker.metrics.count(counters, 'messagesIn', result.records);
      broker.metrics.count(counters, 'bytesIn', result.bytes);
    },
    (err) => {
      Object.assign(out, toErrorCode(err), { baseOffset: -1 });
      broker.storageErrors.failed(err, `${topic}-${out.index}`);
      broker.metrics.count(counters, 'failedProduceRequests');
    },
  );
}

/** Puts a partition's refusal in its answer, with the log start offset where Kafka gives it, and logs and counts it. */
function refused(broker: Broker, topic: string, counters: TopicCounters | null, log: PartitionLog | undefined, out: ProduceResponsePartitionProduceResponse, err: unknown): void {
  const partition = `${topic}-${out.index}`;
  broker.metrics.count(counters, 'failedProduceRequests');
  Object.assign(out, toErrorCode(err));
  if (log && !NO_LOG_START_OFFSET.has(out.errorCode)) out.logStartOffset = log.logStartOffset;
  broker.storageErrors.failed(err, partition);
  if (err instanceof InvalidRecordError) out.recordErrors = [{ batchIndex: err.index, batchIndexErrorMessage: err.message }];
  if (out.errorCode === ErrorCode.UNKNOWN_SERVER_ERROR) broker.logger.error({ partition, err }, 'produce failed');
  else broker.logger.debug({ partition, err: out.errorMessage }, 'produce rejected');
}

/** The answer's error codes, for the metrics: each partition's, NONE counted at once. */
function countAnswered(broker: Broker, responses: ProduceResponseTopicProduceResponse[]): void {
  let ok = 0;
  for (const t of responses) {
    for (const p of t.partitionResponses) {
      if (p.errorCode === ErrorCode.NONE) ok++;
      else broker.metrics.errorsAnswered(PRODUCE_KEY, p.errorCode);
    }
  }
  broker.metrics.errorsAnswered(PRODUCE_KEY, ErrorCode.NONE, ok);
}

export const produce: ApiHandler<ProduceRequest, ProduceResponse> = {
  apiKey: 0,
  minVersion: 0,
  maxVersion: 11,
  async handle({ broker, version, frame, connection }, req) {
    const acks = req.acks;
    const requestBytes = frame.length;
    const waits: Promise<void>[] = [];
    const appends: Promise<void>[] = [];
    const responses: ProduceResponseTopicProduceResponse[] = [];
    const transactional = req.transactionalId ?? null;
    const transactionRefused = transactional !== null && !broker.allows(connection, AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, transactional);
    for (const topicData of req.topicData) {
      const partitionResponses: ProduceResponsePartitionProduceResponse[] = [];
      responses.push({ name: topicData.name, partitionResponses });
      let topic = broker.logs.topics.get(topicData.name) ?? null;
      let topicError: { errorCode: number; errorMessage: string } | null = null;
      if (acks !== 0 && acks !== 1 && acks !== -1) {
        topicError = { errorCode: ErrorCode.INVALID_REQUIRED_ACKS, errorMessage: `acks must be -1, 0 or 1, got ${acks}` };
      } else if (transactionRefused) {
        topicError = toErrorCode(notAuthorized(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, transactional));
      } else if (!broker.allows(connection, AclOperation.WRITE, ResourceType.TOPIC, topicData.name)) {
        topicError = toErrorCode(notAuthorized(AclOperation.WRITE, ResourceType.TOPIC, topicData.name));
      } else if (topic === null) {
        try {
          topic = await broker.topicOrAutoCreate(topicData.name, broker.config.autoCreateTopics && mayCreateTopic(broker, connection, topicData.name));
          if (!topic) topicError = { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `unknown topic ${topicData.name}` };
        } catch (err) {
          topicError = toErrorCode(err);
        }
      }
      const counters = topic === null ? null : broker.metrics.topic(topicData.name);
      for (const p of topicData.partitionData) {
        broker.metrics.count(counters, 'produceRequests');
        const out: ProduceResponsePartitionProduceResponse = {
          index: p.index, errorCode: 0, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, recordErrors: [], errorMessage: null,
        };
        partitionResponses.push(out);
        if (topicError) {
          out.errorCode = topicError.errorCode;
          out.errorMessage = topicError.errorMessage;
          broker.metrics.count(counters, 'failedProduceRequests');
          continue;
        }
        const log = topic!.partitions[p.index];
        try {
          if (!log) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown partition ${topicData.name}-${p.index}`);
          refuseInternalTopicChange(topicData.name, 'append to');
          if (acks === -1 && log.config.minInsyncReplicas > 1) {
            throw new KafkaError(ErrorCode.NOT_ENOUGH_REPLICAS, `${topicData.name}-${p.index} has 1 in-sync replica, fewer than its min.insync.replicas of ${log.config.minInsyncReplicas}`);
          }
          if (!p.records || p.records.length === 0) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'no records');
          const prepared = prepare(p.records, preparationFor(version, log.config, Date.now()));
          if (!(prepared instanceof Promise) && !broker.appendOrder.waiting(log)) {
            const result = appendPrepared(broker, req.transactionalId, topicData.name, log, out, prepared);
            appends.push(result.durable);
            waits.push(acknowledged(broker, acks, topicData.name, counters, out, result));
          } else {
            const queued = broker.appendOrder.queue(log, Promise.resolve(prepared), (ready) => appendPrepared(broker, req.transactionalId, topicData.name, log, out, ready));
            appends.push(queued.then((result) => result.durable));
            waits.push(queued.then((result) => acknowledged(broker, acks, topicData.name, counters, out, result), (err) => refused(broker, topicData.name, counters, log, out, err)));
          }
        } catch (err) {
          refused(broker, topicData.name, counters, log, out, err);
        }
      }
    }
    // an append holds its bytes (a view of the request) until it is durable or refused: its writes are over then,
    // and the request's memory can take a later request
    void Promise.allSettled(appends).then(() => broker.bufferPool.giveBack(frame));
    // its producer_byte_rate counts the whole request, as Kafka counts it: once it is answered, or with acks=0, which
    // has no answer, as soon as its appends are under way, muting the connection before it can send more
    if (acks === 0) connection.throttle(broker.throttling.recordProduce(connection, requestBytes));
    await Promise.all(waits);
    if (acks !== 0) {
      countAnswered(broker, responses);
      return { responses, throttleTimeMs: broker.throttling.recordProduce(connection, requestBytes) };
    }
    const failed = responses.flatMap((t) => t.partitionResponses.filter((p) => p.errorCode !== ErrorCode.NONE).map((p) => `${t.name}-${p.index}: ${p.errorMessage ?? p.errorCode}`));
    if (failed.length > 0) {
      broker.logger.info({ remote: connection.remote, clientId: connection.clientId, failed }, 'closing connection: an acks=0 produce failed, and it has no response to say so');
      connection.close();
    }
    return null;
  },
};
