/**
 * Password hashes as they appear after the ':' of a password file line.
 *
 *   $6$<salt>$<hash>                Mosquitto 1.x "sha512": base64(sha512(password || salt))
 *   $7$<iterations>$<salt>$<hash>   Mosquitto 2.0 "sha512-pbkdf2": base64(PBKDF2-HMAC-SHA512)
 *   $2a$ / $2b$ / $2y$ ...          bcrypt (bcryptjs), the format crypt(3) uses
 *
 * Salts and hashes are standard base64 with padding. Mosquitto writes a 12-byte salt and a
 * 64-byte hash and refuses any other hash length; we write the same, so files move both ways.
 * Verification is asynchronous and off the event loop (crypto.pbkdf2 runs on the libuv
 * pool, bcrypt on worker threads: bcrypt-pool.ts) and compares digests with
 * crypto.timingSafeEqual.
 */
import { createHash, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { sharedBcryptPool } from './bcrypt-pool.js';

export type HashKind = 'bcrypt' | 'sha512-pbkdf2' | 'sha512';

/** The names -H accepts, in the order the usage text lists them. */
export const HASH_KINDS: readonly HashKind[] = ['bcrypt', 'sha512', 'sha512-pbkdf2'];

/** ts-mosquitto_passwd's default (issue 4); Mosquitto 2.0's own default is sha512-pbkdf2. */
export const DEFAULT_HASH_KIND: HashKind = 'bcrypt';

/** mosquitto_passwd 2.0 writes 101 iterations; we write the same so both tools agree. */
export const PBKDF2_ITERATIONS = 101;
export const SALT_BYTES = 12;
export const SHA512_BYTES = 64;
export const BCRYPT_COST = 10;

export type PasswordHash =
  | { kind: 'sha512'; salt: Buffer; hash: Buffer }
  | { kind: 'sha512-pbkdf2'; iterations: number; salt: Buffer; hash: Buffer }
  | { kind: 'bcrypt'; encoded: string };

/**
 * Why a hash string was refused; the broker turns these into Mosquitto's log lines
 * ("Invalid password hash for user bob, removing entry." and so on).
 */
export type HashProblem = 'invalid-hash' | 'invalid-type' | 'invalid-iterations' | 'bad-salt';

export type HashParseResult = { ok: true; hash: PasswordHash } | { ok: false; problem: HashProblem };

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// crypt(3) bcrypt: $2a$NN$ + 22 salt chars + 31 hash chars in bcrypt's own base64 alphabet.
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;

/** Strict base64: Buffer.from() would silently skip characters that do not belong. */
function decodeBase64(s: string): Buffer | undefined {
  if (s.length === 0 || !BASE64.test(s)) return undefined;
  return Buffer.from(s, 'base64');
}

export function parseHash(text: string): HashParseResult {
  if (text.length < 3 || text.charCodeAt(0) !== 0x24 /* $ */) {
    // Mosquitto: a line with nothing usable after ':' is an invalid hash, anything that
    // does not start with a known '$n$' marker is an invalid hash type.
    return { ok: false, problem: text.length === 0 || text === '$' || text === '$$' ? 'invalid-hash' : 'invalid-type' };
  }
  if (text.startsWith('$6$')) {
    const parts = text.slice(3).split('$');
    if (parts.length === 1 && parts[0] === '') return { ok: false, problem: 'invalid-hash' };
    if (parts.length !== 2) return { ok: false, problem: 'bad-salt' };
    const salt = decodeBase64(parts[0]);
    const hash = decodeBase64(parts[1]);
    if (salt === undefined || hash === undefined || hash.length !== SHA512_BYTES) return { ok: false, problem: 'bad-salt' };
    return { ok: true, hash: { kind: 'sha512', salt, hash } };
  }
  if (text.startsWith('$7$')) {
    const parts = text.slice(3).split('$');
    if (parts.length < 2) return { ok: false, problem: 'invalid-hash' };
    // Mosquitto reads the count with atoi(): no leading number or one below 1 is an
    // iteration error; trailing junk ("10x") is caught later as an undecodable salt.
    const iterations = parseInt(parts[0], 10);
    if (!(iterations >= 1 && iterations <= 0x7fffffff)) return { ok: false, problem: 'invalid-iterations' };
    if (!/^[0-9]+$/.test(parts[0])) return { ok: false, problem: 'bad-salt' };
    if (parts.length !== 3) return { ok: false, problem: 'bad-salt' };
    const salt = decodeBase64(parts[1]);
    const hash = decodeBase64(parts[2]);
    if (salt === undefined || hash === undefined || hash.length !== SHA512_BYTES) return { ok: false, problem: 'bad-salt' };
    return { ok: true, hash: { kind: 'sha512-pbkdf2', iterations, salt, hash } };
  }
  if (text.startsWith('$2')) {
    return BCRYPT.test(text) ? { ok: true, hash: { kind: 'bcrypt', encoded: text } } : { ok: false, problem: 'invalid-type' };
  }
  if (text === '$' || text.startsWith('$$')) return { ok: false, problem: 'invalid-hash' };
  return { ok: false, problem: 'invalid-type' };
}

export function formatHash(h: PasswordHash): string {
  switch (h.kind) {
    case 'sha512':
      return `$6$${h.salt.toString('base64')}$${h.hash.toString('base64')}`;
    case 'sha512-pbkdf2':
      return `$7$${h.iterations}$${h.salt.toString('base64')}$${h.hash.toString('base64')}`;
    case 'bcrypt':
      return h.encoded;
  }
}

function toBytes(password: string | Buffer): Buffer {
  return typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
}

function sha512Digest(password: Buffer, salt: Buffer): Buffer {
  return createHash('sha512').update(password).update(salt).digest();
}

function pbkdf2Digest(password: Buffer, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, SHA512_BYTES, 'sha512', (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * bcrypt works on text. A password that is not valid UTF-8 could only reach bcryptjs
 * through U+FFFD replacement, which would make different passwords equal, so it never
 * matches a bcrypt hash.
 */
function bcryptText(password: Buffer): string | undefined {
  const s = password.toString('utf8');
  return Buffer.from(s, 'utf8').equals(password) ? s : undefined;
}

/** A fresh hash of the given kind, formatted for a password file. */
export async function hashPassword(password: string | Buffer, kind: HashKind): Promise<string> {
  const bytes = toBytes(password);
  switch (kind) {
    case 'sha512': {
      const salt = randomBytes(SALT_BYTES);
      return formatHash({ kind, salt, hash: sha512Digest(bytes, salt) });
    }
    case 'sha512-pbkdf2': {
      const salt = randomBytes(SALT_BYTES);
      const hash = await pbkdf2Digest(bytes, salt, PBKDF2_ITERATIONS);
      return formatHash({ kind, iterations: PBKDF2_ITERATIONS, salt, hash });
    }
    case 'bcrypt': {
      const text = bcryptText(bytes);
      if (text === undefined) throw new Error('Password is not valid UTF-8.');
      return bcrypt.hash(text, await bcrypt.genSalt(BCRYPT_COST));
    }
  }
}

/** Does the password match? Never throws for a wrong password; digests compared in constant time. */
export async function verifyPassword(password: string | Buffer, stored: PasswordHash): Promise<boolean> {
  const bytes = toBytes(password);
  switch (stored.kind) {
    case 'sha512': {
      // One sha512 is cheap enough to run inline; there is nothing to gain from the pool.
      const d = sha512Digest(bytes, stored.salt);
      return d.length === stored.hash.length && timingSafeEqual(d, stored.hash);
    }
    case 'sha512-pbkdf2': {
      const d = await pbkdf2Digest(bytes, stored.salt, stored.iterations);
      return d.length === stored.hash.length && timingSafeEqual(d, stored.hash);
    }
    case 'bcrypt': {
      const text = bcryptText(bytes);
      if (text === undefined) return false;
      // Re-hash with the stored salt (the first 29 characters: $2b$NN$ + 22) and compare
      // the encodings ourselves, in constant time.
      const salt = stored.encoded.slice(0, 29);
      // On a worker thread when possible (bcrypt-pool.ts), else sliced on the event loop.
      const encoded = (await sharedBcryptPool().hash(text, salt)) ?? (await bcrypt.hash(text, salt));
      const again = Buffer.from(encoded, 'latin1');
      const want = Buffer.from(stored.encoded, 'latin1');
      return again.length === want.length && timingSafeEqual(again, want);
    }
  }
}

export function isHashKind(s: string): s is HashKind {
  return (HASH_KINDS as readonly string[]).includes(s);
}
