/**
 * A real browser over WebSockets: headless Chromium loads a page from the listener's
 * http_dir, the page uses MQTT.js's browser bundle to subscribe and publish through
 * ts-mosquitto, a TCP client in the test talks to it, and the test reads what the page
 * received from Chromium's --dump-dom.
 *
 * --dump-dom prints the DOM once the page has loaded. The page keeps its load event
 * pending with a script fetched from a small server in this test, answered only once the
 * TCP client has the page's reply, so the dump shows the finished exchange (virtual time
 * also stands still while that fetch is pending).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { createListener, createSecurityOptions } from '../src/broker/config/defaults.js';
import { startBroker, stopBrokers } from './helpers/broker.js';
import { haveProgram } from './helpers/mosquitto.js';

const CHROMIUM = 'chromium';
const haveChromium = haveProgram(CHROMIUM);

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>ts-mosquitto browser test</title></head>
<body>
<div id="status">loading</div>
<div id="received"></div>
<script src="mqtt.min.js"></script>
<script>
  var params = new URLSearchParams(location.search);
  // Holds the load event (and so --dump-dom) until the test has seen our reply.
  var hold = document.createElement('script');
  hold.src = 'http://127.0.0.1:' + params.get('hold') + '/hold.js';
  document.head.appendChild(hold);

  var status = document.getElementById('status');
  var received = document.getElementById('received');
  var seen = {};
  var client = mqtt.connect('ws://' + location.host + '/mqtt', { clientId: 'chromium-page', reconnectPeriod: 0 });
  client.on('connect', function () {
    status.textContent = 'connected';
    client.subscribe(['browser/in', 'browser/echo'], function (err) {
      if (err) { status.textContent = 'suback error'; return; }
      client.publish('browser/echo', 'echo from the page');
    });
  });
  client.on('message', function (topic, payload) {
    var p = document.createElement('p');
    p.className = 'msg';
    p.textContent = topic + ' = ' + payload.toString();
    received.appendChild(p);
    seen[topic] = payload.toString();
    if (seen['browser/in'] !== undefined && seen['browser/echo'] !== undefined) {
      client.publish('browser/out', 'page got: ' + seen['browser/in'], { qos: 1 });
    }
  });
  client.on('error', function (e) { status.textContent = 'error: ' + e.message; });
</script>
</body></html>
`;

let dir: string;
const procs: ChildProcess[] = [];
const servers: http.Server[] = [];
const clients: mqtt.MqttClient[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmq-browser-'));
  fs.mkdirSync(path.join(dir, 'www'));
  fs.copyFileSync(path.resolve('node_modules/mqtt/dist/mqtt.min.js'), path.join(dir, 'www', 'mqtt.min.js'));
  fs.writeFileSync(path.join(dir, 'www', 'index.html'), PAGE);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) continue;
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const c of clients.splice(0)) c.end(true);
  for (const s of servers.splice(0)) s.close();
  await stopBrokers();
});

/** The page's load-holding script: answered when `release` is called (or after 20 s). */
function holdServer(): Promise<{ port: number; release(): void }> {
  return new Promise((resolve) => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const server = http.createServer((_req, res) => {
      const timer = setTimeout(release, 20000);
      released.then(() => {
        clearTimeout(timer);
        res.writeHead(200, { 'content-type': 'application/javascript' });
        res.end("document.getElementById('status').textContent = 'done';");
      });
    });
    servers.push(server);
    server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as { port: number }).port, release }));
  });
}

function dumpDom(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const profile = fs.mkdtempSync(path.join(dir, 'profile-'));
    const child = spawn(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        '--virtual-time-budget=5000',
        '--dump-dom',
        url,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    procs.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.resume();
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

describe.skipIf(!haveChromium)('headless Chromium with MQTT.js over WebSockets', () => {
  it('a page served from http_dir subscribes and publishes through ts-mosquitto, talking to a TCP client', async () => {
    const ws = createListener(0, '127.0.0.1', createSecurityOptions());
    ws.protocol = 'websockets';
    ws.httpDir = path.join(dir, 'www');
    const tb = await startBroker({
      listeners: [
        { port: 0, host: '127.0.0.1', protocol: 'websockets', config: ws },
        { port: 0, host: '127.0.0.1' },
      ],
    });
    const tcp = mqtt.connect(`mqtt://127.0.0.1:${tb.broker.port(1)}`, { clientId: 'tcp-side', reconnectPeriod: 0 });
    clients.push(tcp);
    await new Promise<void>((resolve) => tcp.once('connect', () => resolve()));
    // Retained, so the page finds it whenever it subscribes.
    await new Promise<void>((resolve) => tcp.publish('browser/in', 'hello from TCP', { retain: true, qos: 1 }, () => resolve()));
    await new Promise<void>((resolve, reject) => tcp.subscribe('browser/out', (err) => (err ? reject(err) : resolve())));
    const reply = new Promise<string>((resolve) => tcp.once('message', (_t, p) => resolve(p.toString())));

    const hold = await holdServer();
    const dom = dumpDom(`http://127.0.0.1:${tb.broker.port(0)}/?hold=${hold.port}`);
    expect(await reply).toBe('page got: hello from TCP');
    hold.release();
    const html = await dom;

    expect(html).toContain('<div id="status">done</div>');
    expect(html).toContain('<p class="msg">browser/in = hello from TCP</p>');
    expect(html).toContain('<p class="msg">browser/echo = echo from the page</p>');
    expect(tb.hasLine(/^New client connected from 127\.0\.0\.1:\d+ as chromium-page \(p2, c1, k60\)\.$/)).toBe(true);
    expect(tb.hasLine(/^Received PUBLISH from chromium-page \(d0, q1, r0, m\d+, 'browser\/out', \.\.\. \(24 bytes\)\)$/)).toBe(true);
  });
});
