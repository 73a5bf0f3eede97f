/** A member's partitions per topic. */
export type TopicAssignment = Map<string, number[]>;

export interface AssignorMember {
  memberId: string;
  subscribed: readonly string[];
  /** The member's current target, kept where it stays balanced (stickiness). */
  current: TopicAssignment;
}

export type Assignor = (members: AssignorMember[], partitionCount: (topic: string) => number) => Map<string, TopicAssignment>;

function subscribersByTopic(members: AssignorMember[], partitionCount: (topic: string) => number): Map<string, AssignorMember[]> {
  const byTopic = new Map<string, AssignorMember[]>();
  for (const m of [...members].sort((a, b) => a.memberId.localeCompare(b.memberId))) {
    for (const t of m.subscribed) if (partitionCount(t) > 0) byTopic.set(t, [...(byTopic.get(t) ?? []), m]);
  }
  return byTopic;
}

function add(out: Map<string, TopicAssignment>, memberId: string, topic: string, partition: number): void {
  const a = out.get(memberId)!;
  a.set(topic, [...(a.get(topic) ?? []), partition]);
}

/**
 * The "uniform" server assignor: each topic's partitions spread evenly over its subscribers (counts differ by
 * at most one), keeping a partition with its current member where that stays within the member's share.
 */
export const uniformAssignor: Assignor = (members, partitionCount) => {
  const out = new Map<string, TopicAssignment>(members.map((m) => [m.memberId, new Map()]));
  for (const [topic, subs] of subscribersByTopic(members, partitionCount)) {
    const n = partitionCount(topic);
    const base = Math.floor(n / subs.length);
    let extras = n % subs.length;
    const quota = new Map<string, number>();
    const taken = new Set<number>();
    const count = (id: string) => out.get(id)!.get(topic)?.length ?? 0;
    // first keep what members already hold, up to their share
    for (const m of subs) {
      const keep = (m.current.get(topic) ?? []).filter((p) => p < n).slice(0, base + (extras > 0 ? 1 : 0));
      if (keep.length > base) extras--;
      quota.set(m.memberId, keep.length);
      for (const p of keep) {
        taken.add(p);
        add(out, m.memberId, topic, p);
      }
    }
    // then hand out the rest to whoever has the fewest
    for (let p = 0; p < n; p++) {
      if (taken.has(p)) continue;
      const m = subs.reduce((best, s) => (count(s.memberId) < count(best.memberId) ? s : best));
      add(out, m.memberId, topic, p);
    }
  }
  for (const a of out.values()) for (const [t, ps] of a) a.set(t, ps.sort((x, y) => x - y));
  return out;
};

/** The "range" server assignor: each topic's partitions in contiguous ranges over its subscribers, by member id. */
export const rangeAssignor: Assignor = (members, partitionCount) => {
  const out = new Map<string, TopicAssignment>(members.map((m) => [m.memberId, new Map()]));
  for (const [topic, subs] of subscribersByTopic(members, partitionCount)) {
    const n = partitionCount(topic);
    const base = Math.floor(n / subs.length);
    const extras = n % subs.length;
    let next = 0;
    subs.forEach((m, i) => {
      const size = base + (i < extras ? 1 : 0);
      for (let p = next; p < next + size; p++) add(out, m.memberId, topic, p);
      next += size;
    });
  }
  return out;
};

export const ASSIGNORS: Readonly<Record<string, Assignor>> = { uniform: uniformAssignor, range: rangeAssignor };
