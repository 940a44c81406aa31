/**
 * Option parsing shared by the three clients, as pure functions: C number semantics, the
 * options file's line format, -L URLs, -D properties and the checks on the whole.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { atof, atoi, strictInteger } from '../src/cli/c-numbers.js';
import { applyArgs } from '../src/cli/client-args.js';
import { ConfigError, defaultConfig, type ClientKind } from '../src/cli/client-config.js';
import { optionsFilePath, readOptionsFile } from '../src/cli/options-file.js';
import { parseProxyUrl } from '../src/cli/url-arg.js';

function parse(kind: ClientKind, args: string[]) {
  const cfg = defaultConfig(kind, `ts-mosquitto_${kind}`);
  applyArgs(cfg, args);
  return cfg;
}

function error(kind: ClientKind, args: string[]): string {
  try {
    parse(kind, args);
  } catch (err) {
    if (err instanceof ConfigError) return err.text;
    throw err;
  }
  throw new Error('no error');
}

describe('C number parsing', () => {
  it('atoi reads a leading integer and truncates to 32 bits like glibc', () => {
    expect(atoi('12abc')).toBe(12);
    expect(atoi('  -7')).toBe(-7);
    expect(atoi('x')).toBe(0);
    expect(atoi('99999999999')).toBe(1215752191);
    expect(atoi('99999999999999999999')).toBe(-1);
  });
  it('strictInteger wants the whole string; atof reads a leading decimal', () => {
    expect(strictInteger('42')).toBe(42);
    expect(strictInteger('42s')).toBeUndefined();
    expect(atof('0.25s')).toBe(0.25);
    expect(atof('.5')).toBe(0.5);
    expect(atof('abc')).toBe(0);
  });
});

describe('options file', () => {
  it('lives in $XDG_CONFIG_HOME or ~/.config under the program name', () => {
    expect(optionsFilePath('ts-mosquitto_pub', { XDG_CONFIG_HOME: '/x', HOME: '/h' })).toBe('/x/ts-mosquitto_pub');
    expect(optionsFilePath('ts-mosquitto_sub', { HOME: '/h' })).toBe('/h/.config/ts-mosquitto_sub');
    expect(optionsFilePath('ts-mosquitto_rr', {})).toBeUndefined();
  });
  it('splits each line at its first space; comments and blank lines are skipped', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsm-of-'));
    const file = path.join(dir, 'opts');
    fs.writeFileSync(file, '# comment\n-p 1884\n\n-m hello  world\r\n-r\n-D connect user-property a b\n');
    expect(readOptionsFile(file)).toEqual([['-p', '1884'], ['-m', 'hello  world'], ['-r'], ['-D', 'connect user-property a b']]);
    expect(readOptionsFile(path.join(dir, 'missing'))).toEqual([]);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('command-line options', () => {
  it('fills the shared configuration', () => {
    const c = parse('pub', ['-h', 'b', '-p', '1884', '-t', 'a/b', '-m', 'hi', '-q', '2', '-r', '-k', '30', '-i', 'me', '-V', 'mqttv31', '-M', '5']);
    expect(c).toMatchObject({ host: 'b', port: 1884, topic: 'a/b', mode: 'cmdline', qos: 2, retain: true, keepalive: 30, id: 'me', protocolVersion: 3, maxInflight: 5 });
    expect(c.message?.toString()).toBe('hi');
  });
  it('sub collects several filters, -T and -U', () => {
    const c = parse('sub', ['-t', 'a/#', '-t', '+/b', '-T', 'a/x', '-U', 'old/#', '-C', '3', '-W', '9', '-v', '-N']);
    expect(c).toMatchObject({ topics: ['a/#', '+/b'], filterOut: ['a/x'], unsubTopics: ['old/#'], msgCount: 3, timeout: 9, verbose: true, eol: false });
  });
  it('-L gives user, password, host, port and topic; ws:// selects WebSocket', () => {
    expect(parse('pub', ['-L', 'mqtt://u:p@host:1999/a/b'])).toMatchObject({ username: 'u', password: 'p', host: 'host', port: 1999, topic: 'a/b' });
    expect(parse('pub', ['-L', 'mqtts://host/t'])).toMatchObject({ port: 8883, urlTls: true });
    expect(parse('sub', ['-L', 'ws://host:8080/s/#'])).toMatchObject({ port: 8080, websocketPath: '/mqtt', topics: ['s/#'] });
  });
  it('-D collects MQTT 5 properties per packet and implies MQTT 5', () => {
    const c = parse('pub', ['-D', 'publish', 'user-property', 'k', 'v1', '-D', 'publish', 'user-property', 'j', 'x', '-D', 'publish', 'user-property', 'k', 'v2', '-D', 'connect', 'receive-maximum', '10', '-D', 'publish', 'correlation-data', 'cd']);
    expect(c.protocolVersion).toBe(5);
    // User properties in the order given, a repeated name where it was (MQTT-3.3.2-18).
    expect(c.props.publish).toEqual({ userProperties: [['k', 'v1'], ['j', 'x'], ['k', 'v2']], correlationData: Buffer.from('cd') });
    expect(c.props.connect).toEqual({ receiveMaximum: 10 });
    expect(parse('pub', ['-D', 'publish', 'content-type', 'x', '-V', '311']).protocolVersion).toBe(4);
  });
  it('refuses what Mosquitto refuses, in its words', () => {
    expect(error('pub', ['-z'])).toBe("Error: Unknown option '-z'.\n");
    expect(error('pub', ['-C', '1'])).toBe("Error: Unknown option '-C'.\n");
    expect(error('sub', ['-t'])).toBe('Error: -t argument given but no topic specified.\n\n');
    expect(error('pub', ['-q', '3'])).toBe('Error: Invalid QoS given: 3\n');
    expect(error('pub', ['-t', 'a/#'])).toBe("Error: Invalid publish topic 'a/#', does it contain '+' or '#'?\n");
    expect(error('sub', ['-t', 'a/#/b'])).toBe("Error: Invalid subscription topic 'a/#/b', are all '+' and '#' wildcards correct?\n");
    expect(error('pub', ['-m', 'a', '-n'])).toBe('Error: Only one type of message can be sent at once.\n\n');
    expect(error('pub', ['-D', 'connect', 'topic-alias', '1'])).toBe('Error: topic-alias property not allowed for connect in --property argument.\n\n');
    expect(error('pub', ['-x', '-2'])).toBe('Error: session-expiry-interval out of range.\n\n');
    expect(error('pub', ['--proxy', 'http://p'])).toBe('Error: Unsupported proxy protocol: http://p\n');
  });
  it('--proxy URLs', () => {
    expect(parseProxyUrl('socks5h://u:p@proxy:1081')).toEqual({ host: 'proxy', port: 1081, username: 'u', password: 'p' });
    expect(parseProxyUrl('socks5h://proxy')).toEqual({ host: 'proxy', port: 1080 });
    expect(parseProxyUrl('socks4://proxy')).toBeUndefined();
  });
});
