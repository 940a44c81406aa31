/**
 * What a connect/disconnect storm costs in socket calls (issue 17), as behaviour: a client
 * leaving with DISCONNECT has its socket closed at once, as Mosquitto closes it, not half-
 * closed until its own FIN; and a socket is paused during password verification only once
 * the client has sent a pile of packets, not for every CONNECT.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientContext } from '../src/broker/core.js';
import { hookAuth } from '../src/broker/auth/types.js';
import { startBroker, stopBrokers } from './helpers/broker.js';

const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await stopBrokers();
});

const CONNECT = (id: string, user?: string): Buffer => {
  const idb = Buffer.from(id);
  const u = user === undefined ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0, user.length]), Buffer.from(user), Buffer.from([0, 2]), Buffer.from('pw')]);
  const body = Buffer.concat([Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, user === undefined ? 0x02 : 0xc2, 0, 60, 0, idb.length]), idb, u]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
};
const PINGREQ = Buffer.from([0xc0, 0]);

/** A raw socket that does not end its side when the broker ends its own. */
function dial(port: number): Promise<{ s: net.Socket; data: Buffer[]; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    sockets.push(s);
    const data: Buffer[] = [];
    s.on('data', (d) => data.push(d));
    s.on('error', () => {});
    const ended = new Promise<void>((r) => s.once('end', () => r()));
    s.once('connect', () => resolve({ s, data, ended }));
    s.once('error', reject);
  });
}

function clientOf(broker: { clients: Set<ClientContext> }, id: string): ClientContext | undefined {
  return [...broker.clients].find((c) => c.clientId === id);
}

describe('a client leaving with DISCONNECT', () => {
  it('has its socket closed at once by the broker, without waiting for the client to close its side', async () => {
    const tb = await startBroker();
    const { s, data, ended } = await dial(tb.port);
    s.write(CONNECT('leaver'));
    await tb.waitForLine(/^New client connected from .* as leaver /);
    const client = clientOf(tb.broker, 'leaver')!;
    s.write(Buffer.from([0xe0, 0]));
    await ended;
    await tb.waitForLine('Client leaver disconnected.');
    // Our side still open: the broker's socket is gone all the same (no half-closed wait).
    expect(s.writable).toBe(true);
    expect(client.conn.stream.destroyed).toBe(true);
    expect(Buffer.concat(data)).toEqual(Buffer.from([0x20, 2, 0, 0]));
  });
});

describe('packets sent while a password is verified', () => {
  it('are read and held without pausing the socket; after sixteen the socket is paused until the verdict', async () => {
    let release: (ok: boolean) => void = () => {};
    const verdict = new Promise<boolean>((r) => (release = r));
    const { authenticator } = hookAuth({ authenticate: () => verdict });
    const tb = await startBroker({ authenticator, allowAnonymous: false });
    const { s, data } = await dial(tb.port);
    s.write(CONNECT('waiter', 'u'));
    for (let i = 0; i < 3; i++) s.write(PINGREQ);
    await new Promise((r) => setTimeout(r, 100));
    const client = clientOf(tb.broker, 'waiter')!;
    expect(client.conn.stream.isPaused()).toBe(false);
    for (let i = 0; i < 13; i++) s.write(PINGREQ);
    for (let i = 0; i < 50 && !client.conn.stream.isPaused(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(client.conn.stream.isPaused()).toBe(true);
    release(true);
    // CONNACK, then a PINGRESP for each PINGREQ held, in order.
    const want = Buffer.concat([Buffer.from([0x20, 2, 0, 0]), ...Array.from({ length: 16 }, () => Buffer.from([0xd0, 0]))]);
    for (let i = 0; i < 100 && Buffer.concat(data).length < want.length; i++) await new Promise((r) => setTimeout(r, 20));
    expect(Buffer.concat(data)).toEqual(want);
    expect(client.conn.stream.isPaused()).toBe(false);
  });
});
