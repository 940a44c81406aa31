/**
 * max_qos (a listener's Maximum QoS, MQTT-3.2.2-9..11) as Mosquitto 2.0.11 has it: an MQTT 5
 * CONNACK, accepting or refusing, ends with the Maximum QoS property; a PUBLISH above it
 * ends the connection (MQTT 5: DISCONNECT 0x9B first). The same raw exchange runs against
 * ts-mosquitto and, where installed, the real Mosquitto.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, stopBrokers, type TestBroker } from './helpers/broker.js';
import { haveProgram, MOSQUITTO, startMosquitto, type RealMosquitto } from './helpers/mosquitto.js';

/** CONNECT with client id `id` at `version`, keep alive 60, clean; `flags` 0xc2 adds username and password. */
function connectBytes(version: 4 | 5, id: string, extra: number[] = [], flags = 0x02): number[] {
  const body = [0, 4, 0x4d, 0x51, 0x54, 0x54, version, flags, 0, 60, ...(version === 5 ? [0] : []), 0, id.length, ...Buffer.from(id), ...extra];
  return [0x10, body.length, ...body];
}

/** Everything the broker sends back (hex) until it closes the connection or answers the PINGREQ. */
function exchange(port: number, bytes: number[]): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let got = Buffer.alloc(0);
    s.on('error', () => {});
    s.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.subarray(-2).equals(Buffer.from([0xd0, 0]))) {
        s.destroy();
        resolve(`${got.toString('hex')} open`);
      }
    });
    s.on('close', () => resolve(`${got.toString('hex')} closed`));
    s.write(Buffer.from(bytes));
  });
}

const PINGREQ = [0xc0, 0x00];
/** CONNACK accepting an MQTT 5 client: Topic Alias Maximum 10, Receive Maximum 20, Maximum QoS 1. */
const CONNACK5 = '200b00000822000a2100142401';

const cases: { name: string; bytes: number[]; expected: string }[] = [
  {
    name: 'an MQTT 5 CONNACK ends with Maximum QoS 1',
    bytes: [...connectBytes(5, 'q5'), ...PINGREQ],
    expected: `${CONNACK5}d000 open`,
  },
  {
    name: 'an MQTT 5 QoS 2 PUBLISH gets DISCONNECT 0x9B (QoS not supported) and the connection ends',
    bytes: [...connectBytes(5, 'q52'), 0x34, 0x07, 0x00, 0x01, 0x74, 0x00, 0x01, 0x00, 0x61, ...PINGREQ],
    expected: `${CONNACK5}e0019b closed`,
  },
  {
    name: 'a 3.1.1 QoS 2 PUBLISH ends the connection without PUBREC',
    bytes: [...connectBytes(4, 'q42'), 0x34, 0x06, 0x00, 0x01, 0x74, 0x00, 0x01, 0x61, ...PINGREQ],
    expected: '20020000 closed',
  },
  {
    name: 'a QoS 1 PUBLISH is accepted (PUBACK 0x10: no subscribers)',
    bytes: [...connectBytes(5, 'q51'), 0x32, 0x07, 0x00, 0x01, 0x74, 0x00, 0x01, 0x00, 0x61, ...PINGREQ],
    expected: `${CONNACK5}4003000110d000 open`,
  },
];

async function runAll(port: number, refusingPort: number): Promise<void> {
  for (const c of cases) expect([c.name, await exchange(port, c.bytes)]).toEqual([c.name, c.expected]);
  // A refused MQTT 5 client (not authorised) hears the Maximum QoS too: 20 05 00 87 02 24 01.
  expect(await exchange(refusingPort, connectBytes(5, 'no'))).toBe('20050087022401 closed');
}

describe('max_qos 1 (ts-mosquitto)', () => {
  let b: TestBroker;
  let refusing: TestBroker;
  beforeAll(async () => {
    b = await startBroker({ listeners: [{ port: 0, host: '127.0.0.1', maxQos: 1 }] });
    refusing = await startBroker({ listeners: [{ port: 0, host: '127.0.0.1', maxQos: 1 }], allowAnonymous: false });
  });
  afterAll(stopBrokers);

  it('CONNACK carries Maximum QoS 1 (accepting and refusing); a QoS 2 PUBLISH ends the connection', async () => {
    await runAll(b.port, refusing.port);
  });

  it('a QoS 2 PUBLISH is logged as Mosquitto logs it', async () => {
    await exchange(b.port, [...connectBytes(4, 'toohigh'), 0x34, 0x06, 0x00, 0x01, 0x74, 0x00, 0x01, 0x61]);
    await b.waitForLine('Too high QoS in PUBLISH from toohigh, disconnecting.');
    await b.waitForLine('Bad socket read/write on client toohigh: Requested QoS not supported on server.');
  });
});

describe.skipIf(!haveProgram(MOSQUITTO))('max_qos 1 (the real Mosquitto 2.0, same exchange)', () => {
  let m: RealMosquitto;
  let refusing: RealMosquitto;
  beforeAll(async () => {
    m = await startMosquitto(['max_qos 1'], false);
    refusing = await startMosquitto(['max_qos 1', 'allow_anonymous false'], false);
  });
  afterAll(async () => {
    await m.stop();
    await refusing.stop();
  });

  it('CONNACK carries Maximum QoS 1 (accepting and refusing); a QoS 2 PUBLISH ends the connection', async () => {
    await runAll(m.port, refusing.port);
  });
});
