import { describe, expect, it } from 'vitest';
import { Router, type SubscriptionOptions } from '../src/broker/router.js';
import { topicMatches } from '../src/protocol/index.js';

interface Sub {
  clientId: string;
}
const opts = (qos: 0 | 1 | 2, extra: Partial<SubscriptionOptions> = {}): SubscriptionOptions => ({
  qos,
  noLocal: false,
  retainAsPublished: false,
  retainHandling: 0,
  identifier: 0,
  ...extra,
});
const ids = (r: Router<Sub>, topic: string): string[] => r.match(topic).deliveries.map((d) => d.session.clientId).sort();

describe('Router', () => {
  it('matches exact, + and # filters, and # matches the parent level', () => {
    const r = new Router<Sub>();
    const a = { clientId: 'a' };
    const b = { clientId: 'b' };
    const c = { clientId: 'c' };
    const d = { clientId: 'd' };
    r.subscribe(a, 'x/y', opts(0));
    r.subscribe(b, 'x/+', opts(0));
    r.subscribe(c, 'x/#', opts(0));
    r.subscribe(d, '#', opts(0));
    expect(ids(r, 'x/y')).toEqual(['a', 'b', 'c', 'd']);
    expect(ids(r, 'x/z')).toEqual(['b', 'c', 'd']);
    expect(ids(r, 'x')).toEqual(['c', 'd']);
    expect(ids(r, 'x/y/z')).toEqual(['c', 'd']);
    expect(ids(r, 'q')).toEqual(['d']);
    expect(ids(r, 'x/')).toEqual(['b', 'c', 'd']);
  });

  it('does not match $ topics with a leading wildcard (MQTT-4.7.2-1)', () => {
    const r = new Router<Sub>();
    r.subscribe({ clientId: 'hash' }, '#', opts(0));
    r.subscribe({ clientId: 'plus' }, '+/broker/uptime', opts(0));
    r.subscribe({ clientId: 'sys' }, '$SYS/#', opts(0));
    r.subscribe({ clientId: 'sysplus' }, '$SYS/+/uptime', opts(0));
    expect(ids(r, '$SYS/broker/uptime')).toEqual(['sys', 'sysplus']);
    expect(ids(r, 'a/broker/uptime')).toEqual(['hash', 'plus']);
  });

  it('delivers once per session at the highest QoS of its matching subscriptions (MQTT-3.3.5-1)', () => {
    const r = new Router<Sub>();
    const s = { clientId: 's' };
    r.subscribe(s, 'a/b', opts(0));
    r.subscribe(s, 'a/+', opts(2));
    r.subscribe(s, '#', opts(1));
    const m = r.match('a/b').deliveries;
    expect(m).toHaveLength(1);
    expect(m[0].qos).toBe(2);
    expect(r.match('a/c').deliveries[0].qos).toBe(2);
    expect(r.match('z').deliveries[0].qos).toBe(1);
  });

  it('re-subscribing replaces the options and reports that it existed', () => {
    const r = new Router<Sub>();
    const s = { clientId: 's' };
    expect(r.subscribe(s, 'a', opts(0))).toBe(false);
    expect(r.subscribe(s, 'a', opts(2))).toBe(true);
    expect(r.count).toBe(1);
    expect(r.match('a').deliveries[0].qos).toBe(2);
  });

  it('unsubscribe removes, invalidates the cache, and prunes', () => {
    const r = new Router<Sub>();
    const s = { clientId: 's' };
    const t = { clientId: 't' };
    r.subscribe(s, 'a/b/c', opts(1));
    r.subscribe(t, 'a/#', opts(1));
    expect(ids(r, 'a/b/c')).toEqual(['s', 't']); // cached now
    expect(r.unsubscribe(s, 'a/b/c')).toBe(true);
    expect(ids(r, 'a/b/c')).toEqual(['t']);
    expect(r.unsubscribe(s, 'a/b/c')).toBe(false);
    expect(r.unsubscribe(t, 'a/#')).toBe(true);
    expect(ids(r, 'a/b/c')).toEqual([]);
    expect(r.count).toBe(0);
    // A later subscription on a pruned path still works.
    r.subscribe(s, 'a/b/c', opts(0));
    expect(ids(r, 'a/b/c')).toEqual(['s']);
  });

  it('a new subscription is seen by a topic whose match was cached', () => {
    const r = new Router<Sub>();
    expect(ids(r, 'k/l')).toEqual([]);
    r.subscribe({ clientId: 'late' }, 'k/+', opts(0));
    expect(ids(r, 'k/l')).toEqual(['late']);
  });

  it('agrees with topicMatches over a grid of filters and topics', () => {
    const filters = ['#', '+', 'a', 'a/#', 'a/+', '+/b', 'a/b', '+/+', '/#', '/+', 'a/+/c', '+/#', '$SYS/#', '$SYS/+', 'a//b', 'a/+/+'];
    const topics = ['a', 'a/b', 'a/c', 'b', 'a/b/c', '/', '/a', 'a/', 'a//b', '$SYS/x', '$SYS', 'x/b', 'a/x/c'];
    const r = new Router<Sub>();
    for (const f of filters) r.subscribe({ clientId: f }, f, opts(0));
    for (const t of topics) {
      const expected = filters.filter((f) => topicMatches(f, t)).sort();
      expect(ids(r, t), t).toEqual(expected);
    }
  });
});
