/**
 * The README's password-file example (section "Passwords"), run as written: as root the
 * broker drops to `mosquitto`, and a user added with ts-mosquitto_passwd gets in after
 * `kill -HUP`. Only /etc/ts-mosquitto and port 1883 are moved (a temporary directory, a
 * free port), and the programs are found on PATH as an installed package's would be.
 * It runs where the tests run as root (CI does): elsewhere there is no privilege to drop.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from './helpers/mosquitto.js';

const ROOT = path.resolve('.');
const dirs: string[] = [];
const pids: number[] = [];

afterEach(() => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** The ```sh block under "### Passwords" in README.md. */
function readmeExample(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Passwords'));
  const m = /```sh\n([\s\S]*?)```/.exec(section);
  if (m === null) throw new Error('README: no sh block under ### Passwords');
  return m[1];
}

/** The user a root broker drops to: mosquitto, or nobody where there is none. */
function dropUser(): { name: string; uid: number } {
  for (const name of ['mosquitto', 'nobody']) {
    const r = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    if (r.status === 0) return { name, uid: Number(r.stdout.trim()) };
  }
  throw new Error('neither mosquitto nor nobody exists');
}

describe.skipIf(process.getuid?.() !== 0)("the README's password-file example, as root", () => {
  it('works end to end as written: the broker drops to mosquitto and the user added before kill -HUP gets in', async () => {
    const script = readmeExample();
    expect(script).toContain('kill -HUP');
    // A directory the dropped user may enter, as /etc is.
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-pw-'));
    dirs.push(base);
    fs.chmodSync(base, 0o755);
    const etc = path.join(base, 'etc-ts-mosquitto');
    const bin = path.join(base, 'bin');
    fs.mkdirSync(bin);
    for (const prog of ['ts-mosquitto', 'ts-mosquitto_pub', 'ts-mosquitto_passwd']) {
      const wrapper = path.join(bin, prog);
      fs.writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, 'bin', prog + '.js')}" "$@"\n`);
      fs.chmodSync(wrapper, 0o755);
    }
    const port = await freePort();
    const moved = script.replaceAll('/etc/ts-mosquitto', etc).replace(/\b1883\b/g, String(port));
    const r = spawnSync('bash', ['-e', '-x', '-c', moved], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
      timeout: 30_000,
    });
    const pidFile = path.join(etc, 'ts-mosquitto.pid');
    if (fs.existsSync(pidFile)) pids.push(Number(fs.readFileSync(pidFile, 'utf8').trim()));
    expect(r.stderr).not.toMatch(/Error|Warning/);
    expect(r.status, r.stderr).toBe(0);
    // The broker really runs as the unprivileged user (real and effective uid).
    const pid = pids[0];
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status)!;
    const user = dropUser();
    expect([Number(uids[1]), Number(uids[2])]).toEqual([user.uid, user.uid]);
    // Both users are in the file root owns, which the dropped user can read.
    const pw = fs.statSync(path.join(etc, 'passwd'));
    expect(pw.uid).toBe(0);
    expect(fs.readFileSync(path.join(etc, 'passwd'), 'utf8')).toMatch(/^alice:.*\nbob:/);
  });
});
