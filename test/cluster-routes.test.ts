// The cluster's route table of the other nodes (issue 15): match() answers from the routes'
// first levels before the tree (local traffic costs no lookup), so these check that a
// topic still reaches every node with a matching route as routes come and go.
import { describe, expect, it } from 'vitest';
import { Routes } from '../src/broker/cluster/routes.js';
import type { RedisClient } from '../src/broker/redis/link-options.js';
import { topicMatches } from '../src/protocol/index.js';

// Only this node's own routes are written to Redis; the other nodes' are kept in memory.
const routes = (): Routes => new Routes({} as RedisClient, 'self', () => {});
const nodes = (r: Routes, topic: string): string[] => r.match(topic).deliveries.map((d) => d.session.clientId).sort();

describe('cluster routes of the other nodes', () => {
  it('matches no topic without routes, and only the first level of a route', () => {
    const r = routes();
    expect(nodes(r, 'bench/p/0')).toEqual([]);
    expect(r.mayMatch('bench/p/0')).toBe(false);
    r.remoteRoute('b', 'other/#', 1);
    expect(nodes(r, 'bench/p/0')).toEqual([]);
    expect(r.mayMatch('bench/p/0')).toBe(false);
    expect(nodes(r, 'other')).toEqual(['b']);
    expect(nodes(r, 'other/x/y')).toEqual(['b']);
    expect(nodes(r, 'otherx/y')).toEqual([]);
    expect(nodes(r, 'othe')).toEqual([]);
    expect(nodes(r, 'oth/er')).toEqual([]);
  });

  it('a route that appears, changes or goes is seen by the next match of a topic already looked up', () => {
    const r = routes();
    r.remoteRoute('b', 'other/#', 1);
    expect(nodes(r, 'bench/p/0')).toEqual([]);
    r.remoteRoute('c', 'bench/+/0', 0);
    expect(nodes(r, 'bench/p/0')).toEqual(['c']);
    r.remoteRoute('c', 'bench/+/0', 2);
    expect(r.match('bench/p/0').deliveries[0].qos).toBe(2);
    r.remoteRoute('b', 'bench/p/0', 0);
    expect(nodes(r, 'bench/p/0')).toEqual(['b', 'c']);
    r.remoteUnroute('c', 'bench/+/0');
    expect(nodes(r, 'bench/p/0')).toEqual(['b']);
    r.remoteUnroute('b', 'bench/p/0');
    expect(nodes(r, 'bench/p/0')).toEqual([]);
    expect(r.mayMatch('bench/p/0')).toBe(false);
    // A wildcard first level: every topic may match, the tree decides ($ topics: MQTT-4.7.2-1).
    r.remoteRoute('c', '#', 0);
    expect(nodes(r, 'bench/p/0')).toEqual(['c']);
    expect(nodes(r, '$SYS/broker/uptime')).toEqual([]);
    r.remoteRoute('b', '+/p/+', 0);
    expect(nodes(r, 'bench/p/0')).toEqual(['b', 'c']);
    r.dropNode('c');
    expect(nodes(r, 'bench/p/0')).toEqual(['b']);
    r.dropNode('b');
    expect(nodes(r, 'bench/p/0')).toEqual([]);
    expect(nodes(r, 'other/x')).toEqual([]);
  });

  it('shared groups, an empty first level, $ topics and non-ASCII levels', () => {
    const r = routes();
    r.remoteRoute('b', '$share/g/jobs/#', 1);
    expect(r.match('jobs/1').shared.map((g) => [g.name, g.members.map((m) => m.session.clientId)])).toEqual([['g', ['b']]]);
    expect(r.match('work/1').shared).toEqual([]);
    r.remoteRoute('c', '/a/#', 0);
    expect(nodes(r, '/a/b')).toEqual(['c']);
    expect(nodes(r, 'a/b')).toEqual([]);
    r.remoteRoute('c', '$SYS/broker/#', 0);
    expect(nodes(r, '$SYS/broker/load')).toEqual(['c']);
    r.remoteRoute('b', 'été/+', 0);
    expect(nodes(r, 'été/x')).toEqual(['b']);
    expect(nodes(r, 'éta/x')).toEqual([]);
    r.remoteUnroute('b', '$share/g/jobs/#');
    expect(r.match('jobs/1').shared).toEqual([]);
  });

  it('agrees with topic matching over random routes coming and going, few and many first levels', () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const words = ['a', 'b', 'ab', 'ba', '', 'é', 'x1', '$SYS', ...Array.from({ length: 30 }, (_, i) => `w${i}`)];
    const filterLevels = [...words, '+'];
    const topics: string[] = [];
    for (let i = 0; i < 200; i++) {
      const depth = 1 + rand(3);
      topics.push(Array.from({ length: depth }, () => words[rand(words.length)]).join('/'));
    }
    for (const spread of [5, filterLevels.length]) {
      const r = routes();
      const held = new Map<string, Set<string>>([['b', new Set()], ['c', new Set()], ['d', new Set()]]);
      for (let step = 0; step < 300; step++) {
        const node = ['b', 'c', 'd'][rand(3)];
        const mine = held.get(node)!;
        if (step % 50 === 49) {
          r.dropNode(node);
          mine.clear();
        } else if (mine.size > 0 && rand(3) === 0) {
          const f = [...mine][rand(mine.size)];
          r.remoteUnroute(node, f);
          mine.delete(f);
        } else {
          const depth = 1 + rand(3);
          const levels = Array.from({ length: depth }, () => filterLevels[rand(spread)]);
          if (rand(8) === 0) levels.push('#');
          const f = rand(40) === 0 ? '#' : levels.join('/');
          r.remoteRoute(node, f, rand(3));
          mine.add(f);
        }
        for (const t of topics) {
          const want = [...held].filter(([, fs]) => [...fs].some((f) => topicMatches(f, t))).map(([n]) => n).sort();
          expect(nodes(r, t), `${t} at step ${step}`).toEqual(want);
          if (want.length > 0) expect(r.mayMatch(t)).toBe(true);
        }
      }
    }
  });
});
