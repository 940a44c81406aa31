/**
 * The first $SYS tree: version, uptime, clients/connected, messages/received and sent,
 * published as retained messages every sys_interval (here 1 s).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { startBroker, stopBrokers } from './helpers/broker.js';
import type { RawClient } from './helpers/raw-client.js';

afterEach(stopBrokers);

/** The next PUBLISH on exactly this topic (other $SYS topics are skipped). */
async function value(c: RawClient, topic: string, timeoutMs = 4000): Promise<IPublishPacket> {
  return c.waitFor<IPublishPacket>((p) => p.cmd === 'publish' && p.topic === topic, timeoutMs, topic);
}

describe('$SYS', () => {
  it('publishes the version as a retained message', async () => {
    const b = await startBroker({ sysInterval: 1 });
    const c = await b.connect({ clientId: 'sys' });
    await c.subscribe('$SYS/broker/version', 0);
    const m = await value(c, '$SYS/broker/version');
    expect(String(m.payload)).toMatch(/^mosquitto version \d+\.\d+\.\d+$/);
    expect(m.retain).toBe(true);
  });

  it('publishes uptime as "N seconds", again every sys_interval', async () => {
    const b = await startBroker({ sysInterval: 1 });
    const c = await b.connect({ clientId: 'sys' });
    await c.subscribe('$SYS/broker/uptime', 0);
    const first = await value(c, '$SYS/broker/uptime');
    expect(first.retain).toBe(true);
    expect(String(first.payload)).toMatch(/^\d+ seconds$/);
    const next = await value(c, '$SYS/broker/uptime');
    expect(next.retain).toBe(false); // a live copy to an existing subscriber
    const n1 = parseInt(String(first.payload), 10);
    const n2 = parseInt(String(next.payload), 10);
    expect(n2).toBeGreaterThan(n1);
  });

  it('counts connected clients', async () => {
    const b = await startBroker({ sysInterval: 1 });
    const c = await b.connect({ clientId: 'sys' });
    await b.connect({ clientId: 'other' });
    await c.subscribe('$SYS/broker/clients/connected', 0);
    // The retained value may predate 'other'; the tree converges on 2.
    let m = await value(c, '$SYS/broker/clients/connected');
    while (String(m.payload) !== '2') m = await value(c, '$SYS/broker/clients/connected');
    expect(String(m.payload)).toBe('2');
  });

  it('counts PUBLISH messages received and sent', async () => {
    const b = await startBroker({ sysInterval: 1 });
    const c = await b.connect({ clientId: 'sys' });
    await c.subscribe('t', 0);
    c.publish('t', 'one');
    c.publish('t', 'two');
    await c.nextPublish();
    await c.nextPublish();
    await c.subscribe(
      [
        { topic: '$SYS/broker/publish/messages/received', qos: 0 },
        { topic: '$SYS/broker/publish/messages/sent', qos: 0 },
      ],
      0,
      2,
    );
    let received = await value(c, '$SYS/broker/publish/messages/received');
    while (Number(String(received.payload)) < 2) received = await value(c, '$SYS/broker/publish/messages/received');
    let sent = await value(c, '$SYS/broker/publish/messages/sent');
    while (Number(String(sent.payload)) < 2) sent = await value(c, '$SYS/broker/publish/messages/sent');
    expect(Number(String(received.payload))).toBe(2);
  });

  it('counts messages of every type in messages/received and messages/sent, as Mosquitto (mosquitto(8))', async () => {
    const b = await startBroker({ sysInterval: 1 });
    const c = await b.connect({ clientId: 'sys' });
    // CONNECT, 3 x PINGREQ and SUBSCRIBE in; CONNACK, 3 x PINGRESP and SUBACK out: no PUBLISH at all.
    for (let i = 0; i < 3; i++) {
      c.send({ cmd: 'pingreq' });
      await c.next('pingresp');
    }
    await c.subscribe('$SYS/broker/messages/+', 0);
    const seen = new Map<string, number>();
    // A few intervals' worth of updates is enough; a counter that never moves fails below.
    for (let n = 0; n < 8 && ((seen.get('received') ?? 0) < 5 || (seen.get('sent') ?? 0) < 5); n++) {
      const m = await c.waitFor<IPublishPacket>((p) => p.cmd === 'publish' && /messages\/(received|sent)$/.test((p as IPublishPacket).topic));
      seen.set(m.topic.endsWith('received') ? 'received' : 'sent', Number(String(m.payload)));
    }
    expect(seen.get('received')).toBeGreaterThanOrEqual(5);
    expect(seen.get('sent')).toBeGreaterThanOrEqual(5);
  });

  it('is not sent to a "#" subscriber (MQTT-4.7.2-1)', async () => {
    const b = await startBroker({ sysInterval: 1 });
    const all = await b.connect({ clientId: 'all' });
    await all.subscribe('#', 0);
    const sys = await b.connect({ clientId: 'sys' });
    await sys.subscribe('$SYS/#', 0);
    await value(sys, '$SYS/broker/uptime'); // retained copy
    await value(sys, '$SYS/broker/uptime'); // a full interval later
    const got = (await all.sync()).filter((p) => p.cmd === 'publish') as IPublishPacket[];
    expect(got.filter((p) => p.topic.startsWith('$'))).toEqual([]);
  });

  it('sys_interval 0 publishes nothing', async () => {
    const b = await startBroker({ sysInterval: 0 });
    expect(b.broker.retained.get('$SYS/broker/version')).toBeUndefined();
  });
});
