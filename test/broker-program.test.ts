/**
 * The ts-mosquitto program as a user runs it: start-up lines, -p/-c/-v/-h, a bad
 * configuration, clean shutdown on SIGINT/SIGTERM, and log options from the config file.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from './helpers/mosquitto.js';
import { RedisServer, haveRedis } from './helpers/redis-server.js';

const BIN = path.resolve('bin/ts-mosquitto.js');
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
  }
});

function tmpdir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tsm-prog-'));
}

/** Starts the broker and resolves with its stderr so far once the "running" line is out. */
function start(args: string[]): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let buf = '';
  child.stdout!.on('data', (d) => (buf += d));
  child.stderr!.on('data', (d) => (buf += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start-up: ${buf}`)), 8000);
    const check = (): void => {
      if (/running\n/.test(buf)) {
        clearTimeout(timer);
        resolve({ child, out: () => buf });
      }
    };
    child.stderr!.on('data', check);
    child.stdout!.on('data', check);
    child.on('exit', () => reject(new Error(`exited: ${buf}`)));
  });
}

const strip = (s: string): string[] => s.trim().split('\n').map((l) => l.replace(/^\d+: /, ''));

describe('ts-mosquitto program', () => {
  it('starts in local-only mode on -p with Mosquitto start-up lines and stops on SIGTERM with status 0', async () => {
    const port = await freePort();
    const { child, out } = await start(['-p', String(port)]);
    expect(strip(out())).toEqual([
      'mosquitto version 2.0.11 starting',
      'Using default config.',
      'Starting in local only mode. Connections will only be possible from clients running on this machine.',
      'Create a configuration file which defines a listener to allow remote access.',
      'For more details see https://mosquitto.org/documentation/authentication-methods/',
      `Opening ipv4 listen socket on port ${port}.`,
      `Opening ipv6 listen socket on port ${port}.`,
      'mosquitto version 2.0.11 running',
    ]);
    // Reachable on loopback.
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve();
      });
      s.on('error', reject);
    });
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
    expect(strip(out()).at(-1)).toBe('mosquitto version 2.0.11 terminating');
  });

  it('exits 0 on SIGINT', async () => {
    const port = await freePort();
    const { child } = await start(['-p', String(port)]);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGINT');
    });
    expect(code).toBe(0);
  });

  it('loads -c and logs connections at the default level, without debug lines', async () => {
    const dir = tmpdir();
    const port = await freePort();
    const conf = path.join(dir, 'm.conf');
    fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\n`);
    const quiet = await start(['-c', conf]);
    expect(strip(quiet.out())).toContain(`Config loaded from ${conf}.`);
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        // CONNECT for client id "pc", clean session, keepalive 60, then DISCONNECT.
        s.write(Buffer.from('100e00044d5154540402003c00027063', 'hex'));
        s.write(Buffer.from('e000', 'hex'));
        s.end();
      });
      s.resume(); // read the CONNACK, or 'close' never comes
      s.on('close', () => resolve());
    });
    await new Promise((r) => setTimeout(r, 200));
    const lines = strip(quiet.out());
    expect(lines.some((l) => /^New client connected from 127\.0\.0\.1:\d+ as pc \(p2, c1, k60\)\.$/.test(l))).toBe(true);
    expect(lines).toContain('Client pc disconnected.');
    // Debug lines are off without -v.
    expect(lines.some((l) => l.startsWith('Sending CONNACK'))).toBe(false);
  });

  it('logs to a file with log_dest file and honours log_timestamp false', async () => {
    const dir = tmpdir();
    const port = await freePort();
    const conf = path.join(dir, 'm.conf');
    const logFile = path.join(dir, 'broker.log');
    fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nlog_dest file ${logFile}\nlog_timestamp false\n`);
    const child = spawn(process.execPath, [BIN, '-c', conf], { stdio: 'ignore' });
    children.push(child);
    for (let i = 0; i < 50 && !(fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').includes('running')); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const text = fs.readFileSync(logFile, 'utf8');
    expect(text.split('\n')).toContain('mosquitto version 2.0.11 running');
    expect(text).not.toMatch(/^\d+: /m);
  });

  it('refuses a bad configuration line with Mosquitto\'s message and status 3', () => {
    const dir = tmpdir();
    const conf = path.join(dir, 'bad.conf');
    fs.writeFileSync(conf, '# comment\nnot_an_option 1\n');
    const r = spawnSync(process.execPath, [BIN, '-c', conf], { encoding: 'utf8', timeout: 10000 });
    expect(r.status).toBe(3);
    expect(strip(r.stderr)).toEqual(['Error: Unknown configuration variable "not_an_option".', `Error found at ${conf}:2.`]);
  });

  it('prints the usage for -h and an unknown option, status 3', () => {
    const h = spawnSync(process.execPath, [BIN, '-h'], { encoding: 'utf8', timeout: 10000 });
    expect(h.status).toBe(3);
    expect(h.stdout).toContain('Usage: ts-mosquitto [-c config_file] [-d] [-h] [-p port]');
    const x = spawnSync(process.execPath, [BIN, '-z'], { encoding: 'utf8', timeout: 10000 });
    expect(x.status).toBe(3);
    expect(x.stderr).toBe("Error: Unknown option '-z'.\n");
  });

  it('says so and exits 1 when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    const dir = tmpdir();
    const conf = path.join(dir, 'm.conf');
    fs.writeFileSync(conf, `listener ${port} 127.0.0.1\n`);
    const r = spawnSync(process.execPath, [BIN, '-c', conf], { encoding: 'utf8', timeout: 10000 });
    blocker.close();
    expect(r.status).toBe(1);
    expect(strip(r.stderr)).toContain('Error: Address already in use');
  });

  it.skipIf(!fs.existsSync('/usr/bin/mosquitto_pub') && process.env.CI !== 'true')(
    'with persistence true, acknowledged messages and retained ones survive kill -9 of the program',
    async () => {
      const dir = tmpdir();
      const port = await freePort();
      const conf = path.join(dir, 'p.conf');
      fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location ${dir}/\nuser root\n`);
      const run = (cmd: string, args: string[]): string => {
        const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10000 });
        if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.status} ${r.stderr}`);
        return r.stdout;
      };
      let b = await start(['-c', conf]);
      // A persistent subscriber registers, then goes away.
      run('mosquitto_sub', ['-p', String(port), '-i', 'keeper', '-c', '-q', '1', '-t', 'jobs/#', '-W', '1', '-E']);
      for (const n of ['1', '2', '3']) run('mosquitto_pub', ['-p', String(port), '-q', '1', '-t', 'jobs/a', '-m', n]);
      run('mosquitto_pub', ['-p', String(port), '-q', '1', '-r', '-t', 'state', '-m', 'on']);
      process.kill(b.child.pid!, 'SIGKILL');
      await new Promise((r) => b.child.on('exit', r));
      b = await start(['-c', conf]);
      const queued = run('mosquitto_sub', ['-p', String(port), '-i', 'keeper', '-c', '-q', '1', '-t', 'jobs/#', '-C', '3', '-W', '5']);
      expect(queued.trim().split('\n')).toEqual(['1', '2', '3']);
      const retained = run('mosquitto_sub', ['-p', String(port), '-t', 'state', '-C', '1', '-W', '5']);
      expect(retained.trim()).toBe('on');
    },
  );

  it.skipIf(!fs.existsSync('/usr/bin/mosquitto_passwd') && process.env.CI !== 'true')(
    'authenticates from password_file, enforces acl_file, and re-reads both on SIGHUP',
    async () => {
      const dir = tmpdir();
      const port = await freePort();
      const pw = path.join(dir, 'pw');
      const acl = path.join(dir, 'acl');
      const conf = path.join(dir, 'a.conf');
      spawnSync('mosquitto_passwd', ['-c', '-b', pw, 'alice', 'wonder'], { timeout: 10000 });
      fs.writeFileSync(acl, 'user alice\ntopic readwrite alice/#\n');
      // user root: as Mosquitto, a broker started as root would otherwise become 'mosquitto' and
      // could not re-read these root-only files on SIGHUP.
      fs.writeFileSync(conf, `listener ${port} 127.0.0.1\npassword_file ${pw}\nacl_file ${acl}\nuser root\n`);
      const b = await start(['-c', conf]);
      const pub = (user: string, pass: string, topic: string) =>
        spawnSync('mosquitto_pub', ['-p', String(port), '-u', user, '-P', pass, '-t', topic, '-m', 'x', '-q', '1'], { encoding: 'utf8', timeout: 10000 });
      const ok = pub('alice', 'wonder', 'alice/a');
      expect(ok.status, ok.stderr).toBe(0);
      const bad = pub('alice', 'nope', 'alice/a');
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toContain('not authorised');
      const anon = spawnSync('mosquitto_pub', ['-p', String(port), '-t', 'a', '-m', 'x'], { encoding: 'utf8', timeout: 10000 });
      expect(anon.status).not.toBe(0);
      // The ACL: alice may not read bob/#, so a retained message there never reaches her.
      fs.appendFileSync(acl, 'user bob\ntopic readwrite bob/#\n');
      spawnSync('mosquitto_passwd', ['-b', pw, 'bob', 'builder'], { timeout: 10000 });
      expect(pub('bob', 'builder', 'bob/a').status).not.toBe(0); // not yet: no reload
      process.kill(b.child.pid!, 'SIGHUP');
      for (let i = 0; i < 50 && !b.out().includes('Reloading config.'); i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 200));
      expect(pub('bob', 'builder', 'bob/a').status).toBe(0);
      spawnSync('mosquitto_pub', ['-p', String(port), '-u', 'bob', '-P', 'builder', '-t', 'bob/r', '-m', 'secret', '-r'], { timeout: 10000 });
      const sub = spawnSync('mosquitto_sub', ['-p', String(port), '-u', 'alice', '-P', 'wonder', '-t', 'bob/#', '-W', '1'], { encoding: 'utf8', timeout: 10000 });
      expect(sub.stdout).toBe('');
      const own = spawnSync('mosquitto_sub', ['-p', String(port), '-u', 'bob', '-P', 'builder', '-t', 'bob/#', '-C', '1', '-W', '3'], { encoding: 'utf8', timeout: 10000 });
      expect(own.stdout).toBe('secret\n');
      // A password is never written to the log.
      expect(b.out()).not.toMatch(/wonder|builder|nope/);
    },
  );

  it('stops with Mosquitto\'s words and status 13 when the password file is missing', () => {
    const dir = tmpdir();
    const conf = path.join(dir, 'm.conf');
    fs.writeFileSync(conf, `listener 0 ${dir}/s.sock\npassword_file ${dir}/missing\n`);
    const r = spawnSync(process.execPath, [BIN, '-c', conf], { encoding: 'utf8', timeout: 10000 });
    expect(r.status).toBe(13);
    expect(strip(r.stderr)).toContain(`Error: Unable to open pwfile "${dir}/missing".`);
  });

  it.skipIf(!haveRedis() && process.env.CI !== 'true')('keeps presence in Redis when redis_port is configured', async () => {
    const redis = await RedisServer.start();
    try {
      const dir = tmpdir();
      const port = await freePort();
      const conf = path.join(dir, 'r.conf');
      fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nredis_port ${redis.port}\n`);
      const b = await start(['-c', conf]);
      const r = redis.client();
      const sub = spawn('mosquitto_sub', ['-p', String(port), '-i', 'dev1', '-t', 'x'], { stdio: 'ignore' });
      children.push(sub);
      let state: string | null = null;
      for (let i = 0; i < 50 && state !== 'online'; i++) {
        await new Promise((res) => setTimeout(res, 100));
        state = await r.hget('mqtt', 'dev1');
      }
      expect(state).toBe('online');
      expect(b.out()).toContain('Updating client dev1 to online');
      sub.kill('SIGTERM');
      for (let i = 0; i < 50 && state !== 'offline'; i++) {
        await new Promise((res) => setTimeout(res, 100));
        state = await r.hget('mqtt', 'dev1');
      }
      expect(state).toBe('offline');
    } finally {
      await redis.close();
    }
  });

  it('-d puts the broker in the background and writes pid_file; SIGTERM removes it', async () => {
    const dir = tmpdir();
    const port = await freePort();
    const pidFile = path.join(dir, 'ts-mosquitto.pid');
    const conf = path.join(dir, 'd.conf');
    fs.writeFileSync(conf, `listener ${port} 127.0.0.1\npid_file ${pidFile}\nuser root\n`);
    // The command returns at once, with status 0, while the broker carries on.
    const r = spawnSync(process.execPath, [BIN, '-d', '-c', conf], { encoding: 'utf8', timeout: 10000 });
    expect(r.status).toBe(0);
    let pid = 0;
    for (let i = 0; i < 50 && pid === 0; i++) {
      await new Promise((res) => setTimeout(res, 100));
      if (fs.existsSync(pidFile)) pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    }
    expect(pid).toBeGreaterThan(0);
    try {
      await new Promise<void>((resolve, reject) => {
        const tryConnect = (n: number): void => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.destroy();
            resolve();
          });
          s.on('error', (e) => (n > 0 ? setTimeout(() => tryConnect(n - 1), 100) : reject(e)));
        };
        tryConnect(30);
      });
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 50 && fs.existsSync(pidFile); i++) await new Promise((res) => setTimeout(res, 100));
      expect(fs.existsSync(pidFile)).toBe(false);
    } finally {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('runs a configuration with a bridge: connects it at start-up and retries after restart_timeout (no longer refused)', async () => {
    const dir = tmpdir();
    const conf = path.join(dir, 'b.conf');
    const port = await freePort();
    const remote = await freePort();
    fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nconnection br1\naddress 127.0.0.1:${remote}\nrestart_timeout 1\ntopic # out 0\n`);
    const { child, out } = await start(['-c', conf]);
    // Nothing listens on the remote port: the attempt fails in Mosquitto's words, then is made again.
    for (let i = 0; i < 50 && strip(out()).filter((l) => l === `Connecting bridge (step 1) br1 (127.0.0.1:${remote})`).length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const lines = strip(out());
    expect(lines).toContain(`Connecting bridge (step 1) br1 (127.0.0.1:${remote})`);
    expect(lines).toContain('Error creating bridge: Connection refused.');
    expect(lines.filter((l) => l === `Connecting bridge (step 1) br1 (127.0.0.1:${remote})`).length).toBeGreaterThanOrEqual(2);
    expect(lines.some((l) => l.includes('not supported'))).toBe(false);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    expect(child.exitCode).toBe(0);
  });

  it('says so in Mosquitto\'s words and exits 1 when a listener address does not resolve', () => {
    const dir = tmpdir();
    const conf = path.join(dir, 'n.conf');
    fs.writeFileSync(conf, 'listener 18999 256.1.1.1\n');
    const r = spawnSync(process.execPath, [BIN, '-c', conf], { encoding: 'utf8', timeout: 10000 });
    expect(r.status).toBe(1);
    expect(strip(r.stderr)).toContain('Error creating listener: Name or service not known.');
  });
});
