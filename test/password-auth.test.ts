/**
 * Password-file authentication (src/broker/auth/password-file.ts): Mosquitto's files and
 * log lines, the verified-credential cache and its bounds, reload, the hook seam, and the
 * authenticator and ACL authorizer plugged into an in-process Broker, compared with what
 * the real mosquitto answers.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { IConnackPacket, IPubackPacket } from 'mqtt-packet';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AclFileAuthorizer } from '../src/broker/auth/acl.js';
import { loadSecurityFiles } from '../src/broker/auth/load.js';
import { parsePasswordFile, PasswordFileAuthenticator } from '../src/broker/auth/password-file.js';
import { allAuthorizers, hookAuth, SecurityFileError } from '../src/broker/auth/types.js';
import { hashPassword } from '../src/passwd/hash.js';
import { startBroker, stopBrokers } from './helpers/broker.js';
import { haveProgram, MOSQUITTO, startMosquitto, type RealMosquitto } from './helpers/mosquitto.js';
import { RawClient } from './helpers/raw-client.js';

const dirs: string[] = [];
function tmpFile(name: string, text: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pwauth-'));
  fs.chmodSync(d, 0o755);
  dirs.push(d);
  const f = path.join(d, name);
  fs.writeFileSync(f, text);
  fs.chmodSync(f, 0o644);
  return f;
}
const rawClients: RawClient[] = [];
let mosq: RealMosquitto | undefined;
afterEach(async () => {
  for (const c of rawClients.splice(0)) c.destroy();
  await stopBrokers();
  await mosq?.stop();
  mosq = undefined;
});
afterAll(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function collectingLog(): { lines: string[]; log: { error(l: string): void; warning(l: string): void } } {
  const lines: string[] = [];
  return { lines, log: { error: (l) => lines.push(l), warning: (l) => lines.push(l) } };
}

// Written by mosquitto_passwd 2.0.11: alice/secret (default, $7$) and bob/secret (-H sha512).
const MOSQ_FILE = `alice:$7$101$oPsfm3XP6Wgb6ewX$Rf4Xy8d7C3hlaiW5zXFAypsWBWmrof2QEitGf7hOLFKKwW8D34JTts0pRdoNbGMfbS+29Bg9G6hDE7L01Ka0Qw==
bob:$6$L0gcBTQtaSckFVhd$4/M6lORy1XeuaofEe/RBcC9y+wZnEr4vTxPqzjYhncXY+Qcywnr9WsdAacN6BTYBgF6nCTwaMdGRPYFOcbc5xg==
`;

describe('loading a password file', () => {
  it("authenticates mosquitto_passwd's $7$ and $6$ users and bcrypt users; refuses wrong, unknown and missing passwords", async () => {
    const bcryptLine = `carol:${await hashPassword('c-pw', 'bcrypt')}\n`;
    const auth = PasswordFileAuthenticator.load(tmpFile('pw', MOSQ_FILE + bcryptLine));
    expect(await auth.verify('alice', Buffer.from('secret'))).toBe(true);
    expect(await auth.verify('bob', 'secret')).toBe(true);
    expect(await auth.verify('carol', 'c-pw')).toBe(true);
    expect(await auth.verify('alice', 'Secret')).toBe(false);
    expect(await auth.verify('dave', 'secret')).toBe(false);
    expect(await auth.verify('alice', undefined)).toBe(false);
    // No username: allow_anonymous decides, not the file.
    expect(await auth.authenticate({ clientId: 'c', username: undefined, password: undefined, address: '127.0.0.1' })).toBe(true);
    expect(await auth.authenticate({ clientId: 'c', username: 'bob', password: Buffer.from('secret'), address: '127.0.0.1' })).toBe(true);
  });

  it("skips comments and blank lines, tolerates CRLF and leading blanks; the last line for a name wins", () => {
    const parsed = parsePasswordFile(`# comment\r\n\r\n  ${MOSQ_FILE.split('\n')[0]}\r\nbob:x\nbob:${MOSQ_FILE.split('\n')[1].slice(4)}\n`, 'f');
    expect([...parsed.users.keys()].sort()).toEqual(['alice', 'bob']);
    expect(parsed.diagnostics.map((d) => d.message)).toEqual(['Error: Invalid password hash type for user bob, removing entry.']);
  });

  it('logs bad entries in the words mosquitto uses for the same file, and keeps the rest', async () => {
    const text = `${MOSQ_FILE}e1:\ne2:plaintext\ne3:$7$abc$def\ne4:$6$abcd$abcd\n`;
    const f = tmpFile('pw', text);
    const { lines, log } = collectingLog();
    const auth = PasswordFileAuthenticator.load(f, { log });
    const expected = [
      'Error: Invalid password hash for user e1, removing entry.',
      'Error: Invalid password hash type for user e2, removing entry.',
      'Error: Invalid hash iterations for user e3, removing entry.',
      'Error: Unable to decode password salt for user e4, removing entry.',
    ];
    expect(lines).toEqual(expected);
    expect(auth.userCount).toBe(2);
    if (haveProgram(MOSQUITTO)) {
      mosq = await startMosquitto([`password_file ${f}`], false);
      for (const l of expected) expect(mosq.lines).toContain(l);
    }
  });

  it('never quotes a line in its warning: it may hold a password', () => {
    const parsed = parsePasswordFile(':hunter2\nno-colon-hunter2\n', '/etc/pw');
    expect(parsed.diagnostics.map((d) => d.message)).toEqual([
      "Warning: Invalid line in password file '/etc/pw' at line 1.",
      "Warning: Invalid line in password file '/etc/pw' at line 2.",
    ]);
  });

  it("cannot open a missing file: mosquitto's two lines and exit code 13", () => {
    let err: unknown;
    try {
      PasswordFileAuthenticator.load('/nonexistent/pw');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SecurityFileError);
    expect((err as SecurityFileError).lines).toEqual(['Error: Unable to open pwfile "/nonexistent/pw".', 'Error opening password file "/nonexistent/pw".']);
    expect((err as SecurityFileError).exitCode).toBe(13);
  });

  it('keeps the old users when a reload cannot read the file, takes the new ones when it can', async () => {
    const f = tmpFile('pw', MOSQ_FILE);
    const { lines, log } = collectingLog();
    const auth = PasswordFileAuthenticator.load(f, { log });
    fs.rmSync(f);
    expect(auth.reload()).toBe(false);
    expect(lines.slice(0, 2)).toEqual([`Error: Unable to open pwfile "${f}".`, `Error opening password file "${f}".`]);
    expect(await auth.verify('alice', 'secret')).toBe(true);
    fs.writeFileSync(f, `alice:${await hashPassword('changed', 'sha512')}\n`);
    expect(auth.reload()).toBe(true);
    // alice has a new hash, bob is gone: the broker disconnects both, as mosquitto does.
    expect([...auth.changedByLastReload].sort()).toEqual(['alice', 'bob']);
    expect(await auth.verify('alice', 'secret')).toBe(false);
    expect(await auth.verify('alice', 'changed')).toBe(true);
    expect(await auth.verify('bob', 'secret')).toBe(false);
  });
});

describe('the verified-credential cache', () => {
  it('skips the hash for a repeat of a verified password, never for a different one', async () => {
    const auth = PasswordFileAuthenticator.load(tmpFile('pw', MOSQ_FILE));
    expect(await auth.verify('alice', 'secret')).toBe(true);
    expect(await auth.verify('alice', 'secret')).toBe(true);
    expect(auth.stats).toMatchObject({ verified: 1, cacheHits: 1 });
    expect(await auth.verify('alice', 'secreT')).toBe(false);
    expect(auth.stats).toMatchObject({ verified: 2, cacheHits: 1 });
    // A wrong password did not evict or poison the right one.
    expect(await auth.verify('alice', 'secret')).toBe(true);
    expect(auth.stats.cacheHits).toBe(2);
  });

  it('shares one verification among simultaneous identical CONNECTs (a reconnect storm)', async () => {
    const auth = PasswordFileAuthenticator.load(tmpFile('pw', `dev:${await hashPassword('pw', 'bcrypt')}\n`));
    const results = await Promise.all(Array.from({ length: 200 }, () => auth.verify('dev', 'pw')));
    expect(results.every((r) => r)).toBe(true);
    expect(auth.stats.verified).toBe(1);
    expect(await auth.verify('dev', 'pw')).toBe(true);
    expect(auth.stats.cacheHits).toBe(1);
  });

  it('is bounded: the least recently verified user is forgotten first', async () => {
    let text = '';
    for (const u of ['u1', 'u2', 'u3']) text += `${u}:${await hashPassword(u, 'sha512')}\n`;
    const auth = PasswordFileAuthenticator.load(tmpFile('pw', text), { cacheSize: 2 });
    for (const u of ['u1', 'u2', 'u3']) expect(await auth.verify(u, u)).toBe(true);
    expect(auth.stats.verified).toBe(3);
    expect(await auth.verify('u3', 'u3')).toBe(true);
    expect(await auth.verify('u2', 'u2')).toBe(true);
    expect(auth.stats.cacheHits).toBe(2);
    expect(await auth.verify('u1', 'u1')).toBe(true);
    expect(auth.stats.verified).toBe(4);
  });

  it('refuses rather than queueing without limit when verifications pile up', async () => {
    const auth = PasswordFileAuthenticator.load(tmpFile('pw', `dev:${await hashPassword('pw', 'bcrypt')}\n`), {
      maxConcurrent: 1,
      maxQueued: 1,
    });
    const results = await Promise.all([auth.verify('dev', 'pw'), auth.verify('dev', 'x1'), auth.verify('dev', 'x2')]);
    expect(results).toEqual([true, false, false]);
    expect(auth.stats.refusedBusy).toBe(1);
    expect(auth.stats.verified).toBe(2);
  });
});

describe('one security scope', () => {
  it('loads password and ACL files together, reloads both, reports changed users', async () => {
    const pw = tmpFile('pw', MOSQ_FILE);
    const acl = tmpFile('acl', 'user alice\ntopic readwrite a/#\n');
    const { lines, log } = collectingLog();
    const files = loadSecurityFiles({ passwordFile: pw, aclFile: acl }, log);
    expect(await files.authenticator!.verify('alice', 'secret')).toBe(true);
    expect(files.authorizer!.canWrite('c', 'alice', 'a/b')).toBe(true);
    fs.writeFileSync(pw, MOSQ_FILE.split('\n')[0] + '\n');
    fs.writeFileSync(acl, 'user alice\ntopic readwrite b/#\n');
    expect([...files.reload()]).toEqual(['bob']);
    expect(files.authorizer!.canWrite('c', 'alice', 'a/b')).toBe(false);
    expect(files.authorizer!.canWrite('c', 'alice', 'b/c')).toBe(true);
    expect(lines).toEqual([]);
    expect(loadSecurityFiles({ passwordFile: null, aclFile: null }).authenticator).toBeUndefined();
    fs.writeFileSync(acl, 'nonsense\n');
    let code = 0;
    try {
      loadSecurityFiles({ passwordFile: pw, aclFile: acl }, log);
    } catch (err) {
      code = (err as SecurityFileError).exitCode;
    }
    expect(code).toBe(3);
  });
});

describe('the programmatic hook', () => {
  it('passes credentials to the function and denies when it throws', async () => {
    const seen: string[] = [];
    const { authenticator, authorizer } = hookAuth({
      authenticate: async (c) => {
        seen.push(`${c.clientId}/${c.username}/${c.password?.toString()}`);
        if (c.username === 'boom') throw new Error('backend down');
        return c.username === 'ok';
      },
      canWrite: (_c, u, t) => t.startsWith(`${u}/`),
    });
    const cred = (username: string) => ({ clientId: 'cid', username, password: Buffer.from('pw'), address: '::1' });
    expect(await authenticator!.authenticate(cred('ok'))).toBe(true);
    expect(await authenticator!.authenticate(cred('no'))).toBe(false);
    expect(await authenticator!.authenticate(cred('boom'))).toBe(false);
    expect(seen).toEqual(['cid/ok/pw', 'cid/no/pw', 'cid/boom/pw']);
    expect(authorizer!.canWrite('c', 'u', 'u/x')).toBe(true);
    expect(authorizer!.canWrite('c', 'u', 'v/x')).toBe(false);
    // Functions not supplied allow.
    expect(authorizer!.canRead('c', 'u', 'v/x')).toBe(true);
    const both = allAuthorizers([authorizer!, hookAuth({ canRead: () => false }).authorizer!]);
    expect(both.canRead('c', 'u', 'u/x')).toBe(false);
    expect(both.canWrite('c', 'u', 'u/x')).toBe(true);
  });
});

describe('in the broker, as mosquitto answers', () => {
  async function connackOf(port: number, version: 4 | 5, username?: string, password?: string): Promise<number> {
    const { client, connack } = await RawClient.connect(port, { clientId: 'c-' + version, username, password, version });
    rawClients.push(client);
    const c = connack as IConnackPacket;
    return (version === 5 ? c.reasonCode : c.returnCode) ?? 0;
  }

  it('CONNACK 5 (3.1.1) and 0x87 (5) for wrong, unknown or missing credentials, 0 for right ones', async () => {
    const f = tmpFile('pw', MOSQ_FILE);
    const tb = await startBroker({ authenticator: PasswordFileAuthenticator.load(f), allowAnonymous: false });
    const real = haveProgram(MOSQUITTO) ? await startMosquitto([`password_file ${f}`, 'allow_anonymous false'], false) : undefined;
    mosq = real;
    const cases: [4 | 5, string | undefined, string | undefined, number][] = [
      [4, 'alice', 'secret', 0],
      [5, 'bob', 'secret', 0],
      [4, 'alice', 'wrong', 5],
      [5, 'alice', 'wrong', 0x87],
      [4, 'nobody', 'secret', 5],
      [5, 'nobody', 'secret', 0x87],
      [4, 'alice', undefined, 5],
      [4, undefined, undefined, 5],
      [5, undefined, undefined, 0x87],
    ];
    for (const [v, u, p, code] of cases) {
      // The executable specification first, then ours.
      if (real !== undefined) expect([v, u, p, 'mosquitto', await connackOf(real.port, v, u, p)]).toEqual([v, u, p, 'mosquitto', code]);
      expect([v, u, p, 'ts-mosquitto', await connackOf(tb.port, v, u, p)]).toEqual([v, u, p, 'ts-mosquitto', code]);
    }
    // The password never reaches the log.
    expect(tb.lines.join('\n')).not.toMatch(/secret|wrong/);
  });

  it('refuses a zero-length password even for an entry made from the empty string, as mosquitto does', async () => {
    // mosquitto reads an empty CONNECT password as no password at all.
    const f = tmpFile('pw', `empty:${await hashPassword('', 'sha512')}\nfull:${await hashPassword('x', 'sha512')}\n`);
    const tb = await startBroker({ authenticator: PasswordFileAuthenticator.load(f), allowAnonymous: false });
    const real = haveProgram(MOSQUITTO) ? await startMosquitto([`password_file ${f}`, 'allow_anonymous false'], false) : undefined;
    mosq = real;
    const cases: [4 | 5, string, string | undefined, number][] = [
      [4, 'empty', '', 5],
      [5, 'empty', '', 0x87],
      [4, 'empty', undefined, 5],
      [4, 'full', '', 5],
      [4, 'full', 'x', 0],
    ];
    for (const [v, u, p, code] of cases) {
      if (real !== undefined) expect([v, u, p, 'mosquitto', await connackOf(real.port, v, u, p)]).toEqual([v, u, p, 'mosquitto', code]);
      expect([v, u, p, 'ts-mosquitto', await connackOf(tb.port, v, u, p)]).toEqual([v, u, p, 'ts-mosquitto', code]);
    }
  });

  it('enforces the ACL file as Mosquitto: PUBACK 0x87, every SUBSCRIBE granted, delivery filtered per message', async () => {
    const acl = tmpFile('acl', 'user alice\ntopic readwrite a/#\ntopic deny a/secret\ntopic read sync\nuser root\ntopic readwrite #\n');
    const tb = await startBroker({ authorizer: AclFileAuthorizer.load(acl) });
    const { client: alice } = await RawClient.connect(tb.port, { clientId: 'alice', username: 'alice', version: 5 });
    const { client: alice3 } = await RawClient.connect(tb.port, { clientId: 'alice3', username: 'alice', version: 4 });
    const { client: root } = await RawClient.connect(tb.port, { clientId: 'root', username: 'root', version: 5 });
    rawClients.push(alice, alice3, root);

    alice.publish('a/secret', 'x', { qos: 1, messageId: 1 });
    expect((await alice.next<IPubackPacket>('puback')).reasonCode).toBe(0x87);

    const sub5 = await alice.subscribe([
      { topic: 'a/secret', qos: 1 },
      { topic: '#', qos: 1 },
    ]);
    // Mosquitto 2.0.11 grants these (checked against it): what may not be read is filtered at delivery.
    expect(sub5.granted).toEqual([1, 1]);
    expect((await alice3.subscribe('a/secret', 1)).granted).toEqual([1]);

    root.publish('a/secret', 'hidden', { qos: 1, messageId: 2 });
    await root.next('puback');
    root.publish('a/open', 'shown', { qos: 1, messageId: 3 });
    await root.next('puback');
    root.publish('sync', 'last', { qos: 1, messageId: 4 });
    await root.next('puback');
    const topics: string[] = [];
    for (;;) {
      const p = await alice.nextPublish();
      topics.push(p.topic);
      if (p.topic === 'sync') break;
    }
    expect(topics).toEqual(['a/open', 'sync']);
  });

  it('grants a SUBSCRIBE with an empty ACL file, and delivers nothing (as Mosquitto)', async () => {
    const tb = await startBroker({ authorizer: AclFileAuthorizer.load(tmpFile('acl', '#comment\n\n')) });
    const { client } = await RawClient.connect(tb.port, { clientId: 'c', version: 4 });
    rawClients.push(client);
    expect((await client.subscribe('test/topic', 0)).granted).toEqual([0]);
    client.publish('test/topic', 'x');
    expect(await client.sync()).toEqual([]);
  });

  it('drops a queued message the client may no longer read after an ACL reload; its packet id stays used (as Mosquitto)', async () => {
    const acl = tmpFile('acl', 'user u\ntopic readwrite q/one\ntopic readwrite q/two\n');
    const authorizer = AclFileAuthorizer.load(acl);
    const tb = await startBroker({ authorizer });
    const opts = { clientId: 'keeper', username: 'u', clean: false, version: 4 as const };
    const { client: first } = await RawClient.connect(tb.port, opts);
    await first.subscribe([{ topic: 'q/one', qos: 1 }, { topic: 'q/two', qos: 1 }]);
    first.disconnect();
    await first.closed;
    const { client: helper } = await RawClient.connect(tb.port, { clientId: 'helper', username: 'u', version: 4 });
    rawClients.push(helper);
    helper.publish('q/one', 'm1', { qos: 1, messageId: 1 });
    await helper.next('puback');
    helper.publish('q/two', 'm2', { qos: 1, messageId: 2 });
    await helper.next('puback');
    fs.writeFileSync(acl, 'user u\ntopic readwrite q/one\n');
    expect(authorizer.reload()).toBe(true);
    const { client: back } = await RawClient.connect(tb.port, opts);
    rawClients.push(back);
    const m1 = await back.nextPublish();
    expect([m1.topic, m1.messageId]).toEqual(['q/one', 1]);
    back.publish('q/one', 'm3', { qos: 1, messageId: 9 });
    const m3 = await back.waitFor((p) => p.cmd === 'publish');
    expect([m3.topic, String((m3 as { payload: Buffer }).payload), (m3 as { messageId?: number }).messageId]).toEqual(['q/one', 'm3', 3]);
    expect((await back.sync()).filter((p) => p.cmd === 'publish')).toEqual([]);
  });
});

describe('real mosquitto_passwd files in the broker', () => {
  it('a file made by mosquitto_passwd (default and -H sha512) authenticates in ts-mosquitto', async () => {
    if (!haveProgram('mosquitto_passwd')) return;
    const f = tmpFile('pw', '');
    expect(spawnSync('mosquitto_passwd', ['-b', f, 'd1', 'pw-one']).status).toBe(0);
    expect(spawnSync('mosquitto_passwd', ['-H', 'sha512', '-b', f, 'd2', 'pw-two']).status).toBe(0);
    const tb = await startBroker({ authenticator: PasswordFileAuthenticator.load(f), allowAnonymous: false });
    const ok1 = await RawClient.connect(tb.port, { clientId: 'x1', username: 'd1', password: 'pw-one', version: 4 });
    const ok2 = await RawClient.connect(tb.port, { clientId: 'x2', username: 'd2', password: 'pw-two', version: 5 });
    const bad = await RawClient.connect(tb.port, { clientId: 'x3', username: 'd2', password: 'pw-one', version: 4 });
    rawClients.push(ok1.client, ok2.client, bad.client);
    expect(ok1.connack.returnCode).toBe(0);
    expect(ok2.connack.reasonCode).toBe(0);
    expect(bad.connack.returnCode).toBe(5);
  });
});
