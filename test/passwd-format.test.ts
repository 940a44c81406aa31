/**
 * Password hash formats and the password file model (src/passwd/), including files made by
 * Mosquitto's own mosquitto_passwd.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatHash, hashPassword, parseHash, verifyPassword, type PasswordHash } from '../src/passwd/hash.js';
import { deleteUser, parsePasswdText, serializePasswdFile, setUser, usernameProblem } from '../src/passwd/file.js';
import { writeFileAtomic } from '../src/passwd/file-io.js';
import { BcryptPool, defaultPoolSize } from '../src/passwd/bcrypt-pool.js';
import bcrypt from 'bcryptjs';
import { haveProgram } from './helpers/mosquitto.js';

const dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'passwd-fmt-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function parsed(text: string): PasswordHash {
  const r = parseHash(text);
  if (!r.ok) throw new Error(`did not parse: ${r.problem}`);
  return r.hash;
}

// Lines written by mosquitto_passwd 2.0.11 (default, then -H sha512) for the password "secret".
const MOSQ_PBKDF2 =
  '$7$101$oPsfm3XP6Wgb6ewX$Rf4Xy8d7C3hlaiW5zXFAypsWBWmrof2QEitGf7hOLFKKwW8D34JTts0pRdoNbGMfbS+29Bg9G6hDE7L01Ka0Qw==';
const MOSQ_SHA512 =
  '$6$L0gcBTQtaSckFVhd$4/M6lORy1XeuaofEe/RBcC9y+wZnEr4vTxPqzjYhncXY+Qcywnr9WsdAacN6BTYBgF6nCTwaMdGRPYFOcbc5xg==';

describe('hash formats', () => {
  it('verifies sha512-pbkdf2 ($7$) and sha512 ($6$) lines written by mosquitto_passwd', async () => {
    expect(await verifyPassword('secret', parsed(MOSQ_PBKDF2))).toBe(true);
    expect(await verifyPassword('secret', parsed(MOSQ_SHA512))).toBe(true);
    expect(await verifyPassword('Secret', parsed(MOSQ_PBKDF2))).toBe(false);
    expect(await verifyPassword('secret ', parsed(MOSQ_SHA512))).toBe(false);
    expect(await verifyPassword(Buffer.from('secret'), parsed(MOSQ_PBKDF2))).toBe(true);
  });

  it('round-trips the parsed form back to the same text', () => {
    expect(formatHash(parsed(MOSQ_PBKDF2))).toBe(MOSQ_PBKDF2);
    expect(formatHash(parsed(MOSQ_SHA512))).toBe(MOSQ_SHA512);
  });

  it('creates each kind in the layout Mosquitto reads: 12-byte salt, 64-byte hash, 101 iterations', async () => {
    const pbkdf2 = await hashPassword('pw', 'sha512-pbkdf2');
    expect(pbkdf2).toMatch(/^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    const sha = await hashPassword('pw', 'sha512');
    expect(sha).toMatch(/^\$6\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    const bc = await hashPassword('pw', 'bcrypt');
    expect(bc).toMatch(/^\$2b\$10\$[./A-Za-z0-9]{53}$/);
    for (const h of [pbkdf2, sha, bc]) {
      expect(await verifyPassword('pw', parsed(h))).toBe(true);
      expect(await verifyPassword('pW', parsed(h))).toBe(false);
    }
    // A fresh salt each time.
    expect(await hashPassword('pw', 'sha512')).not.toBe(sha);
  });

  it('accepts $2a$ and $2y$ bcrypt lines as well as $2b$', async () => {
    const b = await hashPassword('pw', 'bcrypt');
    for (const v of ['$2a$', '$2y$']) {
      expect(await verifyPassword('pw', parsed(b.replace('$2b$', v)))).toBe(true);
    }
  });

  it('never matches a bcrypt hash with a password that is not valid UTF-8', async () => {
    const b = parsed(await hashPassword('\ufffd', 'bcrypt'));
    expect(await verifyPassword(Buffer.from([0xff]), b)).toBe(false);
    expect(await verifyPassword('\ufffd', b)).toBe(true);
  });

  it('classifies broken hashes as Mosquitto does', () => {
    const problem = (s: string): string | undefined => {
      const r = parseHash(s);
      return r.ok ? undefined : r.problem;
    };
    // Each verdict is the log line mosquitto 2.0.11 writes for that hash.
    expect(problem('')).toBe('invalid-hash');
    expect(problem('$')).toBe('invalid-hash');
    expect(problem('$6$')).toBe('invalid-hash');
    expect(problem('$7$')).toBe('invalid-hash');
    expect(problem('$7$101')).toBe('invalid-hash');
    expect(problem('plaintext')).toBe('invalid-type');
    expect(problem('$8$a$b')).toBe('invalid-type');
    expect(problem('$7$0$abcd$abcd')).toBe('invalid-iterations');
    expect(problem('$7$-5$abcd$abcd')).toBe('invalid-iterations');
    expect(problem('$7$abc$def')).toBe('invalid-iterations');
    expect(problem('$6$abc')).toBe('bad-salt');
    expect(problem('$6$!!!!$abcd')).toBe('bad-salt');
    // The hash must decode to 64 bytes.
    expect(problem('$6$abcd$abcd')).toBe('bad-salt');
    expect(problem('$7$10x$abcd$abcd')).toBe('bad-salt');
    expect(problem(MOSQ_SHA512 + '$extra')).toBe('bad-salt');
    // Base64 with a stray character is refused, not silently skipped.
    expect(problem(MOSQ_PBKDF2.replace('oPsf', 'oP*f'))).toBe('bad-salt');
    expect(problem('$2b$10$short')).toBe('invalid-type');
  });

  it('verifies hashes made just now by the real mosquitto_passwd, default and -H sha512', async () => {
    if (!haveProgram('mosquitto_passwd')) return;
    const dir = tmpDir();
    const file = path.join(dir, 'pw');
    expect(spawnSync('mosquitto_passwd', ['-c', '-b', file, 'alice', 'wonder land']).status).toBe(0);
    expect(spawnSync('mosquitto_passwd', ['-H', 'sha512', '-b', file, 'bob', 'b\u00e9b\u00e9']).status).toBe(0);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    const alice = parsed(lines[0].slice('alice:'.length));
    const bob = parsed(lines[1].slice('bob:'.length));
    expect(alice.kind).toBe('sha512-pbkdf2');
    expect(bob.kind).toBe('sha512');
    expect(await verifyPassword('wonder land', alice)).toBe(true);
    expect(await verifyPassword('b\u00e9b\u00e9', bob)).toBe(true);
    expect(await verifyPassword('wonderland', alice)).toBe(false);
  });
});

describe('bcrypt on worker threads', () => {
  it('computes the same hash as bcryptjs, for many requests at once, and stops cleanly', async () => {
    const pool = new BcryptPool(2);
    try {
      const salt = bcrypt.genSaltSync(4);
      const passwords = Array.from({ length: 12 }, (_, i) => `pw-${i}-\u00e9`);
      const hashes = await Promise.all(passwords.map((p) => pool.hash(p, salt)));
      expect(hashes).toEqual(passwords.map((p) => bcrypt.hashSync(p, salt)));
    } finally {
      await pool.close();
    }
    // A closed pool answers null, and the caller falls back to in-process bcryptjs.
    expect(await pool.hash('x', bcrypt.genSaltSync(4))).toBeNull();
  });

  it('uses one worker per core, each at a lower scheduling priority than the event loop', async () => {
    const cores = os.availableParallelism();
    expect(defaultPoolSize()).toBe(Math.min(16, cores));
    const pool = new BcryptPool();
    try {
      const salt = bcrypt.genSaltSync(6);
      const main = readThreadNice('self');
      const lowered = Math.min(19, main + 10);
      const before = threadNices().filter((n) => n === lowered).length;
      await Promise.all(Array.from({ length: cores * 3 }, (_, i) => pool.hash(`p${i}`, salt)));
      expect(pool.workers).toBe(Math.min(16, cores));
      if (process.platform === 'linux') {
        // Linux keeps a nice value per thread: the workers' threads are 10 below this one's.
        expect(threadNices().filter((n) => n === lowered).length - before).toBe(pool.workers);
        expect(readThreadNice('self')).toBe(main);
      }
    } finally {
      await pool.close();
    }
  });
});

/** The nice value of every thread of this process (field 19 of /proc/self/task/N/stat). */
function threadNices(): number[] {
  if (process.platform !== 'linux') return [];
  return fs.readdirSync('/proc/self/task').map((t) => readThreadNice(`self/task/${t}`));
}

function readThreadNice(which: string): number {
  const stat = fs.readFileSync(`/proc/${which}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

describe('password file model', () => {
  it('keeps comments, blank lines and CRLF endings of lines it does not change', () => {
    const text = '# users\r\nalice:$6$x\r\n\r\nbob:$6$y\r\n';
    const r = parsePasswdText(text);
    if (!r.ok) throw new Error('corrupt');
    setUser(r.file, 'carol', 'HASH');
    expect(serializePasswdFile(r.file)).toBe('# users\r\nalice:$6$x\r\n\r\nbob:$6$y\r\ncarol:HASH\r\n');
    setUser(r.file, 'alice', 'NEW');
    expect(deleteUser(r.file, 'bob')).toBe(true);
    expect(deleteUser(r.file, 'bob')).toBe(false);
    expect(serializePasswdFile(r.file)).toBe('# users\r\nalice:NEW\r\n\r\ncarol:HASH\r\n');
  });

  it('adds the missing final newline and replaces every line of a duplicated user once', () => {
    const r = parsePasswdText('a:1\nb:2\na:3');
    if (!r.ok) throw new Error('corrupt');
    setUser(r.file, 'a', 'X');
    expect(serializePasswdFile(r.file)).toBe('a:X\nb:2\n');
  });

  it('reports the first corrupt line by number', () => {
    expect(parsePasswdText('a:1\nno-colon\n')).toEqual({ ok: false, line: 2 });
    expect(parsePasswdText('a:1\nb:2\n:x\n')).toEqual({ ok: false, line: 3 });
    expect(parsePasswdText('a:\n')).toEqual({ ok: false, line: 1 });
  });

  it("refuses usernames mosquitto_passwd refuses, in its words", () => {
    expect(usernameProblem('a:b')).toBe("Username must not contain the ':' character.");
    expect(usernameProblem('a\tb')).toBe('Username must not contain control characters.');
    expect(usernameProblem('a\u007fb')).toBe('Username must not contain control characters.');
    expect(usernameProblem('u'.repeat(70000))).toBe('Username must be less than 65536 characters long.');
    expect(usernameProblem('caf\u00e9 user')).toBeUndefined();
  });
});

describe('atomic replacement', () => {
  it('creates a new file as fopen(3) does (0666 less the umask) and leaves no temporary file behind', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'pw');
    writeFileAtomic(f, 'a:b\n');
    // What mosquitto_passwd gets from fopen(3) under this process's umask.
    const ref = path.join(dir, 'ref');
    fs.writeFileSync(ref, '');
    expect(fs.statSync(f).mode & 0o777).toBe(fs.statSync(ref).mode & 0o777);
    fs.rmSync(ref);
    expect(fs.readFileSync(f, 'utf8')).toBe('a:b\n');
    expect(fs.readdirSync(dir)).toEqual(['pw']);
  });

  it('keeps the mode of an existing file and writes through a symlink', () => {
    const dir = tmpDir();
    const real = path.join(dir, 'real');
    fs.writeFileSync(real, 'old\n');
    fs.chmodSync(real, 0o640);
    const link = path.join(dir, 'link');
    fs.symlinkSync(real, link);
    writeFileAtomic(link, 'new\n');
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(real, 'utf8')).toBe('new\n');
    expect(fs.statSync(real).mode & 0o777).toBe(0o640);
    expect(fs.readdirSync(dir).sort()).toEqual(['link', 'real']);
  });

  it.skipIf(process.getuid?.() !== 0)('as root, keeps the owner and group of an existing file (chown survives the rename)', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'pw');
    fs.writeFileSync(f, 'old\n');
    fs.chownSync(f, 12345, 23456);
    fs.chmodSync(f, 0o640);
    writeFileAtomic(f, 'new\n');
    const st = fs.statSync(f);
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([12345, 23456, 0o640]);
    expect(fs.readFileSync(f, 'utf8')).toBe('new\n');
    expect(fs.readdirSync(dir)).toEqual(['pw']);
  });

  it('leaves the original untouched when the write cannot happen', () => {
    const dir = tmpDir();
    expect(() => writeFileAtomic(path.join(dir, 'missing-dir', 'pw'), 'x')).toThrow(/ENOENT/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
