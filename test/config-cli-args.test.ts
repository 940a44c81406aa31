/**
 * The broker's command line, compared with the real mosquitto: same stdout, same stderr
 * lines (log timestamps removed), same exit status. Only arguments that make Mosquitto
 * exit at once are run through it, so it never opens a socket.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerUsage, parseBrokerArgs } from '../src/cli/broker-args.js';
import { startupFromArgs } from '../src/cli/broker-startup.js';
import { haveProgram, MOSQUITTO } from './helpers/mosquitto.js';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-mosq-cli-'));
  fs.writeFileSync(path.join(dir, 'bad.conf'), 'listener 1884\nnot_an_option\n');
  fs.writeFileSync(path.join(dir, 'warn.conf'), 'allow_duplicate_messages true\nalso_not_an_option\n');
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const ELEVEN_PORTS = Array.from({ length: 11 }, (_, i) => ['-p', String(20001 + i)]).flat();

const FAILING_ARGS: string[][] = [
  ['-h'],
  ['--help'],
  ['-x'],
  ['foo'],
  ['-'],
  ['--'],
  ['-vd'],
  ['-h', '-x'],
  ['-v', '-x'],
  ['-d', '-x'],
  ['--daemon', '--verbose', '--bogus'],
  ['-p'],
  ['--port'],
  ['-p', '0'],
  ['-p', 'abc'],
  ['-p', '70000'],
  ['-p', '-5'],
  ['-p', '5x', '-x'],
  ['-p', '1884', '-p'],
  ELEVEN_PORTS,
  ['-c'],
  ['--config-file'],
  ['-c', '/nonexistent/mosquitto.conf'],
  ['-c', '/nonexistent/mosquitto.conf', '-x'],
  ['-x', '-c', '/nonexistent/mosquitto.conf'],
  ['-c', 'DIR/bad.conf'],
  ['-c', 'DIR/bad.conf', '-x'],
  ['-c', 'DIR/warn.conf', '-p', '0'],
  ['-c', 'DIR'],
];

describe('command line matches the real mosquitto', () => {
  const have = haveProgram(MOSQUITTO);
  for (const args of FAILING_ARGS) {
    it.skipIf(!have)(JSON.stringify(args), () => {
      const argv = args.map((a) => a.replace(/^DIR/, dir));
      const real = spawnSync(MOSQUITTO, argv, { encoding: 'utf8', timeout: 10000, killSignal: 'SIGKILL' });
      const s = startupFromArgs(argv);
      expect(s.ok).toBe(false);
      if (s.ok) return;
      const realStderr = real.stderr.split('\n').filter((l) => l.length > 0);
      const ourStderr = s.stderr.map((l) => (l.logged ? `1795394466: ${l.text}` : l.text));
      expect({
        status: s.exitCode,
        stdout: s.stdout ?? '',
        stderr: ourStderr.map((l) => l.replace(/^\d+: /, '')),
        prefixed: ourStderr.map((l) => /^\d+: /.test(l)),
      }).toEqual({
        status: real.status,
        stdout: real.stdout,
        stderr: realStderr.map((l) => l.replace(/^\d+: /, '')),
        prefixed: realStderr.map((l) => /^\d+: /.test(l)),
      });
    });
  }
});

describe('parseBrokerArgs', () => {
  it('reads -c, -d, -p and -v, long forms too', () => {
    expect(parseBrokerArgs(['-c', 'a.conf', '-d', '-p', '1900', '--port', '1901', '-v'])).toEqual({
      ok: true,
      args: { configFile: 'a.conf', configFiles: ['a.conf'], daemon: true, ports: [1900, 1901], verbose: true },
    });
    expect(parseBrokerArgs(['--config-file', 'b.conf', '--daemon', '--verbose'])).toMatchObject({
      ok: true,
      args: { configFile: 'b.conf', daemon: true, verbose: true, ports: [] },
    });
    expect(parseBrokerArgs([])).toEqual({
      ok: true,
      args: { configFile: null, configFiles: [], daemon: false, ports: [], verbose: false },
    });
  });

  it('reads -p like atoi, and allows ten ports', () => {
    const r = parseBrokerArgs(['-p', '1900x']);
    expect(r.ok && r.args.ports).toEqual([1900]);
    const ten = Array.from({ length: 10 }, (_, i) => ['-p', String(1900 + i)]).flat();
    const t = parseBrokerArgs(ten);
    expect(t.ok && t.args.ports.length).toBe(10);
  });

  it('the usage text can carry our name and version', () => {
    const u = brokerUsage('ts-mosquitto', '0.1.0');
    expect(u.split('\n').slice(0, 5)).toEqual([
      'ts-mosquitto version 0.1.0',
      '',
      'ts-mosquitto is an MQTT v5.0/v3.1.1/v3.1 broker.',
      '',
      'Usage: ts-mosquitto [-c config_file] [-d] [-h] [-p port]',
    ]);
  });
});

describe('startupFromArgs', () => {
  it('no -c: local-only defaults on the -p ports; -v turns every log type on', () => {
    const s = startupFromArgs(['-p', '1900', '-v']);
    expect(s.ok).toBe(true);
    if (!s.ok) return;
    expect(s.config.localOnly).toBe(true);
    expect(s.config.listeners.map((l) => `${l.host}:${l.port}`)).toEqual(['127.0.0.1:1900', '::1:1900']);
    expect(s.config.verbose).toBe(true);
    expect(s.config.log.types).toContain('debug');
    expect(s.config.log.types).toContain('subscribe');
  });

  it('-c with a good file gives its config, its warnings and -d', () => {
    const f = path.join(dir, 'good.conf');
    fs.writeFileSync(f, 'listener 1884\nallow_duplicate_messages true\n');
    const s = startupFromArgs(['-c', f, '-d', '-p', '1999']);
    expect(s.ok).toBe(true);
    if (!s.ok) return;
    expect(s.config.configFile).toBe(f);
    expect(s.config.daemon).toBe(true);
    expect(s.config.listeners.map((l) => l.port)).toEqual([1884]);
    expect(s.messages.map((m) => m.level)).toEqual(['warning']);
  });
});
