/**
 * Floods and offenders, short versions (the long ones: `npm run flood`, test/reliability/
 * flood.ts): what each holds in the broker is bounded by its configuration, the overflow is
 * dropped and counted, the offender is cut off with Mosquitto's line, and the other clients
 * get all their messages.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { encode, RawClient } from './helpers/raw-client.js';
import { openRaw, startBroker, stopBrokers, type TestBroker } from './helpers/broker.js';
import type { ClientContext, Session } from '../src/broker/core.js';

const extra: RawClient[] = [];
afterEach(async () => {
  for (const c of extra.splice(0)) c.destroy();
  await stopBrokers();
});

function clientOf(tb: TestBroker, id: string): ClientContext {
  const c = [...tb.broker.clients].find((x) => x.clientId === id);
  if (c === undefined) throw new Error(`no client ${id}`);
  return c;
}

function sessionOf(tb: TestBroker, id: string): Session {
  const s = tb.broker.sessions.get(id);
  if (s === undefined) throw new Error(`no session ${id}`);
  return s;
}

const publishes = (ps: { cmd: string }[]): IPublishPacket[] => ps.filter((p) => p.cmd === 'publish') as IPublishPacket[];

describe('QoS 0 flood to a stalled subscriber', () => {
  it('holds at most the socket backlog for it, drops and counts the rest, and the live subscriber gets everything', async () => {
    const backlog = 4 * 1024 * 1024;
    const tb = await startBroker({ maxSocketBacklog: backlog });
    const stalled = await tb.connect({ clientId: 'stalled' });
    await stalled.subscribe('flood/#', 0);
    stalled.socket.pause();
    const live = await tb.connect({ clientId: 'live' });
    await live.subscribe('flood/#', 0);
    const pub = await tb.connect({ clientId: 'pub' });
    const payload = Buffer.alloc(64 * 1024, 0x61);
    const n = 512; // 32 MB
    let maxHeld = 0;
    let liveGot = 0;
    for (let i = 0; i < n; i++) {
      pub.publish('flood/x', payload);
      if (i % 8 === 7) {
        liveGot += publishes(await live.sync(10000)).length;
        maxHeld = Math.max(maxHeld, clientOf(tb, 'stalled').conn.bufferedBytes);
      }
    }
    await pub.sync(10000);
    liveGot += publishes(await live.sync(10000)).length;
    expect(liveGot).toBe(n);
    const held = clientOf(tb, 'stalled').conn.bufferedBytes;
    // What the broker holds for it: the backlog, plus at most the one message that crossed it.
    expect(Math.max(maxHeld, held)).toBeLessThanOrEqual(backlog + payload.length + 16);
    const dropped = tb.broker.stats.droppedSocketBacklog;
    expect(dropped).toBeGreaterThan(0);
    expect(tb.broker.stats.publishDropped).toBe(dropped);
    // Unstalled, it gets exactly what was not dropped, whole and in order.
    stalled.socket.resume();
    const got = publishes(await stalled.sync(30000));
    expect(got.length).toBe(n - dropped);
    expect(got.every((p) => p.payload.length === payload.length)).toBe(true);
    expect(stalled.isClosed).toBe(false);
  }, 60000);
});

describe('QoS 1 subscriber that never acknowledges', () => {
  it('holds max_inflight_messages in flight and max_queued_messages queued; the rest is dropped, counted and logged once', async () => {
    const tb = await startBroker({ maxInflightMessages: 10, maxQueuedMessages: 100 });
    const sub = await tb.connect({ clientId: 'mute', clean: false });
    await sub.subscribe('q1', 1);
    const pub = await tb.connect({ clientId: 'pub' });
    const n = 2000;
    for (let i = 1; i <= n; i++) pub.publish('q1', `m${i}`, { qos: 1, messageId: ((i - 1) % 65535) + 1 });
    await pub.waitFor((p) => p.cmd === 'puback' && p.messageId === n, 20000);
    const first = publishes(await sub.sync());
    const s = sessionOf(tb, 'mute');
    expect(s.inflight.size).toBe(10);
    expect(s.queue.length).toBe(100);
    expect(first.length).toBe(10);
    expect(tb.broker.stats.droppedQueueFull).toBe(n - 110);
    expect(tb.lines.filter((l) => l === 'Outgoing messages are being dropped for client mute.')).toHaveLength(1);
    // Acknowledging opens the window: the queue moves up, in order.
    for (let mid = 1; mid <= 10; mid++) sub.send({ cmd: 'puback', messageId: mid });
    const msgs = [...first, ...publishes(await sub.sync())].map((p) => String(p.payload));
    expect(msgs).toEqual(Array.from({ length: 20 }, (_, i) => `m${i + 1}`));
  }, 60000);
});

describe('1,000 clients each holding max_inflight unacknowledged messages', () => {
  it('each session holds its window and its queue, no more; an acknowledging client gets everything', async () => {
    const inflight = 20;
    const queued = 3;
    const tb = await startBroker({ maxInflightMessages: inflight, maxQueuedMessages: queued, connectionMessages: false });
    const clients: RawClient[] = [];
    for (let i = 0; i < 1000; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, async (_, j) => {
          const { client } = await RawClient.connect(tb.port, { clientId: `c${i + j}`, clean: false });
          extra.push(client);
          await client.subscribe('fan', 1);
          return client;
        }),
      );
      clients.push(...batch);
    }
    const acker = await tb.connect({ clientId: 'acker' });
    await acker.subscribe('fan', 1);
    const pub = await tb.connect({ clientId: 'pub' });
    const n = inflight + queued + 2;
    // The acknowledging client keeps up, message by message; the 1,000 never acknowledge.
    const ackerGot: string[] = [];
    for (let i = 1; i <= n; i++) {
      pub.publish('fan', `m${i}`, { qos: 1, messageId: i });
      const p = await acker.nextPublish(20000);
      ackerGot.push(String(p.payload));
      acker.send({ cmd: 'puback', messageId: p.messageId! });
    }
    await pub.waitFor((p) => p.cmd === 'puback' && p.messageId === n, 20000);
    expect(ackerGot).toEqual(Array.from({ length: n }, (_, i) => `m${i + 1}`));
    const received = await Promise.all(clients.map(async (c) => publishes(await c.sync(20000)).length));
    let held = 0;
    for (let i = 0; i < 1000; i++) {
      const s = sessionOf(tb, `c${i}`);
      expect([s.inflight.size, s.queue.length]).toEqual([inflight, queued]);
      held += s.inflight.size + s.queue.length;
    }
    expect(held).toBe(1000 * (inflight + queued));
    expect(tb.broker.stats.droppedQueueFull).toBe(1000 * (n - inflight - queued));
    expect(received.every((k) => k === inflight)).toBe(true);
  }, 120000);
});

describe('256 MB remaining-length headers', () => {
  const header256 = [0x30, 0xff, 0xff, 0xff, 0x7f];

  it('before CONNECT: refused on the first byte, as Mosquitto', async () => {
    const tb = await startBroker();
    const c = await openRaw(tb.port);
    c.sendRaw(header256);
    await c.closed;
    await tb.waitForLine('Client <unknown> disconnected due to protocol error.');
    expect(tb.broker.clients.size).toBe(0);
  });

  it('with max_packet_size: refused as soon as the header is read', async () => {
    const tb = await startBroker({ maxPacketSize: 1024 * 1024 });
    const c = await tb.connect({ clientId: 'big' });
    c.sendRaw(header256);
    await c.closed;
    await tb.waitForLine('Client big disconnected due to oversize packet.');
  });

  it('without it: the connection holds only the bytes that arrived, and a close mid-packet is logged as Mosquitto does', async () => {
    const tb = await startBroker();
    const c = await tb.connect({ clientId: 'trickle' });
    const body = Buffer.alloc(256 * 1024, 0x41);
    c.sendRaw(Buffer.concat([Buffer.from(header256), body]));
    await new Promise((r) => setTimeout(r, 200));
    // Nothing is allocated for the announced 256 MB: what is held is what was sent.
    expect(clientOf(tb, 'trickle').conn.partialBytes).toBe(header256.length + body.length);
    c.destroy();
    await tb.waitForLine('Client trickle disconnected: Success.');
  });
});

describe('half-open connections (no CONNECT)', () => {
  it('2,000 connections that never send CONNECT are each cut off at the connect timeout with Mosquitto\'s line; a connected client is unaffected', async () => {
    const tb = await startBroker({ connectTimeout: 1 });
    const live = await tb.connect({ clientId: 'live', keepalive: 0 });
    const idle: RawClient[] = [];
    for (let i = 0; i < 2000; i += 100) {
      idle.push(...(await Promise.all(Array.from({ length: 100 }, () => RawClient.open(tb.port)))));
    }
    extra.push(...idle);
    await Promise.all(idle.map((c) => c.closed));
    expect(idle.every((c) => c.inbox.length === 0)).toBe(true);
    expect(tb.lines.filter((l) => l === 'Client <unknown> has exceeded timeout, disconnecting.')).toHaveLength(2000);
    // The broker forgets a connection on its own socket's close event, which can come a
    // turn after the peer saw the close: give it a moment, then it must hold the live one only.
    for (let t = 0; t < 100 && tb.broker.clients.size > 1; t++) await new Promise((r) => setTimeout(r, 50));
    expect(tb.broker.clients.size).toBe(1);
    await live.subscribe('still', 0);
    live.publish('still', 'here');
    expect(String((await live.nextPublish()).payload)).toBe('here');
  }, 60000);
});

describe('what a queued message keeps alive', () => {
  it('only its own bytes: not the socket chunk or pool slab its payload and wire form were cut from', async () => {
    const tb = await startBroker();
    const away = await tb.connect({ clientId: 'away', clean: false });
    await away.subscribe('keep', 1);
    away.disconnect();
    await away.closed;
    const pub = await tb.connect({ clientId: 'pub' });
    // A big PUBLISH and a small one in one write, so that they arrive in one socket chunk.
    const big = encode({ cmd: 'publish', topic: 'other', payload: Buffer.alloc(60000), qos: 0, retain: false, dup: false });
    const small = encode({ cmd: 'publish', topic: 'keep', payload: Buffer.from('tiny'), qos: 1, messageId: 1, retain: false, dup: false });
    pub.sendRaw(Buffer.concat([big, small]));
    await pub.waitFor((p) => p.cmd === 'puback');
    const queued = sessionOf(tb, 'away').queue.peek()!.msg;
    expect(String(queued.payload)).toBe('tiny');
    expect(queued.payload.buffer.byteLength).toBe(4);
    // And it is delivered whole when the session comes back.
    const back = await tb.connect({ clientId: 'away', clean: false });
    const p = await back.nextPublish();
    expect([p.topic, String(p.payload)]).toEqual(['keep', 'tiny']);
  });
});
