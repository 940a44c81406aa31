/**
 * Will messages (MQTT-3.1.2-8 to 3.1.2-17): published with their QoS and retain flag when
 * the connection ends without DISCONNECT, never after DISCONNECT (MQTT-3.14.4-3).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { openRaw, startBroker, stopBrokers } from './helpers/broker.js';

afterEach(stopBrokers);

const will = (qos: 0 | 1 | 2, retain: boolean, payload = 'bye') => ({
  topic: 'will/topic',
  payload: Buffer.from(payload),
  qos,
  retain,
});

describe('will messages', () => {
  it('are logged at CONNECT as Mosquitto does', async () => {
    const b = await startBroker();
    await b.connect({ clientId: 'w', will: will(2, true, 'four') });
    expect(b.lines).toContain('Will message specified (4 bytes) (r1, q2).');
    expect(b.lines).toContain('\twill/topic');
  });

  it.each([0, 1, 2] as const)('are published at QoS %i when the connection drops', async (qos) => {
    const b = await startBroker();
    const watch = await b.connect({ clientId: 'watch' });
    await watch.subscribe('will/#', 2);
    const w = await b.connect({ clientId: 'dying', will: will(qos, false) });
    w.destroy();
    const m = await watch.nextPublish();
    expect([m.topic, String(m.payload), m.qos, m.retain]).toEqual(['will/topic', 'bye', qos, false]);
    await b.waitForLine('Client dying closed its connection.');
  });

  it('with retain set are stored as retained, and the live copy has retain clear', async () => {
    const b = await startBroker();
    const watch = await b.connect({ clientId: 'watch' });
    await watch.subscribe('will/#', 1);
    const w = await b.connect({ clientId: 'dying', will: will(1, true) });
    w.destroy();
    const live = await watch.nextPublish();
    expect([live.qos, live.retain]).toEqual([1, false]);
    const late = await b.connect({ clientId: 'late' });
    await late.subscribe('will/topic', 1);
    const stored = await late.nextPublish();
    expect([String(stored.payload), stored.qos, stored.retain]).toEqual(['bye', 1, true]);
  });

  it('are downgraded to the subscription QoS', async () => {
    const b = await startBroker();
    const watch = await b.connect({ clientId: 'watch' });
    await watch.subscribe('will/#', 0);
    const w = await b.connect({ clientId: 'dying', will: will(2, false) });
    w.destroy();
    expect((await watch.nextPublish()).qos).toBe(0);
  });

  it('are not published after DISCONNECT', async () => {
    const b = await startBroker();
    const watch = await b.connect({ clientId: 'watch' });
    await watch.subscribe('will/#', 0);
    const w = await b.connect({ clientId: 'polite', will: will(1, true) });
    w.disconnect();
    await w.closed;
    await b.waitForLine('Client polite disconnected.');
    expect(await watch.sync()).toEqual([]);
    expect(b.broker.retained.get('will/topic')).toBeUndefined();
  });

  it('are published when the broker closes the connection for a protocol error', async () => {
    const b = await startBroker();
    const watch = await b.connect({ clientId: 'watch' });
    await watch.subscribe('will/#', 0);
    const w = await b.connect({ clientId: 'rude', will: will(0, false, 'malformed') });
    w.sendRaw([0x30, 5, 0, 10, 0x61, 0x62, 0x63]); // topic length beyond the packet
    await w.closed;
    expect(String((await watch.nextPublish()).payload)).toBe('malformed');
  });

  it('a will with a wildcard topic closes the connection without CONNACK (MQTT-3.1.2-9)', async () => {
    const b = await startBroker();
    const c = await openRaw(b.port);
    c.send(c.connectPacket({ clientId: 'badwill', will: { topic: 'will/#', payload: Buffer.from('x'), qos: 0, retain: false } }));
    await c.closed;
    expect(c.inbox.map((p) => p.cmd)).toEqual([]);
    expect(b.hasLine(/^New client connected/)).toBe(false);
    // Mosquitto 2.0.11's words for it.
    await b.waitForLine('Bad socket read/write on client <unknown>: Invalid function arguments provided.');
  });

  it.each([4, 5] as const)('with a payload over message_size_limit are refused at CONNECT as Mosquitto (MQTT %i)', async (version) => {
    const b = await startBroker({ messageSizeLimit: 1 });
    const watch = await b.connect({ clientId: 'watch' });
    await watch.subscribe('will/#', 0);
    const big = await openRaw(b.port);
    const connack = await big.handshake({ version, clientId: 'big', will: will(0, false, 'AB') });
    // Mosquitto: 0x95 Packet too large for MQTT 5, 5 Not authorised for 3.1.1, then closes.
    if (version === 5) expect(connack.reasonCode).toBe(0x95);
    else expect(connack.returnCode).toBe(5);
    await big.closed;
    await b.waitForLine('Client <unknown> disconnected due to oversize payload.');
    expect(b.lines).toContain('Client big connected with too large Will payload');
    expect(b.hasLine(/^New client connected.* as big /)).toBe(false);
    // A will at the limit is accepted and published.
    const ok = await b.connect({ clientId: 'ok', will: will(0, false, 'A') });
    ok.destroy();
    expect(String((await watch.nextPublish()).payload)).toBe('A');
    expect((await watch.sync()).filter((p) => p.cmd === 'publish')).toEqual([]);
  });

  it('the will of one client does not disturb the others', async () => {
    const b = await startBroker();
    const watch = await b.connect({ clientId: 'watch' });
    await watch.subscribe('will/#', 0);
    const bystander = await b.connect({ clientId: 'bystander' });
    const w = await b.connect({ clientId: 'dying', will: will(0, false) });
    w.destroy();
    await watch.nextPublish();
    await bystander.sync();
    expect(bystander.isClosed).toBe(false);
  });
});
