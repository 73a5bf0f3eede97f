import { errorName } from '../protocol/errors.js';
import { API_SCHEMAS } from '../protocol/messages.generated.js';
import type { SyncKind } from '../storage/group-commit.js';
import type { ListenerTraffic } from './connection.js';
import { LatencyHistogram } from './latency-histogram.js';
import { labelSet, type MetricFamily, type Sample } from './metrics-exposition.js';

/** What Kafka's BrokerTopicMetrics count, for one topic or for all: plain numbers, bumped once per partition of a request. */
export class TopicCounters {
  /** Records appended. */
  messagesIn = 0;
  /** Record batch bytes appended, as stored. */
  bytesIn = 0;
  /** Record bytes answered to fetches. */
  bytesOut = 0;
  /** Partitions produced to, and those refused. */
  produceRequests = 0;
  failedProduceRequests = 0;
  /** Partitions fetched from, and those answered with an error. */
  fetchRequests = 0;
  failedFetchRequests = 0;
}

/** One API's requests: how many of each version, the error codes of their answers, and their times. */
class RequestCounters {
  readonly byVersion: number[] = [];
  /** Error codes its answers carried (NONE included), by code. */
  readonly errors = new Map<number, number>();
  readonly times = new LatencyHistogram();
}

/** One client's throttles of one API, and when it was last throttled. */
interface ClientThrottles {
  request: string;
  user: string;
  clientId: string;
  count: number;
  seconds: number;
  lastMs: number;
}

/** A client not throttled for this long has its throttle series dropped, as Kafka expires its quota sensors. */
export const THROTTLE_SERIES_EXPIRY_MS = 60 * 60 * 1000;

/**
 * The counts the broker keeps for its metrics: each update is a field or array increment, so that the produce and
 * fetch paths pay nothing per record; families() turns them into Prometheus families when scraped. Counters only
 * grow while the broker runs; a deleted topic's are dropped, as Kafka drops its topic metrics.
 */
export class BrokerMetrics {
  private readonly allTopics = new TopicCounters();
  private readonly topics = new Map<string, TopicCounters>();
  /** By API key. */
  private readonly requests: (RequestCounters | undefined)[] = [];
  private readonly accepted = new Map<string, number>();
  private readonly listenerTraffic = new Map<string, ListenerTraffic>();
  private readonly authentications = new Map<string, { succeeded: number; failed: number }>();
  private readonly syncs = new Map<SyncKind, LatencyHistogram>();
  /** By API, principal and client id; only clients that were throttled. */
  private readonly clientThrottles = new Map<string, ClientThrottles>();

  topic(name: string): TopicCounters {
    return entry(this.topics, name, () => new TopicCounters());
  }

  /** Adds `n` to a count of all topics and, where `topic` is an existing topic's, to its own (a name no topic has gets no series). */
  count(topic: TopicCounters | null, field: keyof TopicCounters, n = 1): void {
    this.allTopics[field] += n;
    if (topic !== null) topic[field] += n;
  }

  forgetTopic(name: string): void {
    this.topics.delete(name);
  }

  /** A request answered (or, without an answer, handled) now, its frame taken up at `startedMs` (performance.now()). */
  requestServed(apiKey: number, version: number, startedMs: number): void {
    const r = this.request(apiKey);
    r.byVersion[version] = (r.byVersion[version] ?? 0) + 1;
    r.times.observe((performance.now() - startedMs) / 1000);
  }

  /** `n` of a request's answers' error codes were `code` (NONE included, as Kafka counts them). */
  errorsAnswered(apiKey: number, code: number, n = 1): void {
    if (n === 0) return;
    const { errors } = this.request(apiKey);
    errors.set(code, (errors.get(code) ?? 0) + n);
  }

  /**
   * Counts every error code an answer carries, at any depth (a topic's, a partition's, the answer's own). Produce and
   * Fetch answers, whose partitions may be thousands, are counted by their handlers as they fill them in instead.
   */
  answered(apiKey: number, response: object): void {
    countErrorCodes(response, this.request(apiKey).errors);
  }

  /** A request's answer held its client (its principal and client id) back `ms`, at `nowMs` (a quota). */
  throttled(apiKey: number, ms: number, principal: string, clientId: string, nowMs: number): void {
    const t = entry(this.clientThrottles, `${apiKey}\0${principal}\0${clientId}`, () => ({
      request: API_SCHEMAS[apiKey]?.name ?? String(apiKey), user: principal.replace(/^User:/, ''), clientId, count: 0, seconds: 0, lastMs: nowMs,
    }));
    t.count++;
    t.seconds += ms / 1000;
    t.lastMs = nowMs;
  }

  /** The byte counts of a listener's connections, which they add to themselves. */
  traffic(listener: string): ListenerTraffic {
    return entry(this.listenerTraffic, listener, () => ({ received: 0, sent: 0 }));
  }

  connectionAccepted(listener: string): void {
    this.accepted.set(listener, (this.accepted.get(listener) ?? 0) + 1);
  }

  authenticated(listener: string, succeeded: boolean): void {
    const a = entry(this.authentications, listener, () => ({ succeeded: 0, failed: 0 }));
    if (succeeded) a.succeeded++;
    else a.failed++;
  }

  syncObserved(kind: SyncKind, seconds: number): void {
    entry(this.syncs, kind, () => new LatencyHistogram()).observe(seconds);
  }

  private request(apiKey: number): RequestCounters {
    let r = this.requests[apiKey];
    if (!r) this.requests[apiKey] = r = new RequestCounters();
    return r;
  }

  /** The families, as of `nowMs` (a client not throttled for THROTTLE_SERIES_EXPIRY_MS is left out, and forgotten). */
  families(nowMs: number): MetricFamily[] {
    for (const [key, t] of this.clientThrottles) if (nowMs - t.lastMs >= THROTTLE_SERIES_EXPIRY_MS) this.clientThrottles.delete(key);
    const throttles = [...this.clientThrottles.values()].map((t) => ({ labels: labelSet({ request: t.request, user: t.user, client_id: t.clientId }), t }));
    const topicLabels = [...this.topics].map(([topic, c]) => [labelSet({ topic }), c] as const);
    const perTopic = (help: string, name: string, value: (c: TopicCounters) => number): MetricFamily => ({
      name: `kafka_server_brokertopicmetrics_${name}_total`,
      help: `${help}; without a topic label, over all topics (Kafka's BrokerTopicMetrics)`,
      type: 'counter',
      samples: [{ labels: '', value: value(this.allTopics) }, ...topicLabels.map(([labels, c]) => ({ labels, value: value(c) }))],
    });
    const requests = this.requests.flatMap((r, apiKey) => (r === undefined ? [] : [{ request: API_SCHEMAS[apiKey]?.name ?? String(apiKey), r }]));
    const pairs = <T>(map: Map<string, T>, sample: (key: string, value: T) => Sample[]): Sample[] => [...map].flatMap(([k, v]) => sample(k, v));
    return [
      perTopic('Records appended', 'messagesin', (c) => c.messagesIn),
      perTopic('Record batch bytes appended', 'bytesin', (c) => c.bytesIn),
      perTopic('Record bytes sent to fetches', 'bytesout', (c) => c.bytesOut),
      perTopic('Partitions produced to', 'totalproducerequests', (c) => c.produceRequests),
      perTopic('Partitions produced to whose append was refused or failed', 'failedproducerequests', (c) => c.failedProduceRequests),
      perTopic('Partitions fetched from', 'totalfetchrequests', (c) => c.fetchRequests),
      perTopic('Partitions fetched from that were answered with an error', 'failedfetchrequests', (c) => c.failedFetchRequests),
      {
        name: 'kafka_network_requestmetrics_requests_total',
        help: 'Requests handled, by API and version (Kafka\'s RequestMetrics RequestsPerSec)',
        type: 'counter',
        samples: requests.flatMap(({ request, r }) => r.byVersion.flatMap((n, version) => (n === undefined ? [] : [{ labels: labelSet({ request, version: String(version) }), value: n }]))),
      },
      {
        name: 'kafka_network_requestmetrics_errors_total',
        help: 'Error codes in answers, by API and error, NONE included (Kafka\'s RequestMetrics ErrorsPerSec)',
        type: 'counter',
        samples: requests.flatMap(({ request, r }) => [...r.errors].map(([code, n]) => ({ labels: labelSet({ request, error: errorName(code) }), value: n }))),
      },
      {
        name: 'sluice_request_duration_seconds',
        help: 'Time from a request\'s frame being taken up to its answer being ready, by API (acks=all produces include their sync)',
        type: 'histogram',
        samples: requests.map(({ request, r }) => r.times.sample({ request })),
      },
      {
        name: 'sluice_client_throttled_responses_total',
        help: 'Answers that held their client back for a quota, by API, user (the principal without User:) and client id',
        type: 'counter',
        samples: throttles.map(({ labels, t }) => ({ labels, value: t.count })),
      },
      {
        name: 'sluice_client_throttle_seconds_total',
        help: 'Time clients were held back for quotas, by API, user and client id',
        type: 'counter',
        samples: throttles.map(({ labels, t }) => ({ labels, value: t.seconds })),
      },
      {
        name: 'sluice_connections_accepted_total',
        help: 'Connections served, by listener',
        type: 'counter',
        samples: pairs(this.accepted, (listener, n) => [{ labels: labelSet({ listener }), value: n }]),
      },
      {
        name: 'sluice_network_received_bytes_total',
        help: 'Bytes read from clients, by listener (after TLS)',
        type: 'counter',
        samples: pairs(this.listenerTraffic, (listener, t) => [{ labels: labelSet({ listener }), value: t.received }]),
      },
      {
        name: 'sluice_network_sent_bytes_total',
        help: 'Bytes of answers written to clients, by listener (before TLS)',
        type: 'counter',
        samples: pairs(this.listenerTraffic, (listener, t) => [{ labels: labelSet({ listener }), value: t.sent }]),
      },
      {
        name: 'sluice_authentications_total',
        help: 'SASL authentications (and re-authentications), by listener and outcome',
        type: 'counter',
        samples: pairs(this.authentications, (listener, a) => [
          { labels: labelSet({ listener, outcome: 'succeeded' }), value: a.succeeded },
          { labels: labelSet({ listener, outcome: 'failed' }), value: a.failed },
        ]),
      },
      {
        name: 'sluice_storage_sync_duration_seconds',
        help: 'Syncs that make fsync-policy appends durable, by kind: one segment file, a journal round, or the filesystem',
        type: 'histogram',
        samples: [...this.syncs].map(([kind, h]) => h.sample({ kind })),
      },
    ];
  }
}

/** The map's value for `key`, made and kept first if it has none. */
function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}

/** Adds every `errorCode` field of an answer, at any depth, to `counts`; record bytes are not looked into. */
function countErrorCodes(value: unknown, counts: Map<number, number>): void {
  if (Array.isArray(value)) {
    for (const v of value) countErrorCodes(v, counts);
  } else if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array)) {
    for (const key in value) {
      const v = (value as Record<string, unknown>)[key];
      if (key === 'errorCode' && typeof v === 'number') counts.set(v, (counts.get(v) ?? 0) + 1);
      else if (typeof v === 'object') countErrorCodes(v, counts);
    }
  }
}
