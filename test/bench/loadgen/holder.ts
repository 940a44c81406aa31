// One process of the fleet (idle-100k, wake-100k): holds a slice of the connections, each
// from its own loopback source address (127.0.0.0/8, so that ports never run out), and on
// the fleet's command connects them, sends each a PINGREQ, or has each publish one QoS 1
// message. A process holds at most as many sockets as its open-file limit allows (the
// fleet starts it under `ulimit -n`), so 100,000 connections take several of them.
// Per connection it keeps a socket and two numbers: the fleet must cost the generator
// little, since the broker's RSS per connection is what is measured.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { HolderCommand, HolderReply } from '../protocol.js';
import { connectPacket } from './packets.js';
import { sourceAddress } from './source-address.js';


/** Replies are counted in the process's totals, not per socket. */
type Held = net.Socket;

let connacks = 0;
let refused = 0;
let pingresps = 0;
let pubacks = 0;
let closedCount = 0;
let connackWaiters = new Map<net.Socket, () => void>();

function onData(this: Held, chunk: Buffer): void {
  // The broker sends these idle connections only CONNACK, PINGRESP and PUBACK, each
  // whole and small; a frame split over chunks is not expected at these sizes.
  let p = 0;
  while (p + 1 < chunk.length) {
    const type = chunk[p]! >> 4;
    const len = chunk[p + 1]!;
    if (type === 2) {
      if (chunk[p + 3] === 0) connacks++;
      else refused++;
      const w = connackWaiters.get(this);
      if (w !== undefined) {
        connackWaiters.delete(this);
        w();
      }
    } else if (type === 13) pingresps++;
    else if (type === 4) pubacks++;
    p += 2 + len;
  }
}
function onClose(this: Held): void {
  closedCount++;
  const w = connackWaiters.get(this);
  if (w !== undefined) {
    connackWaiters.delete(this);
    w();
  }
}
function ignore(): void {}

const sockets: Held[] = [];
const PINGREQ = Buffer.from([0xc0, 0]);

function send(msg: HolderReply): void {
  process.send?.(msg);
}

async function connectAll(cmd: Extract<HolderCommand, { op: 'connect' }>): Promise<void> {
  const latencies: number[] = [];
  let next = cmd.from;
  const worker = async (): Promise<void> => {
    while (next < cmd.to) {
      const i = next++;
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        const s = net.connect({ port: cmd.port, host: '127.0.0.1', localAddress: sourceAddress(i) }) as Held;
        s.on('data', onData);
        s.on('error', ignore);
        s.on('close', onClose);
        connackWaiters.set(s, resolve);
        s.write(connectPacket({ clientId: `${cmd.prefix}${i}`, clean: true, keepalive: cmd.keepalive }));
        sockets.push(s);
      });
      latencies.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, Math.min(cmd.concurrency, cmd.to - cmd.from)) }, worker));
  connackWaiters = new Map();
  // A slow broker takes minutes for 100,000 connects: the first ones would pass 1.5 x their
  // keep alive before the hold's pings reach them, so past half the keep alive each pings now.
  let earlyPings = 0;
  if (cmd.keepalive > 0 && performance.now() - t0 > cmd.keepalive * 500) {
    for (const s of sockets) {
      if (s.destroyed) continue;
      s.write(PINGREQ);
      earlyPings++;
    }
  }
  send({ op: 'connected', accepted: connacks, refused, closed: closedCount, latencies, earlyPings });
}

/** Calls `each(socket, index)` for every socket, spread evenly over `spreadMs`. */
function spread(spreadMs: number, each: (s: Held, i: number) => void): Promise<void> {
  return new Promise((resolve) => {
    const n = sockets.length;
    const t0 = performance.now();
    let done = 0;
    const tick = (): void => {
      const due = spreadMs <= 0 ? n : Math.min(n, Math.ceil(((performance.now() - t0) / spreadMs) * n));
      for (; done < due; done++) each(sockets[done]!, done);
      if (done < n) setTimeout(tick, 5);
      else resolve();
    };
    tick();
  });
}

async function handle(cmd: HolderCommand): Promise<void> {
  switch (cmd.op) {
    case 'connect':
      await connectAll(cmd);
      return;
    case 'ping': {
      let sent = 0;
      await spread(cmd.spreadMs, (s) => {
        if (s.destroyed) return;
        s.write(PINGREQ);
        sent++;
      });
      send({ op: 'pinged', sent });
      return;
    }
    case 'wake': {
      let sent = 0;
      const payload = Buffer.alloc(cmd.payload, 0x61);
      await spread(cmd.spreadMs, (s, i) => {
        if (s.destroyed) return;
        s.write(publishQos1(`${cmd.topicPrefix}${cmd.from + i}`, payload));
        sent++;
      });
      send({ op: 'woke', sent });
      return;
    }
    case 'count':
      send({ op: 'count', alive: sockets.filter((s) => !s.destroyed).length, pingresps, pubacks, closed: closedCount });
      return;
    case 'close':
      for (const s of sockets) s.destroy();
      setTimeout(() => process.exit(0), 50);
      return;
  }
}

/** A QoS 1 PUBLISH with packet identifier 1 (each connection publishes once). */
function publishQos1(topic: string, payload: Buffer): Buffer {
  const t = Buffer.from(topic);
  const rl = 2 + t.length + 2 + payload.length;
  const head = rl < 128 ? 2 : 3;
  const b = Buffer.allocUnsafe(head + rl);
  b[0] = 0x32;
  if (head === 2) b[1] = rl;
  else {
    b[1] = (rl & 0x7f) | 0x80;
    b[2] = rl >> 7;
  }
  let o = head;
  b.writeUInt16BE(t.length, o);
  o += 2;
  t.copy(b, o);
  o += t.length;
  b.writeUInt16BE(1, o);
  o += 2;
  payload.copy(b, o);
  return b;
}

process.on('message', (cmd: HolderCommand) => {
  handle(cmd).catch((err: unknown) => send({ op: 'error', message: (err as Error).message }));
});
process.on('disconnect', () => process.exit(0));
