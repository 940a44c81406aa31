/**
 * Client transports beyond plain TCP: MQTT over WebSocket (-L ws://) through a relay that
 * checks the `mqtt` subprotocol, SOCKS5 (--proxy socks5h://) with and without
 * username/password, and unix sockets (--unix), each ending at a real broker.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { haveMosquitto, killAll, normalise, ours, run, start, startTarget, theirs, waitFor, type Target } from './client-diff-helpers.js';

afterEach(() => killAll());

interface Socks5Server {
  port: number;
  /** Host names the proxy was asked to connect to. */
  targets: string[];
  close(): Promise<void>;
}

/** A SOCKS5 proxy (RFC 1928/1929) that relays to 127.0.0.1 whatever name it is given. */
async function socks5Server(brokerPort: number, credentials?: { user: string; pass: string }): Promise<Socks5Server> {
  const targets: string[] = [];
  const server = net.createServer((c) => {
    let buf = Buffer.alloc(0);
    let stage = 0;
    c.on('error', () => {});
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (stage === 0 && buf.length >= 2 && buf.length >= 2 + buf[1]) {
        const methods = [...buf.subarray(2, 2 + buf[1])];
        buf = buf.subarray(2 + buf[1]);
        const want = credentials ? 2 : 0;
        if (!methods.includes(want)) {
          c.end(Buffer.from([5, 0xff]));
          return;
        }
        c.write(Buffer.from([5, want]));
        stage = credentials ? 1 : 2;
      }
      if (stage === 1 && buf.length >= 2) {
        const ul = buf[1];
        if (buf.length < 3 + ul) return;
        const pl = buf[2 + ul];
        if (buf.length < 3 + ul + pl) return;
        const user = buf.subarray(2, 2 + ul).toString();
        const pass = buf.subarray(3 + ul, 3 + ul + pl).toString();
        buf = buf.subarray(3 + ul + pl);
        const ok = user === credentials!.user && pass === credentials!.pass;
        c.write(Buffer.from([1, ok ? 0 : 1]));
        if (!ok) {
          c.end();
          return;
        }
        stage = 2;
      }
      if (stage === 2 && buf.length >= 5) {
        const atyp = buf[3];
        const len = atyp === 3 ? 1 + buf[4] : atyp === 1 ? 4 : 16;
        if (buf.length < 4 + len + 2) return;
        targets.push(atyp === 3 ? buf.subarray(5, 5 + buf[4]).toString() : 'address');
        const rest = buf.subarray(4 + len + 2);
        stage = 3;
        c.removeListener('data', onData);
        const up = net.connect(brokerPort, '127.0.0.1', () => {
          c.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
          if (rest.length > 0) up.write(rest);
          c.pipe(up).pipe(c);
        });
        up.on('error', () => c.destroy());
      }
    };
    c.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    targets,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe.skipIf(!haveMosquitto)('client transports', () => {
  let target: Target;
  let unixDir = '';
  let unixPath = '';
  beforeAll(async () => {
    unixDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsm-unix-'));
    fs.chmodSync(unixDir, 0o777);
    unixPath = path.join(unixDir, 'mqtt.sock');
    target = await startTarget('mosquitto', [`listener 0 ${unixPath}`]);
    await waitFor(() => fs.existsSync(unixPath));
  });
  afterAll(async () => {
    await target.stop();
    fs.rmSync(unixDir, { recursive: true, force: true });
  });

  async function received(publish: () => Promise<{ code: number | null }>, topic: string): Promise<string> {
    const sub = start(['stdbuf', '-oL', ...theirs('sub'), '-p', String(target.port), '-t', topic, '-C', '1', '-d', '-F', '%t %p']);
    await waitFor(() => sub.output().includes('Subscribed (mid'));
    const r = await publish();
    expect(r.code).toBe(0);
    return (await sub.done).stdout.split('\n').filter((l) => l.startsWith(topic)).join('\n');
  }

  it('-L ws:// carries MQTT over a WebSocket with the mqtt subprotocol on /mqtt', async () => {
    const seen: { protocol: string; path: string }[] = [];
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (p) => (p.has('mqtt') ? 'mqtt' : false) });
    wss.on('connection', (ws, req) => {
      seen.push({ protocol: ws.protocol, path: req.url ?? '' });
      const stream = createWebSocketStream(ws);
      const up = net.connect(target.port, '127.0.0.1');
      stream.pipe(up).pipe(stream);
      up.on('error', () => stream.destroy());
      stream.on('error', () => up.destroy());
    });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const wsPort = (wss.address() as net.AddressInfo).port;
    try {
      const out = await received(() => run([...ours('pub'), '-L', `ws://127.0.0.1:${wsPort}/ws/topic`, '-m', 'over websocket', '-q', '1']), 'ws/topic');
      expect(out).toBe('ws/topic over websocket');
      expect(seen).toEqual([{ protocol: 'mqtt', path: '/mqtt' }]);
    } finally {
      await new Promise((r) => wss.close(r));
    }
  });

  it('--proxy socks5h:// reaches the broker through the proxy, as mosquitto_pub does', async () => {
    const proxy = await socks5Server(target.port);
    try {
      for (const prog of [theirs('pub'), ours('pub')]) {
        const out = await received(
          () => run([...prog, '--proxy', `socks5h://127.0.0.1:${proxy.port}`, '-h', 'broker.example', '-p', '1883', '-t', 'px/t', '-m', 'proxied']),
          'px/t',
        );
        expect(out).toBe('px/t proxied');
      }
      // The proxy, not the client, resolved the broker's name.
      expect(proxy.targets).toEqual(['broker.example', 'broker.example']);
    } finally {
      await proxy.close();
    }
  });

  it('--proxy with username and password (RFC 1929)', async () => {
    const proxy = await socks5Server(target.port, { user: 'pu', pass: 'pp' });
    try {
      const out = await received(
        () => run([...ours('pub'), '--proxy', `socks5h://pu:pp@127.0.0.1:${proxy.port}`, '-h', 'localhost', '-t', 'px/a', '-m', 'auth']),
        'px/a',
      );
      expect(out).toBe('px/a auth');
      for (const cred of ['pu:wrong@', '']) {
        const args = ['--proxy', `socks5h://${cred}127.0.0.1:${proxy.port}`, '-t', 'px/a', '-m', 'x'];
        const a = await run([...theirs('pub'), ...args]);
        const b = await run([...ours('pub'), ...args]);
        expect(b.stderr).toBe(cred === '' ? 'Error: Authorisation failed.\n' : 'Error: Proxy error.\n');
        expect(b.stderr).toBe(a.stderr);
        expect(b.code).toBe(a.code);
      }
    } finally {
      await proxy.close();
    }
  });

  it('--unix connects through a unix domain socket, with the same debug output as mosquitto_pub', async () => {
    const args = ['--unix', unixPath, '-t', 'ux/t', '-m', 'unix', '-q', '1', '-d'];
    const a = await run([...theirs('pub'), ...args]);
    const b = await run([...ours('pub'), ...args]);
    expect(normalise(b.stdout)).toBe(normalise(a.stdout));
    expect(b.code).toBe(0);
    const out = await received(() => run([...ours('pub'), '--unix', unixPath, '-t', 'ux/s', '-m', 'via socket']), 'ux/s');
    expect(out).toBe('ux/s via socket');
  });
});
