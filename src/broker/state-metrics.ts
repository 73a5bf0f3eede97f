import type { GroupCoordinator } from '../coordinator/group-coordinator.js';
import type { TopicState } from '../storage/log-manager.js';
import type { PartitionLog } from '../storage/partition-log.js';
import { labelSet, type MetricFamily, type Sample } from './metrics-exposition.js';
import type { StorageErrorLog } from './storage-error-log.js';

/** What the state-derived families are read from. */
export interface MetricsState {
  nodeId: number;
  /** The data directory's filesystem, as statfs gives it when scraped; null when it could not say. */
  disk: { totalBytes: number; usableBytes: number } | null;
  storageErrors: StorageErrorLog;
  /** Memory requests hold over all connections, and its bounds (queued.max.request.bytes, and fetch answers'). */
  memory: { queuedRequests: { bytes: number; limit: number }; fetchResponses: { bytes: number; limit: number } };
  topics: ReadonlyMap<string, TopicState>;
  groups: GroupCoordinator;
  /** Connections served now, by listener name (every listener listed, with 0 where it has none). */
  connections: ReadonlyMap<string, number>;
}

const gauge = (name: string, help: string, samples: Iterable<Sample>): MetricFamily => ({ name, help, type: 'gauge', samples });
/** A family's one series, without labels. */
const one = (value: number): Sample[] => [{ labels: '', value }];

/** A partition and, once a family has written it, its label set, which the other partition families reuse. */
interface PartitionEntry {
  topic: string;
  index: number;
  log: PartitionLog;
  labels: string | null;
}

/**
 * The families read from the broker's state when scraped: partitions and their offsets under the names Kafka's
 * JMX metrics take through the Prometheus JMX exporter (kafka_log_log_*, kafka_server_replicamanager_*), topics
 * and consumer groups under kafka_exporter's (kafka_topic_*, kafka_consumergroup_*), so that the dashboards and
 * alerts written for those work unchanged. A single broker leads every partition, all in sync. A family of every
 * partition or group offset makes its samples as they are written.
 */
export function* stateFamilies({ nodeId, disk, storageErrors, memory, topics, groups, connections }: MetricsState): Generator<MetricFamily> {
  const { queuedRequests, fetchResponses } = memory;
  yield gauge('sluice_queued_request_bytes', 'Bytes of requests read and not yet answered, over all connections; reading stops at the limit', one(queuedRequests.bytes));
  yield gauge('sluice_queued_request_bytes_limit', 'The bound on sluice_queued_request_bytes (queued.max.request.bytes)', one(queuedRequests.limit));
  yield gauge('sluice_fetch_response_bytes', 'Bytes fetch answers hold until written, over all connections; fetches read less near the limit', one(fetchResponses.bytes));
  yield gauge('sluice_fetch_response_bytes_limit', 'The bound on sluice_fetch_response_bytes', one(fetchResponses.limit));
  yield gauge('sluice_data_dir_size_bytes', 'Size of the data directory\'s filesystem', disk === null ? [] : one(disk.totalBytes));
  yield gauge('sluice_data_dir_usable_bytes', 'Bytes the broker may still write on the data directory\'s filesystem', disk === null ? [] : one(disk.usableBytes));
  yield { name: 'sluice_storage_errors_total', help: 'Appends and reads refused with KAFKA_STORAGE_ERROR (a full disk, an I/O error)', type: 'counter', samples: one(storageErrors.refusedTotal) };
  yield gauge('sluice_storage_failing', '1 from a storage error until an append is stored again', one(storageErrors.failing ? 1 : 0));
  const partitions: PartitionEntry[] = [];
  for (const t of topics.values()) t.partitions.forEach((log, index) => partitions.push({ topic: t.name, index, log, labels: null }));
  function* perPartition(value: (log: PartitionLog) => number): Generator<Sample> {
    for (const p of partitions) yield { labels: (p.labels ??= labelSet({ topic: p.topic, partition: String(p.index) })), value: value(p.log) };
  }
  yield gauge('kafka_server_replicamanager_partitioncount', 'Partitions on this broker', one(partitions.length));
  yield gauge('kafka_server_replicamanager_leadercount', 'Partitions this broker leads', one(partitions.length));
  yield gauge('kafka_server_replicamanager_underreplicatedpartitions', 'Partitions led here with replicas out of sync', one(0));
  yield gauge('kafka_log_log_size', 'Bytes of a partition\'s segments', perPartition((log) => log.sizeBytes));
  yield gauge('kafka_log_log_logstartoffset', 'A partition\'s first offset', perPartition((log) => log.logStartOffset));
  yield gauge('kafka_log_log_logendoffset', 'The offset a partition\'s next record gets', perPartition((log) => log.logEndOffset));
  yield gauge('kafka_log_log_numlogsegments', 'A partition\'s segments', perPartition((log) => log.segments.length));
  yield gauge('kafka_server_socket_server_metrics_connection_count', 'Connections served now, by listener', [...connections].map(([listener, n]) => ({ labels: labelSet({ listener }), value: n })));
  yield gauge('kafka_brokers', 'Brokers in the cluster', one(1));
  yield gauge('kafka_topic_partitions', 'Partitions of a topic', [...topics.values()].map((t) => ({ labels: labelSet({ topic: t.name }), value: t.partitions.length })));
  yield gauge('kafka_topic_partition_current_offset', 'A partition\'s high watermark', perPartition((log) => log.highWatermark));
  yield gauge('kafka_topic_partition_oldest_offset', 'A partition\'s log start offset', perPartition((log) => log.logStartOffset));
  yield gauge('kafka_topic_partition_leader', 'The broker that leads a partition', perPartition(() => nodeId));
  yield gauge('kafka_topic_partition_replicas', 'A partition\'s replicas', perPartition(() => 1));
  yield gauge('kafka_topic_partition_in_sync_replica', 'A partition\'s in-sync replicas', perPartition(() => 1));
  yield gauge('kafka_topic_partition_under_replicated_partition', '1 where a partition has replicas out of sync', perPartition(() => 0));
  const byState = new Map<string, { state: string; type: string; n: number }>();
  for (const { state, type } of groups.list([], [])) {
    const key = `${type} ${state}`;
    const entry = byState.get(key) ?? byState.set(key, { state, type, n: 0 }).get(key)!;
    entry.n++;
  }
  yield gauge('sluice_consumer_groups', 'Consumer groups by protocol (classic, or KIP-848\'s consumer) and state, as ListGroups gives them', [...byState.values()].map(({ state, type, n }) => ({ labels: labelSet({ type, state }), value: n })));
  yield gauge('kafka_consumergroup_members', 'Members of a consumer group (classic and KIP-848)', [...groups.groups.values()].map((g) => ({ labels: labelSet({ consumergroup: g.id }), value: g.members.size + g.consumer.members.size })));
  yield gauge('kafka_consumergroup_current_offset', 'A group\'s committed offset for a partition', groupOffsets(topics, groups, (o) => o.offset));
  yield gauge('kafka_consumergroup_current_offset_sum', 'A group\'s committed offsets over a topic\'s partitions, summed', groupSums(topics, groups, (o) => o.offset));
  yield gauge('kafka_consumergroup_lag', 'Records between a group\'s committed offset and the partition\'s high watermark', groupOffsets(topics, groups, lagOf));
  yield gauge('kafka_consumergroup_lag_sum', 'A group\'s lag over a topic\'s partitions, summed', groupSums(topics, groups, lagOf));
}

interface GroupOffset {
  offset: number;
  log: PartitionLog;
}

const lagOf = (o: GroupOffset) => Math.max(0, o.log.highWatermark - o.offset);

/** Each group's committed offsets of partitions that exist, with their group, topic and partition. */
function* committedOffsets(topics: ReadonlyMap<string, TopicState>, groups: GroupCoordinator): Generator<{ group: string; topic: string; partition: number } & GroupOffset> {
  for (const group of groups.groups.values()) {
    for (const o of group.offsets.values()) {
      const log = topics.get(o.topic)?.partitions[o.partition];
      if (log) yield { group: group.id, topic: o.topic, partition: o.partition, offset: o.offset, log };
    }
  }
}

function* groupOffsets(topics: ReadonlyMap<string, TopicState>, groups: GroupCoordinator, value: (o: GroupOffset) => number): Generator<Sample> {
  for (const o of committedOffsets(topics, groups)) yield { labels: labelSet({ consumergroup: o.group, topic: o.topic, partition: String(o.partition) }), value: value(o) };
}

function* groupSums(topics: ReadonlyMap<string, TopicState>, groups: GroupCoordinator, value: (o: GroupOffset) => number): Generator<Sample> {
  const sums = new Map<string, { group: string; topic: string; sum: number }>();
  for (const o of committedOffsets(topics, groups)) {
    const key = `${o.group}\0${o.topic}`;
    const entry = sums.get(key) ?? sums.set(key, { group: o.group, topic: o.topic, sum: 0 }).get(key)!;
    entry.sum += value(o);
  }
  for (const { group, topic, sum } of sums.values()) yield { labels: labelSet({ consumergroup: group, topic }), value: sum };
}
