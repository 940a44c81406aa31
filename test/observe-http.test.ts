/**
 * The http listener's access and health: HTTP basic against a real password file (and
 * 403 without one when anonymous access is off), HTTPS with certfile/keyfile, /healthz
 * through start, Redis loss and shutdown, the dashboard's JSON, and the ts-mosquitto
 * program configured with `listener PORT ADDRESS` + `protocol http`.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { PasswordFileAuthenticator } from '../src/broker/auth/password-file.js';
import { hashPassword } from '../src/passwd/hash.js';
import { get, httpListenerConfig, sample, startObserved, stopObserved } from './helpers/observe.js';
import { Broker, Log } from '../src/index.js';
import { createObservePlugin } from '../src/broker/observe/plugin.js';
import { makeCerts, type TestCerts } from './helpers/certs.js';
import { runProgram, stopPrograms, tempDir } from './helpers/conf-program.js';
import { freePort } from './helpers/mosquitto.js';

let certs: TestCerts;
let pwFile: string;

beforeAll(async () => {
  certs = makeCerts();
  const dir = tempDir('tsm-observe-');
  pwFile = path.join(dir, 'passwd');
  fs.writeFileSync(pwFile, `ops:${await hashPassword('s3cret', 'sha512-pbkdf2')}\n`);
});
afterAll(() => certs.remove());
afterEach(async () => {
  await stopObserved();
  await stopPrograms();
});

describe('http listener access', () => {
  it('asks for a password from the password file on every path but /healthz', async () => {
    const authenticator = PasswordFileAuthenticator.load(pwFile);
    const o = await startObserved({ authenticator, allowAnonymous: false });
    for (const p of ['/metrics', '/api/overview', '/api/clients', '/api/topics', '/', '/dashboard.js', '/uPlot.min.js']) {
      const none = await get(o.httpPort, p);
      expect(none.status, p).toBe(401);
      expect(none.headers['www-authenticate']).toMatch(/^Basic realm="ts-mosquitto"/);
      expect(none.body).not.toContain('tsmosquitto_');
      expect((await get(o.httpPort, p, { user: 'ops', password: 'wrong' })).status, p).toBe(401);
      expect((await get(o.httpPort, p, { user: 'nobody', password: 's3cret' })).status, p).toBe(401);
      expect((await get(o.httpPort, p, { user: 'ops', password: 's3cret' })).status, p).toBe(200);
    }
    expect((await get(o.httpPort, '/healthz')).status).toBe(200);
    expect((await get(o.httpPort, '/nothing', { user: 'ops', password: 's3cret' })).status).toBe(404);
  });

  it('refuses everyone with 403 when anonymous access is off and there is no password file', async () => {
    const o = await startObserved({ allowAnonymous: false });
    const res = await get(o.httpPort, '/metrics');
    expect(res.status).toBe(403);
    expect(res.body).toContain('allow_anonymous is false');
    expect((await get(o.httpPort, '/healthz')).status).toBe(200);
  });

  it('speaks HTTPS with certfile and keyfile, and only HTTPS', async () => {
    const http = httpListenerConfig((l) => {
      l.certfile = certs.serverCrt;
      l.keyfile = certs.serverKey;
    });
    const o = await startObserved({}, http);
    const ca = fs.readFileSync(certs.caCrt);
    const res = await get(o.httpPort, '/metrics', { tls: true, ca });
    expect(res.status).toBe(200);
    expect(res.body).toContain('tsmosquitto_connections_total');
    // A client that does not trust our CA fails the handshake; plain HTTP gets no answer.
    await expect(get(o.httpPort, '/metrics', { tls: true })).rejects.toThrow(/certificate/);
    await expect(get(o.httpPort, '/healthz')).rejects.toThrow();
  });
});

describe('the http listeners\' thread', () => {
  it('keeps the http listener and its connections out of the main thread, where the MQTT sockets are', async () => {
    const o = await startObserved();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: o.httpPort, path: '/metrics', agent }, (res) => (res.resume(), res.on('end', () => resolve(res.statusCode!)))).on('error', reject);
      });
      expect(status).toBe(200);
      // The kept-alive connection is open now; the main thread has neither it nor the server.
      const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
      const ports = handles.flatMap((h) => {
        if (h instanceof net.Socket) return [h.localPort, h.remotePort];
        if (h instanceof net.Server) {
          const a = h.address();
          return [typeof a === 'object' && a !== null ? a.port : undefined];
        }
        return [];
      });
      expect(ports).toContain(o.mqttPort);
      expect(ports).not.toContain(o.httpPort);
    } finally {
      agent.destroy();
    }
  });

  it('reads its certificate and key again on reload (SIGHUP)', async () => {
    const dir = tempDir('tsm-observe-tls-');
    const [crt, key] = [path.join(dir, 'http.crt'), path.join(dir, 'http.key')];
    fs.copyFileSync(certs.serverCrt, crt);
    fs.copyFileSync(certs.serverKey, key);
    const o = await startObserved({}, httpListenerConfig((l) => {
      l.certfile = crt;
      l.keyfile = key;
    }));
    const peerName = () =>
      new Promise<string>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: o.httpPort, ca: fs.readFileSync(certs.caCrt), checkServerIdentity: () => undefined }, () => {
          const cn = s.getPeerCertificate().subject.CN;
          s.destroy();
          resolve(Array.isArray(cn) ? cn[0] : cn);
        });
        s.on('error', reject);
      });
    expect(await peerName()).toBe('localhost');
    const [otherCrt, otherKey] = certs.serverCert('other', 'other.example');
    fs.copyFileSync(otherCrt, crt);
    fs.copyFileSync(otherKey, key);
    expect(await peerName()).toBe('localhost');
    o.observe.reload();
    // The reload is a message to the listeners' thread: the next handshakes show it.
    let name = await peerName();
    for (let i = 0; i < 50 && name !== 'other.example'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      name = await peerName();
    }
    expect(name).toBe('other.example');
  });

  it('holds no more connections than max_connections', async () => {
    const o = await startObserved({}, { ...httpListenerConfig(), maxConnections: 1 });
    const first = net.connect(o.httpPort, '127.0.0.1');
    await new Promise((r) => first.once('connect', r));
    try {
      // The second is closed unanswered while the first is open.
      const second = net.connect(o.httpPort, '127.0.0.1');
      const got: Buffer[] = [];
      second.on('data', (d) => got.push(d));
      second.on('error', () => {});
      second.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await new Promise((r) => second.once('close', r));
      expect(Buffer.concat(got).length).toBe(0);
      first.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        first.on('data', (d) => (text += d));
        first.once('end', () => resolve(text));
      });
      expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok\n$/);
    } finally {
      first.destroy();
    }
  });

  it('fails the broker\'s start with the port\'s error when the http port is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    const lines: string[] = [];
    const broker = new Broker({ listeners: [{ port: 0, host: '127.0.0.1' }], sysInterval: 0 }, new Log(0xff, [{ write: (_t: number, l: string) => lines.push(l) }]));
    broker.plugins.push(createObservePlugin([{ ...httpListenerConfig(), port }]));
    try {
      await expect(broker.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
      expect(lines.some((l) => l.includes(`Opening http listen socket on port ${port}.`))).toBe(true);
    } finally {
      await broker.close().catch(() => {});
      taken.close();
    }
  });
});

describe('/healthz', () => {
  it('is 200 while running, 503 while Redis is lost, and 503 once shutting down', async () => {
    let redisUp = true;
    const redis = { stats: { connected: () => redisUp, dropped: () => 0, errors: () => 0, replaying: () => 0, pending: () => 0 } };
    const o = await startObserved({}, undefined, { redis });
    let res = await get(o.httpPort, '/healthz');
    expect([res.status, res.body]).toEqual([200, 'ok\n']);
    redisUp = false;
    res = await get(o.httpPort, '/healthz');
    expect([res.status, res.body]).toEqual([503, 'redis connection lost\n']);
    redisUp = true;
    expect((await get(o.httpPort, '/healthz')).status).toBe(200);
    // SIGINT/SIGTERM call onTerminate first; the listener stays up until the broker closes.
    await o.observe.onTerminate!();
    res = await get(o.httpPort, '/healthz');
    expect([res.status, res.body]).toEqual([503, 'shutting down\n']);
  });
});

describe('dashboard JSON', () => {
  it('lists clients without secrets, browses retained topics, and names the websockets listeners', async () => {
    const authenticator = PasswordFileAuthenticator.load(pwFile);
    const o = await startObserved({ authenticator, allowAnonymous: false });
    const c = mqtt.connect({ host: '127.0.0.1', port: o.mqttPort, clientId: 'probe-1', username: 'ops', password: 's3cret', keepalive: 42, reconnectPeriod: 0 });
    try {
      await new Promise((r, j) => (c.once('connect', r), c.once('error', j)));
      await c.subscribeAsync('x/#');
      await c.publishAsync('sensors/kitchen/temp', '{"c":21.5}', { qos: 1, retain: true });
      await c.publishAsync('sensors/raw', Buffer.from([0, 1, 2, 255]), { qos: 0, retain: true });
      const auth = { user: 'ops', password: 's3cret' };
      const clients = JSON.parse((await get(o.httpPort, '/api/clients', auth)).body);
      expect(clients.total).toBe(1);
      expect(clients.clients[0]).toMatchObject({ id: 'probe-1', address: '127.0.0.1', protocol: '3.1.1', username: 'ops', keepalive: 42, subscriptions: 1, queued: 0 });
      expect(JSON.stringify(clients)).not.toContain('s3cret');
      expect(JSON.stringify(clients)).not.toMatch(/password/i);

      const root = JSON.parse((await get(o.httpPort, '/api/topics', auth)).body);
      expect(root.children).toEqual([{ name: 'sensors', topic: 'sensors', retained: false, hasChildren: true }]);
      const sensors = JSON.parse((await get(o.httpPort, '/api/topics?topic=sensors', auth)).body);
      expect(sensors.children.map((x: { name: string }) => x.name).sort()).toEqual(['kitchen', 'raw']);
      const temp = JSON.parse((await get(o.httpPort, '/api/topics?topic=sensors%2Fkitchen%2Ftemp', auth)).body);
      expect(temp.message).toEqual({ topic: 'sensors/kitchen/temp', qos: 1, bytes: 10, payload: Buffer.from('{"c":21.5}').toString('base64') });
      const raw = JSON.parse((await get(o.httpPort, '/api/topics?topic=sensors/raw', auth)).body);
      expect(Buffer.from(raw.message.payload, 'base64')).toEqual(Buffer.from([0, 1, 2, 255]));

      const ov = JSON.parse((await get(o.httpPort, '/api/overview', auth)).body);
      expect(ov).toMatchObject({ connections: 1, subscriptions: 1, retained: 2, publishReceived: 2 });
      expect(ov.websockets).toEqual([{ port: o.wsPort, tls: false, mountPoint: null }]);
    } finally {
      c.end(true);
    }
  });

  it('serves the dashboard page and uPlot from the package, with a same-origin policy', async () => {
    const o = await startObserved();
    const page = await get(o.httpPort, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.body).toContain('<script src="uPlot.min.js"></script>');
    expect(page.body).not.toMatch(/https?:\/\//);
    const uplot = await get(o.httpPort, '/uPlot.min.js');
    expect(uplot.body).toContain('uPlot');
    expect((await get(o.httpPort, '/../package.json')).status).toBe(404);
  });
});

describe('ts-mosquitto with protocol http', () => {
  it('opens the http listener on its bind address with the listener password file', async () => {
    const [mqttPort, httpPort, wsPort] = [await freePort(), await freePort(), await freePort()];
    const p = await runProgram('ts', [
      'per_listener_settings true',
      `listener ${mqttPort} 127.0.0.1`,
      'allow_anonymous true',
      `listener ${wsPort} 127.0.0.1`,
      'protocol websockets',
      'allow_anonymous true',
      `listener ${httpPort} 127.0.0.1`,
      'protocol http',
      `password_file ${pwFile}`,
    ]);
    await p.waitForLine(new RegExp(`Opening http listen socket on port ${httpPort}\\.`));
    expect((await get(httpPort, '/metrics')).status).toBe(401);
    const c = mqtt.connect({ host: '127.0.0.1', port: mqttPort, reconnectPeriod: 0 });
    await new Promise((r, j) => (c.once('connect', r), c.once('error', j)));
    c.end(true);
    const m = (await get(httpPort, '/metrics', { user: 'ops', password: 's3cret' })).body;
    expect(sample(m, 'tsmosquitto_connections_total', { listener: String(mqttPort), version: '3.1.1' })).toBe(1);
    expect((await get(httpPort, '/healthz')).status).toBe(200);
    // The websockets listener has no http_dir: it serves the dashboard, under its own access rules.
    const page = await get(wsPort, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>ts-mosquitto dashboard</title>');
    expect(JSON.parse((await get(wsPort, '/api/overview')).body).websockets).toEqual([{ port: wsPort, tls: false, mountPoint: null }]);
    // Bound to 127.0.0.1 only: nothing answers on another loopback address.
    await expect(
      new Promise((resolve, reject) => {
        const s = net.connect(httpPort, '127.0.0.2', () => (s.destroy(), resolve('connected')));
        s.on('error', reject);
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
    expect(await p.stop()).toBe(0);
  });

  it("runs the http listeners' thread without V8's memory reducer (no full collections of it in the first seconds)", async () => {
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    const p = await runProgram('ts', [`listener ${mqttPort} 127.0.0.1`, 'allow_anonymous true', `listener ${httpPort} 127.0.0.1`, 'protocol http'], {
      nodeArgs: ['--trace-gc'],
    });
    await p.waitForLine(new RegExp(`Opening http listen socket on port ${httpPort}\\.`));
    // Scraped twice a second for 11 s: with a reducer, the thread's isolate ran two full
    // collections ("Mark-Compact (reduce)") about 8 s after it started.
    const t0 = Date.now();
    while (Date.now() - t0 < 11_000) {
      expect((await get(httpPort, '/metrics')).status).toBe(200);
      await new Promise((r) => setTimeout(r, 500));
    }
    // --trace-gc lines start with [pid:isolate]; the broker's isolate collects first (the
    // thread is started once the configuration is read).
    const gc = p.stdout.map((l) => /^\[\d+:(0x[0-9a-f]+)\]\s+\d+ ms: (.*)$/.exec(l)).filter((m) => m !== null);
    const main = gc[0]![1];
    const thread = gc.filter((m) => m[1] !== main);
    expect(thread.length).toBeGreaterThan(0);
    expect(thread.filter((m) => m[2].includes('(reduce)')).map((m) => m[0])).toEqual([]);
    expect(await p.stop()).toBe(0);
  }, 20_000);

  it('exits on SIGTERM while a scraper keeps its connection alive between scrapes', async () => {
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    const p = await runProgram('ts', [`listener ${mqttPort} 127.0.0.1`, 'allow_anonymous true', `listener ${httpPort} 127.0.0.1`, 'protocol http']);
    await p.waitForLine(new RegExp(`Opening http listen socket on port ${httpPort}\\.`));
    // As Prometheus scrapes: one connection, kept open from one scrape to the next.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const scrape = () =>
        new Promise<number>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port: httpPort, path: '/metrics', agent }, (res) => (res.resume(), res.on('end', () => resolve(res.statusCode!)))).on('error', reject);
        });
      expect(await scrape()).toBe(200);
      expect(await scrape()).toBe(200);
      const t0 = Date.now();
      // keepAliveTimeout is 5 s: an exit held by the idle connection would come only after it.
      expect(await p.stop()).toBe(0);
      expect(Date.now() - t0).toBeLessThan(4000);
    } finally {
      agent.destroy();
    }
  });

  it('is refused by the configuration parser for an unknown protocol, as before', async () => {
    const port = await freePort();
    const p = await runProgram('ts', [`listener ${port}`, 'protocol gopher'], { ready: /Error/ });
    expect(p.lines.some((l) => l.includes('Error: Invalid protocol value (gopher).'))).toBe(true);
  });
});
