/**
 * Log lines in Mosquitto's words: the same raw exchange runs against the real Mosquitto 2.0
 * and against ts-mosquitto, and the lines must be equal once timestamps, ports and generated
 * ids are blanked. Also checks the `TIMESTAMP: ` format and the default (non -v) log types.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_DEFAULT } from '../src/index.js';
import { startBroker, stopBrokers, type TestBroker } from './helpers/broker.js';
import { haveProgram, MOSQUITTO, normalise, startMosquitto, type RealMosquitto } from './helpers/mosquitto.js';
import { encodeConnectRaw, RawClient } from './helpers/raw-client.js';

interface Scenario {
  name: string;
  /** Performs the exchange; resolves when every client of the scenario has closed. */
  run(port: number): Promise<void>;
  /** The last line the scenario produces; both brokers are waited on for it. */
  last: string | RegExp;
}

async function connected(port: number, clientId: string, opts: Parameters<RawClient['handshake']>[0] = {}): Promise<RawClient> {
  const c = await RawClient.open(port);
  const ack = await c.handshake({ clientId, ...opts });
  if ((ack.returnCode ?? ack.reasonCode) !== 0) throw new Error(`refused ${ack.returnCode ?? ack.reasonCode}`);
  return c;
}

async function sendAndWaitClose(port: number, clientId: string, bytes: number[]): Promise<void> {
  const c = await connected(port, clientId);
  c.sendRaw(bytes);
  await c.closed;
}

/** The same at MQTT 5, where the broker sends a DISCONNECT before closing. */
async function sendAndWaitCloseV5(port: number, clientId: string, bytes: number[]): Promise<void> {
  const c = await connected(port, clientId, { version: 5 });
  c.sendRaw(bytes);
  await c.closed;
}

/** 't' as an MQTT string. */
const T = [0x00, 0x01, 0x74];

const scenarios: Scenario[] = [
  {
    name: 'subscribe, QoS 1 and QoS 2 publish, unsubscribe, ping, disconnect',
    async run(port) {
      const s = await connected(port, 'subber', { username: 'someone' });
      await s.subscribe([
        { topic: 'a/b', qos: 1 },
        { topic: 'c/#', qos: 2 },
      ]);
      const p = await connected(port, 'pubber');
      p.publish('a/b', 'hello', { qos: 1, messageId: 1 });
      await p.next('puback');
      const m = await s.nextPublish();
      s.send({ cmd: 'puback', messageId: m.messageId });
      await s.sync();
      p.publish('c/d', 'world', { qos: 2, messageId: 2 });
      await p.next('pubrec');
      p.send({ cmd: 'pubrel', messageId: 2 });
      await p.next('pubcomp');
      const m2 = await s.nextPublish();
      s.send({ cmd: 'pubrec', messageId: m2.messageId });
      await s.next('pubrel');
      s.send({ cmd: 'pubcomp', messageId: m2.messageId });
      await s.sync();
      p.publish('a/b', 'zero');
      await s.nextPublish();
      s.send({ cmd: 'unsubscribe', messageId: 9, unsubscriptions: ['a/b', 'never/subscribed'] });
      await s.next('unsuback');
      s.disconnect();
      await s.closed;
      p.destroy();
      await p.closed;
    },
    last: 'Client pubber closed its connection.',
  },
  {
    name: 'retained message on subscribe and its deletion',
    async run(port) {
      const p = await connected(port, 'retainer');
      p.publish('ret/x', 'kept', { qos: 1, retain: true, messageId: 3 });
      await p.next('puback');
      const s = await connected(port, 'late');
      await s.subscribe('ret/#', 1);
      const m = await s.nextPublish();
      s.send({ cmd: 'puback', messageId: m.messageId });
      await s.sync();
      p.publish('ret/x', '', { qos: 0, retain: true });
      await s.nextPublish();
      s.disconnect();
      await s.closed;
      p.disconnect();
      await p.closed;
    },
    last: 'Client retainer disconnected.',
  },
  {
    name: 'will on an unclean close',
    async run(port) {
      const w = await connected(port, 'watcher');
      await w.subscribe('will/#', 0);
      const d = await connected(port, 'dying', { will: { topic: 'will/d', payload: Buffer.from('bye'), qos: 1, retain: true } });
      d.destroy();
      await w.nextPublish();
      w.disconnect();
      await w.closed;
    },
    last: 'Client watcher disconnected.',
  },
  {
    name: 'empty client id with clean session',
    async run(port) {
      const c = await connected(port, '');
      c.disconnect();
      await c.closed;
    },
    last: /^Client auto-.* disconnected\.$/,
  },
  {
    name: 'empty client id with persistent session',
    async run(port) {
      const c = await RawClient.open(port);
      await c.handshake({ clientId: '', clean: false });
      await c.closed;
    },
    last: 'Client <unknown> disconnected due to protocol error.',
  },
  {
    name: 'unsupported protocol level',
    async run(port) {
      const c = await RawClient.open(port);
      c.sendRaw([0x10, 12, 0, 4, 77, 81, 84, 84, 9, 2, 0, 60, 0, 0]);
      await c.closed;
    },
    last: 'Client <unknown> disconnected due to protocol error.',
  },
  {
    name: 'password without username',
    async run(port) {
      const c = await RawClient.open(port);
      c.sendRaw(encodeConnectRaw({ cmd: 'connect', clientId: 'pw', password: Buffer.from('x') }));
      await c.closed;
    },
    last: 'Client <unknown> disconnected due to protocol error.',
  },
  {
    name: 'second CONNECT',
    async run(port) {
      const c = await connected(port, 'twice');
      c.send(c.connectPacket({ clientId: 'twice' }));
      await c.closed;
    },
    last: 'Client twice disconnected due to protocol error.',
  },
  {
    name: 'publish into $SYS',
    async run(port) {
      const c = await connected(port, 'sysp');
      c.publish('$SYS/x', 'no', { qos: 1, messageId: 5 });
      await c.next('puback');
      c.disconnect();
      await c.closed;
    },
    last: 'Client sysp disconnected.',
  },
  {
    name: 'remaining length longer than four bytes',
    run: (port) => sendAndWaitClose(port, 'badlen', [0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
    last: /^Client badlen disconnected/,
  },
  {
    name: 'truncated topic string',
    run: (port) => sendAndWaitClose(port, 'trunc', [0x30, 5, 0, 10, 0x61, 0x62, 0x63]),
    last: /^Client trunc disconnected/,
  },
  {
    name: 'invalid UTF-8 topic',
    run: (port) => sendAndWaitClose(port, 'utf8', [0x30, 6, 0, 3, 0x61, 0xff, 0x62, 0x78]),
    last: /^Client utf8 disconnected/,
  },
  {
    name: 'PUBLISH with QoS 3',
    run: (port) => sendAndWaitClose(port, 'qos3', [0x36, 5, 0, 1, 0x61, 0, 1]),
    last: /^Client qos3 disconnected/,
  },
  {
    name: 'SUBSCRIBE with reserved flags 0000',
    run: (port) => sendAndWaitClose(port, 'subflags', [0x80, 6, 0, 1, 0, 1, 0x61, 0]),
    last: /^Client subflags disconnected/,
  },
  {
    name: 'UNSUBSCRIBE with reserved flags 0000',
    run: (port) => sendAndWaitClose(port, 'unsubflags', [0xa0, 5, 0, 1, 0, 1, 0x61]),
    last: /^Client unsubflags disconnected/,
  },
  {
    name: 'PUBREL with reserved flags 0000',
    run: (port) => sendAndWaitClose(port, 'relflags', [0x60, 2, 0, 1]),
    last: /^Client relflags disconnected/,
  },
  {
    name: 'SUBSCRIBE without a filter',
    run: (port) => sendAndWaitClose(port, 'nofilter', [0x82, 2, 0, 1]),
    last: /^Client nofilter disconnected/,
  },
  {
    name: 'UNSUBSCRIBE without a filter',
    run: (port) => sendAndWaitClose(port, 'nounsub', [0xa2, 2, 0, 1]),
    last: /^Client nounsub disconnected/,
  },
  {
    name: 'wildcard in a PUBLISH topic',
    run: (port) => sendAndWaitClose(port, 'wild', [0x30, 5, 0, 3, 0x61, 0x2f, 0x2b]),
    last: /^Client wild disconnected/,
  },
  {
    name: 'QoS 1 PUBLISH with packet id 0',
    run: (port) => sendAndWaitClose(port, 'mid0', [0x32, 6, 0, 1, 0x61, 0, 0, 0x78]),
    last: /^Client mid0 disconnected/,
  },
  {
    name: 'connection closed before CONNECT',
    async run(port) {
      const c = await RawClient.open(port);
      c.socket.end();
      await c.closed;
    },
    last: /^Client <unknown> closed its connection\.$/,
  },
  {
    name: 'connection closed in the middle of a packet',
    async run(port) {
      const c = await connected(port, 'midpacket');
      c.sendRaw([0x30, 0x0a, 0x00]);
      await new Promise((r) => setTimeout(r, 100));
      c.socket.end();
      await c.closed;
    },
    last: 'Client midpacket disconnected: Success.',
  },
  // Refused packets at MQTT 5 (after Mosquitto's 13-malformed-* cases): Mosquitto writes
  // no 'Sending DISCONNECT' line for the DISCONNECT that goes before, and logs a SUBSCRIBE
  // or UNSUBSCRIBE as received before it reads any of it.
  {
    name: 'MQTT 5 SUBSCRIBE with packet id 0',
    run: (port) => sendAndWaitCloseV5(port, 'v5mid0', [0x82, 0x06, 0x00, 0x00, 0x00, ...T, 0x01]),
    last: 'Client v5mid0 disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 SUBSCRIBE with QoS 3',
    run: (port) => sendAndWaitCloseV5(port, 'v5qos3', [0x82, 0x06, 0x00, 0x01, 0x00, ...T, 0x03]),
    last: 'Client v5qos3 disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 SUBSCRIBE with subscription options 0xC0',
    run: (port) => sendAndWaitCloseV5(port, 'v5opts', [0x82, 0x06, 0x00, 0x01, 0x00, ...T, 0xc1]),
    last: 'Client v5opts disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 SUBSCRIBE truncated after its packet id',
    run: (port) => sendAndWaitCloseV5(port, 'v5trunc', [0x82, 0x02, 0x00, 0x01]),
    last: 'Client v5trunc disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 SUBSCRIBE with reserved flags 0000',
    run: (port) => sendAndWaitCloseV5(port, 'v5flags', [0x80, 0x06, 0x00, 0x01, 0x00, ...T, 0x01]),
    last: 'Client v5flags disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 SUBSCRIBE with an invalid filter',
    run: (port) => sendAndWaitCloseV5(port, 'v5filter', [0x82, 0x08, 0x00, 0x01, 0x00, 0x00, 0x02, 0x23, 0x2f, 0x01]),
    last: 'Client v5filter disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 UNSUBSCRIBE with packet id 0',
    run: (port) => sendAndWaitCloseV5(port, 'v5umid0', [0xa2, 0x05, 0x00, 0x00, 0x00, ...T]),
    last: 'Client v5umid0 disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 UNSUBSCRIBE truncated after its packet id',
    run: (port) => sendAndWaitCloseV5(port, 'v5utrunc', [0xa2, 0x02, 0x00, 0x01]),
    last: 'Client v5utrunc disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 UNSUBSCRIBE with an unknown property identifier',
    run: (port) => sendAndWaitCloseV5(port, 'v5uprop', [0xa2, 0x0a, 0x00, 0x01, 0x03, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x74]),
    last: 'Client v5uprop disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 SUBSCRIBE with an unknown property identifier',
    run: (port) => sendAndWaitCloseV5(port, 'v5sprop', [0x82, 0x0b, 0x00, 0x01, 0x03, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x74, 0x01]),
    last: 'Client v5sprop disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 PUBLISH with an unknown property identifier',
    run: (port) => sendAndWaitCloseV5(port, 'v5pprop', [0x30, 0x0a, ...T, 0x03, 0x05, 0x00, 0x00, 0x00, 0x00, 0x68, 0x69]),
    last: 'Client v5pprop disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 UNSUBSCRIBE with an empty filter',
    run: (port) => sendAndWaitCloseV5(port, 'v5uempty', [0xa2, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00]),
    last: 'Client v5uempty disconnected due to malformed packet.',
  },
  {
    name: 'UNSUBSCRIBE with an empty filter',
    run: (port) => sendAndWaitClose(port, 'uempty', [0xa2, 0x04, 0x00, 0x01, 0x00, 0x00]),
    last: /^Client uempty disconnected/,
  },
  {
    name: 'MQTT 5 UNSUBSCRIBE with an invalid filter',
    run: (port) => sendAndWaitCloseV5(port, 'v5ubad', [0xa2, 0x07, 0x00, 0x01, 0x00, 0x00, 0x02, 0x23, 0x2f]),
    last: 'Client v5ubad disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 SUBSCRIBE with a filter of invalid UTF-8',
    run: (port) => sendAndWaitCloseV5(port, 'v5sutf8', [0x82, 0x08, 0x00, 0x01, 0x00, 0x00, 0x02, 0xc3, 0x28, 0x01]),
    last: /^Client v5sutf8 disconnected/,
  },
  {
    name: 'MQTT 5 PUBLISH with topic alias 0',
    run: (port) => sendAndWaitCloseV5(port, 'v5alias0', [0x30, 0x08, ...T, 0x03, 0x23, 0x00, 0x00, 0x78]),
    last: 'Client v5alias0 disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 PUBLISH with a topic alias over the maximum',
    run: (port) => sendAndWaitCloseV5(port, 'v5alias', [0x30, 0x08, ...T, 0x03, 0x23, 0x00, 0x0b, 0x78]),
    last: 'Bad socket read/write on client v5alias: Unknown error.',
  },
  {
    name: 'MQTT 5 DISCONNECT giving a session expiry to a session made without one',
    run: (port) => sendAndWaitCloseV5(port, 'v5dexp', [0xe0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0a]),
    last: 'Client v5dexp disconnected due to protocol error.',
  },
  {
    name: 'MQTT 5 PUBLISH with QoS 3',
    run: (port) => sendAndWaitCloseV5(port, 'v5pq3', [0x36, 0x06, ...T, 0x00, 0x01, 0x00]),
    last: 'Client v5pq3 disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 QoS 1 PUBLISH with packet id 0',
    run: (port) => sendAndWaitCloseV5(port, 'v5pmid0', [0x32, 0x06, ...T, 0x00, 0x00, 0x00]),
    last: 'Client v5pmid0 disconnected due to protocol error.',
  },
  {
    name: 'MQTT 5 PUBLISH truncated in its topic',
    run: (port) => sendAndWaitCloseV5(port, 'v5ptrunc', [0x30, 0x02, 0x00, 0x05]),
    last: 'Client v5ptrunc disconnected due to malformed packet.',
  },
  {
    name: 'MQTT 5 PUBLISH with a wildcard topic',
    run: (port) => sendAndWaitCloseV5(port, 'v5pwild', [0x30, 0x04, 0x00, 0x01, 0x23, 0x00]),
    last: 'Client v5pwild disconnected due to protocol error.',
  },
  {
    name: 'session takeover',
    async run(port) {
      const a = await connected(port, 'taken');
      const b = await connected(port, 'taken');
      await a.closed;
      b.disconnect();
      await b.closed;
    },
    last: 'Client taken disconnected.',
  },
  {
    name: 'persistent session: queued and redelivered messages',
    async run(port) {
      const s = await connected(port, 'sleepy', { clean: false });
      await s.subscribe('p/#', 1);
      const p = await connected(port, 'feeder');
      p.publish('p/1', 'first', { qos: 1, messageId: 1 });
      await p.next('puback');
      await s.nextPublish(); // not acknowledged
      s.destroy();
      await s.closed;
      await new Promise((r) => setTimeout(r, 100));
      p.publish('p/2', 'second', { qos: 1, messageId: 2 });
      await p.next('puback');
      const again = await RawClient.open(port);
      await again.handshake({ clientId: 'sleepy', clean: false });
      const m1 = await again.nextPublish();
      const m2 = await again.nextPublish();
      again.send({ cmd: 'puback', messageId: m1.messageId });
      again.send({ cmd: 'puback', messageId: m2.messageId });
      await again.sync();
      again.disconnect();
      await again.closed;
      p.disconnect();
      await p.closed;
    },
    last: 'Client feeder disconnected.',
  },
  {
    name: 'acknowledgements for unknown packet ids',
    async run(port) {
      const c = await connected(port, 'unk');
      c.send({ cmd: 'puback', messageId: 33 });
      c.send({ cmd: 'pubrec', messageId: 34 });
      c.send({ cmd: 'pubcomp', messageId: 35 });
      c.send({ cmd: 'pubrel', messageId: 36 });
      await c.sync();
      c.disconnect();
      await c.closed;
    },
    last: 'Client unk disconnected.',
  },
  {
    name: 'zero-length topic name',
    run: (port) => sendAndWaitClose(port, 'notopic', [0x30, 3, 0, 0, 0x78]),
    last: /^Client notopic disconnected/,
  },
  {
    name: 'persistent session: QoS 2 flow resumed after reconnect, QoS 0 not queued',
    async run(port) {
      const s = await connected(port, 'q2sleepy', { clean: false });
      await s.subscribe('q2/#', 2);
      const p = await connected(port, 'q2feeder');
      for (const mid of [1, 2]) {
        p.publish('q2/x', `m${mid}`, { qos: 2, messageId: mid });
        await p.next('pubrec');
        p.send({ cmd: 'pubrel', messageId: mid });
        await p.next('pubcomp');
      }
      const a = await s.nextPublish();
      await s.nextPublish();
      s.send({ cmd: 'pubrec', messageId: a.messageId });
      await s.next('pubrel');
      s.destroy();
      await s.closed;
      await new Promise((r) => setTimeout(r, 100));
      p.publish('q2/x', 'zero');
      await p.sync();
      const again = await RawClient.open(port);
      await again.handshake({ clientId: 'q2sleepy', clean: false });
      const rel = await again.next('pubrel');
      const m2 = await again.nextPublish();
      again.send({ cmd: 'pubcomp', messageId: rel.messageId });
      again.send({ cmd: 'pubrec', messageId: m2.messageId });
      await again.next('pubrel');
      again.send({ cmd: 'pubcomp', messageId: m2.messageId });
      await again.sync();
      again.disconnect();
      await again.closed;
      p.disconnect();
      await p.closed;
    },
    last: 'Client q2feeder disconnected.',
  },
  {
    name: 'takeover of a persistent session with a will and a message in flight',
    async run(port) {
      const w = await connected(port, 'twatch');
      await w.subscribe('tw/#', 1);
      const a = await connected(port, 'tpers', { clean: false, will: { topic: 'tw/will', payload: Buffer.from('w'), qos: 1, retain: false } });
      await a.subscribe('tm', 1);
      w.publish('tm', 'inflight', { qos: 1, messageId: 1 });
      await w.next('puback');
      await a.nextPublish();
      const b = await RawClient.open(port);
      await b.handshake({ clientId: 'tpers', clean: false });
      await a.closed;
      const again = await b.nextPublish();
      b.send({ cmd: 'puback', messageId: again.messageId });
      await w.sync();
      await b.sync();
      b.disconnect();
      await b.closed;
      w.disconnect();
      await w.closed;
    },
    last: 'Client twatch disconnected.',
  },
  ...(
    [
      ['will topic with a wildcard', { clientId: 'cw', will: { topic: 'w/#', payload: Buffer.from('x') } }, 'w/#', 'w/#'],
      ['will topic with invalid UTF-8', { clientId: 'cu', will: { topic: 'ab', payload: Buffer.from('x') } }, 'ab', [0xff, 0x62]],
      ['will topic with U+0000', { clientId: 'cz', will: { topic: 'ab', payload: Buffer.from('x') } }, 'ab', [0x00, 0x62]],
      ['empty will topic', { clientId: 'ce', will: { topic: '', payload: Buffer.from('x') } }, '', []],
      ['client id with invalid UTF-8', { clientId: 'ab' }, 'ab', [0x61, 0xfe]],
      ['username with invalid UTF-8', { clientId: 'cn', username: 'ab' }, 'ab', [0xc3, 0x28]],
    ] as const
  ).map(
    ([name, packet, find, replace]): Scenario => ({
      name,
      async run(port) {
        const c = await RawClient.open(port);
        const bytes = encodeConnectRaw({ cmd: 'connect', ...packet } as Parameters<typeof encodeConnectRaw>[0]);
        if (typeof replace !== 'string' && find !== '') bytes.set(replace, bytes.lastIndexOf(Buffer.from(find)));
        c.sendRaw(bytes);
        await c.closed;
      },
      last: /^(Client <unknown> disconnected|Bad socket read\/write)/,
    }),
  ),
  {
    name: 'connection reset by the client (RST)',
    async run(port) {
      const c = await connected(port, 'resetter');
      c.socket.resetAndDestroy();
      await c.closed;
    },
    last: /^(Client resetter closed its connection\.|Socket error on client resetter, disconnecting\.)$/,
  },
  {
    name: 'keepalive timeout',
    async run(port) {
      const c = await connected(port, 'ka', { keepalive: 1 });
      await c.closed;
    },
    last: 'Client ka has exceeded timeout, disconnecting.',
  },
];

const haveMosquitto = haveProgram(MOSQUITTO);

describe.skipIf(!haveMosquitto)('log lines compared with Mosquitto 2.0 (-v, log_type all)', () => {
  let real: RealMosquitto;
  let ours: TestBroker;
  beforeAll(async () => {
    real = await startMosquitto();
    ours = await startBroker();
  });
  afterAll(async () => {
    await real?.stop();
    await stopBrokers();
  });

  async function linesOf(lines: string[], port: number, s: Scenario): Promise<string[]> {
    const start = lines.length;
    await s.run(port);
    const is = (l: string): boolean => (typeof s.last === 'string' ? l === s.last : s.last.test(l));
    // Wait for the scenario's last line among the lines it produced.
    for (let waited = 0; !lines.slice(start).some(is); waited += 20) {
      if (waited > 5000) throw new Error(`no line ${String(s.last)} after:\n${lines.slice(start).join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const out = lines.slice(start);
    return out.slice(0, out.findIndex(is) + 1).map(normalise);
  }

  it.each(scenarios)('$name', async (s) => {
    const expected = await linesOf(real.lines, real.port, s);
    const actual = await linesOf(ours.lines, ours.port, s);
    expect(actual).toEqual(expected);
  });
});

describe('log format', () => {
  afterAll(stopBrokers);

  it('writes `TIMESTAMP: message` with unix seconds', async () => {
    const b = await startBroker();
    const before = Math.floor(Date.now() / 1000);
    await b.connect({ clientId: 'stamp' });
    const after = Math.floor(Date.now() / 1000);
    const line = b.rawLines.find((l) => l.includes('New client connected'))!;
    const m = /^(\d+): New client connected from 127\.0\.0\.1:\d+ as stamp \(p2, c1, k60\)\.$/.exec(line);
    expect(m).not.toBeNull();
    const ts = Number(m![1]);
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(after);
  });

  it('without -v logs only what Mosquitto logs by default (no debug, subscribe or unsubscribe lines)', async () => {
    const b = await startBroker({}, LOG_DEFAULT);
    const c = await b.connect({ clientId: 'quiet' });
    await c.subscribe('q', 1);
    c.publish('q', 'x', { qos: 1, messageId: 1 });
    await c.waitFor((p) => p.cmd === 'puback');
    c.disconnect();
    await b.waitForLine('Client quiet disconnected.');
    expect(b.lines.filter((l) => !l.startsWith('Opening ')).map(normalise)).toEqual([
      'New connection from 127.0.0.1:PORT on port PORT.',
      'New client connected from 127.0.0.1:PORT as quiet (p2, c1, k60).',
      'Client quiet disconnected.',
    ]);
  });
});

describe.skipIf(!haveMosquitto)('default log types compared with Mosquitto 2.0 (no -v)', () => {
  it('a connect, subscribe, publish, disconnect writes the same lines', async () => {
    const real = await startMosquitto([], false);
    const ours = await startBroker({}, LOG_DEFAULT);
    try {
      const run = async (port: number): Promise<void> => {
        const c = await connected(port, 'quiet');
        await c.subscribe('q', 1);
        c.publish('q', 'x', { qos: 1, messageId: 1 });
        await c.waitFor((p) => p.cmd === 'puback');
        c.disconnect();
        await c.closed;
      };
      const startReal = real.lines.length;
      await run(real.port);
      await real.waitForLine('Client quiet disconnected.');
      await run(ours.port);
      await ours.waitForLine('Client quiet disconnected.');
      const ourLines = ours.lines.filter((l) => !l.startsWith('Opening ')).map(normalise);
      expect(ourLines).toEqual(real.lines.slice(startReal).map(normalise));
    } finally {
      await real.stop();
      await stopBrokers();
    }
  });
});
