/**
 * WebSocket listeners (`protocol websockets`, plain and with TLS) against an in-process
 * broker: MQTT.js over ws:// and wss://, the subprotocol header, any path, messages
 * between TCP and WebSocket clients, the same auth as TCP, our own clients with -L ws://,
 * the upgrade timeout, and http_dir served safely.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { WebSocket } from 'ws';
import { createListener, createSecurityOptions } from '../src/broker/config/defaults.js';
import type { ListenerConfig } from '../src/broker/config/types.js';
import type { ListenerSettings } from '../src/index.js';
import { startBroker, stopBrokers, type TestBroker } from './helpers/broker.js';
import { makeCerts, type TestCerts } from './helpers/certs.js';
import { haveProgram } from './helpers/mosquitto.js';
import { killSpawned, runToEnd, type RunResult } from './helpers/spawn.js';

const haveOpenssl = haveProgram('openssl');
const OUR_PUB = path.resolve('bin/ts-mosquitto_pub.js');
const OUR_SUB = path.resolve('bin/ts-mosquitto_sub.js');

let certs: TestCerts | undefined;
let www: string;
let outside: string;
const clients: mqtt.MqttClient[] = [];
const sockets: { destroy(): void }[] = [];

beforeAll(() => {
  if (haveOpenssl) certs = makeCerts();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmq-www-'));
  www = path.join(base, 'www');
  fs.mkdirSync(path.join(www, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(www, 'index.html'), '<p>index</p>');
  fs.writeFileSync(path.join(www, 'app.js'), 'console.log(1);');
  fs.writeFileSync(path.join(www, 'sub', 'index.html'), '<p>sub index</p>');
  outside = path.join(base, 'secret.txt');
  fs.writeFileSync(outside, 'do not serve');
  fs.symlinkSync(outside, path.join(www, 'escape.txt'));
});
afterAll(() => {
  certs?.remove();
  fs.rmSync(path.dirname(www), { recursive: true, force: true });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  for (const s of sockets.splice(0)) s.destroy();
  killSpawned();
  await stopBrokers();
});

function wsListener(edit: (l: ListenerConfig) => void = () => {}): ListenerSettings {
  const l = createListener(0, '127.0.0.1', createSecurityOptions());
  l.protocol = 'websockets';
  edit(l);
  return { port: 0, host: '127.0.0.1', protocol: 'websockets', config: l };
}

/** A broker with a WebSocket listener first and a plain TCP listener second. */
async function wsBroker(edit?: (l: ListenerConfig) => void, extra: Record<string, unknown> = {}): Promise<TestBroker> {
  return startBroker({ listeners: [wsListener(edit), { port: 0, host: '127.0.0.1' }], ...extra });
}

function connected(url: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, ...opts });
  clients.push(c);
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

function subscribed(c: mqtt.MqttClient, topic: string): Promise<void> {
  return new Promise((resolve, reject) => c.subscribe(topic, (err) => (err ? reject(err) : resolve())));
}

function nextMessage(c: mqtt.MqttClient): Promise<[string, string]> {
  return new Promise((resolve) => c.once('message', (t, p) => resolve([t, p.toString()])));
}

/** One raw HTTP/1.0 request, path sent exactly as given; resolves with status and body. */
function httpRaw(port: number, method: string, target: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`${method} ${target} HTTP/1.0\r\nHost: x\r\n\r\n`));
    sockets.push(s);
    let data = '';
    s.on('data', (d) => (data += d.toString()));
    s.on('error', reject);
    s.on('close', () => {
      const [head, ...rest] = data.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), headers: head, body: rest.join('\r\n\r\n') });
    });
  });
}

const run = (cmd: string, args: string[]): Promise<RunResult> => runToEnd(cmd, args);

describe('WebSocket listener', () => {
  it('logs the websockets listen socket as Mosquitto does', async () => {
    const tb = await wsBroker();
    expect(tb.lines[0]).toBe('Opening websockets listen socket on port 0.');
  });

  it('MQTT.js over ws:// and a TCP client exchange messages both ways', async () => {
    const tb = await wsBroker();
    const wsPort = tb.broker.port(0);
    const tcpPort = tb.broker.port(1);
    const overWs = await connected(`ws://127.0.0.1:${wsPort}/mqtt`, { clientId: 'webby' });
    const overTcp = await connected(`mqtt://127.0.0.1:${tcpPort}`, { clientId: 'tcpy' });
    await subscribed(overWs, 'to/ws');
    await subscribed(overTcp, 'to/tcp');
    const atWs = nextMessage(overWs);
    overTcp.publish('to/ws', 'hello browser');
    expect(await atWs).toEqual(['to/ws', 'hello browser']);
    const atTcp = nextMessage(overTcp);
    overWs.publish('to/tcp', 'hello device', { qos: 1 });
    expect(await atTcp).toEqual(['to/tcp', 'hello device']);
    expect(tb.hasLine(/^New client connected from 127\.0\.0\.1:\d+ as webby \(p2, c1, k60\)\.$/)).toBe(true);
  });

  it('MQTT 5 over WebSockets works as over TCP (retained message with properties)', async () => {
    const tb = await wsBroker();
    const pub = await connected(`ws://127.0.0.1:${tb.port}/mqtt`, { protocolVersion: 5 });
    await new Promise<void>((resolve) => pub.publish('r/t', 'kept', { retain: true, qos: 1, properties: { contentType: 'text/plain' } }, () => resolve()));
    const sub = await connected(`ws://127.0.0.1:${tb.port}/`, { protocolVersion: 5 });
    const got = new Promise<mqtt.IPublishPacket>((resolve) => sub.once('message', (_t, _p, packet) => resolve(packet)));
    await subscribed(sub, 'r/#');
    const packet = await got;
    expect(packet.retain).toBe(true);
    expect(packet.payload.toString()).toBe('kept');
    expect(packet.properties?.contentType).toBe('text/plain');
  });

  it('chooses the mqtt subprotocol, or mqttv3.1, and accepts any path', async () => {
    const tb = await wsBroker();
    const open = (p: string, protocols: string[]): Promise<string> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${tb.port}${p}`, protocols);
        sockets.push({ destroy: () => ws.terminate() });
        ws.once('open', () => resolve(ws.protocol));
        ws.once('error', reject);
      });
    expect(await open('/mqtt', ['mqtt'])).toBe('mqtt');
    expect(await open('/', ['mqttv3.1'])).toBe('mqttv3.1');
    expect(await open('/any/where?x=1', ['other', 'mqtt'])).toBe('mqtt');
  });

  it('the listener refuses anonymous clients exactly as a TCP listener does', async () => {
    const tb = await startBroker({
      listeners: [
        { ...wsListener(), allowAnonymous: false },
        { port: 0, host: '127.0.0.1', allowAnonymous: false },
      ],
    });
    const refusal = async (url: string): Promise<number | undefined> => {
      const c = mqtt.connect(url, { reconnectPeriod: 0 });
      clients.push(c);
      const err = await new Promise<Error & { code?: number }>((resolve) => c.once('error', resolve));
      return err.code;
    };
    const overWs = await refusal(`ws://127.0.0.1:${tb.broker.port(0)}/mqtt`);
    const overTcp = await refusal(`mqtt://127.0.0.1:${tb.broker.port(1)}`);
    expect(overWs).toBeGreaterThan(0);
    expect(overWs).toBe(overTcp);
    await tb.waitForLine(/^Client mqttjs_\w+ disconnected, not authorised\.$/);
    expect(tb.hasLine(/^New client connected/)).toBe(false);
  });

  it('a first packet that is not CONNECT ends the WebSocket connection', async () => {
    const tb = await wsBroker();
    const ws = new WebSocket(`ws://127.0.0.1:${tb.port}/mqtt`, ['mqtt']);
    sockets.push({ destroy: () => ws.terminate() });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(Buffer.from([0xc0, 0x00])); // PINGREQ
    await new Promise((resolve) => ws.once('close', resolve));
    await tb.waitForLine('Client <unknown> disconnected due to protocol error.');
  });

  it('ts-mosquitto_pub and ts-mosquitto_sub speak ws:// with -L', async () => {
    const tb = await wsBroker();
    const sub = run(process.execPath, [OUR_SUB, '-L', `ws://127.0.0.1:${tb.port}/l/t`, '-C', '1']);
    await tb.waitForLine(/^Received SUBSCRIBE from /, 8000);
    const pub = await run(process.execPath, [OUR_PUB, '-L', `ws://127.0.0.1:${tb.port}/l/t`, '-m', 'via -L']);
    expect(pub.code).toBe(0);
    const r = await sub;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('via -L\n');
  });

  it('a socket that never completes the upgrade is dropped after the connect timeout', async () => {
    const tb = await wsBroker(undefined, { connectTimeout: 1 });
    const s = net.connect(tb.port, '127.0.0.1');
    sockets.push(s);
    s.on('error', () => {});
    await new Promise((resolve) => s.once('connect', resolve));
    s.write('GET /mqtt HTTP/1.1\r\nHost: x\r\n'); // headers never finished
    await new Promise((resolve) => s.once('close', resolve));
    expect(tb.broker.clients.size).toBe(0);
  });
});

describe('websockets_headers_size', () => {
  /** An upgrade request with `pad` bytes of extra header; resolves with the HTTP status line. */
  function upgrade(port: number, pad: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () =>
        s.write(
          'GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
            'Sec-WebSocket-Protocol: mqtt\r\n' +
            `X-Pad: ${'a'.repeat(pad)}\r\n\r\n`,
        ),
      );
      sockets.push(s);
      let data = '';
      s.on('data', (d) => {
        data += d.toString();
        if (data.includes('\r\n')) {
          resolve(data.split('\r\n')[0]!);
          s.destroy();
        }
      });
      s.on('error', reject);
      s.on('close', () => resolve(data.split('\r\n')[0] ?? ''));
    });
  }

  it('refuses an upgrade whose headers are larger than the limit, and takes one within it', async () => {
    const tb = await wsBroker(undefined, { websocketsHeadersSize: 1024 });
    expect(await upgrade(tb.port, 100)).toMatch(/^HTTP\/1\.1 101 /);
    expect(await upgrade(tb.port, 2000)).toMatch(/^HTTP\/1\.1 431 /);
    // Without the option Node's own limit (16 KiB) applies: 2,000 bytes go through.
    const plain = await wsBroker();
    expect(await upgrade(plain.port, 2000)).toMatch(/^HTTP\/1\.1 101 /);
  });
});

describe('WebSocket listener http_dir', () => {
  it('serves files and a directory index for plain HTTP requests', async () => {
    const tb = await wsBroker((l) => (l.httpDir = www));
    const index = await httpRaw(tb.port, 'GET', '/');
    expect(index.status).toBe(200);
    expect(index.body).toBe('<p>index</p>');
    expect(index.headers).toMatch(/content-type: text\/html/i);
    const js = await httpRaw(tb.port, 'GET', '/app.js');
    expect(js.body).toBe('console.log(1);');
    expect(js.headers).toMatch(/content-type: application\/javascript/i);
    expect((await httpRaw(tb.port, 'GET', '/sub/')).body).toBe('<p>sub index</p>');
    const head = await httpRaw(tb.port, 'HEAD', '/app.js');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect((await httpRaw(tb.port, 'GET', '/missing.html')).status).toBe(404);
  });

  it('never serves files outside http_dir', async () => {
    const tb = await wsBroker((l) => (l.httpDir = www));
    for (const target of ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/..%2f..%2fsecret.txt', '/escape.txt']) {
      const r = await httpRaw(tb.port, 'GET', target);
      expect(r.status, target).toBe(403);
      expect(r.body).not.toContain('do not serve');
    }
    expect((await httpRaw(tb.port, 'GET', '/%00')).status).toBe(400);
    expect((await httpRaw(tb.port, 'POST', '/index.html')).status).toBe(405);
  });

  it('serves nothing without http_dir', async () => {
    const tb = await wsBroker();
    expect((await httpRaw(tb.port, 'GET', '/')).status).toBe(404);
  });
});

describe.skipIf(!haveOpenssl)('secure WebSocket listener', () => {
  it('MQTT.js over wss:// trusts the broker through its CA and exchanges messages with TCP', async () => {
    const tb = await wsBroker((l) => {
      l.cafile = certs!.caCrt;
      l.certfile = certs!.serverCrt;
      l.keyfile = certs!.serverKey;
    });
    const ca = fs.readFileSync(certs!.caCrt);
    const overWss = await connected(`wss://localhost:${tb.broker.port(0)}/mqtt`, { ca, clientId: 'secure-web' });
    const overTcp = await connected(`mqtt://127.0.0.1:${tb.broker.port(1)}`);
    await subscribed(overWss, 'sec/t');
    const got = nextMessage(overWss);
    overTcp.publish('sec/t', 'encrypted');
    expect(await got).toEqual(['sec/t', 'encrypted']);
  });

  it('ts-mosquitto_pub and ts-mosquitto_sub speak wss:// with -L and --cafile', async () => {
    const tb = await wsBroker((l) => {
      l.cafile = certs!.caCrt;
      l.certfile = certs!.serverCrt;
      l.keyfile = certs!.serverKey;
    });
    const url = `wss://localhost:${tb.port}/s/t`;
    const sub = run(process.execPath, [OUR_SUB, '-L', url, '--cafile', certs!.caCrt, '-C', '1']);
    await tb.waitForLine(/^Received SUBSCRIBE from /, 8000);
    const pub = await run(process.execPath, [OUR_PUB, '-L', url, '--cafile', certs!.caCrt, '-m', 'via wss']);
    expect(pub.code).toBe(0);
    const r = await sub;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('via wss\n');
  });

  it('wss with require_certificate refuses a client without a certificate and logs why', async () => {
    const tb = await wsBroker((l) => {
      l.cafile = certs!.caCrt;
      l.certfile = certs!.serverCrt;
      l.keyfile = certs!.serverKey;
      l.requireCertificate = true;
    });
    const c = mqtt.connect(`wss://localhost:${tb.port}/mqtt`, { ca: fs.readFileSync(certs!.caCrt), reconnectPeriod: 0 });
    clients.push(c);
    await new Promise((resolve) => c.once('error', resolve));
    await tb.waitForLine('OpenSSL Error[0]: error:0A0000C7:SSL routines::peer did not return a certificate');
    expect(c.connected).toBe(false);
    // With the certificate it goes through.
    const ok = await connected(`wss://localhost:${tb.port}/mqtt`, {
      ca: fs.readFileSync(certs!.caCrt),
      cert: fs.readFileSync(certs!.clientCrt),
      key: fs.readFileSync(certs!.clientKey),
      clientId: 'with-cert',
    });
    expect(ok.connected).toBe(true);
  });
});

describe('websockets logging', () => {
  it('logs upgrades and HTTP requests at log type websockets, as websockets_log_level selects', async () => {
    const tb = await wsBroker(undefined, { websocketsLogLevel: 1 | 4 | 8 });
    const port = tb.broker.port(0);
    const c = await connected(`ws://127.0.0.1:${port}/mqtt`);
    c.end();
    await httpRaw(port, 'GET', '/nothing-here');
    await tb.waitForLine(/^websockets: upgrade from 127\.0\.0\.1 on \/mqtt, protocol mqtt$/);
    await tb.waitForLine(/^http: GET \/nothing-here from 127\.0\.0\.1: 404$/);
  });

  it('logs nothing of the kind with websockets_log_level 0', async () => {
    const tb = await wsBroker();
    const port = tb.broker.port(0);
    const c = await connected(`ws://127.0.0.1:${port}/mqtt`);
    await httpRaw(port, 'GET', '/x');
    c.end();
    await tb.waitForLine(/^New client connected/);
    expect(tb.lines.some((l) => l.startsWith('websockets:') || l.startsWith('http:'))).toBe(false);
  });
});
