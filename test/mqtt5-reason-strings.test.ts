/**
 * MQTT 5 Reason Strings and Response Information from the broker, each rule from both
 * sides with raw packets: a Reason String with error reason codes, none on packets other
 * than CONNACK, PUBLISH and DISCONNECT after Request Problem Information 0 (MQTT-3.1.2-29),
 * none where it would exceed the client's Maximum Packet Size (MQTT-3.2.2-19, 3.4.2-2,
 * 3.9.2-1, 3.14.2-3); Response Information only when requested (3.1.2.11.6), escaped, and
 * likewise bounded. Then what the clients print when a broker sends them, next to
 * Mosquitto's clients.
 */
import path from 'node:path';
import type { IConnackPacket, IDisconnectPacket, IPubackPacket, ISubackPacket, Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { optionsFromConfig } from '../src/broker/from-config.js';
import { ConfigError, parseConfigText } from '../src/broker/config/index.js';
import { startBroker, stopBrokers, type TestBroker } from './helpers/broker.js';
import { haveProgram, MOSQUITTO, startMosquitto, type RealMosquitto } from './helpers/mosquitto.js';
import { RawClient } from './helpers/raw-client.js';
import { killSpawned, spawnProgram } from './helpers/spawn.js';
import { publishV5, RawFrames } from './helpers/raw-frames.js';

const opened: RawClient[] = [];

const realBrokers: RealMosquitto[] = [];

afterEach(async () => {
  for (const c of opened.splice(0)) c.destroy();
  for (const m of realBrokers.splice(0)) await m.stop();
  killSpawned();
  await stopBrokers();
});

/** An MQTT 5 CONNECT with the given CONNECT properties; resolves with the client and the CONNACK. */
async function connect5(
  b: TestBroker,
  clientId: string,
  properties: Record<string, unknown> = {},
): Promise<{ c: RawClient; connack: IConnackPacket; frames: RawFrames }> {
  const c = await RawClient.open(b.port);
  opened.push(c);
  const frames = new RawFrames(c);
  c.setVersion(5);
  c.send({ ...c.connectPacket({ version: 5, clientId }), properties } as Packet);
  const connack = (await c.next('connack')) as IConnackPacket;
  return { c, connack, frames };
}

/** Whole size of a packet as parsed: fixed header, length bytes, remaining length. */
function size(p: Packet): number {
  const rl = p.length ?? 0;
  return 1 + (rl < 128 ? 1 : rl < 16384 ? 2 : 3) + rl;
}

describe('Response Information', () => {
  it('is sent when requested: response_topic_prefix/client id', async () => {
    const b = await startBroker();
    const { connack } = await connect5(b, 'sensor-7', { requestResponseInformation: true });
    expect(connack.reasonCode).toBe(0);
    expect(connack.properties?.responseInformation).toBe('response/sensor-7');
  });

  it('is never sent when not requested, or requested with 0', async () => {
    const b = await startBroker();
    for (const props of [{}, { requestResponseInformation: false }]) {
      const { connack } = await connect5(b, 'quiet', props);
      expect(connack.reasonCode).toBe(0);
      expect(connack.properties?.responseInformation).toBeUndefined();
    }
  });

  it('escapes a client id so that it names one topic level: no wildcard, no separator', async () => {
    const b = await startBroker();
    const { connack } = await connect5(b, 'a+b/#%', { requestResponseInformation: true });
    expect(connack.properties?.responseInformation).toBe('response/a%2Bb%2F%23%25');
    const { connack: hash } = await connect5(b, '#', { requestResponseInformation: true });
    expect(hash.properties?.responseInformation).toBe('response/%23');
  });

  it('uses the assigned client identifier for an empty one', async () => {
    const b = await startBroker();
    const { connack } = await connect5(b, '', { requestResponseInformation: true });
    const assigned = connack.properties?.assignedClientIdentifier;
    expect(assigned).toMatch(/^auto-/);
    expect(connack.properties?.responseInformation).toBe(`response/${assigned}`);
  });

  it('takes its prefix from response_topic_prefix; a wildcard in it is refused', () => {
    const parsed = parseConfigText('response_topic_prefix rpc/replies\n', 'test.conf', { hostname: 'h' });
    expect(optionsFromConfig(parsed.config).responseTopicPrefix).toBe('rpc/replies');
    for (const bad of ['rpc/#', 'rpc/+/x', 'rpc/']) {
      expect(() => parseConfigText(`response_topic_prefix ${bad}\n`, 'test.conf', { hostname: 'h' })).toThrow(ConfigError);
    }
  });

  it('goes with the configured prefix', async () => {
    const b = await startBroker({ responseTopicPrefix: 'rpc/replies' });
    const { connack } = await connect5(b, 'c1', { requestResponseInformation: true });
    expect(connack.properties?.responseInformation).toBe('rpc/replies/c1');
  });

  it('is left out rather than exceed the Maximum Packet Size', async () => {
    const b = await startBroker();
    const { connack: plain } = await connect5(b, 'measure', {});
    const max = size(plain) + 5; // room for the CONNACK, not for "response/measure"
    const { connack } = await connect5(b, 'measure', { requestResponseInformation: true, maximumPacketSize: max });
    expect(connack.reasonCode).toBe(0);
    expect(connack.properties?.responseInformation).toBeUndefined();
    const { connack: roomy } = await connect5(b, 'measure', { requestResponseInformation: true, maximumPacketSize: max + 30 });
    expect(roomy.properties?.responseInformation).toBe('response/measure');
  });
});

/** Raw bytes of what the brokers answer: a refused CONNECT, a PUBACK 0x87, a DISCONNECT 0x82. */
async function refusalBytes(anonPort: number, closedPort: number): Promise<string[]> {
  const out: string[] = [];
  const c1 = await RawClient.open(closedPort);
  opened.push(c1);
  const f1 = new RawFrames(c1);
  c1.setVersion(5);
  c1.send(c1.connectPacket({ version: 5, clientId: 'refused' }));
  out.push((await f1.next(2)).toString('hex'));
  const c2 = await RawClient.open(anonPort);
  opened.push(c2);
  const f2 = new RawFrames(c2);
  c2.setVersion(5);
  c2.send(c2.connectPacket({ version: 5, clientId: 'denied' }));
  await f2.next(2);
  c2.socket.write(publishV5('$SYS/x', 'x', Buffer.alloc(0), { qos: 1, mid: 1 }));
  out.push((await f2.next(4)).toString('hex'));
  // A Topic Alias the client never set is a protocol error (MQTT-3.3.2-7 / 3.3.4).
  c2.socket.write(publishV5('', 'x', Buffer.from([0x23, 0x00, 0x05])));
  out.push((await f2.next(14)).toString('hex'));
  return out;
}

describe('reason_strings false (the default): no Reason String, as Mosquitto 2.0 sends', () => {
  const expected = ['2003008700', '4003000187', 'e00182'];

  it('CONNACK 0x87, PUBACK 0x87 and DISCONNECT 0x82 without properties', async () => {
    const open = await startBroker();
    const closed = await startBroker({ allowAnonymous: false });
    expect(await refusalBytes(open.port, closed.port)).toEqual(expected);
  });

  it.skipIf(!haveProgram(MOSQUITTO))('mosquitto 2.0.11 answers the same bytes', async () => {
    const open = await startMosquitto([], false);
    realBrokers.push(open);
    const closed = await startMosquitto(['allow_anonymous false'], false);
    realBrokers.push(closed);
    expect(await refusalBytes(open.port, closed.port)).toEqual(expected);
  });

  it('reason_strings true in mosquitto.conf turns them on', () => {
    const on = parseConfigText('reason_strings true\n', 'test.conf', { hostname: 'h' });
    expect(optionsFromConfig(on.config).reasonStrings).toBe(true);
    const off = parseConfigText('', 'test.conf', { hostname: 'h' });
    expect(optionsFromConfig(off.config).reasonStrings).toBe(false);
  });
});

describe('Reason Strings', () => {
  describe('CONNACK refusal', () => {
    it('carries one, even after Request Problem Information 0', async () => {
      const b = await startBroker({ reasonStrings: true, allowAnonymous: false });
      const { connack } = await connect5(b, 'x');
      expect(connack.reasonCode).toBe(0x87);
      expect(connack.properties?.reasonString).toBe('Not authorized');
      const { connack: quiet } = await connect5(b, 'x', { requestProblemInformation: false });
      expect(quiet.reasonCode).toBe(0x87);
      expect(quiet.properties?.reasonString).toBe('Not authorized');
    });

    it('leaves it out rather than exceed the Maximum Packet Size (MQTT-3.2.2-19)', async () => {
      const b = await startBroker({ reasonStrings: true, allowZeroLengthClientid: false });
      const { connack } = await connect5(b, '', { maximumPacketSize: 10 });
      expect(connack.reasonCode).toBe(0x80);
      expect(connack.properties?.reasonString).toBeUndefined();
      const { connack: roomy } = await connect5(b, '', { maximumPacketSize: 100 });
      expect(roomy.properties?.reasonString).toBe('Unspecified error');
    });

    it('no properties for a 3.1.1 client', async () => {
      const b = await startBroker({ reasonStrings: true, allowAnonymous: false });
      const { connack } = await RawClient.connect(b.port, { clientId: 'x' });
      expect(connack.returnCode).toBe(5);
      expect(connack.properties).toBeUndefined();
    });
  });

  describe('PUBACK / PUBREC with an error', () => {
    it('PUBACK 0x87 says why; not after Request Problem Information 0', async () => {
      const b = await startBroker({ reasonStrings: true });
      const { c } = await connect5(b, 'p');
      c.publish('$SYS/x', 'no', { qos: 1, messageId: 3 });
      const ack = (await c.next('puback')) as IPubackPacket;
      expect(ack.reasonCode).toBe(0x87);
      expect(ack.properties?.reasonString).toBe('Not authorized to publish to this topic');
      const { c: quiet } = await connect5(b, 'q', { requestProblemInformation: false });
      quiet.publish('$SYS/x', 'no', { qos: 1, messageId: 4 });
      const ack2 = (await quiet.next('puback')) as IPubackPacket;
      expect(ack2.reasonCode).toBe(0x87);
      expect(ack2.properties).toBeUndefined();
    });

    it('PUBREC 0x87 likewise', async () => {
      const b = await startBroker({ reasonStrings: true });
      const { c } = await connect5(b, 'p');
      c.publish('$SYS/x', 'no', { qos: 2, messageId: 3 });
      const rec = (await c.next('pubrec')) as IPubackPacket;
      expect(rec.reasonCode).toBe(0x87);
      expect(rec.properties?.reasonString).toBe('Not authorized to publish to this topic');
    });

    it('PUBACK 0x95 (message_size_limit) as bytes: with it, and without it when the client allows no room', async () => {
      const b = await startBroker({ reasonStrings: true, messageSizeLimit: 4 });
      const { c, frames } = await connect5(b, 'big');
      c.sendRaw(publishV5('t', 'too long', Buffer.alloc(0), { qos: 1, mid: 7 }));
      const ack = await frames.next(4);
      expect(ack.subarray(2, 5)).toEqual(Buffer.from([0, 7, 0x95]));
      expect(ack.subarray(6).toString('latin1')).toContain('Payload larger than message_size_limit');
      const { c: small, frames: f2 } = await connect5(b, 'small', { maximumPacketSize: 20 });
      small.sendRaw(publishV5('t', 'too long', Buffer.alloc(0), { qos: 1, mid: 8 }));
      expect(await f2.next(4)).toEqual(Buffer.from([0x40, 3, 0, 8, 0x95]));
    });

    it('no reason string on a successful PUBACK', async () => {
      const b = await startBroker({ reasonStrings: true });
      const { c, frames } = await connect5(b, 'ok');
      // A subscriber, else the PUBACK says 0x10 No matching subscribers.
      await c.subscribe('fine', 0);
      c.publish('fine', 'yes', { qos: 1, messageId: 2 });
      expect(await frames.next(4)).toEqual(Buffer.from([0x40, 2, 0, 2]));
    });
  });

  describe('SUBACK with a refused filter', () => {
    it('says why; not after Request Problem Information 0', async () => {
      const b = await startBroker({ reasonStrings: true });
      const { c } = await connect5(b, 's');
      c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share//x', qos: 0 }, { topic: 'ok', qos: 1 }] } as Packet);
      const ack = (await c.next('suback')) as ISubackPacket;
      expect(ack.granted).toEqual([0x8f, 1]);
      expect(ack.properties?.reasonString).toBe('Topic filter invalid');
      const { c: quiet } = await connect5(b, 'q', { requestProblemInformation: false });
      quiet.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share//x', qos: 0 }] } as Packet);
      const ack2 = (await quiet.next('suback')) as ISubackPacket;
      expect(ack2.granted).toEqual([0x8f]);
      expect(ack2.properties).toBeUndefined();
    });

    it('leaves it out rather than exceed the Maximum Packet Size (MQTT-3.9.2-1)', async () => {
      const b = await startBroker({ reasonStrings: true });
      // 10: room for the CONNACK as Mosquitto measures it (its remaining length and length byte), not for a Reason String.
      const { c } = await connect5(b, 's', { maximumPacketSize: 10 });
      c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share//x', qos: 0 }] } as Packet);
      const ack = (await c.next('suback')) as ISubackPacket;
      expect(ack.granted).toEqual([0x8f]);
      expect(ack.properties).toBeUndefined();
    });

    it('none when every filter is granted', async () => {
      const b = await startBroker({ reasonStrings: true });
      const { c } = await connect5(b, 's');
      c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'ok', qos: 0 }] } as Packet);
      const ack = (await c.next('suback')) as ISubackPacket;
      expect(ack.properties).toBeUndefined();
    });
  });

  describe('DISCONNECT from the server', () => {
    it('0x8E session taken over, also after Request Problem Information 0', async () => {
      const b = await startBroker({ reasonStrings: true });
      for (const props of [{}, { requestProblemInformation: false }]) {
        const { c: first } = await connect5(b, 'dup', props);
        await connect5(b, 'dup');
        const d = (await first.next('disconnect')) as IDisconnectPacket;
        expect(d.reasonCode).toBe(0x8e);
        expect(d.properties?.reasonString).toBe('Session taken over by another connection with the same client identifier');
      }
    });

    it("0x8E without it when the client allows no room (MQTT-3.14.2-3), in Mosquitto's form: no property length", async () => {
      const b = await startBroker({ reasonStrings: true });
      const { c: first, frames } = await connect5(b, 'dup', { maximumPacketSize: 10 });
      await connect5(b, 'dup');
      await first.closed;
      expect(frames.frames.find((f) => f[0] === 0xe0)).toEqual(Buffer.from([0xe0, 1, 0x8e]));
    });

    it('0x82 protocol error (a wildcard in a PUBLISH topic)', async () => {
      // (A second CONNECT is a protocol error too, but Mosquitto closes without a DISCONNECT.)
      const b = await startBroker({ reasonStrings: true });
      const { c } = await connect5(b, 'wild');
      c.sendRaw(Buffer.from([0x30, 0x06, 0x00, 0x03, 0x61, 0x2f, 0x2b, 0x00]));
      const d = (await c.next('disconnect')) as IDisconnectPacket;
      expect(d.reasonCode).toBe(0x82);
      expect(d.properties?.reasonString).toBe('Protocol error');
    });

    it('0x93 receive maximum exceeded', async () => {
      const b = await startBroker({ reasonStrings: true, maxInflightMessages: 1 });
      const { c } = await connect5(b, 'flood');
      c.publish('t', 'a', { qos: 2, messageId: 1 });
      c.publish('t', 'b', { qos: 2, messageId: 2 });
      const d = (await c.waitFor((p) => p.cmd === 'disconnect')) as IDisconnectPacket;
      expect(d.reasonCode).toBe(0x93);
      expect(d.properties?.reasonString).toMatch(/^Receive Maximum exceeded/);
    });

    it('0x95 packet too large (max_packet_size)', async () => {
      const b = await startBroker({ reasonStrings: true, maxPacketSize: 50 });
      const { c } = await connect5(b, 'big');
      c.publish('t', Buffer.alloc(100), { qos: 0 });
      const d = (await c.next('disconnect')) as IDisconnectPacket;
      expect(d.reasonCode).toBe(0x95);
      expect(d.properties?.reasonString).toBe('Packet too large');
    });

    it('0x8D keep alive timeout', async () => {
      const b = await startBroker({ reasonStrings: true });
      const c = await RawClient.open(b.port);
      opened.push(c);
      c.setVersion(5);
      c.send({ ...c.connectPacket({ version: 5, clientId: 'sleepy', keepalive: 1 }) } as Packet);
      await c.next('connack');
      const d = (await c.next('disconnect', 5000)) as IDisconnectPacket;
      expect(d.reasonCode).toBe(0x8d);
      expect(d.properties?.reasonString).toMatch(/^Keep alive timeout/);
    }, 10000);

    it('0x8B server shutting down', async () => {
      const b = await startBroker({ reasonStrings: true });
      const { c } = await connect5(b, 'bye');
      const closing = b.broker.close();
      const d = (await c.next('disconnect')) as IDisconnectPacket;
      await closing;
      expect(d.reasonCode).toBe(0x8b);
      expect(d.properties?.reasonString).toBe('Server shutting down');
    });
  });
});

const ROOT = path.resolve(__dirname, '..');
const haveClients = haveProgram('mosquitto_pub') && haveProgram('mosquitto_sub');

function run(program: string, args: string[]): { all: () => string; exited: Promise<number | null> } {
  const r = spawnProgram(program, args);
  return { all: r.all, exited: r.exited };
}

describe.skipIf(!haveClients)('the clients print what the broker sends as Mosquitto’s clients do', () => {
  it('pub: a refused CONNACK at -V 5 (its Reason String is not printed)', async () => {
    const b = await startBroker({ reasonStrings: true, allowAnonymous: false });
    const args = ['-V', '5', '-h', '127.0.0.1', '-p', String(b.port), '-t', 't', '-m', 'x'];
    const theirs = run('mosquitto_pub', args);
    const ours = run('bin/ts-mosquitto_pub.js', args);
    expect(await ours.exited).toBe(await theirs.exited);
    expect(ours.all()).toBe(theirs.all());
    expect(ours.all()).toContain('Connection error: Not authorized');
  });

  it('pub: a failed PUBACK: the warning, then the Reason String on a line of its own', async () => {
    const b = await startBroker({ reasonStrings: true });
    const args = ['-V', '5', '-h', '127.0.0.1', '-p', String(b.port), '-t', '$SYS/x', '-m', 'x', '-q', '1'];
    const theirs = run('mosquitto_pub', args);
    const ours = run('bin/ts-mosquitto_pub.js', args);
    expect(await ours.exited).toBe(await theirs.exited);
    expect(ours.all()).toBe('Warning: Publish 1 failed: Not authorized.\nNot authorized to publish to this topic\n');
    expect(ours.all()).toBe(theirs.all());
  });

  it('pub: a failed PUBREC: only the warning (libmosquitto drops PUBREC properties)', async () => {
    const b = await startBroker({ reasonStrings: true });
    const args = ['-V', '5', '-h', '127.0.0.1', '-p', String(b.port), '-t', '$SYS/x', '-m', 'x', '-q', '2'];
    const theirs = run('mosquitto_pub', args);
    const ours = run('bin/ts-mosquitto_pub.js', args);
    expect(await ours.exited).toBe(await theirs.exited);
    expect(ours.all()).toBe(theirs.all());
  });

  it('sub: DISCONNECT 0x8E from the server ends it, exit 0, -d says "Received DISCONNECT (142)"', async () => {
    const b = await startBroker({ reasonStrings: true });
    const outputs: string[] = [];
    for (const program of ['mosquitto_sub', 'bin/ts-mosquitto_sub.js']) {
      const sub = run(program, ['-V', '5', '-h', '127.0.0.1', '-p', String(b.port), '-i', 'dup', '-t', 't', '-d']);
      await b.waitForLine(/^dup 0 t$/, 5000);
      b.lines.splice(0);
      await connect5(b, 'dup');
      expect(await sub.exited).toBe(0);
      outputs.push(sub.all());
    }
    expect(outputs[1]).toContain('Received DISCONNECT (142)\n');
    expect(outputs[1]).toBe(outputs[0]);
  }, 15000);
});
