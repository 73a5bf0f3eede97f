// KIP-848 groups written as Kafka's records and rebuilt from them: under any sequence of joins, heartbeats, leaves,
// static members' absences, expiries, topics created and grown, failed writes and restarts, the group a start
// rebuilds is the group as it was when its last write succeeded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ConsumerGroupLedger } from '../../src/coordinator/consumer-group-ledger.js';
import { decodeStoredRecord, encodeStoredRecord, type StoredRecord } from '../../src/coordinator/group-store.js';
import { ConsumerGroupProtocol, ConsumerGroupState, type TopicLookup } from '../../src/coordinator/consumer-groups.js';
import type { InternalRecord } from '../../src/coordinator/internal-topic.js';

const MEMBERS = ['m0', 'm1', 'm2', 'm3'];
const SESSION_MS = 1000;
/** Topic names and a regex ('' for none): the regexes match topics made later too. */
const SUBSCRIPTIONS = [{ topics: ['a'], regex: '' }, { topics: ['a', 'b'], regex: '' }, { topics: ['c'], regex: 'b|x.*' }];

type Op =
  | { op: 'join'; member: number; subscription: { topics: string[]; regex: string }; instance: boolean; assignor: 'uniform' | 'range' | null }
  | { op: 'heartbeat'; member: number }
  | { op: 'leave'; member: number }
  | { op: 'away'; member: number }
  /** A static member away is replaced: the other member id of its instance joins as it was subscribed. */
  | { op: 'replace' }
  | { op: 'expire' }
  | { op: 'topic'; name: string; partitions: number }
  | { op: 'fail-next-write' }
  | { op: 'restart' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  // a few subscriptions, so that a static member's replacement often subscribes as it did (no rebalance then)
  { weight: 3, arbitrary: fc.record({ op: fc.constant('join' as const), member: fc.nat(3), subscription: fc.constantFrom(...SUBSCRIPTIONS), instance: fc.boolean(), assignor: fc.constantFrom('uniform' as const, 'range' as const, null) }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('heartbeat' as const), member: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('leave' as const), member: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('away' as const), member: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'replace' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'expire' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('topic' as const), name: fc.constantFrom('a', 'b', 'c', 'xy'), partitions: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'fail-next-write' as const }) },
  { weight: 2, arbitrary: fc.constant({ op: 'restart' as const }) },
);

/** Topics that can be created and grown (never shrunk or deleted), with ids, as the coordinator's lookup gives them. */
class Topics implements TopicLookup {
  readonly partitions = new Map<string, number>();
  private readonly ids = new Map<string, string>();
  set(name: string, partitions: number): void {
    this.partitions.set(name, Math.max(partitions, this.partitions.get(name) ?? 0));
    if (!this.ids.has(name)) this.ids.set(name, (this.ids.size + 1).toString(16).padStart(32, '0'));
  }
  byName(name: string) {
    const p = this.partitions.get(name);
    return p === undefined ? undefined : { id: this.ids.get(name)!, partitions: p };
  }
  byId(id: string) {
    for (const [name, i] of this.ids) if (i === id) return { name, partitions: this.partitions.get(name)! };
    return undefined;
  }
  names() {
    return this.partitions.keys();
  }
}

/** What a restart must bring back of a group: everything but timers and compiled regexes. */
function comparable(state: ConsumerGroupState): unknown {
  const sorted = (assignment: Map<string, number[]> | undefined) =>
    [...(assignment ?? new Map<string, number[]>())].filter(([, ps]) => ps.length > 0).map(([t, ps]) => [t, [...ps].sort((x, y) => x - y)]).sort();
  const members = [...state.members.values()].map((m) => ({
    memberId: m.memberId, instanceId: m.instanceId, clientId: m.clientId, clientHost: m.clientHost, memberEpoch: m.memberEpoch, previousEpoch: m.previousEpoch,
    rebalanceTimeoutMs: m.rebalanceTimeoutMs, subscribed: [...m.subscribed].sort(), regex: m.regex, owned: sorted(m.owned), target: sorted(state.target.get(m.memberId)),
  })).sort((x, y) => x.memberId.localeCompare(y.memberId));
  return { groupEpoch: state.groupEpoch, assignmentEpoch: state.assignmentEpoch, assignor: members.length > 0 ? state.assignorName : null, members };
}

test('a KIP-848 group rebuilt from its records at any point is the group as of its last successful write', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 80 }), (ops) => {
      let now = 0;
      const topics = new Topics();
      topics.set('a', 3);
      topics.set('b', 2);
      const protocol = new ConsumerGroupProtocol(topics, () => now);
      let ledger = new ConsumerGroupLedger(topics);
      let state = new ConsumerGroupState();
      const log: InternalRecord[] = [];
      let failNext = false;
      let lastWriteFailed = false;
      // what each client holds and its epoch, as its last successful heartbeat left them
      const clients = new Map<string, { epoch: number; owned: { topicId: string; partitions: number[] }[]; instance: string | null }>();
      const write = (memberId: string | null) => {
        const records = ledger.changes('g', state, memberId);
        if (failNext) {
          failNext = false;
          lastWriteFailed = true;
          ledger.unwritten('g', records);
          return false;
        }
        lastWriteFailed = false;
        for (const r of records) log.push(encodeStoredRecord(r));
        return true;
      };
      for (const o of ops) {
        now += 100;
        if (o.op === 'restart') {
          if (lastWriteFailed) continue; // the broker would write it at the next change; compare then
          ledger = new ConsumerGroupLedger(topics);
          for (const raw of log) ledger.replay(decodeStoredRecord(raw) as Exclude<StoredRecord, { kind: 'offset' | 'group' }>);
          const restored = new ConsumerGroupState();
          if (ledger.replayedGroups().includes('g')) ledger.restoreInto('g', restored);
          protocol.restore(restored);
          assert.deepEqual(comparable(restored), comparable(state));
          state = restored;
          continue;
        }
        if (o.op === 'fail-next-write') {
          failNext = true;
          continue;
        }
        if (o.op === 'topic') {
          topics.set(o.name, o.partitions);
          continue;
        }
        if (o.op === 'expire') {
          now += SESSION_MS / 2; // members not heard from for the last few steps time out
          if (protocol.expire(state, SESSION_MS)) write(null);
          continue;
        }
        const join = (memberId: string, subscription: { topics: string[]; regex: string }, instance: string | null, assignor: string | null) => {
          const res = protocol.heartbeat(state, {
            memberId, memberEpoch: 0, instanceId: instance, rackId: null, rebalanceTimeoutMs: 60_000, subscribedTopicNames: subscription.topics, subscribedTopicRegex: subscription.regex,
            serverAssignor: assignor, ownedTopicPartitions: [], clientId: `client-${memberId}`, clientHost: '/127.0.0.1', serverGeneratesMemberId: false,
          });
          if (res.errorCode === 0) clients.set(memberId, { epoch: res.memberEpoch, owned: [], instance });
          return res;
        };
        let memberId: string;
        let res;
        if (o.op === 'replace') {
          const away = [...state.members.values()].find((m) => m.memberEpoch === -2);
          if (!away) continue;
          memberId = MEMBERS[(MEMBERS.indexOf(away.memberId) + 2) % MEMBERS.length]!;
          res = join(memberId, { topics: away.subscribed, regex: away.regex ?? '' }, away.instanceId, null);
        } else if (o.op === 'join') {
          memberId = MEMBERS[o.member]!;
          // m0 and m2 share an instance id, as m1 and m3 do: one replaces the other
          res = join(memberId, o.subscription, o.instance ? `host-${o.member % 2}` : null, o.assignor);
        } else {
          memberId = MEMBERS[o.member]!;
          const client = clients.get(memberId);
          if (!client) continue;
          const epoch = o.op === 'leave' ? -1 : o.op === 'away' ? (client.instance ? -2 : -1) : client.epoch;
          res = protocol.heartbeat(state, {
            memberId, memberEpoch: epoch, instanceId: client.instance, rackId: null, rebalanceTimeoutMs: -1, subscribedTopicNames: null, subscribedTopicRegex: null,
            serverAssignor: null, ownedTopicPartitions: client.owned, clientId: memberId, clientHost: '/127.0.0.1', serverGeneratesMemberId: false,
          });
          if (epoch < 0 || res.errorCode !== 0) clients.delete(memberId);
        }
        if (!write(res.memberId ?? memberId)) continue; // the client got COORDINATOR_NOT_AVAILABLE: it keeps what it had
        const c = clients.get(memberId);
        if (c && res.errorCode === 0) {
          c.epoch = res.memberEpoch;
          if (res.assignment) c.owned = res.assignment.topicPartitions;
        }
      }
    }),
    { numRuns: 1000 },
  );
});
