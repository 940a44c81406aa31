/**
 * Property-based (fast-check): topic matching, the subscription tree (router.ts) and the
 * filter/name check (topicMatches) against a naive reference matcher written from the
 * spec (MQTT-4.7: '+' one level, '#' the rest and the parent level, MQTT-4.7.2-1: a
 * filter starting with a wildcard does not match a topic starting with '$'), on generated
 * filters and topics, shared subscriptions ($share/group/filter, MQTT-4.8.2) included.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Router, type SubscriptionOptions } from '../src/broker/router.js';
import { parseSharedFilter, topicMatches } from '../src/protocol/index.js';

function reference(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

// Few distinct levels, so that generated filters and topics often meet.
const level = fc.constantFrom('a', 'b', 'cc', '', '$SYS', '$x', 'a b', 'é');
const topic = fc.array(level, { minLength: 1, maxLength: 5 }).map((l) => l.join('/'));
const filter = fc
  .tuple(fc.array(fc.oneof(level, fc.constant('+')), { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([l, hash]) => (hash ? [...l, '#'] : l).join('/'))
  .chain((f) => fc.constantFrom(f, '#', '+/#', f));

const OPTS: SubscriptionOptions = { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, identifier: 0 };

describe('topic matching (fast-check)', () => {
  it('topicMatches agrees with the reference matcher', () => {
    fc.assert(
      fc.property(filter, topic, (f, t) => {
        expect(topicMatches(f, t)).toBe(reference(f, t));
      }),
      { numRuns: 3000 },
    );
  });

  it('the subscription tree delivers to exactly the sessions and shared groups whose filters match, before and after unsubscribes', () => {
    const sub = fc.record({ filter, group: fc.option(fc.constantFrom('g1', 'g2'), { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(sub, { minLength: 1, maxLength: 12 }), fc.array(topic, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 4 }), (subs, topics, drops) => {
        const router = new Router<{ clientId: string }>();
        const sessions = subs.map((_, i) => ({ clientId: `c${i}` }));
        subs.forEach((s, i) => router.subscribe(sessions[i], s.filter, OPTS, s.group));
        const live = new Set(subs.map((_, i) => i));
        const check = (): void => {
          for (const t of topics) {
            const { deliveries, shared } = router.match(t);
            const want = [...live].filter((i) => subs[i].group === undefined && reference(subs[i].filter, t)).map((i) => sessions[i].clientId);
            expect(deliveries.map((d) => d.session.clientId).sort()).toEqual([...new Set(want)].sort());
            const wantGroups = new Set(
              [...live].filter((i) => subs[i].group !== undefined && reference(subs[i].filter, t)).map((i) => `${subs[i].group}|${subs[i].filter}`),
            );
            expect(new Set(shared.map((g) => `${g.name}|${g.filter}`))).toEqual(wantGroups);
            for (const g of shared) {
              const members = g.members.map((m) => m.session.clientId).sort();
              const wantMembers = [...live].filter((i) => subs[i].group === g.name && subs[i].filter === g.filter).map((i) => sessions[i].clientId);
              expect(members).toEqual(wantMembers.sort());
            }
          }
        };
        check();
        // Unsubscribing drops exactly that subscription (and the cached matches with it).
        for (const d of drops) {
          const i = d % subs.length;
          if (!live.has(i)) continue;
          router.unsubscribe(sessions[i], subs[i].filter, subs[i].group);
          live.delete(i);
        }
        check();
      }),
      { numRuns: 400 },
    );
  });

  it('parseSharedFilter splits $share/group/filter and leaves other filters alone', () => {
    fc.assert(
      fc.property(fc.constantFrom('g', 'group-1', ''), filter, fc.boolean(), (g, f, shared) => {
        const full = shared ? `$share/${g}/${f}` : f;
        const parsed = parseSharedFilter(full);
        if (shared) expect(parsed).toEqual({ group: g, filter: f });
        else expect(parsed).toBeNull();
      }),
      { numRuns: 500 },
    );
  });
});
