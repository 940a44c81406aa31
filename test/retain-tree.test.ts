import { describe, expect, it } from 'vitest';
import { RetainTree } from '../src/broker/retain.js';
import { Message } from '../src/broker/message.js';
import { topicMatches } from '../src/protocol/index.js';

const msg = (topic: string, payload = 'x'): Message =>
  new Message(topic, Buffer.from(payload), 0, true, undefined, undefined, undefined);
const topics = (t: RetainTree, filter: string): string[] => t.match(filter).map((m) => m.topic).sort();

describe('RetainTree', () => {
  it('stores one message per topic, replacing the previous one', () => {
    const t = new RetainTree();
    t.set(msg('a/b', 'one'));
    t.set(msg('a/b', 'three'));
    expect(t.count).toBe(1);
    expect(t.bytes).toBe(5);
    expect(String(t.get('a/b')!.payload)).toBe('three');
  });

  it('an empty payload deletes the retained message (MQTT-3.3.1-10)', () => {
    const t = new RetainTree();
    t.set(msg('a/b'));
    t.set(msg('a/b/c'));
    t.set(msg('a/b', ''));
    expect(t.get('a/b')).toBeUndefined();
    expect(t.get('a/b/c')).toBeDefined();
    expect(t.count).toBe(1);
    t.set(msg('a/b/c', ''));
    expect(t.count).toBe(0);
    expect(t.bytes).toBe(0);
    expect(t.match('#')).toEqual([]);
    // Deleting what is not there is harmless.
    t.set(msg('nothing/here', ''));
    expect(t.count).toBe(0);
  });

  it('matches exact and wildcard filters, # including the parent level', () => {
    const t = new RetainTree();
    for (const x of ['a', 'a/b', 'a/c', 'a/b/c', 'b', '/', '/x', 'a/']) t.set(msg(x));
    expect(topics(t, 'a/b')).toEqual(['a/b']);
    expect(topics(t, 'a/+')).toEqual(['a/', 'a/b', 'a/c']);
    expect(topics(t, 'a/#')).toEqual(['a', 'a/', 'a/b', 'a/b/c', 'a/c']);
    expect(topics(t, '+')).toEqual(['a', 'b']);
    expect(topics(t, '+/+')).toEqual(['/', '/x', 'a/', 'a/b', 'a/c']);
    expect(topics(t, '#')).toEqual(['/', '/x', 'a', 'a/', 'a/b', 'a/b/c', 'a/c', 'b']);
    expect(topics(t, 'zz/#')).toEqual([]);
  });

  it('does not give $ topics to a leading wildcard (MQTT-4.7.2-1)', () => {
    const t = new RetainTree();
    t.set(msg('$SYS/broker/version'));
    t.set(msg('$other'));
    t.set(msg('plain'));
    expect(topics(t, '#')).toEqual(['plain']);
    expect(topics(t, '+')).toEqual(['plain']);
    expect(topics(t, '+/broker/version')).toEqual([]);
    expect(topics(t, '$SYS/#')).toEqual(['$SYS/broker/version']);
    expect(topics(t, '$SYS/+/version')).toEqual(['$SYS/broker/version']);
    expect(topics(t, '$other')).toEqual(['$other']);
  });

  it('agrees with topicMatches over a grid', () => {
    const all = ['a', 'a/b', 'a/b/c', 'b/b', '/', '/a', 'a/', 'a//b', '$SYS/x', '$SYS'];
    const filters = ['#', '+', 'a/#', 'a/+', '+/b', '+/+', '/#', '+/#', 'a/+/c', '$SYS/#', '$SYS/+', 'a//b', 'a/+/+'];
    const t = new RetainTree();
    for (const x of all) t.set(msg(x));
    for (const f of filters) {
      expect(topics(t, f), f).toEqual(all.filter((x) => topicMatches(f, x)).sort());
    }
  });
});
