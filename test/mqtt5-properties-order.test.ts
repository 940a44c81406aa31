/**
 * MQTT 5 user properties keep their wire order end to end (MQTT-3.3.2-18), a repeated
 * name interleaved with others included: through the broker (PUBLISH and will), in the
 * codec, and in the clients (-D in order, -F %P and %j printed as mosquitto_sub prints
 * them, against ts-mosquitto and against Mosquitto).
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeProperties,
  encodeProperties,
  storedPublishProperties,
  userPropertyList,
} from '../src/protocol/index.js';
import { startBroker, stopBrokers } from './helpers/broker.js';
import { haveProgram, startMosquitto, type RealMosquitto } from './helpers/mosquitto.js';
import { RawClient } from './helpers/raw-client.js';
import { killSpawned, spawnProgram } from './helpers/spawn.js';
import { mqttString, prop, publishPropertyBytes, publishV5, RawFrames, userProp, varint } from './helpers/raw-frames.js';

const ROOT = path.resolve(__dirname, '..');
const mosquittos: RealMosquitto[] = [];

afterEach(async () => {
  killSpawned();
  for (const m of mosquittos.splice(0)) await m.stop();
  await stopBrokers();
});

const A1 = userProp('a', '1');
const B2 = userProp('b', '2');
const A3 = userProp('a', '3');
const CONTENT_TYPE = prop(0x03, mqttString('text/plain'));
const EXPIRY_100 = prop(0x02, Buffer.from([0, 0, 0, 100]));

describe('codec', () => {
  it('decodes user properties as an ordered list, a repeated name where it was', () => {
    const bytes = Buffer.concat([A1, CONTENT_TYPE, B2, A3]);
    const props = decodeProperties(bytes, 0, bytes.length);
    expect(props.userProperties).toEqual([['a', '1'], ['b', '2'], ['a', '3']]);
    expect(props.contentType).toBe('text/plain');
    // Keys in wire order: what the clients print follows it.
    expect(Object.keys(props)).toEqual(['userProperties', 'contentType']);
  });

  it('encodes an ordered list back to the same bytes', () => {
    const bytes = Buffer.concat([A1, B2, A3, CONTENT_TYPE]);
    expect(encodeProperties({ userProperties: [['a', '1'], ['b', '2'], ['a', '3']], contentType: 'text/plain' })).toEqual(bytes);
  });

  it('refuses a repeated single property, a bad flag and an unknown identifier', () => {
    for (const bad of [
      Buffer.concat([CONTENT_TYPE, CONTENT_TYPE]),
      prop(0x17, Buffer.from([2])), // Request Problem Information is 0 or 1
      prop(0x7f, Buffer.from([0])),
      Buffer.from([0x26, 0, 5, 0x61]), // a string longer than what is left
    ]) {
      expect(() => decodeProperties(bad, 0, bad.length)).toThrow();
    }
  });

  it('keeps the stored properties byte for byte, without alias, expiry and subscription identifier', () => {
    const alias = prop(0x23, Buffer.from([0, 1]));
    const subId = prop(0x0b, varint(300));
    const bytes = Buffer.concat([A1, alias, B2, EXPIRY_100, CONTENT_TYPE, subId, A3]);
    expect(storedPublishProperties(bytes, 0, bytes.length)).toEqual(Buffer.concat([A1, B2, CONTENT_TYPE, A3]));
    const plain = Buffer.concat([A1, B2, A3]);
    expect(storedPublishProperties(plain, 0, plain.length)).toEqual(plain);
    const willDelay = prop(0x18, Buffer.from([0, 0, 0, 5]));
    const will = Buffer.concat([A1, willDelay, CONTENT_TYPE, A3]);
    expect(storedPublishProperties(will, 0, will.length)).toEqual(Buffer.concat([A1, CONTENT_TYPE, A3]));
  });

  it("reads mqtt-packet's grouped object (old persistence files) as a list", () => {
    expect(userPropertyList({ a: ['1', '3'], b: '2' })).toEqual([['a', '1'], ['a', '3'], ['b', '2']]);
    expect(userPropertyList([['a', '1']])).toEqual([['a', '1']]);
    // A message restored from such a file is still encoded.
    expect(encodeProperties({ userProperties: { a: ['1', '3'], b: '2' } })).toEqual(Buffer.concat([A1, A3, B2]));
  });
});

describe('broker', () => {
  async function subscriber(port: number, qos: 0 | 1 = 0, properties?: Record<string, unknown>) {
    const { client } = await RawClient.connect(port, { version: 5, clientId: 'sub' });
    const frames = new RawFrames(client);
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'order/#', qos }], properties } as never);
    await client.next('suback');
    return { client, frames };
  }

  it('passes a QoS 0 PUBLISH on byte for byte: a=1, content type, b=2, a=3', async () => {
    const b = await startBroker();
    const { frames } = await subscriber(b.port);
    const { client: pub } = await RawClient.connect(b.port, { version: 5, clientId: 'pub' });
    const sent = publishV5('order/x', 'hi', Buffer.concat([A1, CONTENT_TYPE, B2, A3]));
    pub.sendRaw(sent);
    expect(await frames.next(3)).toEqual(sent);
  });

  it('passes a Payload Format Indicator other than 0 or 1 on as it came, as Mosquitto', async () => {
    const b = await startBroker();
    const { frames } = await subscriber(b.port);
    const { client: pub } = await RawClient.connect(b.port, { version: 5, clientId: 'pub' });
    const pfi = prop(0x01, Buffer.from([0xed]));
    pub.sendRaw(publishV5('order/x', 'hi', Buffer.concat([pfi, prop(0x23, Buffer.from([0, 1]))])));
    const got = await frames.next(3);
    expect(publishPropertyBytes(got)).toEqual(pfi);
    expect(pub.isClosed).toBe(false);
  });

  it('keeps the order at QoS 1, with a subscription identifier first and the expiry left last', async () => {
    const b = await startBroker();
    const { frames } = await subscriber(b.port, 1, { subscriptionIdentifier: 300 });
    const { client: pub } = await RawClient.connect(b.port, { version: 5, clientId: 'pub' });
    pub.sendRaw(publishV5('order/x', 'hi', Buffer.concat([A1, EXPIRY_100, B2, A3]), { qos: 1, mid: 9 }));
    await pub.next('puback');
    const got = await frames.next(3);
    expect(got[0]).toBe(0x32);
    const props = publishPropertyBytes(got);
    expect(props.subarray(0, 3)).toEqual(prop(0x0b, varint(300)));
    expect(props.subarray(3, 3 + A1.length + B2.length + A3.length)).toEqual(Buffer.concat([A1, B2, A3]));
    expect(props[props.length - 5]).toBe(0x02);
    expect(props.readUInt32BE(props.length - 4)).toBeGreaterThanOrEqual(99);
  });

  it('keeps the order of retained messages for a later subscriber', async () => {
    const b = await startBroker();
    const { client: pub } = await RawClient.connect(b.port, { version: 5, clientId: 'pub' });
    const sent = publishV5('order/r', 'kept', Buffer.concat([B2, A1, A3, B2]), { qos: 1, retain: true });
    pub.sendRaw(sent);
    await pub.next('puback');
    const { frames } = await subscriber(b.port);
    const got = await frames.next(3);
    expect(publishPropertyBytes(got)).toEqual(Buffer.concat([B2, A1, A3, B2]));
  });

  it('keeps the order of the will properties, user properties interleaved with others and the will delay left out, as Mosquitto', async () => {
    const b = await startBroker();
    const { frames } = await subscriber(b.port);
    const WILL_DELAY_0 = prop(0x18, Buffer.from([0, 0, 0, 0]));
    const willProps = Buffer.concat([A1, CONTENT_TYPE, WILL_DELAY_0, B2, A3]);
    const body = Buffer.concat([
      mqttString('MQTT'),
      Buffer.from([5, 0x02 | 0x04, 0, 60]),
      varint(0),
      mqttString('willer'),
      varint(willProps.length),
      willProps,
      mqttString('order/will'),
      mqttString('gone'),
    ]);
    const raw = await RawClient.open(b.port);
    raw.setVersion(5);
    raw.sendRaw(Buffer.concat([Buffer.from([0x10]), varint(body.length), body]));
    await raw.next('connack');
    raw.destroy();
    const got = await frames.next(3);
    expect(publishPropertyBytes(got)).toEqual(Buffer.concat([A1, CONTENT_TYPE, B2, A3]));
  });

  it('refuses a property a PUBLISH may not carry', async () => {
    const b = await startBroker();
    const { client: pub } = await RawClient.connect(b.port, { version: 5, clientId: 'pub' });
    pub.sendRaw(publishV5('order/x', 'hi', Buffer.concat([A1, prop(0x11, Buffer.from([0, 0, 0, 1]))])));
    const d = await pub.next('disconnect');
    expect((d as { reasonCode?: number }).reasonCode).toBeGreaterThanOrEqual(0x81);
    await pub.closed;
  });

  it('refuses a subscription identifier from a client (MQTT-3.3.4-6)', async () => {
    const b = await startBroker();
    const { client: pub } = await RawClient.connect(b.port, { version: 5, clientId: 'pub' });
    pub.sendRaw(publishV5('order/x', 'hi', prop(0x0b, varint(1))));
    const d = await pub.next('disconnect');
    expect((d as { reasonCode?: number }).reasonCode).toBe(0x82);
  });
});


function run(program: string, args: string[]): { out: () => string; exited: Promise<number | null> } {
  const r = spawnProgram(program, args);
  return { out: r.stdout, exited: r.exited };
}

const TS_PUB = path.join(ROOT, 'bin/ts-mosquitto_pub.js');
const TS_SUB = path.join(ROOT, 'bin/ts-mosquitto_sub.js');
const haveClients = haveProgram('mosquitto_sub') && haveProgram('mosquitto_pub');
const PROPS = ['-D', 'publish', 'user-property', 'a', '1', '-D', 'publish', 'content-type', 'ct', '-D', 'publish', 'user-property', 'b', '2', '-D', 'publish', 'user-property', 'a', '3'];
const FORMAT = ['-F', '%P|%j'];

async function waitSubscribed(check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 20) {
    if (waited > 5000) throw new Error('subscriber never subscribed');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(!haveClients)('clients: -D user-property in order, -F %P and %j as mosquitto_sub', () => {
  for (const brokerKind of ['ts-mosquitto', 'mosquitto'] as const) {
    for (const pubKind of ['ts-mosquitto_pub', 'mosquitto_pub'] as const) {
      it(`${pubKind} through ${brokerKind}`, async () => {
        let port: number;
        let subscribed: () => boolean;
        if (brokerKind === 'ts-mosquitto') {
          const b = await startBroker();
          port = b.port;
          subscribed = () => b.lines.filter((l) => /^(ts|m)sub \d order\/t$/.test(l)).length === 2;
        } else {
          const m = await startMosquitto();
          mosquittos.push(m);
          port = m.port;
          subscribed = () => m.lines.filter((l) => /^(ts|m)sub \d order\/t$/.test(l)).length === 2;
        }
        const common = ['-V', '5', '-h', '127.0.0.1', '-p', String(port)];
        const ours = run(TS_SUB, [...common, '-i', 'tssub', '-t', 'order/t', '-C', '1', ...FORMAT]);
        const theirs = run('mosquitto_sub', [...common, '-i', 'msub', '-t', 'order/t', '-C', '1', ...FORMAT]);
        await waitSubscribed(subscribed);
        const pub = run(pubKind === 'ts-mosquitto_pub' ? TS_PUB : 'mosquitto_pub', [...common, '-t', 'order/t', '-m', 'hi', ...PROPS]);
        expect(await pub.exited).toBe(0);
        expect(await ours.exited).toBe(0);
        expect(await theirs.exited).toBe(0);
        const strip = (s: string): string => s.replace(/"tst":"[^"]*",/, '');
        expect(ours.out().startsWith('a:1 b:2 a:3|')).toBe(true);
        expect(strip(ours.out())).toBe(strip(theirs.out()));
        expect(strip(ours.out())).toContain('"user-properties":{"a":"1","b":"2","a":"3"}');
      });
    }
  }
});
