/**
 * The whole $SYS/broker tree, side by side with Mosquitto 2.0: the same topics, the same
 * value formats, retained, updated every sys_interval; and the values that count
 * publish payload bytes, the message store, shared subscriptions and load averages.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { startBroker, stopBrokers } from './helpers/broker.js';
import { RawClient } from './helpers/raw-client.js';
import { MOSQUITTO, haveProgram, startMosquitto, type RealMosquitto } from './helpers/mosquitto.js';
import { dampedAverage } from '../src/broker/sys-tree.js';

const real: RealMosquitto[] = [];
const raws: RawClient[] = [];
afterEach(async () => {
  for (const c of raws.splice(0)) c.destroy();
  await Promise.all(real.splice(0).map((m) => m.stop()));
  await stopBrokers();
});

/** The shape of a value: what must match Mosquitto's, whatever the number. */
function shape(topic: string, value: string): string {
  if (topic === '$SYS/broker/version') return value.replace(/\d+\.\d+\.\d+/, 'X.Y.Z');
  if (/^\d+ seconds$/.test(value)) return 'N seconds';
  if (/^\d+\.\d\d$/.test(value)) return 'N.NN';
  if (/^\d+$/.test(value)) return 'N';
  return value;
}

/**
 * Connects a subscriber to $SYS/#, makes some traffic (a retained message, a shared and a
 * plain subscription, a QoS 1 publish) and collects every $SYS topic with its value shape
 * over two full update rounds after the retained copies.
 */
async function collect(port: number): Promise<Map<string, { shape: string; retain: boolean[] }>> {
  const { client: watcher } = await RawClient.connect(port, { clientId: 'watcher' });
  raws.push(watcher);
  const { client: other } = await RawClient.connect(port, { clientId: 'other', version: 5 });
  raws.push(other);
  await other.subscribe([
    { topic: '$share/g/x', qos: 1 },
    { topic: 'y', qos: 1 },
  ]);
  other.publish('r', 'hello', { retain: true, qos: 1, messageId: 3 });
  await other.next('puback');
  other.publish('y', 'payload', { qos: 1, messageId: 4 });
  await other.waitFor((p) => p.cmd === 'puback');
  await watcher.subscribe('$SYS/#', 0);
  const seen = new Map<string, { shape: string; retain: boolean[] }>();
  let uptimes = 0;
  while (uptimes < 3) {
    const p = await watcher.waitFor<IPublishPacket>((q) => q.cmd === 'publish', 5000, '$SYS publish');
    const v = String(p.payload);
    if (p.topic === '$SYS/broker/uptime') uptimes++;
    const e = seen.get(p.topic) ?? { shape: shape(p.topic, v), retain: [] };
    e.retain.push(p.retain);
    seen.set(p.topic, e);
  }
  return seen;
}

describe('$SYS tree, complete', () => {
  it.skipIf(!haveProgram(MOSQUITTO))('publishes the same topics with the same value formats as Mosquitto', async () => {
    const m = await startMosquitto(['sys_interval 1'], false);
    real.push(m);
    const theirs = await collect(m.port);
    const b = await startBroker({ sysInterval: 1 });
    const ours = await collect(b.port);
    const list = (s: Map<string, { shape: string }>): string[] => [...s.entries()].map(([t, e]) => `${t} ${e.shape}`).sort();
    expect(list(ours)).toEqual(list(theirs));
    // Values set before the subscription arrive first as retained copies.
    for (const t of ['version', 'uptime', 'bytes/received', 'load/sockets/15min', 'heap/current']) {
      expect(ours.get(`$SYS/broker/${t}`)?.retain[0]).toBe(true);
    }
    // The load averages exist for every counter and window.
    const loads = [...ours.keys()].filter((t) => t.startsWith('$SYS/broker/load/'));
    expect(loads).toHaveLength(27);
  }, 30000);

  it('counts PUBLISH payload bytes received and sent, shared subscriptions, store bytes', async () => {
    const b = await startBroker({ sysInterval: 1 });
    const sub = await b.connect({ clientId: 'sub', version: 5 });
    await sub.subscribe([
      { topic: '$share/g/t', qos: 0 },
      { topic: 'u', qos: 0 },
    ]);
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('u', '12345'); // 5 bytes in, 5 bytes out
    await sub.nextPublish();
    pub.publish('keep', 'abcdefgh', { retain: true }); // 8 bytes in, stored
    await pub.sync();
    const s = b.broker.stats;
    expect(s.publishBytesReceived).toBe(13);
    expect(s.publishBytesSent).toBe(5);
    expect(b.broker.router.sharedCount).toBe(1);
    const w = await b.connect({ clientId: 'w' });
    await w.subscribe('$SYS/broker/#', 0);
    const want = new Map([
      ['$SYS/broker/publish/bytes/received', '13'],
      ['$SYS/broker/shared_subscriptions/count', '1'],
      ['$SYS/broker/subscriptions/count', '3'],
    ]);
    const got = new Map<string, string>();
    const sentMoved = (): boolean => Number(got.get('$SYS/broker/publish/bytes/sent') ?? 0) > 5;
    while ([...want.keys()].some((k) => got.get(k) !== want.get(k)) || !sentMoved()) {
      const p = await w.waitFor<IPublishPacket>((q) => q.cmd === 'publish', 5000, '$SYS publish');
      got.set(p.topic, String(p.payload));
      if (p.topic === '$SYS/broker/store/messages/bytes') {
        // The retained 'keep' (8 bytes) plus every retained $SYS value counts in the store.
        expect(Number(String(p.payload))).toBeGreaterThanOrEqual(8);
      }
    }
    for (const [k, v] of want) expect(got.get(k)).toBe(v);
    // The $SYS copies sent to 'w' count too, as in Mosquitto: the value moved past 5.
    expect(sentMoved()).toBe(true);
  });

  it('sends a value again only when it changed, uptime every time', async () => {
    const b = await startBroker({ sysInterval: 1 });
    const w = await b.connect({ clientId: 'w' });
    await w.subscribe('$SYS/broker/#', 0);
    let uptimes = 0;
    const counts = new Map<string, number>();
    while (uptimes < 3) {
      const p = await w.waitFor<IPublishPacket>((q) => q.cmd === 'publish', 5000, '$SYS publish');
      if (p.topic === '$SYS/broker/uptime') uptimes++;
      counts.set(p.topic, (counts.get(p.topic) ?? 0) + 1);
    }
    // version is static; clients/expired stays 0: each came once (the retained copy).
    expect(counts.get('$SYS/broker/version')).toBe(1);
    expect(counts.get('$SYS/broker/clients/expired')).toBe(1);
    expect(counts.get('$SYS/broker/uptime')).toBe(3);
  });

  it('load averages are damped per-minute rates, as Unix load averages', () => {
    // One CONNECT in a 2 s interval is a rate of 30 a minute; damped over one minute that is
    // 0.98, which is what Mosquitto publishes in the same case.
    expect(dampedAverage(0, 30, 2, 60).toFixed(2)).toBe('0.98');
    // With no new events it decays: 0.98 -> 0.95 over the next 2 s.
    expect(dampedAverage(dampedAverage(0, 30, 2, 60), 0, 2, 60).toFixed(2)).toBe('0.95');
    expect(dampedAverage(0, 30, 2, 300).toFixed(2)).toBe('0.20');
    expect(dampedAverage(0, 30, 2, 900).toFixed(2)).toBe('0.07');
  });
});
