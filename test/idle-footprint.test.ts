/**
 * What an idle connection holds (issue 17: 100,000 idle devices on one node): no maps,
 * queues or parser state until used, one shared listener per stream event and no drain
 * listener, no timer of its own (one sweep serves every connection's keep alive).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemorySession } from '../src/broker/session.js';
import type { Session } from '../src/broker/core.js';
import { startBroker, stopBrokers } from './helpers/broker.js';

afterEach(stopBrokers);

function sessionOf(b: Awaited<ReturnType<typeof startBroker>>, id: string): Session {
  const s = b.broker.sessions.get(id);
  if (s === undefined) throw new Error(`no session ${id}`);
  return s;
}

describe('idle connection footprint', () => {
  it('a connected idle client holds no subscription, inflight or incoming map and no queue array', async () => {
    const b = await startBroker();
    await b.connect({ clientId: 'idle1', keepalive: 60 });
    const s = sessionOf(b, 'idle1') as unknown as Record<string, unknown>;
    expect(s.subs).toBeUndefined();
    expect(s.inflightMap).toBeUndefined();
    expect(s.incomingMap).toBeUndefined();
    const q = s.queue as Record<string, unknown>;
    const other = new MemorySession('x', true);
    // Every empty queue shares one never-written array.
    expect(q.items).toBe((other.queue as unknown as Record<string, unknown>).items);
    expect([sessionOf(b, 'idle1').subscriptionCount, sessionOf(b, 'idle1').inflightCount, sessionOf(b, 'idle1').incomingCount]).toEqual([0, 0, 0]);
  });

  it('a session makes its maps on first use and counts them', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'busy', keepalive: 60 });
    await c.subscribe('a/#', 1);
    const s = sessionOf(b, 'busy');
    expect(s.subscriptionCount).toBe(1);
    expect([...s.subscriptions.keys()]).toEqual(['a/#']);
    // The idle session's queue, once used, is its own and the shared one stays empty.
    const m = new MemorySession('q', true);
    m.queue.push({ mid: 1, qos: 1, msg: { payload: Buffer.from('x') } } as never);
    expect(m.queue.length).toBe(1);
    expect(new MemorySession('r', true).queue.length).toBe(0);
    m.queue.clear();
    expect(m.queue.length).toBe(0);
  });

  it('a session ends without making the maps it never used', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'brief', keepalive: 60 });
    const s = sessionOf(b, 'brief') as unknown as Record<string, unknown>;
    c.send({ cmd: 'disconnect' });
    await c.closed;
    await new Promise((r) => setTimeout(r, 50));
    expect(b.broker.sessions.get('brief')).toBeUndefined();
    expect([s.subs, s.inflightMap, s.incomingMap]).toEqual([undefined, undefined, undefined]);
  });

  it('each stream event has one shared listener of ours, and no drain listener', async () => {
    const b = await startBroker();
    await b.connect({ clientId: 'l1', keepalive: 60 });
    await b.connect({ clientId: 'l2', keepalive: 60 });
    const conns = [...b.broker.clients].map((c) => c.conn);
    expect(conns).toHaveLength(2);
    const [x, y] = conns.map((c) => c.stream);
    for (const ev of ['data', 'error', 'close'] as const) {
      expect(x!.listeners(ev).filter((f) => y!.listeners(ev).includes(f)).length).toBeGreaterThan(0);
    }
    expect(x!.listeners('data')).toHaveLength(1);
    expect(x!.listeners('data')[0]).toBe(y!.listeners('data')[0]);
    expect(x!.listenerCount('drain')).toBe(0);
  });

  it('no timer per connection: connecting 50 clients adds no active timer', async () => {
    const b = await startBroker();
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await b.connect({ clientId: 'first', keepalive: 60 });
    const before = timers();
    for (let i = 0; i < 50; i++) await b.connect({ clientId: `t${i}`, keepalive: 60 });
    // The test clients keep no timers of their own at keepalive 60 either.
    expect(timers()).toBeLessThanOrEqual(before + 1);
  });
});
