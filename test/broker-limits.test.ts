/**
 * Limits of mosquitto.conf(5), each enforced: max_inflight_messages, max_inflight_bytes,
 * max_queued_messages, max_queued_bytes, queue_qos0_messages, message_size_limit,
 * max_packet_size, max_keepalive, memory_limit, retain_available, upgrade_outgoing_qos,
 * check_retain_source, set_tcp_nodelay. Each scenario runs through ts-mosquitto and, where
 * it is installed, through Mosquitto with the same configuration: both must give the
 * expected result.
 */
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { IConnackPacket, IPublishPacket, Packet } from 'mqtt-packet';
import { RawClient, type ConnectOptions } from './helpers/raw-client.js';
import { MOSQUITTO, freePort, haveProgram } from './helpers/mosquitto.js';
import { runProgram, stopPrograms, type RunningProgram } from './helpers/conf-program.js';
import { startBroker, stopBrokers } from './helpers/broker.js';
import type { Authorizer } from '../src/broker/security.js';

const raws: RawClient[] = [];
afterEach(async () => {
  for (const c of raws.splice(0)) c.destroy();
  vi.restoreAllMocks();
  await stopPrograms();
  await stopBrokers();
});
const programs = process.env.LIMITS_ONLY === 'mosquitto' ? [MOSQUITTO] : haveProgram(MOSQUITTO) ? ['ts', MOSQUITTO] : ['ts'];

async function start(program: string, conf: string[]): Promise<{ p: RunningProgram; port: number }> {
  const port = await freePort();
  const p = await runProgram(program, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'log_dest stderr', 'log_type all', ...conf]);
  return { p, port };
}

async function connect(port: number, opts: ConnectOptions): Promise<{ c: RawClient; connack: IConnackPacket }> {
  const { client, connack } = await RawClient.connect(port, opts);
  raws.push(client);
  return { c: client, connack };
}

const publishes = (ps: Packet[]): IPublishPacket[] => ps.filter((p) => p.cmd === 'publish') as IPublishPacket[];

/** Publishes n QoS 1 messages and waits for their PUBACKs. */
async function publishQos1(port: number, topic: string, n: number, payload = 'm'): Promise<void> {
  const { c } = await connect(port, { clientId: `pub-${topic}-${n}` });
  for (let i = 1; i <= n; i++) c.publish(topic, `${payload}${i}`, { qos: 1, messageId: i });
  for (let i = 1; i <= n; i++) await c.waitFor((p) => p.cmd === 'puback' && p.messageId === i);
  await c.sync();
}

/** Runs `scenario` against every available program with the configuration and expects `want`. */
async function sideBySide<T>(conf: string[], scenario: (port: number, p: RunningProgram) => Promise<T>, want: T): Promise<void> {
  for (const program of programs) {
    const { p, port } = await start(program, conf);
    const got = await scenario(port, p);
    expect({ program: program === 'ts' ? 'ts-mosquitto' : 'mosquitto', got }).toEqual({
      program: program === 'ts' ? 'ts-mosquitto' : 'mosquitto',
      got: want,
    });
    await stopPrograms();
    for (const c of raws.splice(0)) c.destroy();
  }
}

describe('inflight limits', () => {
  it('max_inflight_messages: no more unacknowledged QoS 1 messages than the limit', async () => {
    await sideBySide(
      ['max_inflight_messages 2'],
      async (port) => {
        const { c: sub } = await connect(port, { clientId: 'sub' });
        await sub.subscribe('t', 1);
        await publishQos1(port, 't', 5);
        const first = publishes(await sub.sync()).length;
        sub.send({ cmd: 'puback', messageId: 1 });
        // An acknowledgement opens the window again. (Mosquitto 2.0.11 then sends two, one
        // over its own limit; ts-mosquitto sends one.)
        const after = publishes(await sub.sync()).length;
        return [first, after > 0];
      },
      [2, true],
    );
  }, 30000);

  it('max_inflight_messages: an acknowledgement lets exactly one more go', async () => {
    const { port } = await start('ts', ['max_inflight_messages 2']);
    const { c: sub } = await connect(port, { clientId: 'sub' });
    await sub.subscribe('t', 1);
    await publishQos1(port, 't', 5);
    expect(publishes(await sub.sync()).map((p) => p.messageId)).toEqual([1, 2]);
    sub.send({ cmd: 'puback', messageId: 1 });
    expect(publishes(await sub.sync()).map((p) => p.messageId)).toEqual([3]);
  });

  it('max_inflight_bytes: messages go in flight until the payload bytes reach the limit', async () => {
    // mosquitto.conf(5): "allowed in flight until this byte limit is reached". (Mosquitto
    // 2.0.11 lets 4 of these through, for reasons of its own accounting.)
    const { port } = await start('ts', ['max_inflight_bytes 6']);
    const { c: sub } = await connect(port, { clientId: 'sub' });
    await sub.subscribe('t', 1);
    await publishQos1(port, 't', 5, 'abc'); // 4-byte payloads: 0 -> 4 -> 8, then closed
    expect(publishes(await sub.sync()).length).toBe(2);
    sub.send({ cmd: 'puback', messageId: 1 });
    expect(publishes(await sub.sync()).length).toBe(1);
  });
});

describe('queue limits for an offline persistent session', () => {
  /** Persistent subscriber goes away; n QoS `qos` messages arrive; it returns: how many does it get? */
  async function offline(port: number, n: number, qos: 0 | 1, payload = 'm'): Promise<number> {
    const { c: sub } = await connect(port, { clientId: 'away', clean: false });
    await sub.subscribe('t', 1);
    sub.disconnect();
    await sub.closed;
    if (qos === 1) await publishQos1(port, 't', n, payload);
    else {
      const { c } = await connect(port, { clientId: 'pub0' });
      for (let i = 0; i < n; i++) c.publish('t', `${payload}${i}`);
      await c.sync();
    }
    const { c: back } = await connect(port, { clientId: 'away', clean: false });
    return publishes(await back.sync()).length;
  }

  it('max_queued_messages bounds what waits for it', async () => {
    await sideBySide(['max_queued_messages 3'], (port) => offline(port, 10, 1), 3);
  }, 30000);

  it('max_queued_bytes bounds the payload bytes that wait', async () => {
    await sideBySide(['max_queued_bytes 10'], (port) => offline(port, 10, 1, 'abc'), 3);
  }, 30000);

  it('queue_qos0_messages true queues QoS 0 as well', async () => {
    await sideBySide(['queue_qos0_messages true'], (port) => offline(port, 5, 0), 5);
  }, 30000);

  it('queued QoS 0 messages count towards max_queued_messages (bounded, unlike Mosquitto)', async () => {
    // Mosquitto counts only QoS 1/2 towards the limit, so QoS 0 could queue without end.
    const { port } = await start('ts', ['queue_qos0_messages true', 'max_queued_messages 3']);
    expect(await offline(port, 5, 0)).toBe(3);
  });

  it('queue_qos0_messages false (default) drops QoS 0 for an offline client', async () => {
    await sideBySide([], (port) => offline(port, 5, 0), 0);
  }, 30000);
});

describe('size limits', () => {
  it('message_size_limit: a larger PUBLISH is dropped and acknowledged, 0x95 for MQTT 5', async () => {
    await sideBySide(
      ['message_size_limit 10'],
      async (port, p) => {
        const { c: sub } = await connect(port, { clientId: 'sub' });
        await sub.subscribe('t', 1);
        const { c: v5 } = await connect(port, { clientId: 'big5', version: 5 });
        // 0x95 is not a PUBACK reason code in MQTT 5 (3.4.2.1), so mqtt-packet's parser refuses
        // what Mosquitto sends: the PUBACK is compared as bytes.
        const raw: Buffer[] = [];
        v5.socket.on('data', (d: Buffer) => raw.push(d));
        v5.publish('t', '0123456789ABCDEF', { qos: 1, messageId: 7 });
        await new Promise<void>((resolve) => {
          const check = (): void => (Buffer.concat(raw).length >= 4 ? resolve() : void setTimeout(check, 10));
          check();
        });
        // Type, packet id and reason: ts-mosquitto adds a Reason String property (issue 6).
        const b = Buffer.concat(raw);
        const ack5 = { reasonCode: Buffer.from([b[0], b[2], b[3], b[4]]).toString('hex') };
        const { c: v4 } = await connect(port, { clientId: 'big4' });
        v4.publish('t', '0123456789ABCDEF', { qos: 1, messageId: 8 });
        const ack4 = (await v4.next('puback')) as { reasonCode?: number };
        v4.publish('t', 'small', { qos: 1, messageId: 9 });
        await v4.next('puback');
        const got = publishes(await sub.sync()).map((x) => String(x.payload));
        await p.waitForLine(/Dropped too large PUBLISH from big4/);
        return { ack5: ack5.reasonCode, ack4: ack4.reasonCode ?? 0, got, dropped: p.lines.filter((l) => l.includes('Dropped too large')).length };
      },
      { ack5: '40000795', ack4: 0, got: ['small'], dropped: 2 },
    );
  }, 30000);

  it('max_packet_size: told to MQTT 5 clients in CONNACK; a larger packet ends the connection', async () => {
    await sideBySide(
      ['max_packet_size 100'],
      async (port) => {
        const { connack } = await connect(port, { clientId: 'v5', version: 5 });
        const { c } = await connect(port, { clientId: 'v4' });
        c.publish('t', Buffer.alloc(200), { qos: 0 });
        await c.closed;
        return { max: connack.properties?.maximumPacketSize, closed: c.isClosed };
      },
      { max: 100, closed: true },
    );
  }, 30000);
});

describe('max_keepalive', () => {
  it('MQTT 5 clients are given it as Server Keep Alive; 3.1.1 clients are accepted as they ask', async () => {
    await sideBySide(
      ['max_keepalive 30'],
      async (port, p) => {
        const a = await connect(port, { clientId: 'k60v5', version: 5, keepalive: 60 });
        const b = await connect(port, { clientId: 'k0v5', version: 5, keepalive: 0 });
        const c = await connect(port, { clientId: 'k60v4', keepalive: 60 });
        const d = await connect(port, { clientId: 'k10v5', version: 5, keepalive: 10 });
        await p.waitForLine(/as k10v5/);
        return {
          v5: [a.connack.properties?.serverKeepAlive, b.connack.properties?.serverKeepAlive, d.connack.properties?.serverKeepAlive],
          v4: c.connack.returnCode,
          line: p.lines.find((l) => l.includes('as k60v5'))?.replace(/^.*\(/, '('),
        };
      },
      { v5: [30, 30, undefined], v4: 0, line: '(p5, c1, k60).' },
    );
  }, 30000);
});

describe('retain_available false', () => {
  it('is announced to MQTT 5 clients; a retained PUBLISH ends the connection (0x9A for MQTT 5)', async () => {
    await sideBySide(
      ['retain_available false'],
      async (port, p) => {
        const { c: v5, connack } = await connect(port, { clientId: 'r5', version: 5 });
        v5.publish('t', 'x', { qos: 1, retain: true });
        const d = (await v5.next('disconnect')) as { reasonCode?: number };
        await v5.closed;
        const { c: v4 } = await connect(port, { clientId: 'r4' });
        v4.publish('t', 'x', { qos: 1, retain: true });
        await v4.closed;
        await p.waitForLine(/Bad socket read\/write on client r4: Unknown error\./);
        return { available: connack.properties?.retainAvailable, reason: d.reasonCode, v4Packets: v4.inbox.length };
      },
      { available: false, reason: 0x9a, v4Packets: 0 },
    );
  }, 30000);
});

describe('upgrade_outgoing_qos', () => {
  it('true sends at the subscription QoS, false at the lower of the two', async () => {
    for (const [upgrade, want] of [
      ['true', 2],
      ['false', 0],
    ] as const) {
      await sideBySide(
        [`upgrade_outgoing_qos ${upgrade}`],
        async (port) => {
          const { c: sub } = await connect(port, { clientId: 'sub' });
          await sub.subscribe('t', 2);
          const { c: pub } = await connect(port, { clientId: 'pub' });
          pub.publish('t', 'x', { qos: 0 });
          return (await sub.nextPublish()).qos;
        },
        want,
      );
    }
  }, 30000);
});

describe('memory_limit', () => {
  it('over the limit, an incoming PUBLISH is dropped and its publisher disconnected, as Mosquitto', async () => {
    // 1 byte is always exceeded: the heap is never that small.
    const b = await startBroker({ memoryLimit: 1 });
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('t', 0);
    const pub = await b.connect({ clientId: 'pub', version: 5 });
    pub.publish('t', 'x', { qos: 1 });
    await pub.closed;
    // No DISCONNECT packet, no PUBACK: the connection just ends.
    expect(pub.inbox.filter((p) => p.cmd !== 'connack')).toEqual([]);
    expect(b.hasLine('Client pub disconnected due to out of memory.')).toBe(true);
    expect(publishes(await sub.sync())).toEqual([]);
    expect(b.broker.stats.publishDropped).toBe(1);
  });

  it('over the limit, an outgoing message is dropped and its receiver disconnected', async () => {
    const b = await startBroker();
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('kept', 'retained', { retain: true, qos: 1 });
    await pub.next('puback');
    b.broker.options.memoryLimit = 1; // as a SIGHUP reload lowering memory_limit would
    const sub = await b.connect({ clientId: 'sub' });
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'kept', qos: 0 }] });
    await sub.closed;
    expect(sub.inbox.filter((p) => p.cmd === 'publish')).toEqual([]);
    expect(b.hasLine('Client sub disconnected due to out of memory.')).toBe(true);
  });

  it('under the limit, messages flow', async () => {
    const b = await startBroker({ memoryLimit: 1024 * 1024 * 1024 * 64 });
    const sub = await b.connect({ clientId: 'sub' });
    await sub.subscribe('t', 0);
    const pub = await b.connect({ clientId: 'pub' });
    pub.publish('t', 'x');
    expect(String((await sub.nextPublish()).payload)).toBe('x');
  });
});

describe('check_retain_source', () => {
  /** An authorizer whose write permission for `writer` can be withdrawn (as an ACL reload would). */
  function toggled(): { a: Authorizer; allow: { writer: boolean } } {
    const allow = { writer: true };
    const a: Authorizer = {
      canRead: () => true,
      canSubscribe: () => true,
      canWrite: (clientId: string) => clientId !== 'writer' || allow.writer,
    } as Authorizer;
    return { a, allow };
  }

  for (const check of [true, false]) {
    it(`${check}: a retained message whose publisher lost write access is ${check ? 'not ' : ''}sent`, async () => {
      const { a, allow } = toggled();
      const b = await startBroker({ authorizer: a, checkRetainSource: check });
      const w = await b.connect({ clientId: 'writer' });
      w.publish('kept', 'v', { retain: true, qos: 1 });
      await w.next('puback');
      allow.writer = false;
      const s = await b.connect({ clientId: 'reader' });
      await s.subscribe('kept', 0);
      const got = publishes(await s.sync());
      expect(got.map((p) => String(p.payload))).toEqual(check ? [] : ['v']);
    });
  }

  it("asks the ACL of the publisher's listener, not the receiver's, as Mosquitto (per_listener_settings)", async () => {
    const { a, allow } = toggled();
    // The publisher's listener has the ACL; the receiver's has none.
    const b = await startBroker({
      checkRetainSource: true,
      listeners: [{ port: 0, host: '127.0.0.1', authorizer: a }, { port: 0, host: '127.0.0.1' }],
    });
    const w = await b.connect({ clientId: 'writer' });
    w.publish('kept', 'v', { retain: true, qos: 1 });
    await w.next('puback');
    allow.writer = false;
    const { client: s } = await RawClient.connect(b.broker.port(1), { clientId: 'reader' });
    raws.push(s);
    await s.subscribe('kept', 0);
    expect(publishes(await s.sync())).toEqual([]);
  });
});

describe('set_tcp_nodelay', () => {
  for (const on of [true, false]) {
    it(`${on}: listeners ${on ? 'disable' : 'keep'} Nagle's algorithm on accepted sockets`, async () => {
      const spy = vi.spyOn(net, 'createServer');
      await startBroker({ setTcpNodelay: on });
      const opts = spy.mock.calls.map((c) => c[0] as net.ServerOpts);
      expect(opts.length).toBeGreaterThan(0);
      for (const o of opts) expect(o.noDelay).toBe(on);
    });
  }
});
