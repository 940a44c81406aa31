/**
 * password_file: an Authenticator over a Mosquitto password file.
 *
 * Loading follows mosquitto 2.0: '#' comment lines and blank lines are skipped, leading
 * blanks and CRLF endings are tolerated, the last line for a name wins, and an entry whose
 * hash cannot be used is logged and removed while the rest of the file stays in force.
 * Unlike Mosquitto our warnings never quote the line itself: it may hold a password.
 *
 * Verification runs off the event loop (hash.ts) and is bounded: at most `maxConcurrent`
 * hashes at once and `maxQueued` waiting, beyond which a CONNECT is refused rather than
 * queued without limit. A reconnect storm stays cheap through a small LRU cache of
 * recently verified credentials. The cache holds an HMAC of (username, password) under a
 * key made fresh for each process, never the password, and an entry is only consulted
 * when the presented password produces the same HMAC, so a wrong password always goes
 * through the full hash and fails.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { formatHash, parseHash, type HashProblem, type PasswordHash, verifyPassword } from '../../passwd/hash.js';
import { type AuthLog, type Authenticator, type ConnectCredentials, SecurityFileError } from './types.js';

export interface PasswordFileDiagnostic {
  level: 'error' | 'warning';
  message: string;
}

export interface ParsedPasswordFile {
  users: Map<string, PasswordHash>;
  diagnostics: PasswordFileDiagnostic[];
}

const PROBLEM_TEXT: Record<HashProblem, string> = {
  'invalid-hash': 'Invalid password hash',
  'invalid-type': 'Invalid password hash type',
  'invalid-iterations': 'Invalid hash iterations',
  'bad-salt': 'Unable to decode password salt',
};

/** Parse the text of a password file. Never throws: bad entries become diagnostics. */
export function parsePasswordFile(text: string, path: string): ParsedPasswordFile {
  const users = new Map<string, PasswordHash>();
  const diagnostics: PasswordFileDiagnostic[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    line = line.trimStart();
    if (line.length === 0 || line.charCodeAt(0) === 0x23 /* # */) continue;
    const colon = line.indexOf(':');
    if (colon <= 0) {
      diagnostics.push({ level: 'warning', message: `Warning: Invalid line in password file '${path}' at line ${i + 1}.` });
      continue;
    }
    const username = line.slice(0, colon);
    const parsed = parseHash(line.slice(colon + 1).trimEnd());
    if (!parsed.ok) {
      users.delete(username);
      diagnostics.push({
        level: 'error',
        message: `Error: ${PROBLEM_TEXT[parsed.problem]} for user ${username}, removing entry.`,
      });
      continue;
    }
    users.set(username, parsed.hash);
  }
  return { users, diagnostics };
}

/** Read and parse; a file that cannot be read throws with Mosquitto's two lines (exit 13). */
export function readPasswordFile(path: string): ParsedPasswordFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new SecurityFileError([`Error: Unable to open pwfile "${path}".`, `Error opening password file "${path}".`], 13);
  }
  return parsePasswordFile(text, path);
}

export interface PasswordFileOptions {
  log?: AuthLog;
  /** Credentials remembered after a successful verification (0 disables). Default 1024. */
  cacheSize?: number;
  /** How long a remembered credential is trusted, ms. Default 10 minutes. */
  cacheTtlMs?: number;
  /** Hash verifications running at once. Default 16. */
  maxConcurrent?: number;
  /** Verifications waiting for a slot; beyond this a CONNECT is refused. Default 10000. */
  maxQueued?: number;
}

interface CacheEntry {
  digest: Buffer;
  /** The hash object it was verified against: a reload makes new objects, so old entries miss. */
  hash: PasswordHash;
  at: number;
}

export class PasswordFileAuthenticator implements Authenticator {
  readonly path: string;
  private users: Map<string, PasswordHash>;
  private readonly log: AuthLog | undefined;
  private readonly cacheKey = randomBytes(32);
  private readonly cache = new Map<string, CacheEntry>();
  private readonly cacheSize: number;
  private readonly cacheTtlMs: number;
  private readonly inflight = new Map<string, Promise<boolean>>();
  private readonly maxConcurrent: number;
  private readonly maxQueued: number;
  private running = 0;
  private readonly queue: (() => void)[] = [];
  /** Counters for tests and the benchmark: full hash verifications, cache hits, refusals for a full queue. */
  readonly stats = { verified: 0, cacheHits: 0, refusedBusy: 0 };
  /**
   * Users removed or given a new hash by the last successful reload. Mosquitto re-checks
   * connected clients on SIGHUP and disconnects those whose credentials no longer pass;
   * the broker disconnects clients with these usernames (we keep no passwords to re-check).
   */
  changedByLastReload: ReadonlySet<string> = new Set();

  constructor(path: string, users: Map<string, PasswordHash>, options: PasswordFileOptions = {}) {
    this.path = path;
    this.users = users;
    this.log = options.log;
    this.cacheSize = options.cacheSize ?? 1024;
    this.cacheTtlMs = options.cacheTtlMs ?? 10 * 60 * 1000;
    this.maxConcurrent = Math.max(1, options.maxConcurrent ?? 16);
    this.maxQueued = options.maxQueued ?? 10000;
  }

  /** Load at start-up: diagnostics go to the log; an unreadable file throws SecurityFileError. */
  static load(path: string, options: PasswordFileOptions = {}): PasswordFileAuthenticator {
    const parsed = readPasswordFile(path);
    logDiagnostics(options.log, parsed.diagnostics);
    return new PasswordFileAuthenticator(path, parsed.users, options);
  }

  /**
   * SIGHUP: read the file again. If it cannot be read the old users stay in force and the
   * reason is logged (Mosquitto would drop every user instead). Returns true if replaced.
   */
  reload(): boolean {
    let parsed: ParsedPasswordFile;
    try {
      parsed = readPasswordFile(this.path);
    } catch (err) {
      const lines = err instanceof SecurityFileError ? err.lines : [`Error opening password file "${this.path}".`];
      for (const l of lines) this.log?.error(l);
      this.log?.error(`Error: Keeping the previous password file "${this.path}" in force.`);
      return false;
    }
    logDiagnostics(this.log, parsed.diagnostics);
    const changed = new Set<string>();
    for (const [name, old] of this.users) {
      const now = parsed.users.get(name);
      if (now === undefined || formatHash(now) !== formatHash(old)) changed.add(name);
    }
    this.changedByLastReload = changed;
    this.users = parsed.users;
    this.cache.clear();
    return true;
  }

  get userCount(): number {
    return this.users.size;
  }

  hasUser(username: string): boolean {
    return this.users.has(username);
  }

  /**
   * The broker consults this only when a username was given or anonymous access is
   * allowed; a client without a username is not this file's to judge (allow_anonymous
   * decides), so it passes.
   */
  authenticate(credentials: ConnectCredentials): Promise<boolean> {
    if (credentials.username === undefined) return Promise.resolve(true);
    return this.verify(credentials.username, credentials.password);
  }

  /**
   * Does the password match the user's entry? Unknown users and missing passwords fail.
   * A zero-length password counts as missing: Mosquitto 2.0 reads an empty CONNECT
   * password as none, so it never matches even an entry made from the empty string.
   */
  verify(username: string, password: Buffer | string | undefined): Promise<boolean> {
    if (password === undefined || password.length === 0) return Promise.resolve(false);
    const stored = this.users.get(username);
    if (stored === undefined) return Promise.resolve(false);
    const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
    const digest = this.credentialDigest(username, pw);
    if (this.cacheSize > 0) {
      const hit = this.cache.get(username);
      if (
        hit !== undefined &&
        hit.hash === stored &&
        Date.now() - hit.at < this.cacheTtlMs &&
        timingSafeEqual(hit.digest, digest)
      ) {
        // Refresh the LRU position.
        this.cache.delete(username);
        this.cache.set(username, hit);
        this.stats.cacheHits++;
        return Promise.resolve(true);
      }
    }
    // Many clients presenting the same credentials at once share one verification.
    const key = username + '\u0000' + digest.toString('base64');
    const pending = this.inflight.get(key);
    if (pending !== undefined) return pending;
    const p = this.slot(() => verifyPassword(pw, stored)).then(
      (ok) => {
        this.inflight.delete(key);
        if (ok && this.cacheSize > 0 && this.users.get(username) === stored) this.remember(username, digest, stored);
        return ok;
      },
      () => {
        this.inflight.delete(key);
        return false;
      },
    );
    this.inflight.set(key, p);
    return p;
  }

  private credentialDigest(username: string, password: Buffer): Buffer {
    const u = Buffer.from(username, 'utf8');
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(u.length, 0);
    return createHmac('sha256', this.cacheKey).update(len).update(u).update(password).digest();
  }

  private remember(username: string, digest: Buffer, hash: PasswordHash): void {
    this.cache.delete(username);
    this.cache.set(username, { digest, hash, at: Date.now() });
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }

  /** Run `work` when a verification slot is free; refuse when the waiting line is full. */
  private slot(work: () => Promise<boolean>): Promise<boolean> {
    const run = (): Promise<boolean> => {
      this.running++;
      this.stats.verified++;
      return work().finally(() => {
        this.running--;
        const next = this.queue.shift();
        if (next !== undefined) next();
      });
    };
    if (this.running < this.maxConcurrent) return run();
    if (this.queue.length >= this.maxQueued) {
      this.stats.refusedBusy++;
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push(() => run().then(resolve, reject));
    });
  }
}

function logDiagnostics(log: AuthLog | undefined, diagnostics: PasswordFileDiagnostic[]): void {
  if (log === undefined) return;
  for (const d of diagnostics) {
    if (d.level === 'error') log.error(d.message);
    else log.warning(d.message);
  }
}
