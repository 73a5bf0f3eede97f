import type { GroupCoordinator } from '../coordinator/group-coordinator.js';
import type { TopicState } from '../storage/log-manager.js';
import type { PartitionLog } from '../storage/partition-log.js';
import type { MetricFamily, Sample } from './metrics-exposition.js';

/** What the state-derived families are read from. */
export interface MetricsState {
  nodeId: number;
  topics: ReadonlyMap<string, TopicState>;
  groups: GroupCoordinator;
  /** Connections served now, by listener name (every listener listed, with 0 where it has none). */
  connections: ReadonlyMap<string, number>;
}

const gauge = (name: string, help: string, samples: Sample[]): MetricFamily => ({ name, help, type: 'gauge', samples });

/**
 * The families read from the broker's state when scraped: partitions and their offsets under the names Kafka's
 * JMX metrics take through the Prometheus JMX exporter (kafka_log_log_*, kafka_server_replicamanager_*), topics
 * and consumer groups under kafka_exporter's (kafka_topic_*, kafka_consumergroup_*), so that the dashboards and
 * alerts written for those work unchanged. A single broker leads every partition, all in sync.
 */
export function stateFamilies({ nodeId, topics, groups, connections }: MetricsState): MetricFamily[] {
  const partitions: { topic: string; partition: string; log: PartitionLog }[] = [];
  for (const t of topics.values()) t.partitions.forEach((log, i) => partitions.push({ topic: t.name, partition: String(i), log }));
  const perPartition = (value: (log: PartitionLog) => number): Sample[] => partitions.map(({ topic, partition, log }) => ({ labels: { topic, partition }, value: value(log) }));
  const lag: Sample[] = [];
  const committed: Sample[] = [];
  const lagSums: Sample[] = [];
  const committedSums: Sample[] = [];
  const members: Sample[] = [];
  for (const group of [...groups.groups.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    members.push({ labels: { consumergroup: group.id }, value: group.members.size + group.consumer.members.size });
    const sums = new Map<string, { lag: number; offset: number }>();
    for (const o of [...group.offsets.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)) {
      const log = topics.get(o.topic)?.partitions[o.partition];
      if (!log) continue;
      const labels = { consumergroup: group.id, topic: o.topic, partition: String(o.partition) };
      const behind = Math.max(0, log.highWatermark - o.offset);
      committed.push({ labels, value: o.offset });
      lag.push({ labels, value: behind });
      const sum = sums.get(o.topic) ?? { lag: 0, offset: 0 };
      sums.set(o.topic, { lag: sum.lag + behind, offset: sum.offset + o.offset });
    }
    for (const [topic, sum] of sums) {
      lagSums.push({ labels: { consumergroup: group.id, topic }, value: sum.lag });
      committedSums.push({ labels: { consumergroup: group.id, topic }, value: sum.offset });
    }
  }
  return [
    gauge('kafka_server_replicamanager_partitioncount', 'Partitions on this broker', [{ labels: {}, value: partitions.length }]),
    gauge('kafka_server_replicamanager_leadercount', 'Partitions this broker leads', [{ labels: {}, value: partitions.length }]),
    gauge('kafka_server_replicamanager_underreplicatedpartitions', 'Partitions led here with replicas out of sync', [{ labels: {}, value: 0 }]),
    gauge('kafka_log_log_size', 'Bytes of a partition\'s segments', perPartition((log) => log.sizeBytes)),
    gauge('kafka_log_log_logstartoffset', 'A partition\'s first offset', perPartition((log) => log.logStartOffset)),
    gauge('kafka_log_log_logendoffset', 'The offset a partition\'s next record gets', perPartition((log) => log.logEndOffset)),
    gauge('kafka_log_log_numlogsegments', 'A partition\'s segments', perPartition((log) => log.segments.length)),
    gauge('kafka_server_socket_server_metrics_connection_count', 'Connections served now, by listener', [...connections].map(([listener, n]) => ({ labels: { listener }, value: n }))),
    gauge('kafka_brokers', 'Brokers in the cluster', [{ labels: {}, value: 1 }]),
    gauge('kafka_topic_partitions', 'Partitions of a topic', [...topics.values()].map((t) => ({ labels: { topic: t.name }, value: t.partitions.length }))),
    gauge('kafka_topic_partition_current_offset', 'A partition\'s high watermark', perPartition((log) => log.highWatermark)),
    gauge('kafka_topic_partition_oldest_offset', 'A partition\'s log start offset', perPartition((log) => log.logStartOffset)),
    gauge('kafka_topic_partition_leader', 'The broker that leads a partition', perPartition(() => nodeId)),
    gauge('kafka_topic_partition_replicas', 'A partition\'s replicas', perPartition(() => 1)),
    gauge('kafka_topic_partition_in_sync_replica', 'A partition\'s in-sync replicas', perPartition(() => 1)),
    gauge('kafka_topic_partition_under_replicated_partition', '1 where a partition has replicas out of sync', perPartition(() => 0)),
    gauge('kafka_consumergroup_members', 'Members of a consumer group (classic and KIP-848)', members),
    gauge('kafka_consumergroup_current_offset', 'A group\'s committed offset for a partition', committed),
    gauge('kafka_consumergroup_current_offset_sum', 'A group\'s committed offsets over a topic\'s partitions, summed', committedSums),
    gauge('kafka_consumergroup_lag', 'Records between a group\'s committed offset and the partition\'s high watermark', lag),
    gauge('kafka_consumergroup_lag_sum', 'A group\'s lag over a topic\'s partitions, summed', lagSums),
  ];
}
