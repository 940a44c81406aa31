/**
 * A client's Maximum Packet Size (MQTT 5 CONNECT property, MQTT-3.1.2-24/25) as Mosquitto
 * 2.0.11 honours it: a CONNACK that does not fit is not sent and the connection ends; a
 * PUBLISH that does not fit is dropped, its packet id used up; packets are measured as
 * Mosquitto measures them (remaining length and its bytes, not the first byte). The same
 * raw exchange runs against ts-mosquitto and, where installed, the real Mosquitto.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, stopBrokers, type TestBroker } from './helpers/broker.js';
import { haveProgram, MOSQUITTO, startMosquitto, type RealMosquitto } from './helpers/mosquitto.js';
import { RawClient } from './helpers/raw-client.js';
import { RawFrames } from './helpers/raw-frames.js';

/** An MQTT 5 CONNECT with Maximum Packet Size `max`. */
function connectWithMax(id: string, max: number): Buffer {
  const body = [0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 0x02, 0, 60, 5, 0x27, max >>> 24, (max >> 16) & 0xff, (max >> 8) & 0xff, max & 0xff, 0, id.length, ...Buffer.from(id)];
  return Buffer.from([0x10, body.length, ...body]);
}

/** An MQTT 5 PUBLISH of `payload` to 'test/topic' at `qos` (packet id `mid`), no properties. */
function publish5(qos: 1 | 2, mid: number, payload: string): Buffer {
  const body = [0, 10, ...Buffer.from('test/topic'), mid >> 8, mid & 0xff, 0, ...Buffer.from(payload)];
  return Buffer.from([0x30 | (qos << 1), body.length, ...body]);
}

/** CONNACK with a limit of 2 bytes: what comes back, and whether the connection ended. */
async function tinyLimit(port: number): Promise<string> {
  const c = await RawClient.open(port);
  const frames = new RawFrames(c);
  c.sendRaw(connectWithMax('tiny', 2));
  await c.closed;
  return `${frames.frames.map((f) => f.toString('hex')).join(' ')} closed`.trim();
}

/**
 * One client, limit 20, subscribed to 'test/topic' at QoS 1, publishes there a 20-byte
 * payload (36 bytes on the wire: dropped) and then a 4-byte one (21 bytes: 20 as Mosquitto
 * counts, so sent): the packets it gets back, in order, acks answered.
 */
async function selfPublish(port: number): Promise<string[]> {
  const c = await RawClient.open(port);
  c.setVersion(5);
  const frames = new RawFrames(c);
  c.sendRaw(connectWithMax('self', 20));
  await c.next('connack');
  c.sendRaw([0x82, 0x10, 0, 1, 0, 0, 10, ...Buffer.from('test/topic'), 1]);
  await c.next('suback');
  c.sendRaw(publish5(1, 1, '12345678901234567890'));
  await c.next('puback');
  c.sendRaw([0xc0, 0]);
  await c.next('pingresp');
  c.sendRaw(publish5(1, 2, '7890'));
  await c.waitFor((p) => p.cmd === 'publish');
  await c.waitFor((p) => p.cmd === 'puback');
  c.destroy();
  // CONNACK and SUBACK left out; PUBACK 1, PINGRESP, then PUBLISH and PUBACK 2 in either order.
  const rest = frames.frames.slice(2).map((f) => f.toString('hex'));
  return [...rest.slice(0, 2), ...rest.slice(2).sort()];
}

const expectedSelf = ['40020001', 'd000', '3213000a746573742f746f70696300020037383930', '40020002'];

describe('a client\'s Maximum Packet Size (ts-mosquitto)', () => {
  let b: TestBroker;
  beforeAll(async () => {
    b = await startBroker();
  });
  afterAll(stopBrokers);

  it('a CONNACK over it is not sent and the connection ends, logged as an oversize packet', async () => {
    expect(await tinyLimit(b.port)).toBe('closed');
    await b.waitForLine('Client tiny disconnected due to oversize packet.');
  });

  it('a PUBLISH over it is dropped (its packet id used up); one byte over, as Mosquitto counts, still goes', async () => {
    expect(await selfPublish(b.port)).toEqual(expectedSelf);
  });
});

describe.skipIf(!haveProgram(MOSQUITTO))('a client\'s Maximum Packet Size (the real Mosquitto 2.0, same exchange)', () => {
  let m: RealMosquitto;
  beforeAll(async () => {
    m = await startMosquitto([], false);
  });
  afterAll(async () => {
    await m.stop();
  });

  it('a CONNACK over it is not sent and the connection ends', async () => {
    expect(await tinyLimit(m.port)).toBe('closed');
  });

  it('a PUBLISH over it is dropped (its packet id used up); one byte over, as Mosquitto counts, still goes', async () => {
    expect(await selfPublish(m.port)).toEqual(expectedSelf);
  });
});
