/**
 * Issue 15: the broker stops reading a client's socket for several reasons (a CONNECT in
 * progress, an MQTT 5 AUTH step waiting for the authenticator, the cluster holding a
 * publisher's QoS 1/2 messages for Redis at cluster_max_held_messages), and each pause is
 * owned: the end of one never resumes a socket another still holds. A paused client is not
 * cut off for keep alive (its PINGREQs wait unread; the wait is the broker's), its keep
 * alive counts again from the resume, and its PINGREQs are answered then. The cluster's
 * hold is the real StreamOut with a stand-in for Redis whose XADD answers when told.
 */
import { Duplex } from 'node:stream';
import type { Redis } from 'ioredis';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../src/net/connection.js';
import { PauseOwner, type ClientContext } from '../src/broker/core.js';
import { Log } from '../src/broker/log.js';
import { Message } from '../src/broker/message.js';
import { StreamOut } from '../src/broker/cluster/stream.js';
import type { Packet } from '../src/protocol/index.js';
import { openRaw, startBroker, stopBrokers, type TestBroker } from './helpers/broker.js';
import type { RawClient } from './helpers/raw-client.js';

afterEach(stopBrokers);

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const PINGREQ = Buffer.from([0xc0, 0x00]);

/** A StreamOut holding at most one QoS 1 message, full once `hold()` ran; `answer()` is Redis taking it. */
function heldBound(): { out: StreamOut; hold: () => Promise<void>; answer: () => void } {
  const answers: (() => void)[] = [];
  const cmd = { xadd: () => new Promise<string>((resolve) => answers.push(() => resolve('1-0'))) } as unknown as Redis;
  const out = new StreamOut(cmd, new Log(0, []), 1);
  return {
    out,
    async hold() {
      void out.send('n2', new Message('t', Buffer.from('x'), 1, false, undefined, 'pub', undefined), 'd');
      await turn();
      expect(out.full()).toBe(true);
    },
    answer() {
      for (const a of answers.splice(0)) a();
    },
  };
}

describe('Connection pause owners', () => {
  for (const first of [PauseOwner.AuthStep, PauseOwner.Held]) {
    it(`reads again only once both owners resumed (${first === PauseOwner.Held ? 'the cluster' : 'the AUTH step'} first), and counts the peer's silence from then`, async () => {
      const stream = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
      const conn = new Connection(stream);
      const got: Packet[] = [];
      conn.setHandler({ onPacket: (p) => got.push(p), onProtocolError: () => {}, onClose: () => {} });
      conn.pause(PauseOwner.Held);
      conn.pause(PauseOwner.AuthStep);
      conn.lastReceived = 0;
      stream.push(PINGREQ);
      await turn();
      conn.resume(first);
      conn.resume(first); // a second resume by the same owner undoes nothing more
      conn.resume(PauseOwner.Connecting); // nor one by an owner that did not pause
      await turn();
      expect(conn.paused).toBe(true);
      expect(got).toEqual([]);
      expect(conn.lastReceived).toBe(0);
      const before = Date.now();
      conn.resume(first === PauseOwner.Held ? PauseOwner.AuthStep : PauseOwner.Held);
      await turn();
      expect(conn.paused).toBe(false);
      expect(got.map((p) => p.cmd)).toEqual(['pingreq']);
      expect(conn.lastReceived).toBeGreaterThanOrEqual(before);
    });
  }
});

/** An MQTT 5 client authenticated by method TOKEN, whose re-authentication steps wait until released. */
async function reauthBroker(): Promise<{ tb: TestBroker; c: RawClient; conn: Connection; reauth: () => Promise<void>; release: () => void }> {
  const tb = await startBroker();
  let waiting: (() => void) | undefined;
  tb.broker.enhancedAuth = {
    methods: ['TOKEN'],
    step(_method, _data, state) {
      if (!state.reauth) return Promise.resolve({ done: true, ok: true });
      return new Promise((resolve) => (waiting = () => resolve({ done: true, ok: true })));
    },
  };
  const c = await openRaw(tb.port);
  c.setVersion(5);
  c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'ea', clean: true, keepalive: 60, properties: { authenticationMethod: 'TOKEN' } } as IConnectPacket);
  expect((await c.next<IConnackPacket>('connack')).reasonCode).toBe(0);
  const client = [...(tb.broker.clients as Set<ClientContext>)].find((x) => x.clientId === 'ea')!;
  return {
    tb,
    c,
    conn: client.conn,
    async reauth() {
      c.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'TOKEN' } } as never);
      await tb.waitForLine('Received AUTH from ea (rc25, TOKEN)');
      expect(client.conn.paused).toBe(true);
    },
    release() {
      waiting!();
    },
  };
}

/** Nothing read from `c` meanwhile: its PINGREQ is not answered while the socket stays paused. */
async function unread(tb: TestBroker, c: RawClient, conn: Connection): Promise<void> {
  c.send({ cmd: 'pingreq' });
  await new Promise((r) => setTimeout(r, 300));
  expect(conn.paused).toBe(true);
  expect(c.inbox.filter((p) => p.cmd === 'pingresp')).toEqual([]);
  expect(tb.lines.filter((l) => l === 'Received PINGREQ from ea')).toEqual([]);
}

describe('owned pauses in the broker', () => {
  it('an AUTH verdict does not resume a publisher the cluster holds', async () => {
    const { tb, c, conn, reauth, release } = await reauthBroker();
    const held = heldBound();
    await held.hold();
    await reauth();
    held.out.pause('ea', conn);
    release();
    expect((await c.next('auth')).cmd).toBe('auth'); // the re-authentication succeeded
    await unread(tb, c, conn);
    held.answer();
    await c.next('pingresp', 5000);
    expect(conn.paused).toBe(false);
  });

  it('the cluster resuming its publishers does not resume one whose AUTH step still waits', async () => {
    const { tb, c, conn, reauth, release } = await reauthBroker();
    const held = heldBound();
    await held.hold();
    await reauth();
    held.out.pause('ea', conn);
    held.answer();
    await turn();
    expect(held.out.full()).toBe(false);
    await unread(tb, c, conn);
    release();
    expect((await c.next('auth')).cmd).toBe('auth');
    await c.next('pingresp', 5000);
    expect(conn.paused).toBe(false);
  });

  it('a publisher the cluster holds longer than 1.5 x its keep alive stays connected, and its PINGREQs are answered once resumed', async () => {
    const tb = await startBroker();
    const c = await tb.connect({ clientId: 'slow', keepalive: 1 });
    const client = [...(tb.broker.clients as Set<ClientContext>)].find((x) => x.clientId === 'slow')!;
    const held = heldBound();
    await held.hold();
    held.out.pause('slow', client.conn);
    // Past 1.5 x 1 s and two sweeps more, pinging as a client does; nothing is read meanwhile.
    const t0 = Date.now();
    let pings = 0;
    while (Date.now() - t0 < 3500) {
      c.send({ cmd: 'pingreq' });
      pings++;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(c.isClosed).toBe(false);
    expect(c.inbox).toEqual([]);
    expect(tb.hasLine(/has exceeded timeout/)).toBe(false);
    held.answer();
    for (let i = 0; i < pings; i++) await c.next('pingresp', 5000);
    // Its keep alive counts from the resume: it goes on pinging and stays.
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 500));
      await c.sync();
    }
    expect(c.isClosed).toBe(false);
    expect(tb.hasLine(/has exceeded timeout/)).toBe(false);
  });
});
