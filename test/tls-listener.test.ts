/**
 * TLS listeners with real clients: Mosquitto's mosquitto_pub/mosquitto_sub, our own
 * ts-mosquitto_pub, MQTT.js and raw node:tls sockets against an in-process broker whose
 * listener config carries certfile/keyfile/cafile/require_certificate/... as parsed from
 * mosquitto.conf. Certificates are made with openssl for each run.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { createListener, createSecurityOptions } from '../src/broker/config/defaults.js';
import type { ListenerConfig } from '../src/broker/config/types.js';
import { reloadTlsListeners } from '../src/broker/listeners.js';
import { parsePskFile } from '../src/net/tls-options.js';
import { startBroker, stopBrokers, type TestBroker } from './helpers/broker.js';
import { makeCerts, type TestCerts } from './helpers/certs.js';
import { freePort, haveProgram } from './helpers/mosquitto.js';
import { killSpawned, runToEnd, trackChild, type RunResult } from './helpers/spawn.js';

const haveClients = haveProgram('mosquitto_pub') && haveProgram('mosquitto_sub');
const haveOpenssl = haveProgram('openssl');
const OUR_SUB = path.resolve('bin/ts-mosquitto_sub.js');
const OUR_PUB = path.resolve('bin/ts-mosquitto_pub.js');

let certs: TestCerts;
const mqttClients: mqtt.MqttClient[] = [];
const sockets: net.Socket[] = [];

beforeAll(() => {
  if (haveOpenssl) certs = makeCerts();
});
afterAll(() => certs?.remove());
afterEach(async () => {
  killSpawned();
  for (const c of mqttClients.splice(0)) c.end(true);
  for (const s of sockets.splice(0)) s.destroy();
  await stopBrokers();
});


const run = (cmd: string, args: string[]): Promise<RunResult> => runToEnd(cmd, args);

/** Starts mosquitto_sub; `subscribed` resolves once the broker has logged its SUBSCRIBE. */
function startSub(tb: TestBroker, args: string[]): { subscribed: Promise<string>; done: Promise<RunResult> } {
  const done = run('mosquitto_sub', args);
  return { subscribed: tb.waitForLine(/^Received SUBSCRIBE from /, 8000), done };
}

function tlsListener(edit: (l: ListenerConfig) => void = () => {}): ListenerConfig {
  const l = createListener(0, '127.0.0.1', createSecurityOptions());
  l.cafile = certs.caCrt;
  l.certfile = certs.serverCrt;
  l.keyfile = certs.serverKey;
  edit(l);
  return l;
}

async function tlsBroker(edit?: (l: ListenerConfig) => void, extra: Record<string, unknown> = {}): Promise<TestBroker> {
  return startBroker({ listeners: [{ port: 0, host: '127.0.0.1', config: tlsListener(edit) }], ...extra });
}

const tlsArgs = (tb: TestBroker): string[] => ['-h', 'localhost', '-p', String(tb.port), '--cafile', certs.caCrt];
const clientCert = (): string[] => ['--cert', certs.clientCrt, '--key', certs.clientKey];

describe.skipIf(!haveOpenssl)('TLS listener', () => {
  it.skipIf(!haveClients)('mosquitto_sub and mosquitto_pub exchange a message over TLS with --cafile', async () => {
    const tb = await tlsBroker();
    const sub = startSub(tb, [...tlsArgs(tb), '-t', 'tls/t', '-C', '1', '-i', 'tls-sub']);
    await sub.subscribed;
    const pub = await run('mosquitto_pub', [...tlsArgs(tb), '-t', 'tls/t', '-m', 'over tls']);
    expect(pub.code).toBe(0);
    const r = await sub.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('over tls\n');
  });

  it('ts-mosquitto_sub receives over TLS with --cafile from a MQTT.js publisher', async () => {
    const tb = await tlsBroker();
    const sub = run(process.execPath, [OUR_SUB, ...tlsArgs(tb), '-t', 'ours/t', '-C', '1']);
    await tb.waitForLine(/^Received SUBSCRIBE from /, 8000);
    const pub = mqtt.connect(`mqtts://localhost:${tb.port}`, { ca: fs.readFileSync(certs.caCrt), reconnectPeriod: 0 });
    mqttClients.push(pub);
    await new Promise<void>((resolve, reject) => {
      pub.on('connect', () => resolve());
      pub.on('error', reject);
    });
    pub.publish('ours/t', 'to ours');
    const r = await sub;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('to ours\n');
  });

  it.skipIf(!haveClients)('require_certificate: a client certificate from the CA is accepted', async () => {
    const tb = await tlsBroker((l) => (l.requireCertificate = true));
    const sub = startSub(tb, [...tlsArgs(tb), ...clientCert(), '-t', 'c/t', '-C', '1']);
    await sub.subscribed;
    const pub = await run('mosquitto_pub', [...tlsArgs(tb), ...clientCert(), '-t', 'c/t', '-m', 'with cert']);
    expect(pub.code).toBe(0);
    expect((await sub.done).stdout).toBe('with cert\n');
  });

  it.skipIf(!haveClients)('ts-mosquitto_pub with --cafile, --cert and --key reaches mosquitto_sub through require_certificate', async () => {
    const tb = await tlsBroker((l) => (l.requireCertificate = true));
    const sub = startSub(tb, [...tlsArgs(tb), ...clientCert(), '-t', 'ours/pub', '-C', '1']);
    await sub.subscribed;
    const pub = await run(process.execPath, [OUR_PUB, ...tlsArgs(tb), ...clientCert(), '-t', 'ours/pub', '-m', 'from ours']);
    expect(pub.stderr).toBe('');
    expect(pub.code).toBe(0);
    expect((await sub.done).stdout).toBe('from ours\n');
    const refused = await run(process.execPath, [OUR_PUB, ...tlsArgs(tb), '-t', 'ours/pub', '-m', 'x']);
    expect(refused.code).not.toBe(0);
  });

  it.skipIf(!haveClients)('require_certificate: no client certificate is refused and logged as Mosquitto does', async () => {
    const tb = await tlsBroker((l) => (l.requireCertificate = true));
    const pub = await run('mosquitto_pub', [...tlsArgs(tb), '-t', 'c/t', '-m', 'x']);
    expect(pub.code).not.toBe(0);
    await tb.waitForLine('OpenSSL Error[0]: error:0A0000C7:SSL routines::peer did not return a certificate');
    await tb.waitForLine('Client <unknown> disconnected: Protocol error.');
    expect(tb.hasLine(/^New client connected/)).toBe(false);
  });

  it.skipIf(!haveClients)('require_certificate: a certificate from another CA is refused', async () => {
    const tb = await tlsBroker((l) => (l.requireCertificate = true));
    const pub = await run('mosquitto_pub', [...tlsArgs(tb), '--cert', certs.wrongClientCrt, '--key', certs.wrongClientKey, '-t', 'c/t', '-m', 'x']);
    expect(pub.code).not.toBe(0);
    await tb.waitForLine('OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed');
    expect(tb.hasLine(/^New client connected/)).toBe(false);
  });

  it.skipIf(!haveClients)('require_certificate: an expired certificate is refused', async () => {
    const tb = await tlsBroker((l) => (l.requireCertificate = true));
    const pub = await run('mosquitto_pub', [...tlsArgs(tb), '--cert', certs.expiredCrt, '--key', certs.expiredKey, '-t', 'c/t', '-m', 'x']);
    expect(pub.code).not.toBe(0);
    await tb.waitForLine('OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed');
    expect(tb.hasLine(/^New client connected/)).toBe(false);
  });

  it.skipIf(!haveClients)('a client trusting the wrong CA refuses the broker, and the broker logs the alert', async () => {
    const tb = await tlsBroker();
    const pub = await run('mosquitto_pub', ['-h', 'localhost', '-p', String(tb.port), '--cafile', certs.wrongCaCrt, '-t', 'a', '-m', 'x']);
    expect(pub.code).not.toBe(0);
    await tb.waitForLine('OpenSSL Error[0]: error:0A000418:SSL routines::tlsv1 alert unknown ca');
  });

  it('a failed handshake leaves the other clients connected and receiving', async () => {
    const tb = await tlsBroker();
    const ca = fs.readFileSync(certs.caCrt);
    const good = mqtt.connect(`mqtts://localhost:${tb.port}`, { ca, reconnectPeriod: 0, clientId: 'good' });
    mqttClients.push(good);
    await new Promise<void>((resolve, reject) => {
      good.on('connect', () => good.subscribe('k/t', (err) => (err ? reject(err) : resolve())));
      good.on('error', reject);
    });
    // Plain MQTT on the TLS port: "wrong version number" for that socket only.
    const bad = net.connect(tb.port, '127.0.0.1');
    sockets.push(bad);
    bad.on('error', () => {});
    bad.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]));
    await new Promise((resolve) => bad.on('close', resolve));
    await tb.waitForLine('OpenSSL Error[0]: error:0A00010B:SSL routines::wrong version number');
    const got = new Promise<string>((resolve) => good.on('message', (_t, p) => resolve(p.toString())));
    const pub = mqtt.connect(`mqtts://localhost:${tb.port}`, { ca, reconnectPeriod: 0 });
    mqttClients.push(pub);
    await new Promise<void>((resolve) => pub.on('connect', () => resolve()));
    pub.publish('k/t', 'still here');
    expect(await got).toBe('still here');
    expect(good.connected).toBe(true);
  });

  it('a client that completes the handshake and never sends CONNECT is cut off by the connect timeout', async () => {
    const tb = await tlsBroker(undefined, { connectTimeout: 1 });
    const sock = tls.connect({ host: '127.0.0.1', port: tb.port, ca: fs.readFileSync(certs.caCrt), servername: 'localhost' });
    sockets.push(sock);
    sock.on('error', () => {});
    await new Promise((resolve) => sock.once('secureConnect', resolve));
    await new Promise((resolve) => sock.once('close', resolve));
    expect(tb.hasLine(/^New connection from 127\.0\.0\.1:\d+ on port \d+\.$/)).toBe(true);
    // Mosquitto gives it its default keep alive, and its keep alive line.
    await tb.waitForLine('Client <unknown> has exceeded timeout, disconnecting.');
    expect(tb.broker.clients.size).toBe(0);
  });

  it('a client that opens TCP and never starts the handshake is cut off by the connect timeout', async () => {
    const tb = await tlsBroker(undefined, { connectTimeout: 1 });
    const sock = net.connect(tb.port, '127.0.0.1');
    sockets.push(sock);
    sock.on('error', () => {});
    await new Promise((resolve) => sock.once('connect', resolve));
    await new Promise((resolve) => sock.once('close', resolve));
    await tb.waitForLine('Client <unknown> has exceeded timeout, disconnecting.');
    expect(tb.broker.clients.size).toBe(0);
  });

  it('use_identity_as_username takes the CN of the client certificate, ignoring CONNECT username and password', async () => {
    const tb = await tlsBroker((l) => {
      l.requireCertificate = true;
      l.useIdentityAsUsername = true;
    });
    const c = mqtt.connect(`mqtts://localhost:${tb.port}`, {
      ca: fs.readFileSync(certs.caCrt),
      cert: fs.readFileSync(certs.clientCrt),
      key: fs.readFileSync(certs.clientKey),
      clientId: 'idclient',
      username: 'someone-else',
      password: 'ignored',
      reconnectPeriod: 0,
    });
    mqttClients.push(c);
    await new Promise<void>((resolve, reject) => {
      c.on('connect', () => resolve());
      c.on('error', reject);
    });
    await tb.waitForLine(/^New client connected from 127\.0\.0\.1:\d+ as idclient \(p2, c1, k60, u'alice'\)\.$/);
  });

  it('use_subject_as_username takes the RFC 2253 subject of the client certificate', async () => {
    const tb = await tlsBroker((l) => {
      l.requireCertificate = true;
      l.useSubjectAsUsername = true;
    });
    const c = mqtt.connect(`mqtts://localhost:${tb.port}`, {
      ca: fs.readFileSync(certs.caCrt),
      cert: fs.readFileSync(certs.clientCrt),
      key: fs.readFileSync(certs.clientKey),
      clientId: 'subjclient',
      reconnectPeriod: 0,
    });
    mqttClients.push(c);
    await new Promise<void>((resolve, reject) => {
      c.on('connect', () => resolve());
      c.on('error', reject);
    });
    await tb.waitForLine(/as subjclient \(p2, c1, k60, u'CN=alice,O=Test Org,C=GB'\)\.$/);
  });

  it.skipIf(!haveClients)('a PSK listener accepts mosquitto_pub with the right key and refuses a wrong one', async () => {
    const pskFile = path.join(certs.dir, 'psk.txt');
    fs.writeFileSync(pskFile, 'dev1:deadbeefcafe\n# comment\nbroken line\n');
    const tb = await startBroker({
      listeners: [
        {
          port: 0,
          host: '127.0.0.1',
          config: (() => {
            const l = createListener(0, '127.0.0.1', createSecurityOptions());
            l.pskHint = 'hint';
            l.security.pskFile = pskFile;
            return l;
          })(),
        },
      ],
    });
    const base = ['-h', '127.0.0.1', '-p', String(tb.port), '--psk-identity', 'dev1'];
    const sub = startSub(tb, [...base, '--psk', 'deadbeefcafe', '-t', 'psk/t', '-C', '1']);
    await sub.subscribed;
    const ok = await run('mosquitto_pub', [...base, '--psk', 'deadbeefcafe', '-t', 'psk/t', '-m', 'pre-shared']);
    expect(ok.code).toBe(0);
    expect((await sub.done).stdout).toBe('pre-shared\n');
    const bad = await run('mosquitto_pub', [...base, '--psk', '0123456789', '-t', 'psk/t', '-m', 'x']);
    expect(bad.code).not.toBe(0);
    await tb.waitForLine(/^OpenSSL Error\[0\]: error:[0-9A-F]{8}:SSL routines::/);
  });

  it('a PSK listener with use_identity_as_username takes the PSK identity as the username', async () => {
    const pskFile = path.join(certs.dir, 'psk-id.txt');
    fs.writeFileSync(pskFile, 'sensor-7:00112233445566778899\n');
    const l = createListener(0, '127.0.0.1', createSecurityOptions());
    l.pskHint = 'hint';
    l.useIdentityAsUsername = true;
    l.security.pskFile = pskFile;
    const tb = await startBroker({ listeners: [{ port: 0, host: '127.0.0.1', config: l }] });
    const key = Buffer.from('00112233445566778899', 'hex');
    const s = tls.connect({
      host: '127.0.0.1',
      port: tb.port,
      pskCallback: () => ({ psk: key, identity: 'sensor-7' }),
      ciphers: 'PSK',
      maxVersion: 'TLSv1.2',
      checkServerIdentity: () => undefined,
    });
    sockets.push(s);
    await new Promise((resolve, reject) => {
      s.once('secureConnect', resolve);
      s.once('error', reject);
    });
    // CONNECT (3.1.1, clean, keepalive 60, client id "p1", username "other")
    s.write(Buffer.from([0x10, 0x15, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x82, 0, 60, 0, 2, 0x70, 0x31, 0, 5, 0x6f, 0x74, 0x68, 0x65, 0x72]));
    await tb.waitForLine(/^New client connected from 127\.0\.0\.1:\d+ as p1 \(p2, c1, k60, u'sensor-7'\)\.$/);
  });

  it('crlfile: a revoked client certificate is refused, others still accepted', async () => {
    const tb = await tlsBroker((l) => {
      l.requireCertificate = true;
      l.crlfile = certs.crl;
    });
    const attempt = (crt: string, key: string): Promise<boolean> =>
      new Promise((resolve) => {
        const c = mqtt.connect(`mqtts://localhost:${tb.port}`, {
          ca: fs.readFileSync(certs.caCrt),
          cert: fs.readFileSync(crt),
          key: fs.readFileSync(key),
          reconnectPeriod: 0,
          connectTimeout: 5000,
        });
        mqttClients.push(c);
        c.once('connect', () => resolve(true));
        c.once('error', () => resolve(false));
        c.once('close', () => resolve(false));
      });
    expect(await attempt(certs.revokedCrt, certs.revokedKey)).toBe(false);
    await tb.waitForLine('OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed');
    expect(await attempt(certs.clientCrt, certs.clientKey)).toBe(true);
  });

  it('capath: CA certificates are read from a directory', async () => {
    const caDir = path.join(certs.dir, 'cadir');
    fs.mkdirSync(caDir, { recursive: true });
    fs.copyFileSync(certs.caCrt, path.join(caDir, 'ca.pem'));
    const tb = await tlsBroker((l) => {
      l.cafile = null;
      l.capath = caDir;
      l.requireCertificate = true;
    });
    const c = await new Promise<boolean>((resolve) => {
      const m = mqtt.connect(`mqtts://localhost:${tb.port}`, {
        ca: fs.readFileSync(certs.caCrt),
        cert: fs.readFileSync(certs.clientCrt),
        key: fs.readFileSync(certs.clientKey),
        reconnectPeriod: 0,
      });
      mqttClients.push(m);
      m.once('connect', () => resolve(true));
      m.once('error', () => resolve(false));
    });
    expect(c).toBe(true);
  });

  it('ciphers and dhparamfile: a TLS 1.2 client gets the DHE cipher the listener allows', async () => {
    const tb = await tlsBroker((l) => {
      l.ciphers = 'DHE-RSA-AES128-GCM-SHA256';
      l.dhparamfile = certs.dhparam();
    });
    const s = tls.connect({ host: '127.0.0.1', port: tb.port, ca: fs.readFileSync(certs.caCrt), servername: 'localhost', maxVersion: 'TLSv1.2' });
    sockets.push(s);
    await new Promise((resolve, reject) => {
      s.once('secureConnect', resolve);
      s.once('error', reject);
    });
    expect(s.getCipher().standardName).toBe('TLS_DHE_RSA_WITH_AES_128_GCM_SHA256');
    expect(s.getEphemeralKeyInfo()).toMatchObject({ type: 'DH', size: 2048 });
  });

  it('ciphers_tls1.3 chooses the TLS 1.3 suite, and ciphers leave TLS 1.3 on', async () => {
    const tb = await tlsBroker((l) => {
      l.ciphersTls13 = 'TLS_CHACHA20_POLY1305_SHA256';
      l.ciphers = 'ECDHE-RSA-AES256-GCM-SHA384';
    });
    const s = tls.connect({ host: '127.0.0.1', port: tb.port, ca: fs.readFileSync(certs.caCrt), servername: 'localhost' });
    sockets.push(s);
    await new Promise((resolve, reject) => {
      s.once('secureConnect', resolve);
      s.once('error', reject);
    });
    expect(s.getProtocol()).toBe('TLSv1.3');
    expect(s.getCipher().name).toBe('TLS_CHACHA20_POLY1305_SHA256');
  });

  it('an unknown cipher list stops the listener in Mosquitto words', async () => {
    await expect(tlsBroker((l) => (l.ciphers = 'NOPE'))).rejects.toThrow('Error: Unable to set TLS ciphers. Check cipher list "NOPE".');
  });

  it.skipIf(!haveClients)('ts-mosquitto -c with a TLS listener and a websockets listener in mosquitto.conf', async () => {
    const [tlsPort, wsPort] = [await freePort(), await freePort()];
    const conf = path.join(certs.dir, 'broker.conf');
    fs.writeFileSync(
      conf,
      [
        'allow_anonymous true',
        `listener ${tlsPort} 127.0.0.1`,
        `cafile ${certs.caCrt}`,
        `certfile ${certs.serverCrt}`,
        `keyfile ${certs.serverKey}`,
        `listener ${wsPort} 127.0.0.1`,
        'protocol websockets',
        '',
      ].join('\n'),
    );
    const broker = spawn(process.execPath, [path.resolve('bin/ts-mosquitto.js'), '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    trackChild(broker);
    let log = '';
    await new Promise<void>((resolve, reject) => {
      broker.stderr!.on('data', (d: Buffer) => {
        log += d.toString();
        if (log.includes(' running')) resolve();
      });
      broker.once('close', () => reject(new Error(`broker exited: ${log}`)));
    });
    expect(log).toContain(`Opening ipv4 listen socket on port ${tlsPort}.`);
    expect(log).toContain(`Opening websockets listen socket on port ${wsPort}.`);
    const web = mqtt.connect(`ws://127.0.0.1:${wsPort}/mqtt`, { reconnectPeriod: 0 });
    mqttClients.push(web);
    await new Promise<void>((resolve, reject) => {
      web.on('connect', () => web.subscribe('conf/t', (err) => (err ? reject(err) : resolve())));
      web.on('error', reject);
    });
    const got = new Promise<string>((resolve) => web.on('message', (_t, p) => resolve(p.toString())));
    const pub = await run('mosquitto_pub', ['-h', 'localhost', '-p', String(tlsPort), '--cafile', certs.caCrt, '-t', 'conf/t', '-m', 'tls to ws']);
    expect(pub.code).toBe(0);
    expect(await got).toBe('tls to ws');
  });

  it('psk_file lines are identity:hexkey; others are skipped', () => {
    const m = parsePskFile('a:00ff\nb:xyz\n:11\nc:123\n# x\nd:abcd\r\n');
    expect([...m.keys()]).toEqual(['a', 'd']);
    expect(m.get('a')).toEqual(Buffer.from([0, 255]));
  });

  it('reloading re-reads the certificate files for new connections (SIGHUP)', async () => {
    const live = path.join(certs.dir, 'live');
    fs.mkdirSync(live, { recursive: true });
    const crt = path.join(live, 'server.crt');
    const key = path.join(live, 'server.key');
    fs.copyFileSync(certs.serverCrt, crt);
    fs.copyFileSync(certs.serverKey, key);
    const tb = await tlsBroker((l) => {
      l.certfile = crt;
      l.keyfile = key;
    });
    const peerCn = async (): Promise<string> => {
      const s = tls.connect({ host: '127.0.0.1', port: tb.port, ca: fs.readFileSync(certs.caCrt), servername: 'localhost' });
      sockets.push(s);
      await new Promise((resolve, reject) => {
        s.once('secureConnect', resolve);
        s.once('error', reject);
      });
      const cn = String(s.getPeerCertificate().subject.CN);
      s.destroy();
      return cn;
    };
    expect(await peerCn()).toBe('localhost');
    const [newCrt, newKey] = certs.serverCert('renewed', 'renewed.localhost');
    fs.copyFileSync(newCrt, crt);
    fs.copyFileSync(newKey, key);
    expect(await peerCn()).toBe('localhost');
    reloadTlsListeners(tb.broker);
    expect(await peerCn()).toBe('renewed.localhost');
    // A broken file on reload keeps the working certificate and says why.
    fs.writeFileSync(key, 'not a key');
    reloadTlsListeners(tb.broker);
    expect(tb.hasLine(`Error: Unable to load server key file "${key}". Check keyfile.`)).toBe(true);
    expect(await peerCn()).toBe('renewed.localhost');
  });

  it('a missing certificate file stops the listener from opening, in Mosquitto words', async () => {
    const missing = path.join(certs.dir, 'nope.crt');
    await expect(tlsBroker((l) => (l.certfile = missing))).rejects.toThrow(`Error: Unable to load server certificate "${missing}". Check certfile.`);
  });

  it('an unsupported tls_version is refused when the listener opens', async () => {
    await expect(tlsBroker((l) => (l.tlsVersion = 'tlsv9'))).rejects.toThrow('Error: Unsupported tls_version "tlsv9".');
  });

  it('tls_version tlsv1.3 refuses a client limited to TLS 1.2', async () => {
    const tb = await tlsBroker((l) => (l.tlsVersion = 'tlsv1.3'));
    const s = tls.connect({ host: '127.0.0.1', port: tb.port, ca: fs.readFileSync(certs.caCrt), servername: 'localhost', maxVersion: 'TLSv1.2' });
    sockets.push(s);
    const err = await new Promise<Error>((resolve) => s.once('error', resolve));
    expect(err.message).toMatch(/alert|version/i);
    await tb.waitForLine(/^OpenSSL Error\[0\]: error:[0-9A-F]{8}:SSL routines::unsupported protocol$/);
  });
});
