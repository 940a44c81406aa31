/**
 * The ACL file (src/broker/auth/acl.ts): syntax and Mosquitto's error lines, the matcher
 * (anonymous rules, users, patterns with %c/%u, deny, $SYS, wildcard-bearing names), and
 * the same decisions taken by the real mosquitto 2.0 on the same file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { IPublishPacket, IPubackPacket } from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AclFileAuthorizer, parseAclFile } from '../src/broker/auth/acl.js';
import { filledMatches, splitPattern } from '../src/broker/auth/acl-match.js';
import { topicMatches } from '../src/protocol/topic.js';
import { SecurityFileError } from '../src/broker/auth/types.js';
import { haveProgram, MOSQUITTO, startMosquitto, type RealMosquitto } from './helpers/mosquitto.js';
import { RawClient } from './helpers/raw-client.js';

const dirs: string[] = [];
function aclFrom(text: string): { authz: AclFileAuthorizer; file: string; warnings: string[] } {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'acl-'));
  dirs.push(d);
  const file = path.join(d, 'acl');
  fs.writeFileSync(file, text);
  const warnings: string[] = [];
  const authz = AclFileAuthorizer.load(file, { log: { error: (l) => warnings.push(l), warning: (l) => warnings.push(l) } });
  return { authz, file, warnings };
}
afterAll(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function parseError(text: string): string[] {
  try {
    parseAclFile(text, '/etc/acl');
  } catch (err) {
    if (err instanceof SecurityFileError) return [...err.lines, `exit ${err.exitCode}`];
    throw err;
  }
  return [];
}

describe('ACL file syntax', () => {
  it("refuses bad lines with mosquitto's two log lines and exit code 3", () => {
    const tail = 'Error opening acl file "/etc/acl".';
    expect(parseError('topic foo bar\n')).toEqual(['Error: Invalid topic access type "foo" in acl_file "/etc/acl".', tail, 'exit 3']);
    expect(parseError('topic READ a\n')).toEqual(['Error: Invalid topic access type "READ" in acl_file "/etc/acl".', tail, 'exit 3']);
    expect(parseError('topic\n')).toEqual(['Error: Empty topic in acl_file "/etc/acl".', tail, 'exit 3']);
    expect(parseError('pattern\n')).toEqual(['Error: Empty topic in acl_file "/etc/acl".', tail, 'exit 3']);
    expect(parseError('user\n')).toEqual(['Error: Missing username in acl_file "/etc/acl".', tail, 'exit 3']);
    expect(parseError('bogus line\n')).toEqual(['Error: Invalid line in acl_file "/etc/acl": bogus.', tail, 'exit 3']);
    expect(parseError('TOPIC read a\n')).toEqual(['Error: Invalid line in acl_file "/etc/acl": TOPIC.', tail, 'exit 3']);
    expect(parseError('topic read a # trailing\n')).toEqual(['Error: Invalid ACL topic "a # trailing" in acl_file "/etc/acl".', tail, 'exit 3']);
    expect(parseError('topic read a/#/b\n')).toEqual(['Error: Invalid ACL topic "a/#/b" in acl_file "/etc/acl".', tail, 'exit 3']);
  });

  it('cannot open a missing file: exit 13', () => {
    expect(() => AclFileAuthorizer.load('/nonexistent/acl')).toThrow(SecurityFileError);
    try {
      AclFileAuthorizer.load('/nonexistent/acl');
    } catch (err) {
      expect((err as SecurityFileError).lines).toEqual([
        'Error: Unable to open acl_file "/nonexistent/acl".',
        'Error opening acl file "/nonexistent/acl".',
      ]);
      expect((err as SecurityFileError).exitCode).toBe(13);
    }
  });

  it('reads one word as a readwrite topic, the rest of the line as topic or username, and trims line ends', () => {
    const acl = parseAclFile('# c\n\ntopic read\ntopic deny\nuser  alice bob \r\ntopic readwrite  spaced/topic with space \r\n', 'x');
    expect(acl.anonymous).toEqual([
      { access: 3, filter: 'read' },
      { access: 3, filter: 'deny' },
    ]);
    expect([...acl.users.keys()]).toEqual(['alice bob']);
    expect(acl.users.get('alice bob')).toEqual([{ access: 3, filter: 'spaced/topic with space' }]);
  });

  it("warns about a pattern without %c or %u in mosquitto's words", () => {
    const { warnings } = aclFrom('pattern read everyone/#\n');
    expect(warnings).toEqual(["Warning: ACL pattern 'everyone/#' does not contain '%c' or '%u'."]);
  });
});

describe('ACL matching helpers', () => {
  it('matches a pattern with %c/%u filled in place exactly as the filled-in filter would', () => {
    const patterns = ['dev/%c/#', 'users/%u/+', 'up/%u/%c', '%c', '%u/%c/x', 'a/#', '+/%c', '#', 'p%cq/%u', 'x/%c/+/y', '%c/#'];
    const names = ['c1', 'a/b', '', 'dev', 'x y'];
    const topics = ['dev/c1/t', 'dev/c1', 'dev', 'users/a/b/x', 'up/u/c1', 'c1', 'a', 'a/b', 'a/b/c1/x', 'pc1q/dev', 'x/c1/z/y', '$SYS/c1', 'c1/', '/c1', 'dev/c1/t/'];
    let compared = 0;
    for (const p of patterns) {
      for (const c of names) {
        for (const u of names) {
          for (const t of topics) {
            const filled = p.replaceAll('%c', c).replaceAll('%u', u);
            expect([p, c, u, t, filledMatches(splitPattern(p), c, u, t)]).toEqual([p, c, u, t, topicMatches(filled, t)]);
            compared++;
          }
        }
      }
    }
    expect(compared).toBe(patterns.length * names.length * names.length * topics.length);
  });
});

const RULES = `# anonymous clients
topic read sync
topic readwrite anon/#
topic deny anon/secret

user alice
topic read sync
topic readwrite a/#
topic deny a/secret
topic write w/only
topic read r/only
topic read k/#
topic read $SYS/#

user root
topic readwrite #

user a/b
topic read sync

pattern readwrite dev/%c/#
pattern write up/%u/%c
pattern read users/%u/+
pattern deny a/%u/blocked
pattern readwrite k/%u
pattern write open/#
`;

type Case = [username: string | undefined, clientId: string, topic: string, allowed: boolean];

// Each verdict was taken from mosquitto 2.0.11 with this file; the interop test re-checks it.
const WRITES: Case[] = [
  ['alice', 'c1', 'a/x', true],
  ['alice', 'c1', 'a/secret', false], // deny wins over a/#
  ['alice', 'c1', 'a/secret/deeper', true], // deny a/secret does not cover a/secret/deeper
  ['alice', 'c1', 'w/only', true],
  ['alice', 'c1', 'r/only', false],
  ['alice', 'c1', 'k/alice', true], // user rule is read only: the pattern grants write
  ['alice', 'c1', 'a/alice/blocked', true], // the user's own allow is decided before patterns
  ['alice', 'c1', 'dev/c1/t', true],
  ['alice', 'c1', 'dev/c1', true], // '#' covers the parent level
  ['alice', 'c1', 'dev/c2/t', false],
  ['alice', 'c1', 'up/alice/c1', true],
  ['alice', 'c1', 'up/alice/c2', false],
  ['alice', 'c1', 'open/x', true],
  ['alice', 'c1', 'zzz', false],
  ['alice', 'c+', 'a/x', true], // own rules still apply...
  ['alice', 'c+', 'open/x', false], // ...but no pattern at all for a '+' in the client id
  ['alice', 'c#', 'k/alice', false],
  ['+', 'c1', 'dev/c1/t', false], // nor for a '+' in the username
  ['+', 'c1', 'open/x', false],
  ['a/b', 'c9', 'up/a/b/c9', true], // a '/' in a name is substituted literally
  ['bob', 'c2', 'dev/c2/x', true], // a user without a block gets the patterns
  ['bob', 'c2', 'anon/x', false], // and not the anonymous rules
  ['bob', 'c2', 'a/x', false],
  [undefined, 'anon1', 'anon/x', true],
  [undefined, 'anon1', 'anon/secret', false],
  [undefined, 'anon1', 'dev/anon1/t', true],
  [undefined, 'anon1', 'up/x/anon1', false], // %u never applies without a username
  [undefined, 'anon1', 'a/x', false],
  ['root', 'r', 'anything/at/all', true],
  ['root', 'r', '$SYS/x', false], // '#' does not match '$' topics (MQTT-4.7.2-1)
  ['root', 'r', '$other/x', false],
];

const READS: Case[] = [
  ['alice', 'c1', 'a/x', true],
  ['alice', 'c1', 'a/secret', false],
  ['alice', 'c1', 'w/only', false],
  ['alice', 'c1', 'r/only', true],
  ['alice', 'c1', 'users/alice/x', true],
  ['alice', 'c1', 'users/bob/x', false],
  ['alice', 'c+', 'users/alice/x', false],
  [undefined, 'anon1', 'anon/x', true],
  [undefined, 'anon1', 'a/x', false],
  [undefined, 'anon1', 'dev/anon1/x', true],
  ['a/b', 'c9', 'users/a/b/x', true],
];

describe('ACL decisions', () => {
  const { authz } = aclFrom(RULES);

  it.each(WRITES)('write: user %s, client %s, topic %s -> %s', (u, c, t, allowed) => {
    expect(authz.canWrite(c, u, t)).toBe(allowed);
  });

  it.each(READS)('read: user %s, client %s, topic %s -> %s', (u, c, t, allowed) => {
    expect(authz.canRead(c, u, t)).toBe(allowed);
  });

  it('opens $SYS only through a rule that names it', () => {
    expect(authz.canRead('c1', 'alice', '$SYS/broker/uptime')).toBe(true);
    expect(authz.canRead('r', 'root', '$SYS/broker/uptime')).toBe(false);
    expect(authz.canRead('r', 'root', 'x/y')).toBe(true);
  });

  it('lets a deny win whichever order the lines come in', () => {
    const { authz: a } = aclFrom('user u\ntopic deny x/#\ntopic readwrite x/y\ntopic readwrite z/y\ntopic deny z/#\npattern readwrite m/#\npattern deny m/%u\n');
    expect(a.canWrite('c', 'u', 'x/y')).toBe(false);
    expect(a.canWrite('c', 'u', 'z/y')).toBe(false);
    expect(a.canWrite('c', 'u', 'm/u')).toBe(false);
    expect(a.canWrite('c', 'u', 'm/other')).toBe(true);
  });

  it('grants every subscription, as Mosquitto 2.0.11 does with an ACL file (delivery filters)', () => {
    for (const f of ['a/secret', 'w/only', 'nothing/here/#', '#', '$SYS/#', '$share/g/zzz']) {
      expect(authz.canSubscribe('c1', 'alice', f)).toBe(true);
    }
  });

  it('keeps the old rules when a reload fails, and takes new ones when it works', () => {
    const lines: string[] = [];
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'acl-'));
    dirs.push(d);
    const file = path.join(d, 'acl');
    fs.writeFileSync(file, 'user u\ntopic readwrite a\n');
    const a = AclFileAuthorizer.load(file, { log: { error: (l) => lines.push(l), warning: (l) => lines.push(l) } });
    fs.writeFileSync(file, 'user u\ntopic bogus b\n');
    expect(a.reload()).toBe(false);
    expect(lines[0]).toBe(`Error: Invalid topic access type "bogus" in acl_file "${file}".`);
    expect(a.canWrite('c', 'u', 'a')).toBe(true);
    expect(a.canWrite('c', 'u', 'b')).toBe(false);
    fs.rmSync(file);
    expect(a.reload()).toBe(false);
    expect(a.canWrite('c', 'u', 'a')).toBe(true);
    fs.writeFileSync(file, 'user u\ntopic readwrite b\n');
    expect(a.reload()).toBe(true);
    expect(a.canWrite('c', 'u', 'a')).toBe(false);
    expect(a.canWrite('c', 'u', 'b')).toBe(true);
  });
});

describe('the same decisions in the real mosquitto', () => {
  let mosq: RealMosquitto | undefined;
  const clients: RawClient[] = [];
  beforeAll(async () => {
    if (!haveProgram(MOSQUITTO)) return;
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'acl-'));
    dirs.push(d);
    const file = path.join(d, 'acl');
    fs.writeFileSync(file, RULES);
    fs.chmodSync(file, 0o644);
    fs.chmodSync(d, 0o755);
    mosq = await startMosquitto([`acl_file ${file}`], false);
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.destroy();
  });
  afterAll(async () => {
    await mosq?.stop();
  });

  async function connect(username: string | undefined, clientId: string): Promise<RawClient> {
    const { client, connack } = await RawClient.connect(mosq!.port, { clientId, username, version: 5 });
    clients.push(client);
    expect(connack.reasonCode).toBe(0);
    return client;
  }

  it('agrees on every write: PUBACK success or 0x87 (MQTT 5)', async () => {
    if (mosq === undefined) return;
    for (const [u, c, t, allowed] of WRITES) {
      const client = await connect(u, c);
      client.publish(t, 'x', { qos: 1, messageId: 7 });
      const ack = await client.next<IPubackPacket>('puback');
      // 0x10 (no matching subscribers) is a success too; 0x87 is not authorised.
      expect([u, c, t, (ack.reasonCode ?? 0) < 0x80]).toEqual([u, c, t, allowed]);
      if (!allowed) expect(ack.reasonCode).toBe(0x87);
      client.destroy();
    }
  });

  it('agrees on every read: delivered or not, before a later message that is readable', async () => {
    if (mosq === undefined) return;
    const root = await connect('root', 'root-pub');
    let mid = 1;
    for (const [u, c, t, allowed] of READS) {
      const client = await connect(u, c);
      await client.subscribe([
        { topic: t, qos: 1 },
        { topic: 'sync', qos: 1 },
      ]);
      root.publish(t, 'x', { qos: 1, messageId: mid++ });
      await root.next('puback');
      root.publish('sync', 'x', { qos: 1, messageId: mid++ });
      await root.next('puback');
      // Mosquitto delivers one publisher's messages in order: 'sync' last.
      const got: string[] = [];
      for (;;) {
        const p = await client.nextPublish();
        got.push(p.topic);
        if ((p as IPublishPacket).topic === 'sync') break;
      }
      expect([u, c, t, got.includes(t)]).toEqual([u, c, t, allowed]);
      client.destroy();
    }
  });
});
