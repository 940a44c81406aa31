/**
 * ts-mosquitto_passwd as a program (build first: it runs dist/ through bin/), compared with
 * Mosquitto's mosquitto_passwd: same messages and exit codes, files that move both ways,
 * interactive mode through a pseudo-terminal.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseHash, verifyPassword } from '../src/passwd/hash.js';
import { freePort, haveProgram, MOSQUITTO } from './helpers/mosquitto.js';

const BIN = path.resolve('bin/ts-mosquitto_passwd.js');
const dirs: string[] = [];
const procs: ChildProcess[] = [];

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'passwd-cli-'));
  dirs.push(d);
  return d;
}

afterEach(() => {
  for (const p of procs.splice(0)) if (p.pid !== undefined && p.exitCode === null) process.kill(p.pid, 'SIGKILL');
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function ours(args: string[], opts: { cwd?: string; input?: string } = {}): Result {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: opts.cwd, input: opts.input ?? '', encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function theirs(args: string[], opts: { cwd?: string; input?: string } = {}): Result {
  const r = spawnSync('mosquitto_passwd', args, { cwd: opts.cwd, input: opts.input ?? '', encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function userVerifies(file: string, user: string, password: string): Promise<boolean> {
  const line = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(user + ':'));
  if (line === undefined) return false;
  const h = parseHash(line.slice(user.length + 1));
  return h.ok && (await verifyPassword(password, h.hash));
}

describe('arguments, messages and exit codes', () => {
  it('prints the usage on stdout with exit 1 for --help, no arguments and wrong counts', () => {
    for (const args of [[], ['--help'], ['-b'], ['-b', 'f'], ['-b', 'f', 'u'], ['f'], ['-x', 'f', 'u'], ['-H', 'sha512', 'f'], ['-b', 'f', 'u', 'p', 'extra']]) {
      const r = ours(args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stdout).toContain('Usage: ts-mosquitto_passwd [-H bcrypt | -H sha512 | -H sha512-pbkdf2] [-c | -D] passwordfile username');
      expect(r.stdout).toContain(' -U : update a plain text password file to use hashed passwords.');
      expect(r.stderr).toBe('');
    }
  });

  it("gives mosquitto_passwd's error lines and exit codes", () => {
    const cases: [string[], string][] = [
      [['-H'], 'Error: -H argument given but not enough other arguments.'],
      [['-H', 'md5', '-b', 'f', 'u', 'p'], "Error: Unknown hash type 'md5'"],
      [['-c', '-D', 'f', 'u'], 'Error: -c and -D cannot be used together.'],
      [['-c', '-U', 'f'], 'Error: -c and -U cannot be used together.'],
      [['-D', '-U', 'f', 'u'], 'Error: -D and -U cannot be used together.'],
      [['-D', '-b', 'f', 'u'], 'Error: -b and -D cannot be used together.'],
      [['-c', 'f'], 'Error: -c argument given but password file or username missing.'],
      [['-c', '-b', 'f', 'u'], 'Error: -c argument given but password file, username, or password missing.'],
      [['-D', 'f'], 'Error: -D argument given but password file or username missing.'],
      [['-U'], 'Error: -U argument given but password file missing.'],
      [['-U', 'f', 'x'], 'Error: -U argument given but password file missing.'],
      [['-b', 'missing', 'u', 'p'], 'Error: Unable to open password file missing. No such file or directory.'],
      [['-D', 'missing', 'u'], 'Error: Unable to open password file missing. No such file or directory.'],
      [['-U', 'missing'], 'Error: Unable to open password file missing. No such file or directory.'],
      [['-b', 'f', 'a:b', 'p'], "Error: Username must not contain the ':' character."],
      [['-c', '-b', 'f', 'a\tb', 'p'], 'Error: Username must not contain control characters.'],
      [['-c', '-b', 'nodir/f', 'u', 'p'], 'Error: Unable to open file nodir/f for writing. No such file or directory.'],
    ];
    const mosq = haveProgram('mosquitto_passwd');
    for (const [args, message] of cases) {
      const dir = tmpDir();
      const r = ours(args, { cwd: dir });
      expect(r.stderr, args.join(' ')).toBe(message + '\n');
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stdout).toBe('');
      if (mosq) {
        // The same words and code from the executable specification (bcrypt aside).
        const m = theirs(args.map((a) => (a === 'md5' ? 'md5' : a)), { cwd: tmpDir() });
        expect(m.stderr, `mosquitto_passwd ${args.join(' ')}`).toBe(message + '\n');
        expect(m.status).toBe(1);
      }
      expect(fs.readdirSync(dir)).toEqual([]);
    }
  });

  it('warns with exit 1 when deleting a user that is not there, leaving the file as it was', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'pw');
    expect(ours(['-c', '-b', f, 'alice', 'pw']).status).toBe(0);
    const before = fs.readFileSync(f, 'utf8');
    const r = ours(['-D', f, 'nobody']);
    expect(r.stderr).toBe('Warning: User nobody not found in password file.\n');
    expect(r.status).toBe(1);
    expect(fs.readFileSync(f, 'utf8')).toBe(before);
  });
});

describe('editing files', () => {
  it.skipIf(!haveProgram('mosquitto_passwd'))('creates a new file with the same mode as mosquitto_passwd -c', () => {
    const dir = tmpDir();
    expect(ours(['-c', '-b', path.join(dir, 'ours'), 'alice', 'pw']).status).toBe(0);
    expect(theirs(['-c', '-b', path.join(dir, 'theirs'), 'alice', 'pw']).status).toBe(0);
    const mode = (n: string): number => fs.statSync(path.join(dir, n)).mode & 0o7777;
    expect(mode('ours')).toBe(mode('theirs'));
  });

  it.skipIf(process.getuid?.() !== 0)('as root, keeps the owner, group and mode of the file it rewrites (-b, -D, -U, -c), as mosquitto_passwd', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'pw');
    expect(ours(['-c', '-b', f, 'alice', 'a-pw']).status).toBe(0);
    fs.chownSync(f, 4321, 8765);
    fs.chmodSync(f, 0o640);
    const owner = (): number[] => {
      const st = fs.statSync(f);
      return [st.uid, st.gid, st.mode & 0o7777];
    };
    for (const args of [['-b', f, 'bob', 'b-pw'], ['-D', f, 'bob'], ['-U', f], ['-c', '-b', f, 'carol', 'c-pw']]) {
      expect(ours(args).status, args.join(' ')).toBe(0);
      expect(owner(), args.join(' ')).toEqual([4321, 8765, 0o640]);
    }
    expect(fs.readdirSync(dir)).toEqual(['pw']);
  });

  it.skipIf(process.getuid?.() !== 0)('run by a user who cannot give the file to its owner, rewrites it in place: the owner stays', async () => {
    // A directory and file that user "nobody" may write, owned by root: a renamed
    // temporary file would belong to nobody, so the program writes the file itself.
    const dir = tmpDir();
    fs.chmodSync(dir, 0o777);
    const f = path.join(dir, 'pw');
    fs.writeFileSync(f, '');
    expect(ours(['-b', f, 'alice', 'a-pw']).status).toBe(0);
    fs.chmodSync(f, 0o666);
    const nobody = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim());
    const r = spawnSync(process.execPath, [BIN, '-b', f, 'bob', 'b-pw'], { encoding: 'utf8', uid: nobody, gid: nobody });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const st = fs.statSync(f);
    expect([st.uid, st.mode & 0o777]).toEqual([0, 0o666]);
    expect(await userVerifies(f, 'alice', 'a-pw')).toBe(true);
    expect(await userVerifies(f, 'bob', 'b-pw')).toBe(true);
    expect(fs.readdirSync(dir)).toEqual(['pw']);
  });

  it('creates with bcrypt by default, with the mode fopen(3) gives, and adds, updates and deletes users', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'pw');
    expect(ours(['-c', '-b', f, 'alice', 'a-pw']).status).toBe(0);
    // mosquitto_passwd -c creates its file with fopen(3): 0666 less the umask, which the
    // spawned program shares with this process.
    const ref = path.join(dir, 'ref');
    fs.writeFileSync(ref, '');
    expect(fs.statSync(f).mode & 0o777).toBe(fs.statSync(ref).mode & 0o777);
    fs.rmSync(ref);
    expect(fs.readFileSync(f, 'utf8')).toMatch(/^alice:\$2b\$10\$[./A-Za-z0-9]{53}\n$/);
    expect(ours(['-H', 'sha512', '-b', f, 'bob', 'b-pw']).status).toBe(0);
    expect(ours(['-H', 'sha512-pbkdf2', '-b', f, 'carol', 'c-pw']).status).toBe(0);
    expect(ours(['-b', f, 'alice', 'new-pw']).status).toBe(0);
    const text = fs.readFileSync(f, 'utf8');
    expect(text).toMatch(/^alice:\$2b\$.*\nbob:\$6\$.*\ncarol:\$7\$101\$.*\n$/);
    expect(await userVerifies(f, 'alice', 'new-pw')).toBe(true);
    expect(await userVerifies(f, 'alice', 'a-pw')).toBe(false);
    expect(await userVerifies(f, 'bob', 'b-pw')).toBe(true);
    expect(await userVerifies(f, 'carol', 'c-pw')).toBe(true);
    expect(ours(['-D', f, 'bob']).status).toBe(0);
    expect(fs.readFileSync(f, 'utf8')).not.toContain('bob:');
    expect(fs.readdirSync(dir)).toEqual(['pw']);
  });

  it('-U hashes a plain-text file in place, keeping comments and lines already hashed', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'pw');
    const hashed = 'zed:$6$L0gcBTQtaSckFVhd$4/M6lORy1XeuaofEe/RBcC9y+wZnEr4vTxPqzjYhncXY+Qcywnr9WsdAacN6BTYBgF6nCTwaMdGRPYFOcbc5xg==';
    fs.writeFileSync(f, `# devices\nalice:open sesame\nbob:p:with:colons\n${hashed}\n`);
    fs.chmodSync(f, 0o640);
    const r = ours(['-H', 'sha512-pbkdf2', '-U', f]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = fs.readFileSync(f, 'utf8').split('\n');
    expect(lines[0]).toBe('# devices');
    expect(lines[1]).toMatch(/^alice:\$7\$101\$/);
    expect(lines[3]).toBe(hashed);
    expect(await userVerifies(f, 'alice', 'open sesame')).toBe(true);
    expect(await userVerifies(f, 'bob', 'p:with:colons')).toBe(true);
    expect(await userVerifies(f, 'zed', 'secret')).toBe(true);
    expect(fs.statSync(f).mode & 0o777).toBe(0o640);
  });

  it('stops at a corrupt line with its number and leaves the file untouched', () => {
    const dir = tmpDir();
    const f = path.join(dir, 'pw');
    const text = 'alice:pw\nno colon here\ncarol:pw\n';
    fs.writeFileSync(f, text);
    for (const args of [['-U', f], ['-b', f, 'dave', 'pw'], ['-D', f, 'alice']]) {
      const r = ours(args);
      expect(r.stderr).toBe('Error: Corrupt password file at line 2.\n');
      expect(r.status).toBe(1);
      expect(fs.readFileSync(f, 'utf8')).toBe(text);
    }
  });

  it('reads the password twice from a pipe, as mosquitto_passwd does', async () => {
    const dir = tmpDir();
    const f = path.join(dir, 'pw');
    fs.writeFileSync(f, '');
    const ok = ours([f, 'alice'], { input: 'piped pw\npiped pw\n' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe('Password: \nReenter password: \n');
    expect(await userVerifies(f, 'alice', 'piped pw')).toBe(true);
    const mismatch = ours([f, 'bob'], { input: 'one\ntwo\n' });
    expect(mismatch.stderr).toBe('Error: Passwords do not match.\n');
    expect(mismatch.status).toBe(2);
    const empty = ours([f, 'bob'], { input: '' });
    expect(empty.stderr).toBe('Error: Empty password.\n');
    expect(empty.status).toBe(1);
    expect(fs.readFileSync(f, 'utf8')).not.toContain('bob:');
    if (haveProgram('mosquitto_passwd')) {
      expect(theirs([f, 'bob'], { input: 'one\ntwo\n' }).status).toBe(2);
      expect(theirs([f, 'bob'], { input: '' }).status).toBe(1);
    }
  });
});

describe('interop with Mosquitto', () => {
  it("edits mosquitto_passwd's files and mosquitto_passwd edits ours, nobody's lines lost", async () => {
    if (!haveProgram('mosquitto_passwd')) return;
    const dir = tmpDir();
    const f = path.join(dir, 'pw');
    expect(theirs(['-c', '-b', f, 'm1', 'pw1']).status).toBe(0);
    expect(theirs(['-H', 'sha512', '-b', f, 'm2', 'pw2']).status).toBe(0);
    expect(ours(['-b', f, 't1', 'pw3']).status).toBe(0);
    expect(theirs(['-b', f, 'm3', 'pw4']).status).toBe(0);
    expect(ours(['-D', f, 'm3']).status).toBe(0);
    for (const [u, p] of [['m1', 'pw1'], ['m2', 'pw2'], ['t1', 'pw3']]) expect(await userVerifies(f, u, p)).toBe(true);
    expect(fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => l.split(':')[0])).toEqual(['m1', 'm2', 't1']);
  });

  it('a -H sha512-pbkdf2 (and -H sha512) file authenticates in the real mosquitto broker', async () => {
    if (!haveProgram(MOSQUITTO) || !haveProgram('mosquitto_pub')) return;
    const dir = tmpDir();
    const f = path.join(dir, 'pw');
    expect(ours(['-H', 'sha512-pbkdf2', '-c', '-b', f, 'device-1', 'p4ss word']).status).toBe(0);
    expect(ours(['-H', 'sha512', '-b', f, 'legacy', 'old pw']).status).toBe(0);
    const port = await freePort();
    const conf = path.join(dir, 'mosquitto.conf');
    // Run as the user who made the file, not dropped to "mosquitto": the temporary
    // directory need not be open to that user.
    fs.writeFileSync(conf, `listener ${port} 127.0.0.1\npassword_file ${f}\nallow_anonymous false\nuser ${os.userInfo().username}\n`);
    const broker = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(broker);
    let log = '';
    broker.stderr!.on('data', (d) => (log += d));
    broker.stdout!.on('data', (d) => (log += d));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('mosquitto did not start: ' + log)), 5000);
      const check = (): void => {
        if (/running/.test(log)) {
          clearTimeout(t);
          resolve();
        } else setTimeout(check, 20);
      };
      check();
    });
    const pub = (u: string, p: string): number | null =>
      spawnSync('mosquitto_pub', ['-p', String(port), '-u', u, '-P', p, '-t', 't', '-m', 'x'], { encoding: 'utf8' }).status;
    expect(pub('device-1', 'p4ss word')).toBe(0);
    expect(pub('legacy', 'old pw')).toBe(0);
    expect(pub('device-1', 'wrong')).toBe(5);
    expect(log).not.toMatch(/removing entry/);
  });
});

/** Drives the program through a pseudo-terminal (python3's pty module). */
const PTY_DRIVER = `
import json, os, pty, select, sys, time
spec = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    err = os.open(spec['stderr'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(err, 2)
    os.execvp(spec['argv'][0], spec['argv'])
out = b''
def pump(timeout):
    global out
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return True
    try:
        d = os.read(fd, 4096)
    except OSError:
        return False
    if not d:
        return False
    out += d
    return True
for wait, send in spec['steps']:
    deadline = time.time() + 10
    while wait.encode() not in out and time.time() < deadline:
        if not pump(0.05):
            break
    os.write(fd, send.encode('latin-1'))
status = None
while status is None:
    alive = pump(0.05)
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        status = st
    elif not alive:
        _, status = os.waitpid(pid, 0)
st = status
print(json.dumps({'out': out.decode('utf-8', 'replace'), 'code': os.waitstatus_to_exitcode(st)}))
`;

function viaPty(args: string[], steps: [string, string][], dir: string): { out: string; code: number; stderr: string } {
  const driver = path.join(dir, 'drive_tty.py');
  fs.writeFileSync(driver, PTY_DRIVER);
  const stderrFile = path.join(dir, 'stderr');
  const spec = { argv: [process.execPath, BIN, ...args], steps, stderr: stderrFile };
  const r = spawnSync('python3', [driver, JSON.stringify(spec)], { encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error('pty driver failed: ' + r.stderr);
  const res = JSON.parse(r.stdout) as { out: string; code: number };
  return { ...res, stderr: fs.readFileSync(stderrFile, 'utf8') };
}

describe('interactive mode on a terminal', () => {
  it('asks twice without echoing and stores the password', async () => {
    if (!haveProgram('python3')) return;
    const dir = tmpDir();
    const f = path.join(dir, 'pw');
    fs.writeFileSync(f, '');
    const r = viaPty([f, 'alice'], [['Password: ', 'tty secret\r'], ['Reenter password: ', 'tty secret\r']], dir);
    expect(r.code).toBe(0);
    expect(r.out).toBe('Password: \r\nReenter password: \r\n');
    expect(r.out).not.toContain('secret');
    expect(await userVerifies(f, 'alice', 'tty secret')).toBe(true);
  });

  it('refuses a mismatch in Mosquitto\'s words (exit 2) and an empty password (exit 1)', () => {
    if (!haveProgram('python3')) return;
    const dir = tmpDir();
    const f = path.join(dir, 'pw');
    fs.writeFileSync(f, 'keep:me\n');
    const m = viaPty([f, 'bob'], [['Password: ', 'one\r'], ['Reenter password: ', 'two\r']], dir);
    expect(m.stderr).toBe('Error: Passwords do not match.\n');
    expect(m.code).toBe(2);
    const e = viaPty([f, 'bob'], [['Password: ', '\r']], dir);
    expect(e.stderr).toBe('Error: Empty password.\n');
    expect(e.code).toBe(1);
    expect(fs.readFileSync(f, 'utf8')).toBe('keep:me\n');
  });

  it('gives up on Ctrl-C by dying of SIGINT, file untouched', () => {
    if (!haveProgram('python3')) return;
    const dir = tmpDir();
    const f = path.join(dir, 'pw');
    fs.writeFileSync(f, 'keep:me\n');
    const r = viaPty([f, 'dave'], [['Password: ', 'half\x03']], dir);
    expect(r.code).toBe(-2);
    expect(fs.readFileSync(f, 'utf8')).toBe('keep:me\n');
    expect(fs.readdirSync(dir).sort()).toEqual(['drive_tty.py', 'pw', 'stderr']);
  });

  it('lets Backspace edit the hidden line', async () => {
    if (!haveProgram('python3')) return;
    const dir = tmpDir();
    const f = path.join(dir, 'pw');
    fs.writeFileSync(f, '');
    const r = viaPty([f, 'carol'], [['Password: ', 'abx\x7fc\r'], ['Reenter password: ', 'abc\r']], dir);
    expect(r.code).toBe(0);
    expect(await userVerifies(f, 'carol', 'abc')).toBe(true);
  });
});
