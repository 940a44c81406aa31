/**
 * CONNECT handling (MQTT-3.1, MQTT-3.2): protocol name and level, the first-packet and
 * single-CONNECT rules, flag checks, the connect timeout, client ids and session takeover.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IConnackPacket, IPublishPacket } from 'mqtt-packet';
import { openRaw, startBroker, stopBrokers } from './helpers/broker.js';
import { encodeConnectRaw, RawClient } from './helpers/raw-client.js';
import { RawFrames } from './helpers/raw-frames.js';

afterEach(stopBrokers);

/** CONNECT "MQTT" with the given level byte and flags, empty client id, keepalive 60. */
const rawConnect = (name: string, level: number, flags: number, id = 'c'): Buffer =>
  encodeConnectRaw({ cmd: 'connect', protocolId: name as 'MQTT', protocolVersion: level as 4, clientId: id, clean: true }, flags);

describe('protocol name and level', () => {
  it('accepts MQIsdp/3 (MQTT 3.1) and logs p1', async () => {
    const b = await startBroker();
    const c = await openRaw(b.port);
    const connack = await c.handshake({ clientId: 'old31', version: 3 });
    expect(connack.returnCode).toBe(0);
    await b.waitForLine(/^New client connected from 127\.0\.0\.1:\d+ as old31 \(p1, c1, k60\)\.$/);
  });

  it('accepts MQTT/4 (MQTT 3.1.1) and logs p2', async () => {
    const b = await startBroker();
    const c = await openRaw(b.port);
    const connack = await c.handshake({ clientId: 'new311', keepalive: 30, clean: false });
    expect(connack.returnCode).toBe(0);
    expect(connack.sessionPresent).toBe(false);
    await b.waitForLine(/^New client connected from 127\.0\.0\.1:\d+ as new311 \(p2, c0, k30\)\.$/);
  });

  it('answers an unsupported level with CONNACK 1 and closes (MQTT-3.1.2-2)', async () => {
    const b = await startBroker();
    const c = await openRaw(b.port);
    c.sendRaw(rawConnect('MQTT', 9, 0x02));
    const connack = await c.next<IConnackPacket>('connack');
    expect(connack.returnCode).toBe(1);
    await c.closed;
    expect(b.lines).toContain('Invalid protocol version 9 in CONNECT from 127.0.0.1.');
    await b.waitForLine('Client <unknown> disconnected due to protocol error.');
  });

  it('refuses MQIsdp with level 4 and MQTT with level 3 with CONNACK 1', async () => {
    const b = await startBroker();
    for (const [name, level] of [['MQIsdp', 4], ['MQTT', 3]] as const) {
      const c = await openRaw(b.port);
      c.sendRaw(rawConnect(name, level, 0x02));
      expect((await c.next<IConnackPacket>('connack')).returnCode).toBe(1);
      await c.closed;
    }
  });

  it('closes on an unknown protocol name without CONNACK', async () => {
    const b = await startBroker();
    const c = await openRaw(b.port);
    c.sendRaw(rawConnect('MQTX', 4, 0x02));
    await c.closed;
    expect(c.inbox).toEqual([]);
  });
});

describe('packet order', () => {
  it('closes a connection whose first packet is not CONNECT (MQTT-3.1.0-1)', async () => {
    const b = await startBroker();
    const c = await openRaw(b.port);
    c.send({ cmd: 'pingreq' });
    await c.closed;
    expect(c.inbox).toEqual([]);
    await b.waitForLine('Client <unknown> disconnected due to protocol error.');
  });

  it('a PUBLISH before CONNECT is not routed', async () => {
    const b = await startBroker();
    const sub = await b.connect({ clientId: 'watcher' });
    await sub.subscribe('#');
    const c = await openRaw(b.port);
    c.publish('sneaky', 'x');
    await c.closed;
    expect(await sub.sync()).toEqual([]);
  });

  it('closes on a second CONNECT (MQTT-3.1.0-2)', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'twice' });
    c.send(c.connectPacket({ clientId: 'twice' }));
    await c.closed;
    await b.waitForLine('Client twice disconnected due to protocol error.');
    expect(b.lines).toContain('Bad client twice sending multiple CONNECT messages.');
  });
});

describe('CONNECT flags', () => {
  const cases: [string, number][] = [
    ['the reserved bit (MQTT-3.1.2-3)', 0x03],
    ['will QoS without the will flag (MQTT-3.1.2-13)', 0x0a],
    ['will retain without the will flag (MQTT-3.1.2-15)', 0x22],
    ['will QoS 3 (MQTT-3.1.2-14)', 0x1e],
  ];
  it.each(cases)('closes on %s, without CONNACK', async (_name, flags) => {
    const b = await startBroker();
    const c = await openRaw(b.port);
    const bytes = flags & 0x04
      ? encodeConnectRaw({ cmd: 'connect', clientId: 'c', will: { topic: 'w', payload: Buffer.from('p') } }, flags)
      : rawConnect('MQTT', 4, flags);
    c.sendRaw(bytes);
    await c.closed;
    expect(c.inbox).toEqual([]);
    await b.waitForLine('Client <unknown> disconnected due to protocol error.');
    expect(b.hasLine(/^New client connected/)).toBe(false);
  });

  it('logs an invalid will QoS as Mosquitto does', async () => {
    const b = await startBroker();
    const c = await openRaw(b.port);
    c.sendRaw(encodeConnectRaw({ cmd: 'connect', clientId: 'c', will: { topic: 'w', payload: Buffer.from('p') } }, 0x1e));
    await c.closed;
    expect(b.lines).toContain('Invalid Will QoS in CONNECT from 127.0.0.1.');
  });

  it('closes on a password without a username (MQTT-3.1.2-22)', async () => {
    const b = await startBroker();
    const c = await openRaw(b.port);
    c.sendRaw(encodeConnectRaw({ cmd: 'connect', clientId: 'a', password: Buffer.from('pw') }));
    await c.closed;
    expect(c.inbox).toEqual([]);
    expect(b.lines).toContain('Protocol error from a: password without username, closing connection.');
    await b.waitForLine('Client <unknown> disconnected due to protocol error.');
  });

  it.each([
    ['client id', { clientId: 'ab' }],
    ['username', { clientId: 'c', username: 'ab' }],
  ] as const)('closes on invalid UTF-8 in the %s (MQTT-1.5.3-1), as a protocol error', async (_what, fields) => {
    const b = await startBroker();
    const c = await openRaw(b.port);
    const bytes = encodeConnectRaw({ cmd: 'connect', ...fields });
    bytes.set([0xc3, 0x28], bytes.lastIndexOf(Buffer.from('ab')));
    c.sendRaw(bytes);
    await c.closed;
    expect(c.inbox).toEqual([]);
    await b.waitForLine('Client <unknown> disconnected due to protocol error.');
  });

  it('accepts a username without a password and logs it', async () => {
    const b = await startBroker();
    await b.connect({ clientId: 'named', username: 'someone' });
    await b.waitForLine(/^New client connected from 127\.0\.0\.1:\d+ as named \(p2, c1, k60, u'someone'\)\.$/);
  });
});

describe('connect timeout', () => {
  it('closes a connection that sends no CONNECT in time', async () => {
    const b = await startBroker({ connectTimeout: 1 });
    const idle = await openRaw(b.port);
    const live = await b.connect({ clientId: 'live', keepalive: 0 });
    await idle.closed;
    expect(idle.inbox).toEqual([]);
    // Mosquitto's keep alive line: it gives a new connection its default keep alive.
    await b.waitForLine('Client <unknown> has exceeded timeout, disconnecting.');
    // The connected client is not affected.
    expect(live.isClosed).toBe(false);
    await live.sync();
  });

  it('does not cut off a CONNECT whose password is still being verified (a reconnect storm queues them)', async () => {
    // The deadline is for the client's CONNECT; once it is in, waiting for our verification
    // (bcrypt on worker threads, thousands queued after a restart) must not cost the client.
    const authenticator = {
      authenticate: (): Promise<boolean> => new Promise((resolve) => setTimeout(() => resolve(true), 2500)),
    };
    const b = await startBroker({ connectTimeout: 1, allowAnonymous: false, authenticator });
    const c = await openRaw(b.port);
    const connack = await c.handshake({ clientId: 'patient', clean: true, username: 'u', password: Buffer.from('p') });
    expect(connack.returnCode).toBe(0);
    expect(c.isClosed).toBe(false);
  });

  it('a first packet that is not CONNECT is refused on its first byte, before the length it announces arrives (MQTT-3.1.0-1)', async () => {
    const b = await startBroker();
    const c = await openRaw(b.port);
    // A PUBLISH announcing 256 MB: Mosquitto refuses it at once, and so must we, not wait for it.
    c.sendRaw([0x30, 0xff, 0xff, 0xff, 0x7f]);
    await c.closed;
    expect(c.inbox).toEqual([]);
    await b.waitForLine('Client <unknown> disconnected due to protocol error.');
  });

  it('a connection that has sent half a CONNECT is closed too', async () => {
    const b = await startBroker({ connectTimeout: 1 });
    const c = await openRaw(b.port);
    c.sendRaw(rawConnect('MQTT', 4, 0x02).subarray(0, 5));
    await c.closed;
  });
});

describe('client identifiers', () => {
  it('gives an empty id with clean session an auto id (MQTT-3.1.3-6)', async () => {
    const b = await startBroker();
    const c = await openRaw(b.port);
    const connack = await c.handshake({ clientId: '', clean: true });
    expect(connack.returnCode).toBe(0);
    const line = await b.waitForLine(/^New client connected from .* as auto-/);
    expect(line).toMatch(/ as auto-[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12} \(p2, c1, k60\)\.$/);
    // The generated id is usable: the client can subscribe and receive.
    await c.subscribe('self');
    c.publish('self', 'hi');
    expect(String((await c.nextPublish()).payload)).toBe('hi');
  });

  it('uses auto_id_prefix', async () => {
    const b = await startBroker({ autoIdPrefix: 'gen-' });
    const c = await openRaw(b.port);
    await c.handshake({ clientId: '' });
    await b.waitForLine(/ as gen-[0-9A-F-]{36} \(p2, c1, k60\)\.$/);
  });

  it('refuses an empty id with a persistent session: CONNACK 2 (MQTT-3.1.3-8)', async () => {
    const b = await startBroker();
    const c = await openRaw(b.port);
    const connack = await c.handshake({ clientId: '', clean: false });
    expect(connack.returnCode).toBe(2);
    expect(connack.sessionPresent).toBe(false);
    await c.closed;
    expect(b.lines).toContain('Sending CONNACK to 127.0.0.1 (0, 2)');
  });

  it('refuses an empty id under MQTT 3.1: CONNACK 2', async () => {
    const b = await startBroker();
    const c = await openRaw(b.port);
    expect((await c.handshake({ clientId: '', version: 3 })).returnCode).toBe(2);
    await c.closed;
  });

  it('refuses an empty id when allow_zero_length_clientid is false', async () => {
    const b = await startBroker({ allowZeroLengthClientid: false });
    const c = await openRaw(b.port);
    expect((await c.handshake({ clientId: '' })).returnCode).toBe(2);
    await c.closed;
  });
});

describe('session takeover (MQTT-3.1.4-2)', () => {
  it('a second connection with the same id closes the first, which loses its subscriptions to the new one', async () => {
    const b = await startBroker();
    const first = await b.connect({ clientId: 'dupid' });
    await first.subscribe('t', 0);
    const second = await b.connect({ clientId: 'dupid' });
    await first.closed;
    expect(b.lines).toContain('Client dupid already connected, closing old connection.');
    // The new connection is live and did not inherit a clean session's subscriptions.
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('t', 'x');
    await pub.sync();
    expect(await second.sync()).toEqual([]);
    await second.subscribe('t', 0);
    pub.publish('t', 'y');
    expect(String((await second.nextPublish()).payload)).toBe('y');
  });

  it('publishes the will of the old connection, as Mosquitto does', async () => {
    const b = await startBroker();
    const watch = await b.connect({ clientId: 'watch' });
    await watch.subscribe('will/#', 1);
    const old = await b.connect({
      clientId: 'dup',
      will: { topic: 'will/dup', payload: Buffer.from('gone'), qos: 1, retain: false },
    });
    const fresh = await b.connect({ clientId: 'dup' });
    await old.closed;
    const will = await watch.nextPublish();
    expect(will.topic).toBe('will/dup');
    expect(String(will.payload)).toBe('gone');
    expect(will.qos).toBe(1);
    // The new connection's clean exit sends nothing.
    fresh.disconnect();
    await fresh.closed;
    await b.waitForLine('Client dup disconnected.');
    expect(await watch.sync()).toEqual([]);
  });

  it('a persistent session taken over by a persistent connection keeps its will unsent, as Mosquitto', async () => {
    const b = await startBroker();
    const watch = await b.connect({ clientId: 'watch' });
    await watch.subscribe('will/#', 1);
    const willOpts = { topic: 'will/p', payload: Buffer.from('gone'), qos: 1 as const, retain: false };
    const old = await b.connect({ clientId: 'pers', clean: false, will: willOpts });
    const fresh = await RawClient.open(b.port);
    expect((await fresh.handshake({ clientId: 'pers', clean: false })).sessionPresent).toBe(true);
    await old.closed;
    expect(await watch.sync()).toEqual([]);
    // A clean connection taking over a persistent session does send it.
    const third = await b.connect({ clientId: 'pers2', clean: false, will: { ...willOpts, topic: 'will/p2' } });
    await b.connect({ clientId: 'pers2', clean: true });
    await third.closed;
    expect((await watch.nextPublish()).topic).toBe('will/p2');
    fresh.destroy();
  });

  it('a persistent session moves to the new connection with session present', async () => {
    const b = await startBroker();
    const first = await b.connect({ clientId: 'keep', clean: false });
    await first.subscribe('k/#', 1);
    const second = await RawClient.open(b.port);
    const connack = await second.handshake({ clientId: 'keep', clean: false });
    expect(connack.sessionPresent).toBe(true);
    await first.closed;
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('k/1', 'kept', { qos: 1 });
    const m = await second.nextPublish();
    expect(m.topic).toBe('k/1');
    expect((m as IPublishPacket).qos).toBe(1);
    second.destroy();
  });
});

describe('CONNACK bytes as Mosquitto sends them (MQTT 5)', () => {
  it('properties in its order: Topic Alias Maximum, Assigned Client Identifier, Server Keep Alive, Receive Maximum', async () => {
    const b = await startBroker({ maxKeepalive: 60, maxInflightMessages: 20, allowZeroLengthClientid: true });
    const c = await RawClient.open(b.port);
    const frames = new RawFrames(c);
    // CONNECT v5, keepalive 0 (so Server Keep Alive 60 is sent), empty client id.
    c.socket.write(Buffer.from([0x10, 0x0d, 0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 2, 0, 0, 0, 0, 0]));
    const f = await frames.next(2);
    expect([...f.subarray(5, 8)]).toEqual([0x22, 0, 10]);
    expect(f[8]).toBe(0x12);
    const idLen = f.readUInt16BE(9);
    expect([...f.subarray(11 + idLen)]).toEqual([0x13, 0, 60, 0x21, 0, 20]);
    c.destroy();
  });

  it('an empty client id where none is allowed: 0x80 for MQTT 5, 2 for 3.1.1', async () => {
    const b = await startBroker({ allowZeroLengthClientid: false });
    const { client: c5, connack: a5 } = await RawClient.connect(b.port, { clientId: '', version: 5 });
    const { client: c4, connack: a4 } = await RawClient.connect(b.port, { clientId: '', version: 4 });
    expect([a5.reasonCode, a4.returnCode]).toEqual([0x80, 2]);
    c5.destroy();
    c4.destroy();
  });
});
