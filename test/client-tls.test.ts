/**
 * TLS options of the clients against a Mosquitto broker with TLS listeners, with
 * certificates made by openssl for the test: --cafile, --capath, --cert/--key, --insecure,
 * --tls-version, --tls-alpn, --psk/--psk-identity; compared with Mosquitto's own clients.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, haveProgram } from './helpers/mosquitto.js';
import { haveMosquitto, killAll, normalise, ours, run, start, startTarget, theirs, waitFor, type Prog, type Target } from './client-diff-helpers.js';

afterEach(() => killAll());

const haveOpenssl = haveProgram('openssl');

function openssl(dir: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr.toString()}`);
}

/** A CA, a server certificate for DNS:localhost, a client certificate, and an unrelated CA. */
function makeCertificates(dir: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=Test CA']);
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost\n');
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf']);
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=client']);
  openssl(dir, ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2']);
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other.key', '-out', 'other.crt', '-days', '2', '-subj', '/CN=Other CA']);
  fs.writeFileSync(path.join(dir, 'psk.txt'), 'ident:deadbeef\n');
  // Mosquitto started as root drops to the mosquitto user, which must read these.
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
  fs.chmodSync(dir, 0o755);
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe.skipIf(!haveMosquitto || !haveOpenssl)('client TLS options against Mosquitto', () => {
  let dir = '';
  let target: Target;
  const ports = { tls: 0, cert: 0, psk: 0 };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsm-tls-'));
    makeCertificates(dir);
    ports.tls = await freePort();
    ports.cert = await freePort();
    ports.psk = await freePort();
    const f = (n: string): string => path.join(dir, n);
    target = await startTarget('mosquitto', [
      `listener ${ports.tls} 127.0.0.1`, `cafile ${f('ca.crt')}`, `certfile ${f('server.crt')}`, `keyfile ${f('server.key')}`,
      `listener ${ports.cert} 127.0.0.1`, `cafile ${f('ca.crt')}`, `certfile ${f('server.crt')}`, `keyfile ${f('server.key')}`,
      'require_certificate true',
      `listener ${ports.psk} 127.0.0.1`, 'psk_hint hint', `psk_file ${f('psk.txt')}`,
    ]);
    await waitFor(() => true);
    for (const p of Object.values(ports)) {
      const until = Date.now() + 5000;
      while (!(await portOpen(p)) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(async () => {
    await target.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function same(prog: Prog, args: string[]): Promise<void> {
    const full = args.map((a) => a.replace(/^@(.*)$/, (_m, n: string) => path.join(dir, n)))
      .map((a) => a.replace('TLSPORT', String(ports.tls)).replace('CERTPORT', String(ports.cert)).replace('PSKPORT', String(ports.psk)));
    const a = await run([...theirs(prog), ...full]);
    const b = await run([...ours(prog), ...full]);
    expect(normalise(b.stderr)).toBe(normalise(a.stderr));
    expect(normalise(b.stdout)).toBe(normalise(a.stdout));
    expect(b.code).toBe(a.code);
  }

  const pubCases: [string, string[]][] = [
    ['--cafile trusts the server', ['--cafile', '@ca.crt', '-h', 'localhost', '-p', 'TLSPORT']],
    ['--insecure skips the host name check', ['--cafile', '@ca.crt', '-h', '127.0.0.1', '-p', 'TLSPORT', '--insecure']],
    ['--cert and --key satisfy require_certificate', ['--cafile', '@ca.crt', '-h', 'localhost', '-p', 'CERTPORT', '--cert', '@client.crt', '--key', '@client.key']],
    ['--tls-version tlsv1.3', ['--cafile', '@ca.crt', '-h', 'localhost', '-p', 'TLSPORT', '--tls-version', 'tlsv1.3']],
    ['--tls-version tlsv1.2', ['--cafile', '@ca.crt', '-h', 'localhost', '-p', 'TLSPORT', '--tls-version', 'tlsv1.2']],
    ['an unknown --tls-version', ['--cafile', '@ca.crt', '-h', 'localhost', '-p', 'TLSPORT', '--tls-version', 'tlsv9']],
    ['--tls-alpn', ['--cafile', '@ca.crt', '-h', 'localhost', '-p', 'TLSPORT', '--tls-alpn', 'mqtt']],
    ['a missing --cafile', ['--cafile', '@missing.crt', '-h', 'localhost', '-p', 'TLSPORT']],
    ['--cert without --key', ['--cafile', '@ca.crt', '-h', 'localhost', '-p', 'CERTPORT', '--cert', '@client.crt']],
    ['plain MQTT to a TLS listener loses the connection', ['-h', 'localhost', '-p', 'TLSPORT']],
    ['--psk with the right key', ['--psk', 'deadbeef', '--psk-identity', 'ident', '-h', '127.0.0.1', '-p', 'PSKPORT']],
  ];
  for (const [name, args] of pubCases) {
    it(`pub: ${name}`, async () => {
      await same('pub', [...args, '-t', 'tls/t', '-m', 'secret', '-q', '1', '-d']);
    });
  }

  // Mosquitto's clients report a failed handshake either while connecting ("Unable to
  // connect (...)") or from their network loop ("Error: ..."), depending on timing.
  const handshakeFailures: [string, string[], string][] = [
    ['an unrelated CA fails the handshake', ['--cafile', '@other.crt', '-h', 'localhost', '-p', 'TLSPORT'], ''],
    ['a host name not in the certificate fails', ['--cafile', '@ca.crt', '-h', '127.0.0.1', '-p', 'TLSPORT'], 'Error: host name verification failed.\n'],
    ['--tls-use-os-certs does not trust the test CA', ['--tls-use-os-certs', '-h', 'localhost', '-p', 'TLSPORT'], ''],
  ];
  for (const [name, args, hostLine] of handshakeFailures) {
    it(`pub: ${name}`, async () => {
      const full = args.map((a) => a.replace(/^@(.*)$/, (_m, n: string) => path.join(dir, n)).replace('TLSPORT', String(ports.tls)));
      const a = await run([...theirs('pub'), ...full, '-t', 'a', '-m', 'x', '-d']);
      const b = await run([...ours('pub'), ...full, '-t', 'a', '-m', 'x', '-d']);
      // Theirs fails too; its exact words depend on timing (see above), ours are the usual ones.
      expect(a.code).not.toBe(0);
      expect(b.stderr).toBe('Unable to connect (A TLS error occurred.).\n');
      expect(b.stdout).toBe(`${hostLine}OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed\n`);
      expect(b.code).toBe(1);
    });
  }

  it('--capath trusts a directory of hash-named CA certificates, as OpenSSL looks them up', async () => {
    const capath = path.join(dir, 'capath');
    fs.mkdirSync(capath, { recursive: true });
    fs.copyFileSync(path.join(dir, 'ca.crt'), path.join(capath, 'ca.crt'));
    const args = ['--capath', capath, '-h', 'localhost', '-p', String(ports.tls), '-t', 'a', '-m', 'x'];
    // Not rehashed: OpenSSL cannot find the CA.
    const a1 = await run([...theirs('pub'), ...args]);
    const b1 = await run([...ours('pub'), ...args]);
    expect(a1.code).not.toBe(0);
    expect(b1.code).toBe(1);
    expect(b1.stderr).toBe('Unable to connect (A TLS error occurred.).\n');
    const hash = spawnSync('openssl', ['x509', '-hash', '-noout', '-in', path.join(dir, 'ca.crt')]).stdout.toString().trim();
    fs.copyFileSync(path.join(dir, 'ca.crt'), path.join(capath, `${hash}.0`));
    fs.chmodSync(path.join(capath, `${hash}.0`), 0o644);
    await same('pub', ['--capath', '@capath', '-h', 'localhost', '-p', 'TLSPORT', '-t', 'a', '-m', 'x', '-d']);
  });

  it('pub: --psk with a wrong key fails the handshake (OpenSSL\'s alert text may differ)', async () => {
    const args = ['--psk', 'deadbee0', '--psk-identity', 'ident', '-h', '127.0.0.1', '-p', String(ports.psk), '-t', 'a', '-m', 'x'];
    const a = await run([...theirs('pub'), ...args]);
    const b = await run([...ours('pub'), ...args]);
    expect(b.stderr).toBe('Unable to connect (A TLS error occurred.).\n');
    expect(a.code).not.toBe(0);
    expect(b.code).toBe(1);
  });

  it('sub: an untrusted server ends the program as with mosquitto_sub', async () => {
    const args = ['--cafile', path.join(dir, 'other.crt'), '-h', 'localhost', '-p', String(ports.tls), '-t', 'x'];
    const b = await run([...ours('sub'), ...args]);
    expect(b.stderr).toBe('Unable to connect (A TLS error occurred.).\n');
    expect(b.code).toBe(1);
  });

  it('a missing client certificate ends as Mosquitto\'s clients end (alert or reset: both race)', async () => {
    const ca = path.join(dir, 'ca.crt');
    const outcomes = ['1 Error: Protocol error\n', '7 Error: The connection was lost.\n'];
    const pub = await run([...ours('pub'), '--cafile', ca, '-h', 'localhost', '-p', String(ports.cert), '-t', 'a', '-m', 'x']);
    expect(outcomes).toContain(`${pub.code} ${pub.stderr}`);
    const sub = await run([...ours('sub'), '--cafile', ca, '-h', 'localhost', '-p', String(ports.cert), '-t', 'x', '-W', '2']);
    expect(sub.stderr).toBe('Error: Protocol error\n');
    expect(sub.code).toBe(1);
  });

  it('sub and rr exchange messages over TLS and TLS-PSK', async () => {
    const ca = path.join(dir, 'ca.crt');
    const sub = start([...ours('sub'), '--cafile', ca, '-h', 'localhost', '-p', String(ports.tls), '-t', 'tls/sub', '-C', '1', '-v', '-d']);
    await waitFor(() => sub.output().includes('Subscribed (mid'));
    await run([...theirs('pub'), '--cafile', ca, '-h', 'localhost', '-p', String(ports.tls), '-t', 'tls/sub', '-m', 'over tls']);
    expect((await sub.done).stdout).toContain('tls/sub over tls\n');

    const psk = ['--psk', 'deadbeef', '--psk-identity', 'ident', '-h', '127.0.0.1', '-p', String(ports.psk)];
    const rr = start([...ours('rr'), ...psk, '-t', 'tls/req', '-e', 'tls/resp', '-m', 'q', '-d', '-W', '10']);
    await waitFor(() => rr.output().includes('sending PUBLISH'));
    await run([...theirs('pub'), ...psk, '-t', 'tls/resp', '-m', 'psk answer']);
    const r = await rr.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('\npsk answer\n');
  });
});
