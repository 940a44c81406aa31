/**
 * The client engine (src/client) over the dialers, against a scripted fake broker (to see
 * exactly which packets the client sends and when) and against ts-mosquitto in-process.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MqttClient, type ClientEvents, type ClientOptions } from '../src/client/mqtt-client.js';
import { dial } from '../src/net/dial.js';
import type { Connection } from '../src/net/connection.js';
import { createParser, encodePacket, type Packet, type ProtocolVersion, type PublishPacket } from '../src/protocol/index.js';
import { startBroker, stopBrokers } from './helpers/broker.js';
import { waitFor } from './client-diff-helpers.js';

interface FakeBroker {
  port: number;
  packets: Packet[];
  send(p: Packet): void;
  /** Close the current client socket. */
  drop(): void;
  close(): Promise<void>;
}

const servers: net.Server[] = [];
const clients: MqttClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await stopBrokers();
});

/** A broker that records what it gets and answers CONNECT with CONNACK, nothing else. */
async function fakeBroker(version: ProtocolVersion = 4, connack: Partial<Packet> = {}): Promise<FakeBroker> {
  const packets: Packet[] = [];
  let sock: net.Socket | undefined;
  const server = net.createServer((s) => {
    sock = s;
    const parser = createParser(version);
    parser.on('packet', (p: Packet) => {
      packets.push(p);
      if (p.cmd === 'connect') {
        s.write(encodePacket({ cmd: 'connack', sessionPresent: false, returnCode: 0, reasonCode: 0, ...connack } as Packet, version));
      }
    });
    s.on('data', (b) => parser.parse(b));
    s.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    packets,
    send: (p) => sock?.write(encodePacket(p, version)),
    drop: () => sock?.destroy(),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

function options(over: Partial<ClientOptions> = {}): ClientOptions {
  return { clientId: 'engine-test', protocolVersion: 4, keepalive: 60, clean: true, maxInflight: 20, ...over };
}

function connect(port: number, opts: ClientOptions, events: Partial<ClientEvents> = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = new MqttClient(opts, {
      onConnect: () => resolve(client),
      onMessage: () => {},
      onClose: () => {},
      ...events,
      ...(events.onConnect !== undefined
        ? { onConnect: (...a: Parameters<ClientEvents['onConnect']>) => { events.onConnect!(...a); resolve(client); } }
        : {}),
    });
    clients.push(client);
    dial({ host: '127.0.0.1', port }, (err, conn?: Connection) => (err ? reject(err) : client.start(conn!)));
  });
}

const publishes = (b: FakeBroker): PublishPacket[] => b.packets.filter((p): p is PublishPacket => p.cmd === 'publish');

describe('client engine against a scripted broker', () => {
  it('keeps at most -M QoS 1 messages in flight and sends the next one per PUBACK', async () => {
    const broker = await fakeBroker();
    const done: number[] = [];
    const client = await connect(broker.port, options({ maxInflight: 2 }), { onPublish: (mid) => done.push(mid) });
    for (let i = 0; i < 5; i++) client.publish('q/1', Buffer.from(`m${i}`), 1, false);
    await waitFor(() => publishes(broker).length === 2);
    expect(client.pendingCount).toBe(5);
    broker.send({ cmd: 'puback', messageId: 1 });
    await waitFor(() => publishes(broker).length === 3);
    expect(done).toEqual([1]);
    for (const mid of [2, 3, 4, 5]) broker.send({ cmd: 'puback', messageId: mid });
    await waitFor(() => done.length === 5);
    expect(publishes(broker).map((p) => p.payload.toString())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(done).toEqual([1, 2, 3, 4, 5]);
  });

  it('runs the QoS 2 sender flow: PUBLISH, PUBREC -> PUBREL, PUBCOMP completes', async () => {
    const broker = await fakeBroker();
    const done: number[] = [];
    const client = await connect(broker.port, options(), { onPublish: (mid) => done.push(mid) });
    const mid = client.publish('q/2', Buffer.from('x'), 2, true);
    await waitFor(() => publishes(broker).length === 1);
    expect(publishes(broker)[0]).toMatchObject({ qos: 2, retain: true, messageId: mid });
    broker.send({ cmd: 'pubrec', messageId: mid });
    await waitFor(() => broker.packets.some((p) => p.cmd === 'pubrel'));
    expect(done).toEqual([]);
    broker.send({ cmd: 'pubcomp', messageId: mid });
    await waitFor(() => done.length === 1);
    expect(done).toEqual([mid]);
  });

  it('delivers an incoming QoS 2 message once, at PUBREL, even if the PUBLISH is repeated', async () => {
    const broker = await fakeBroker();
    const got: string[] = [];
    await connect(broker.port, options(), { onMessage: (p) => got.push(p.payload.toString()) });
    const pub: Packet = { cmd: 'publish', topic: 'in/2', payload: Buffer.from('once'), qos: 2, retain: false, dup: false, messageId: 9 };
    broker.send(pub);
    broker.send({ ...pub, dup: true } as Packet);
    await waitFor(() => broker.packets.filter((p) => p.cmd === 'pubrec').length === 2);
    expect(got).toEqual([]);
    broker.send({ cmd: 'pubrel', messageId: 9 });
    await waitFor(() => broker.packets.some((p) => p.cmd === 'pubcomp'));
    expect(got).toEqual(['once']);
  });

  it('acknowledges incoming QoS 1 with PUBACK and delivers it', async () => {
    const broker = await fakeBroker();
    const got: string[] = [];
    await connect(broker.port, options(), { onMessage: (p) => got.push(`${p.topic}:${p.payload.toString()}`) });
    broker.send({ cmd: 'publish', topic: 'in/1', payload: Buffer.from('one'), qos: 1, retain: false, dup: false, messageId: 3 });
    await waitFor(() => broker.packets.some((p) => p.cmd === 'puback' && p.messageId === 3));
    expect(got).toEqual(['in/1:one']);
  });

  it('sends PINGREQ when the keepalive period passes without traffic', async () => {
    const broker = await fakeBroker();
    await connect(broker.port, options({ keepalive: 1 }));
    await waitFor(() => broker.packets.some((p) => p.cmd === 'pingreq'), 10000);
  });

  it('resends unacknowledged messages with DUP set after reconnecting a persistent session', async () => {
    const broker = await fakeBroker();
    const client = await connect(broker.port, options({ clean: false }), {});
    const mid = client.publish('p/1', Buffer.from('again'), 1, false);
    await waitFor(() => publishes(broker).length === 1);
    const closed = new Promise<void>((r) => {
      (client as unknown as { events: ClientEvents }).events.onClose = () => r();
    });
    broker.drop();
    await closed;
    await new Promise<void>((resolve, reject) =>
      dial({ host: '127.0.0.1', port: broker.port }, (err, conn) => {
        if (err) return reject(err);
        client.start(conn!);
        resolve();
      }),
    );
    await waitFor(() => publishes(broker).length === 2);
    expect(publishes(broker)[1]).toMatchObject({ messageId: mid, dup: true, qos: 1 });
    expect(broker.packets.filter((p) => p.cmd === 'connect').map((p) => (p as { clean: boolean }).clean)).toEqual([false, false]);
  });

  it('MQTT 5: takes the assigned client id and the server receive maximum from CONNACK', async () => {
    const broker = await fakeBroker(5, { reasonCode: 0, properties: { assignedClientIdentifier: 'given-id', receiveMaximum: 1 } } as Partial<Packet>);
    const lines: string[] = [];
    const client = await connect(broker.port, options({ clientId: '', protocolVersion: 5, debug: (l) => lines.push(l) }));
    expect(client.clientId).toBe('given-id');
    client.publish('v5', Buffer.from('a'), 1, false, { contentType: 'text/plain' });
    client.publish('v5', Buffer.from('b'), 1, false);
    await waitFor(() => publishes(broker).length === 1);
    expect(publishes(broker)[0].properties).toEqual({ contentType: 'text/plain' });
    broker.send({ cmd: 'puback', messageId: 1, reasonCode: 0 });
    await waitFor(() => publishes(broker).length === 2);
    expect(lines[0]).toBe('Client (null) sending CONNECT');
    expect(lines[1]).toBe('Client given-id received CONNACK (0)');
  });
});

describe('client engine against ts-mosquitto', () => {
  it('publishes at QoS 0, 1 and 2 to a subscriber, and its will on an abrupt close', async () => {
    const b = await startBroker();
    const got: string[] = [];
    const sub = await connect(b.port, options({ clientId: 'sub' }), {
      onMessage: (p) => got.push(`${p.topic} q${p.qos} ${p.payload.toString()}`),
    });
    const subscribed = new Promise<number[]>((r) => {
      (sub as unknown as { events: ClientEvents }).events.onSubscribe = (_m, g) => r(g);
    });
    sub.subscribe([{ topic: 'e/#', qos: 2 }]);
    expect(await subscribed).toEqual([2]);
    const completed: number[] = [];
    const pub = await connect(b.port, options({ clientId: 'pub', will: { topic: 'e/will', payload: Buffer.from('gone'), qos: 1, retain: false } }), {
      onPublish: (mid) => completed.push(mid),
    });
    pub.publish('e/0', Buffer.from('zero'), 0, false);
    pub.publish('e/1', Buffer.from('one'), 1, false);
    pub.publish('e/2', Buffer.from('two'), 2, false);
    await waitFor(() => completed.length === 3 && got.length === 3);
    pub.destroy();
    await waitFor(() => got.length === 4);
    expect(got.sort()).toEqual(['e/0 q0 zero', 'e/1 q1 one', 'e/2 q2 two', 'e/will q1 gone']);
  });
});

describe('client engine acknowledgements on the wire', () => {
  it('MQTT 5 PUBACK, PUBREC and PUBCOMP with success go in the short form (no reason code), as libmosquitto sends them', async () => {
    let raw = Buffer.alloc(0);
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.on('data', (b: Buffer) => {
        const first = raw.length === 0;
        raw = Buffer.concat([raw, b]);
        if (!first) return;
        // CONNACK v5, then a QoS 1 (mid 7) and a QoS 2 (mid 8) PUBLISH, and the PUBREL for mid 8.
        const pub = (qos: number, mid: number): Buffer => Buffer.from([0x30 | (qos << 1), 7, 0, 1, 0x74, mid >> 8, mid & 0xff, 0, 0x78]);
        s.write(Buffer.concat([Buffer.from([0x20, 3, 0, 0, 0]), pub(1, 7), pub(2, 8), Buffer.from([0x62, 2, 0, 8])]));
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as net.AddressInfo).port;
    await connect(port, options({ protocolVersion: 5 }));
    await waitFor(() => raw.includes(Buffer.from([0x70, 2, 0, 8])));
    const hex = raw.toString('hex');
    expect(hex).toContain('40020007');
    expect(hex).toContain('50020008');
    expect(hex).toContain('70020008');
  });
});
