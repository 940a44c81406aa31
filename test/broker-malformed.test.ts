/**
 * Malformed packets close that connection, with a log line, and nothing else is affected:
 * bad remaining length (MQTT-2.2.3), truncated strings, invalid UTF-8 and U+0000
 * (MQTT-1.5.3-1/2), reserved flag bits (MQTT-2.2.2-2), wildcards in a topic name.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, stopBrokers, type TestBroker } from './helpers/broker.js';
import type { RawClient } from './helpers/raw-client.js';

afterEach(stopBrokers);

/** A subscriber and a publisher on 'ok' that must keep working while another client misbehaves. */
async function bystanders(b: TestBroker): Promise<{ sub: RawClient; pub: RawClient }> {
  const sub = await b.connect({ clientId: 'bystander-sub' });
  await sub.subscribe('ok', 1);
  const pub = await b.connect({ clientId: 'bystander-pub' });
  return { sub, pub };
}

async function stillWorks(sub: RawClient, pub: RawClient): Promise<void> {
  pub.publish('ok', 'still here', { qos: 1, messageId: 99 });
  expect((await pub.next('puback')).messageId).toBe(99);
  expect(String((await sub.nextPublish()).payload)).toBe('still here');
  expect(sub.isClosed || pub.isClosed).toBe(false);
}

const cases: { name: string; bytes: number[]; line: string; extra?: string }[] = [
  {
    name: 'a remaining length longer than four bytes',
    bytes: [0x30, 0xff, 0xff, 0xff, 0xff, 0x01],
    // Mosquitto 2.0.11 reports this one as a protocol error.
    line: 'Client bad disconnected due to protocol error.',
  },
  {
    name: 'a topic length beyond the end of the packet (truncated string)',
    bytes: [0x30, 5, 0, 10, 0x61, 0x62, 0x63],
    line: 'Client bad disconnected due to malformed packet.',
  },
  {
    name: 'invalid UTF-8 in the topic name',
    bytes: [0x30, 6, 0, 3, 0x61, 0xff, 0x62, 0x78],
    line: 'Client bad disconnected due to malformed packet.',
  },
  {
    name: 'U+0000 in the topic name',
    bytes: [0x30, 6, 0, 3, 0x61, 0x00, 0x62, 0x78],
    line: 'Client bad disconnected due to malformed packet.',
  },
  {
    name: 'QoS 3 in a PUBLISH header',
    bytes: [0x36, 5, 0, 1, 0x61, 0, 1],
    line: 'Client bad disconnected due to malformed packet.',
    extra: 'Invalid QoS in PUBLISH from bad, disconnecting.',
  },
  {
    name: 'reserved flag bits of SUBSCRIBE not 0010',
    bytes: [0x80, 6, 0, 1, 0, 1, 0x61, 0],
    line: 'Client bad disconnected due to malformed packet.',
    extra: 'Received SUBSCRIBE from bad',
  },
  {
    name: 'reserved flag bits of PUBREL not 0010',
    bytes: [0x60, 2, 0, 1],
    // Mosquitto 2.0.11 reports this one as a protocol error.
    line: 'Client bad disconnected due to protocol error.',
  },
  {
    name: 'a SUBSCRIBE without any filter',
    bytes: [0x82, 2, 0, 1],
    line: 'Client bad disconnected due to malformed packet.',
  },
  {
    name: 'a wildcard in a PUBLISH topic name (MQTT-3.3.2-2)',
    bytes: [0x30, 5, 0, 3, 0x61, 0x2f, 0x2b],
    line: 'Client bad disconnected due to protocol error.',
  },
  {
    name: 'a packet type a server never receives (CONNACK)',
    bytes: [0x20, 2, 0, 0],
    line: 'Client bad disconnected due to protocol error.',
  },
];

describe('malformed packets', () => {
  it.each(cases)('$name closes only that connection, with a log line', async ({ bytes, line, extra }) => {
    const b = await startBroker();
    const { sub, pub } = await bystanders(b);
    const bad = await b.connect({ clientId: 'bad' });
    bad.sendRaw(bytes);
    await bad.closed;
    await b.waitForLine(line);
    if (extra !== undefined) expect(b.lines).toContain(extra);
    await stillWorks(sub, pub);
  });

  it('a malformed packet after good ones in the same chunk: the good ones are processed first', async () => {
    const b = await startBroker();
    const { sub } = await bystanders(b);
    const bad = await b.connect({ clientId: 'bad' });
    const good = Buffer.from([0x30, 6, 0, 2, 0x6f, 0x6b, 0x68, 0x69]); // PUBLISH 'ok' "hi"
    bad.sendRaw(Buffer.concat([good, Buffer.from([0x30, 5, 0, 10, 0x61, 0x62, 0x63])]));
    await bad.closed;
    expect(String((await sub.nextPublish()).payload)).toBe('hi');
  });

  it('garbage before CONNECT closes the connection and is logged as a protocol error', async () => {
    const b = await startBroker();
    const { sub, pub } = await bystanders(b);
    const { openRaw } = await import('./helpers/broker.js');
    const c = await openRaw(b.port);
    c.sendRaw(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await c.closed;
    await b.waitForLine('Client <unknown> disconnected due to protocol error.');
    await stillWorks(sub, pub);
  });
});

describe('a PUBLISH topic Mosquitto refuses (MQTT 5 reason codes as Mosquitto sends them)', () => {
  it('invalid UTF-8: DISCONNECT 0x81; a wildcard or more than 200 levels: 0x82; no PUBACK', async () => {
    const b = await startBroker();
    const cases: [string, Buffer, number][] = [
      ['utf8', Buffer.from('inv\u0000lid'), 0x81],
      ['wild', Buffer.from('a/+'), 0x82],
      ['deep', Buffer.from('/'.repeat(201)), 0x82],
    ];
    for (const [id, topic, code] of cases) {
      const c = await b.connect({ clientId: id, version: 5 });
      const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, Buffer.from([0, 1, 0]), Buffer.from('x')]);
      c.socket.write(Buffer.concat([Buffer.from([0x32, body.length & 0x7f | (body.length > 127 ? 0x80 : 0)]), body.length > 127 ? Buffer.from([body.length >> 7]) : Buffer.alloc(0), body]));
      await c.closed;
      expect([id, c.inbox.map((p) => [p.cmd, (p as { reasonCode?: number }).reasonCode])]).toEqual([id, [['disconnect', code]]]);
    }
    const ok = await b.connect({ clientId: 'ok', version: 5 });
    await ok.subscribe('/'.repeat(200), 0);
  });
});
