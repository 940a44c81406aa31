/**
 * `user` (mosquitto.conf(5)): when started as root, Mosquitto switches to this user once
 * its listeners are open (so that it can still bind ports below 1024), with the user's
 * groups. If the default user "mosquitto" does not exist it falls back to "nobody"; a
 * configured user that does not exist stops start-up. `user root` keeps root.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import type { Log } from './log.js';

interface Account {
  uid: number;
  gid: number;
}

/** getpwnam(3): through getent (NSS: LDAP, ...), else /etc/passwd. */
export function lookupUser(name: string): Account | undefined {
  let line: string | undefined;
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (r.error === undefined && r.status === 0) line = r.stdout.split('\n')[0];
  else if (r.error !== undefined) {
    try {
      line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[0] === name);
    } catch {
      line = undefined;
    }
  }
  if (line === undefined || line === '') return undefined;
  const f = line.split(':');
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
}

/**
 * Drops root privileges to `user`, as Mosquitto: returns false (after logging why) when
 * start-up must stop. Does nothing unless running as root.
 */
export function dropPrivileges(user: string, log: Log): boolean {
  if (typeof process.geteuid !== 'function' || process.geteuid() !== 0) return true;
  if (user !== '' && user !== 'root') {
    let name = user;
    let account = lookupUser(name);
    if (account === undefined) {
      if (user !== 'mosquitto') {
        log.error(`Error: Unable to drop privileges to '${user}' because this user does not exist.`);
        return false;
      }
      log.error(`Warning: Unable to drop privileges to '${user}' because this user does not exist. Trying 'nobody' instead.`);
      name = 'nobody';
      account = lookupUser(name);
      if (account === undefined) {
        log.error(`Error: Unable to drop privileges to 'nobody'.`);
        return false;
      }
    }
    // Order matters: groups and gid while still root, the uid last.
    for (const [what, step] of [
      ['groups', () => (process as unknown as { initgroups(user: string, gid: number): void }).initgroups(name, account.gid)],
      ['gid', () => process.setgid!(account.gid)],
      ['uid', () => process.setuid!(account.uid)],
    ] as const) {
      try {
        step();
      } catch (e) {
        log.error(`Error setting ${what} whilst dropping privileges: ${(e as Error).message}.`);
        return false;
      }
    }
  }
  if (process.geteuid() === 0 || process.getegid!() === 0) {
    log.warning('Warning: Mosquitto should not be run as root/administrator.');
  }
  return true;
}
