/**
 * Started as root, the broker drops to `mosquitto` (or `nobody`); every file that a
 * reload (SIGHUP) reads again must be readable by that user. At start it warns, one line
 * per file naming the file and the user, about each one that is not; and the reload then
 * fails on exactly that file, keeping the old rules, as the warning said it would.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { makeCerts, type TestCerts } from './helpers/certs.js';
import { runProgram, stopPrograms, tempDir } from './helpers/conf-program.js';
import { freePort } from './helpers/mosquitto.js';

let certs: TestCerts | undefined;

afterEach(async () => {
  await stopPrograms();
  certs?.remove();
  certs = undefined;
});

function dropUser(): string {
  return spawnSync('id', ['-u', 'mosquitto']).status === 0 ? 'mosquitto' : 'nobody';
}

const warning = (option: string, file: string, user: string): string =>
  `Warning: ${option} "${file}" is not readable by user ${user}: a reload (SIGHUP) will fail to read it again.`;

describe.skipIf(process.getuid?.() !== 0)('started as root', () => {
  it('warns once per reloaded file that the dropped user cannot read, naming the file and the user', async () => {
    certs = makeCerts();
    const dir = tempDir('reload-readable-');
    fs.chmodSync(dir, 0o755);
    const pw = path.join(dir, 'passwd');
    fs.writeFileSync(pw, 'alice:$7$101$ZmFrZXNhbHRmYWtlc2FsdA==$' + 'A'.repeat(86) + '==\n');
    fs.chmodSync(pw, 0o600); // root's alone
    const acl = path.join(dir, 'acl');
    fs.writeFileSync(acl, 'topic readwrite #\n');
    fs.chmodSync(acl, 0o644); // readable: no warning
    fs.chmodSync(certs.serverKey, 0o600);
    fs.chmodSync(certs.serverCrt, 0o644);
    fs.chmodSync(certs.caCrt, 0o644);
    const [p1, p2] = [await freePort(), await freePort()];
    const prog = await runProgram(
      'ts',
      [
        'log_dest stderr',
        `password_file ${pw}`,
        `acl_file ${acl}`,
        `listener ${p1} 127.0.0.1`,
        `listener ${p2} 127.0.0.1`,
        `cafile ${certs.caCrt}`,
        `certfile ${certs.serverCrt}`,
        `keyfile ${certs.serverKey}`,
      ],
      { dir },
    );
    const user = dropUser();
    const warnings = prog.lines.filter((l) => l.includes('is not readable by user')).map((l) => l.replace(/^\d+: /, ''));
    expect(warnings).toEqual([warning('password_file', pw, user), warning('keyfile', certs.serverKey, user)]);
    // What the warning foretold: a reload cannot read the password file again.
    prog.proc.kill('SIGHUP');
    await prog.waitForLine(/Unable to open pwfile/, 5000);
  });

  it('says nothing when every reloaded file is readable', async () => {
    const dir = tempDir('reload-readable-');
    fs.chmodSync(dir, 0o755);
    const pw = path.join(dir, 'passwd');
    fs.writeFileSync(pw, 'alice:$7$101$ZmFrZXNhbHRmYWtlc2FsdA==$' + 'A'.repeat(86) + '==\n');
    fs.chmodSync(pw, 0o644);
    const port = await freePort();
    const prog = await runProgram('ts', ['log_dest stderr', `password_file ${pw}`, `listener ${port} 127.0.0.1`], { dir });
    expect(prog.lines.filter((l) => l.includes('Warning'))).toEqual([]);
  });
});
