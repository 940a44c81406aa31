/**
 * Test certificates made with the openssl program in a temp dir: a CA, a server
 * certificate for localhost/127.0.0.1, a client certificate (CN alice), an expired client
 * certificate, and a second, unrelated CA with a client certificate of its own.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCerts {
  dir: string;
  caCrt: string;
  serverCrt: string;
  serverKey: string;
  clientCrt: string;
  clientKey: string;
  expiredCrt: string;
  expiredKey: string;
  wrongCaCrt: string;
  wrongClientCrt: string;
  wrongClientKey: string;
  /** A client certificate from the CA that the CRL below revokes. */
  revokedCrt: string;
  revokedKey: string;
  /** CRL of the CA listing revokedCrt. */
  crl: string;
  /** Makes 2048-bit DH parameters (DSA-style, fast to generate); returns the path. */
  dhparam(): string;
  /** Makes another server certificate (same CA) with the given CN; returns [crt, key]. */
  serverCert(name: string, cn: string): [string, string];
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function selfSigned(dir: string, name: string, cn: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '30', '-subj', `/CN=${cn}`]);
}

function signed(dir: string, ca: string, name: string, subj: string, days: number, ext?: string): void {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj]);
  const args = ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', String(days)];
  if (ext !== undefined) args.push('-extfile', ext);
  openssl(dir, args);
}

export function makeCerts(): TestCerts {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmq-certs-'));
  // Mosquitto drops privileges to the "mosquitto" user when run as root: keep files readable.
  fs.chmodSync(dir, 0o755);
  selfSigned(dir, 'ca', 'ts-mosquitto test CA');
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  signed(dir, 'ca', 'server', '/CN=localhost', 30, 'san.ext');
  signed(dir, 'ca', 'client', '/C=GB/O=Test Org/CN=alice', 30);
  // -days -1: notAfter lies a day before notBefore, so the certificate is already expired.
  signed(dir, 'ca', 'expired', '/CN=old', -1);
  signed(dir, 'ca', 'revoked', '/CN=revoked', 30);
  // `openssl ca` keeps its revocation database in the working directory.
  fs.writeFileSync(path.join(dir, 'index.txt'), '');
  fs.writeFileSync(path.join(dir, 'crlnumber'), '1000\n');
  fs.writeFileSync(
    path.join(dir, 'ca.cnf'),
    '[ ca ]\ndefault_ca = CA_default\n[ CA_default ]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n',
  );
  openssl(dir, ['ca', '-config', 'ca.cnf', '-revoke', 'revoked.crt', '-keyfile', 'ca.key', '-cert', 'ca.crt']);
  openssl(dir, ['ca', '-config', 'ca.cnf', '-gencrl', '-keyfile', 'ca.key', '-cert', 'ca.crt', '-out', 'crl.pem']);
  selfSigned(dir, 'wrongca', 'some other CA');
  signed(dir, 'wrongca', 'wrongclient', '/CN=mallory', 30);
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
  const p = (f: string): string => path.join(dir, f);
  return {
    dir,
    caCrt: p('ca.crt'),
    serverCrt: p('server.crt'),
    serverKey: p('server.key'),
    clientCrt: p('client.crt'),
    clientKey: p('client.key'),
    expiredCrt: p('expired.crt'),
    expiredKey: p('expired.key'),
    wrongCaCrt: p('wrongca.crt'),
    wrongClientCrt: p('wrongclient.crt'),
    wrongClientKey: p('wrongclient.key'),
    revokedCrt: p('revoked.crt'),
    revokedKey: p('revoked.key'),
    crl: p('crl.pem'),
    dhparam() {
      if (!fs.existsSync(p('dh.pem'))) openssl(dir, ['dhparam', '-dsaparam', '-out', 'dh.pem', '2048']);
      return p('dh.pem');
    },
    serverCert(name, cn) {
      signed(dir, 'ca', name, `/CN=${cn}`, 30, 'san.ext');
      return [p(`${name}.crt`), p(`${name}.key`)];
    },
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
