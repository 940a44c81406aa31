/**
 * Bridges over TLS to a ts-mosquitto program with a TLS listener: bridge_cafile, a client
 * certificate (bridge_certfile/bridge_keyfile), a CA that does not match, and TLS-PSK
 * (bridge_identity/bridge_psk).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeCerts, type TestCerts } from './helpers/certs.js';
import { runProgram, stopPrograms, tempDir } from './helpers/conf-program.js';
import { freePort, nextOn, publishAndWait, publisher, sleep, startBroker, stopAll } from './bridge-helpers.js';
import { RawClient } from './helpers/raw-client.js';

let certs: TestCerts;
beforeAll(() => {
  certs = makeCerts();
});
afterAll(() => certs.remove());
afterEach(async () => {
  await stopAll();
  await stopPrograms();
});

const ID = 'local.testhost.b1';

/** A ts-mosquitto program with a plain listener (for test clients) and a TLS listener. */
async function tlsRemote(tlsLines: string[]): Promise<{ plain: number; tls: number; lines: string[]; waitForLine(m: RegExp): Promise<string> }> {
  const plain = await freePort();
  const tls = await freePort();
  const p = await runProgram('ts', [
    'log_type all',
    `listener ${plain} 127.0.0.1`,
    'allow_anonymous true',
    `listener ${tls} 127.0.0.1`,
    ...tlsLines,
  ]);
  return { plain, tls, lines: p.lines, waitForLine: (m: RegExp) => p.waitForLine(m) };
}

async function subscribe(port: number, filter: string): Promise<RawClient> {
  const { client } = await RawClient.connect(port, { clientId: 'tls-sub' });
  await client.subscribe(filter, 1);
  return client;
}

describe('bridge over TLS', () => {
  it('connects with bridge_cafile and a client certificate (bridge_certfile, bridge_keyfile)', async () => {
    const remote = await tlsRemote([
      `cafile ${certs.caCrt}`,
      `certfile ${certs.serverCrt}`,
      `keyfile ${certs.serverKey}`,
      'require_certificate true',
      'use_identity_as_username true',
    ]);
    const local = await startBroker({
      bridgeConf: [
        'connection b1',
        `address 127.0.0.1:${remote.tls}`,
        `bridge_cafile ${certs.caCrt}`,
        `bridge_certfile ${certs.clientCrt}`,
        `bridge_keyfile ${certs.clientKey}`,
        'bridge_tls_version tlsv1.2',
        'topic s/# out 1',
        'restart_timeout 1',
      ],
    });
    await local.waitForLine(`Received CONNACK on connection ${ID}.`);
    // The certificate's CN became the bridge's username on the remote. Its log lines go out
    // once per event-loop turn, its CONNACK on the socket: either may arrive first.
    await remote.waitForLine(/New bridge connected from 127\.0\.0\.1:\d+ as testhost\.b1 \(p2, c0, k60, u'alice'\)\./);
    const sub = await subscribe(remote.plain, 's/#');
    await publishAndWait(await publisher(local.port), 's/1', 'secure', { qos: 1 });
    try {
      expect(String((await nextOn(sub, 's/1')).payload)).toBe('secure');
    } finally {
      sub.destroy();
    }
  });

  it('does not connect when the remote certificate is not signed by bridge_cafile', async () => {
    const remote = await tlsRemote([`certfile ${certs.serverCrt}`, `keyfile ${certs.serverKey}`]);
    const local = await startBroker({
      bridgeConf: ['connection b1', `address 127.0.0.1:${remote.tls}`, `bridge_cafile ${certs.wrongCaCrt}`, 'topic s/# out 1', 'restart_timeout 1'],
    });
    await local.waitForLine(/^Error creating bridge: /);
    await sleep(300);
    expect(local.count(`Received CONNACK on connection ${ID}.`)).toBe(0);
    expect(remote.lines.some((l) => l.includes('testhost.b1'))).toBe(false);
  });

  it('connects with TLS-PSK (bridge_identity, bridge_psk)', async () => {
    const dir = tempDir('tsm-bridge-psk-');
    const pskFile = path.join(dir, 'psk');
    fs.writeFileSync(pskFile, 'bridgeid:0123456789abcdef\n');
    try {
      const remote = await tlsRemote(['psk_hint ts-bridge-test', `psk_file ${pskFile}`, 'use_identity_as_username true']);
      const local = await startBroker({
        bridgeConf: [
          'connection b1',
          `address 127.0.0.1:${remote.tls}`,
          'bridge_identity bridgeid',
          'bridge_psk 0123456789abcdef',
          'topic p/# out 1',
          'restart_timeout 1',
        ],
      });
      await local.waitForLine(`Received CONNACK on connection ${ID}.`);
      // The remote's log lines go out once per event-loop turn, its CONNACK on the socket:
      // either may arrive first.
      const connected = (): boolean => remote.lines.some((l) => /New bridge connected from .* as testhost\.b1 \(p2, c0, k60, u'bridgeid'\)\./.test(l));
      for (let i = 0; i < 100 && !connected(); i++) await sleep(20);
      expect(connected()).toBe(true);
      const sub = await subscribe(remote.plain, 'p/#');
      await publishAndWait(await publisher(local.port), 'p/1', 'psk', { qos: 1 });
      try {
        expect(String((await nextOn(sub, 'p/1')).payload)).toBe('psk');
      } finally {
        sub.destroy();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
