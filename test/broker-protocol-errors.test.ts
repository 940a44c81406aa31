/**
 * Packets out of place, as Mosquitto 2.0.11 treats them: which close the connection, which
 * get an MQTT 5 DISCONNECT first and which none, which are read and ignored. Each exchange
 * runs against ts-mosquitto and, where installed, against the real Mosquitto: the bytes
 * that come back after CONNACK, and whether the connection ends, must be the same.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, stopBrokers } from './helpers/broker.js';
import { haveProgram, MOSQUITTO, startMosquitto, type RealMosquitto } from './helpers/mosquitto.js';
import { RawClient } from './helpers/raw-client.js';
import { RawFrames, splitFrames } from './helpers/raw-frames.js';

const PINGREQ = [0xc0, 0x00];

/** CONNECT with client id `id` at `version` (3: MQIsdp), keep alive 60, clean unless `flags` says otherwise. */
function connectBytes(version: 3 | 4 | 5, id: string, extra: number[] = [], flags = 0x02): number[] {
  const name = version === 3 ? [0, 6, ...Buffer.from('MQIsdp')] : [0, 4, ...Buffer.from('MQTT')];
  const body = [...name, version, flags, 0, 60, ...(version === 5 ? [0] : []), 0, id.length, ...Buffer.from(id), ...extra];
  return [0x10, body.length, ...body];
}

/**
 * Sends `bytes` on a new connection and reads until the broker closes it or answers the
 * final PINGREQ: what came back (hex, CONNACK left out when `skipConnack`), then
 * 'closed' or 'open'.
 */
function exchange(port: number, bytes: number[], skipConnack = true): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let got = Buffer.alloc(0);
    const frames = (): Buffer[] => splitFrames(got).frames;
    const shown = (): string =>
      frames()
        .slice(skipConnack ? 1 : 0)
        .map((f) => f.toString('hex'))
        .join(' ');
    s.on('error', () => {});
    s.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const f = frames();
      if (f.length > (skipConnack ? 1 : 0) && f[f.length - 1].equals(Buffer.from([0xd0, 0]))) {
        s.destroy();
        resolve(`${shown()} open`);
      }
    });
    s.on('close', () => resolve(`${shown()} closed`.trim()));
    s.write(Buffer.from(bytes));
  });
}

/** One client at `version` subscribed to 't' at `qos`; a second publishes there at `qos`; the PUBLISH the first receives. */
async function inFlight(port: number, version: 4 | 5, qos: 1 | 2): Promise<{ sub: RawClient; frames: RawFrames; mid: number }> {
  const sub = await RawClient.open(port);
  await sub.handshake({ clientId: `sub${version}${qos}`, version });
  await sub.subscribe('t', qos);
  const pub = await RawClient.open(port);
  await pub.handshake({ clientId: `pub${version}${qos}`, version });
  pub.publish('t', 'm', { qos, messageId: 1 });
  await pub.next(qos === 1 ? 'puback' : 'pubrec');
  if (qos === 2) {
    pub.send({ cmd: 'pubrel', messageId: 1 });
    await pub.next('pubcomp');
  }
  pub.destroy();
  const m = await sub.nextPublish();
  return { sub, frames: new RawFrames(sub), mid: m.messageId! };
}

/** Sends `ack` (raw) for the message in flight, then PINGREQ: what came back and whether it ended. */
async function wrongAck(port: number, version: 4 | 5, qos: 1 | 2, ack: (mid: number) => number[], before?: (mid: number) => number[]): Promise<string> {
  const { sub, frames, mid } = await inFlight(port, version, qos);
  if (before !== undefined) {
    sub.sendRaw(before(mid));
    await sub.waitFor((p) => p.cmd === 'pubrel');
  }
  const already = frames.frames.length;
  sub.sendRaw([...ack(mid), ...PINGREQ]);
  const answered = sub.waitFor((p) => p.cmd === 'pingresp').then(
    () => 'open',
    () => 'closed',
  );
  const end = await Promise.race([sub.closed.then(() => 'closed'), answered]);
  sub.destroy();
  const after = frames.frames.slice(already).filter((f) => f[0] !== 0xd0);
  return `${after.map((f) => f.toString('hex')).join(' ')} ${end}`.trim();
}

interface Case {
  name: string;
  run(port: number): Promise<string>;
  expected: string;
}

const cases: Case[] = [
  {
    name: 'a CONNECT carrying a username whose flag is 0 is malformed: closed without CONNACK (3.1.1)',
    run: (port) => exchange(port, connectBytes(4, 'u', [0, 4, ...Buffer.from('user')]), false),
    expected: 'closed',
  },
  {
    name: 'a CONNECT carrying a username and password whose flags are 0 is malformed: closed without CONNACK (5)',
    run: (port) => exchange(port, connectBytes(5, 'u', [0, 4, ...Buffer.from('user'), 0, 2, ...Buffer.from('pw')]), false),
    expected: 'closed',
  },
  {
    name: 'a second CONNECT closes the connection without a DISCONNECT (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'twice'), ...connectBytes(5, 'twice'), ...PINGREQ]),
    expected: 'closed',
  },
  {
    name: 'a CONNACK from a client, even with bad flags, closes without a DISCONNECT (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'ca'), 0x29, 0x02, 0x00, 0x01, ...PINGREQ]),
    expected: 'closed',
  },
  {
    name: 'a PINGRESP or SUBACK from a client is read and ignored (3.1.1)',
    run: (port) => exchange(port, [...connectBytes(4, 'pr'), 0xd0, 0x00, 0x90, 0x03, 0x00, 0x01, 0x00, ...PINGREQ]),
    expected: 'd000 open',
  },
  {
    name: 'reserved flag bits of PUBACK, PUBREC, PUBCOMP and PINGREQ are not looked at (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'fl'), 0x42, 0x02, 0x00, 0x07, 0x51, 0x02, 0x00, 0x07, 0x7f, 0x02, 0x00, 0x07, 0xc1, 0x00]),
    expected: '62020007 d000 open',
  },
  {
    name: 'a PUBREL with reserved flags 0000 closes without a DISCONNECT (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'rl'), 0x60, 0x02, 0x00, 0x01, ...PINGREQ]),
    expected: 'closed',
  },
  {
    name: 'a PUBREL with packet id 0 closes (3.1.1)',
    run: (port) => exchange(port, [...connectBytes(4, 'r0'), 0x62, 0x02, 0x00, 0x00, ...PINGREQ]),
    expected: 'closed',
  },
  {
    name: 'a PUBACK too short for its packet id closes without a DISCONNECT (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'pa'), 0x40, 0x00, ...PINGREQ]),
    expected: 'closed',
  },
  {
    name: 'a SUBSCRIBE with reserved flags 0000 gets DISCONNECT 0x81 (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'sf'), 0x80, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61, 0x00, ...PINGREQ]),
    expected: 'e00181 closed',
  },
  {
    name: 'an AUTH without enhanced authentication closes without a DISCONNECT (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'au'), 0xf0, 0x00, ...PINGREQ]),
    expected: 'closed',
  },
  {
    name: 'the reserved packet type 0 gets DISCONNECT 0x82 (5)',
    run: (port) => exchange(port, [...connectBytes(5, 't0'), 0x00, 0x02, 0x00, 0x00, ...PINGREQ]),
    expected: 'e00182 closed',
  },
  {
    name: 'a PUBACK for a packet id not in flight is ignored (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'un'), 0x40, 0x02, 0x00, 0x05, 0x70, 0x02, 0x00, 0x05, ...PINGREQ]),
    expected: 'd000 open',
  },
  {
    name: 'an UNSUBSCRIBE with an invalid filter closes without UNSUBACK (3.1.1)',
    run: (port) => exchange(port, [...connectBytes(4, 'ui'), 0xa2, 0x08, 0x00, 0x01, 0x00, 0x04, ...Buffer.from('#//a'), ...PINGREQ]),
    expected: 'closed',
  },
  {
    name: 'an UNSUBSCRIBE with an empty filter gets DISCONNECT 0x81 (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'ue'), 0xa2, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, ...PINGREQ]),
    expected: 'e00181 closed',
  },
  {
    name: 'a SUBSCRIBE with a property other than Subscription Identifier and User Property gets DISCONNECT 0x81 (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'sp'), 0x82, 0x0c, 0x00, 0x01, 0x05, 0x11, 0, 0, 0, 0, 0x00, 0x01, 0x61, 0x01, ...PINGREQ]),
    expected: 'e00181 closed',
  },
  {
    name: 'a SUBSCRIBE with Subscription Identifier 0 gets DISCONNECT 0x81 (5)',
    run: (port) => exchange(port, [...connectBytes(5, 's0'), 0x82, 0x09, 0x00, 0x01, 0x02, 0x0b, 0x00, 0x00, 0x01, 0x61, 0x01, ...PINGREQ]),
    expected: 'e00181 closed',
  },
  {
    name: 'a SUBSCRIBE with Subscription Identifier 1 is granted (5)',
    run: (port) => exchange(port, [...connectBytes(5, 's1'), 0x82, 0x09, 0x00, 0x01, 0x02, 0x0b, 0x01, 0x00, 0x01, 0x61, 0x01, ...PINGREQ]),
    expected: '900400010001 d000 open',
  },
  {
    name: 'at MQTT 3.1, PUBREL (with DUP), SUBSCRIBE and UNSUBSCRIBE are read whatever their flag bits say',
    run: (port) =>
      exchange(port, [
        ...connectBytes(3, 'v31'),
        ...[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00],
        ...[0xa0, 0x05, 0x00, 0x02, 0x00, 0x01, 0x61],
        ...[0x6a, 0x02, 0x00, 0x03],
        ...PINGREQ,
      ]),
    expected: '9003000100 b0020002 70020003 d000 open',
  },
  {
    name: 'an MQTT 3.1 client resuming its session gets CONNACK with session present 0 (3.1 has no such flag)',
    run: async (port) => {
      const first = await exchange(port, [...connectBytes(3, 'resume31', [], 0x00), 0xe0, 0x00], false);
      const second = await exchange(port, [...connectBytes(3, 'resume31', [], 0x00), ...PINGREQ], false);
      return `${first} / ${second}`;
    },
    expected: '20020000 closed / 20020000 d000 open',
  },
  {
    name: 'a SUBACK from a client with no reason code (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'suback0'), 0x90, 3, 0, 1, 0, ...PINGREQ]),
    expected: 'closed',
  },
  {
    name: 'a SUBACK from a client with a reason code (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'suback1'), 0x90, 4, 0, 1, 0, 0, ...PINGREQ]),
    expected: 'd000 open',
  },
  {
    name: 'an UNSUBACK from a client with no reason code (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'unsuback0'), 0xb0, 3, 0, 1, 0, ...PINGREQ]),
    expected: 'd000 open',
  },
  {
    name: 'a SUBACK from a client (3.1.1)',
    run: (port) => exchange(port, [...connectBytes(4, 'suback4'), 0x90, 3, 0, 1, 0, ...PINGREQ]),
    expected: 'd000 open',
  },
  {
    name: 'a SUBSCRIBE with wrong flags and a remaining length over four bytes closes without a DISCONNECT (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'sublen'), 0x80, 0xff, 0xff, 0xff, 0xff, 0x01, ...PINGREQ]),
    expected: 'closed',
  },
  {
    name: 'a PUBLISH with a remaining length over four bytes closes without a DISCONNECT (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'publen'), 0x30, 0xff, 0xff, 0xff, 0xff, 0x01, ...PINGREQ]),
    expected: 'closed',
  },
  {
    name: 'a PUBLISH with Topic Alias 0 is malformed: DISCONNECT 0x81 (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'alias0'), 0x30, 8, 0, 1, 0x74, 3, 0x23, 0, 0, 0x78, ...PINGREQ]),
    expected: 'e00181 closed',
  },
  {
    name: 'a PUBREL for a packet id not known gets a plain PUBCOMP, no 0x92 (5)',
    run: (port) => exchange(port, [...connectBytes(5, 'rel'), 0x62, 0x02, 0x00, 0x09, ...PINGREQ]),
    expected: '70020009 d000 open',
  },
];

for (const version of [4, 5] as const) {
  cases.push(
    {
      name: `a PUBCOMP for a QoS 1 message in flight closes without a DISCONNECT (${version})`,
      run: (port) => wrongAck(port, version, 1, (mid) => [0x70, 2, mid >> 8, mid & 0xff]),
      expected: 'closed',
    },
    {
      name: `a PUBREC for a QoS 1 message in flight closes without a PUBREL or DISCONNECT (${version})`,
      run: (port) => wrongAck(port, version, 1, (mid) => [0x50, 2, mid >> 8, mid & 0xff]),
      expected: 'closed',
    },
    {
      name: `a PUBACK for a QoS 2 message in flight closes (${version})`,
      run: (port) => wrongAck(port, version, 2, (mid) => [0x40, 2, mid >> 8, mid & 0xff]),
      expected: 'closed',
    },
    {
      name: `a PUBCOMP for a QoS 2 message before its PUBREC closes (${version})`,
      run: (port) => wrongAck(port, version, 2, (mid) => [0x70, 2, mid >> 8, mid & 0xff]),
      expected: 'closed',
    },
    {
      name: `a PUBACK for a QoS 2 message awaiting PUBCOMP closes (${version})`,
      run: (port) =>
        wrongAck(
          port,
          version,
          2,
          (mid) => [0x40, 2, mid >> 8, mid & 0xff],
          (mid) => [0x50, 2, mid >> 8, mid & 0xff],
        ),
      expected: 'closed',
    },
  );
}

describe('packets out of place (ts-mosquitto)', () => {
  afterAll(stopBrokers);
  for (const c of cases) {
    it(c.name, async () => {
      const b = await startBroker();
      expect(await c.run(b.port)).toBe(c.expected);
    });
  }

  it('an ack of the wrong kind is logged as a protocol error, as Mosquitto does', async () => {
    const b = await startBroker();
    await wrongAck(b.port, 4, 1, (mid) => [0x70, 2, mid >> 8, mid & 0xff]);
    await b.waitForLine('Client sub41 disconnected due to protocol error.');
  });

  it('an MQTT 5 SUBACK without a reason code is logged as a protocol error, as Mosquitto does', async () => {
    const b = await startBroker();
    await exchange(b.port, [...connectBytes(5, 'suback0'), 0x90, 3, 0, 1, 0, ...PINGREQ]);
    await b.waitForLine('Client suback0 disconnected due to protocol error.');
  });
});

describe.skipIf(!haveProgram(MOSQUITTO))('packets out of place (the real Mosquitto 2.0, same exchange)', () => {
  let m: RealMosquitto;
  beforeAll(async () => {
    m = await startMosquitto([], false);
  });
  afterAll(async () => {
    await m.stop();
  });
  for (const c of cases) {
    it(c.name, async () => {
      expect(await c.run(m.port)).toBe(c.expected);
    });
  }
});
