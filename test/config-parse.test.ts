/**
 * The mosquitto.conf parser: what each option group produces, and its messages compared
 * line for line with the real Mosquitto's (`mosquitto -c FILE`, timestamps removed).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  compareIncludeNames,
  defaultBrokerConfig,
  parseConfigFile,
  parseConfigText,
  type ParsedConfig,
} from '../src/broker/config/index.js';
import { CONFIG_CASES, EMPTY_VALUE_CASES } from './config-cases.js';
import { haveProgram, MOSQUITTO } from './helpers/mosquitto.js';

const MARKER = 'zzz_end_of_test_config';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-mosq-conf-'));
  const mk = (sub: string, files: Record<string, string>): void => {
    fs.mkdirSync(path.join(dir, sub), { recursive: true });
    for (const [n, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, sub, n), body);
  };
  mk('good', { 'b.conf': 'sys_interval 5\n', 'A.conf': 'max_keepalive 30\n', 'a.txt': 'not read\n', 'B.conf': '\n' });
  mk('bad', { 'a.conf': 'sys_interval 5\n', 'b.conf': '\n\nbogus_option 1\n' });
  mk('nested', { 'a.conf': `include_dir ${path.join(dir, 'bad')}\n` });
  mk('user', { 'a.conf': 'user x\n' });
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function parse(text: string): ParsedConfig {
  return parseConfigText(text, 'test.conf', { hostname: 'host' });
}

function parseError(text: string): ConfigError {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration messages match the real mosquitto', () => {
  const have = haveProgram(MOSQUITTO);
  let n = 0;
  for (const c of [...CONFIG_CASES, ...EMPTY_VALUE_CASES]) {
    const label = `${c.group}: ${JSON.stringify(c.text)}`;
    it.skipIf(!have)(label, () => {
      const file = path.join(dir, `case-${n++}.conf`);
      const text = c.text.replaceAll('${DIR}', dir).replaceAll('HOST', os.hostname());
      // The marker stops Mosquitto right after reading; a unix socket it cannot create
      // keeps it off every TCP port should a final-check case be accepted after all.
      const tail = c.end ? `listener 0 ${path.join(dir, 'no', 'such', 'sock')}\n` : `${MARKER}\n`;
      // <FF> stands for a byte that cannot start a UTF-8 sequence.
      const parts = `${text}\n${tail}`.split('<FF>').map((p) => Buffer.from(p));
      fs.writeFileSync(file, Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from([0xff]), p]))));
      const real = spawnSync(MOSQUITTO, ['-c', file], { encoding: 'utf8', timeout: 10000, killSignal: 'SIGKILL' });
      const realLines = real.stderr
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => l.replace(/^\d+: /, ''));

      let ours: string[];
      let ourStatus = 0;
      try {
        const r = parseConfigFile(file, { hostname: os.hostname() });
        ours = r.messages.map((m) => m.text);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        ours = e.output;
        ourStatus = e.exitCode;
      }
      if (c.end && real.status !== 3) {
        // Mosquitto accepted it and went on to start (and failed on the socket): so must we accept it.
        expect(ourStatus).toBe(0);
        return;
      }
      expect({ status: ourStatus, lines: ours }).toEqual({ status: real.status, lines: realLines });
    });
  }
});

describe('defaults', () => {
  it('without a config file: local only on 1883, anonymous allowed', () => {
    const { config, messages } = defaultBrokerConfig();
    expect(messages).toEqual([]);
    expect(config.localOnly).toBe(true);
    expect(config.listeners.map((l) => [l.host, l.port, l.socketDomain])).toEqual([
      ['127.0.0.1', 1883, 'ipv4'],
      ['::1', 1883, 'ipv6'],
    ]);
    expect(config.security.allowAnonymous).toBe(true);
    expect(config.listeners[0]!.security).toBe(config.security);
  });

  it('-p ports replace 1883 in local-only mode only', () => {
    expect(defaultBrokerConfig({ ports: [1900, 1901] }).config.listeners.map((l) => l.port)).toEqual([
      1900, 1900, 1901, 1901,
    ]);
    const withListener = parseConfigText('listener 1884\n', 'x.conf', { ports: [1900] }).config;
    expect(withListener.listeners.map((l) => l.port)).toEqual([1884]);
  });

  it('a config file with a listener makes allow_anonymous default to false', () => {
    const { config } = parse('listener 1884\n');
    expect(config.localOnly).toBe(false);
    expect(config.security.allowAnonymous).toBe(false);
    expect(config.listeners[0]!.security.allowAnonymous).toBe(false);
  });

  it("Mosquitto's global defaults", () => {
    const { config } = parse('listener 1884\n');
    expect(config).toMatchObject({
      autosaveInterval: 1800,
      autosaveOnChanges: false,
      // mosquitto.conf(5) says true; Mosquitto 2.0.11 does not check unless it is set (option-table.test.ts).
      checkRetainSource: false,
      maxInflightMessages: 20,
      maxInflightBytes: 0,
      maxQueuedMessages: 1000,
      maxQueuedBytes: 0,
      maxKeepalive: 65535,
      maxPacketSize: 0,
      messageSizeLimit: 0,
      memoryLimit: 0,
      persistence: false,
      persistenceFile: 'mosquitto.db',
      persistenceLocation: null,
      persistentClientExpiration: 0,
      queueQos0Messages: false,
      retainAvailable: true,
      setTcpNodelay: false,
      sysInterval: 10,
      upgradeOutgoingQos: false,
      user: 'mosquitto',
      perListenerSettings: false,
    });
    expect(config.log).toEqual({
      dest: ['stderr'],
      file: null,
      types: ['error', 'warning', 'notice', 'information'],
      timestamp: true,
      timestampFormat: null,
      facility: null,
      connectionMessages: true,
      websocketsLogLevel: 0,
    });
    expect(config.security).toMatchObject({ allowZeroLengthClientid: true, autoIdPrefix: 'auto-' });
    expect(config.listeners[0]).toMatchObject({ maxConnections: -1, maxQos: 2, maxTopicAlias: 10, protocol: 'mqtt' });
  });
});

describe('general options', () => {
  it('reads every global option into the config', () => {
    const { config } = parse(
      [
        'listener 1884',
        'autosave_interval 60',
        'autosave_on_changes true',
        'check_retain_source false',
        'max_inflight_messages 5',
        'max_inflight_bytes 1000',
        'max_queued_messages 7',
        'max_queued_bytes 9000',
        'queue_qos0_messages true',
        'max_keepalive 120',
        'max_packet_size 2048',
        'message_size_limit 1024',
        'memory_limit 10000000',
        'retain_available false',
        'upgrade_outgoing_qos true',
        'set_tcp_nodelay true',
        'sys_interval 0',
        'persistence true',
        'persistence_file my.db',
        'persistence_location /var/lib/x/',
        'persistent_client_expiration 2d',
        'pid_file /run/x.pid',
        'user someone',
        'websockets_headers_size 4096',
        '',
      ].join('\n'),
    );
    expect(config).toMatchObject({
      autosaveInterval: 60,
      autosaveOnChanges: true,
      checkRetainSource: false,
      maxInflightMessages: 5,
      maxInflightBytes: 1000,
      maxQueuedMessages: 7,
      maxQueuedBytes: 9000,
      queueQos0Messages: true,
      maxKeepalive: 120,
      maxPacketSize: 2048,
      messageSizeLimit: 1024,
      memoryLimit: 10000000,
      retainAvailable: false,
      upgradeOutgoingQos: true,
      setTcpNodelay: true,
      sysInterval: 0,
      persistence: true,
      persistenceFile: 'my.db',
      persistenceLocation: '/var/lib/x/',
      persistentClientExpiration: 2 * 86400,
      pidFile: '/run/x.pid',
      user: 'someone',
      userSet: true,
      websocketsHeadersSize: 4096,
    });
  });

  it('persistent_client_expiration units: h d w m y', () => {
    const secs = (v: string): number => parse(`persistent_client_expiration ${v}\n`).config.persistentClientExpiration;
    expect([secs('1h'), secs('1d'), secs('1w'), secs('1m'), secs('1y')]).toEqual([
      3600, 86400, 604800, 2592000, 31536000,
    ]);
  });

  it('numbers read like C atoi, string values trimmed', () => {
    expect(parse('sys_interval 5x\n').config.sysInterval).toBe(5);
    expect(parse('sys_interval abc\n').config.sysInterval).toBe(0);
    expect(parse('persistence_location   /a b/  \n').config.persistenceLocation).toBe('/a b/');
    expect(parse('persistence 1\n').config.persistence).toBe(true);
  });

  it('deprecated options are accepted with their warning', () => {
    const { config, messages } = parse('allow_duplicate_messages false\nclientid_prefixes sec-\nretry_interval 20\n');
    expect(config.allowDuplicateMessages).toBe(false);
    expect(config.clientidPrefixes).toBe('sec-');
    expect(messages.map((m) => m.level)).toEqual(['warning', 'warning', 'warning']);
    expect(messages[2]!.text).toBe('Warning: The retry_interval option is no longer available.');
  });

  it('options without meaning in Node are refused, naming the option', () => {
    for (const [line, opt] of [
      ['tls_engine pkcs11', 'tls_engine'],
      ['tls_engine_kpass_sha1 ab', 'tls_engine_kpass_sha1'],
      ['listener 1884\ntls_keyform engine', 'tls_keyform engine'],
      ['auth_plugin /usr/lib/x.so', 'auth_plugin'],
      ['plugin /usr/lib/x.so', 'plugin'],
      ['log_dest dlt', 'log_dest dlt'],
      ['connection b\naddress 127.0.0.1\ntopic t\nbridge_require_ocsp true', 'bridge_require_ocsp'],
    ] as const) {
      const e = parseError(line);
      expect(e.lines[0]).toMatch(new RegExp(`^Error: The ${opt} option is not supported by ts-mosquitto \\(.+\\)\\.$`));
      expect(e.lines[1]).toMatch(/^Error found at test\.conf:\d+\.$/);
    }
    expect(parse('listener 1884\ntls_keyform pem\n').config.listeners).toHaveLength(1);
    expect(parse('connection b\naddress 127.0.0.1\ntopic t\nbridge_require_ocsp false\n').config.bridges[0]!.requireOcsp).toBe(false);
  });
});

describe('logging options', () => {
  it('log_dest repeats; the first replaces stderr; none clears', () => {
    expect(parse('log_dest stdout\nlog_dest topic\nlog_dest file /tmp/m.log\n').config.log).toMatchObject({
      dest: ['stdout', 'topic', 'file'],
      file: '/tmp/m.log',
    });
    expect(parse('log_dest syslog\nlog_dest none\n').config.log.dest).toEqual([]);
    expect(parse('log_dest none\nlog_dest stderr\n').config.log.dest).toEqual(['stderr']);
  });

  it('log_type repeats; the first replaces the defaults; all and none', () => {
    expect(parse('log_type subscribe\nlog_type unsubscribe\n').config.log.types).toEqual(['subscribe', 'unsubscribe']);
    expect(parse('log_type all\n').config.log.types).toHaveLength(8);
    expect(parse('log_type all\nlog_type none\nlog_type debug\n').config.log.types).toEqual(['debug']);
  });

  it('timestamps, facility, connection messages', () => {
    const { log } = parse(
      'log_timestamp false\nlog_timestamp_format %Y-%m-%dT%H:%M:%S\nlog_facility 5\nconnection_messages false\nwebsockets_log_level 7\n',
    ).config;
    expect(log).toMatchObject({
      timestamp: false,
      timestampFormat: '%Y-%m-%dT%H:%M:%S',
      facility: 5,
      connectionMessages: false,
      websocketsLogLevel: 7,
    });
  });
});

describe('include_dir', () => {
  it('sorts like Mosquitto: case-insensitive, upper case first', () => {
    const names = ['b.conf', 'A.conf', '01.conf', 'a.conf', 'B.conf', '00.conf', 'aa.conf', 'Ab.conf', 'a_.conf'];
    expect([...names].sort(compareIncludeNames)).toEqual([
      '00.conf',
      '01.conf',
      'A.conf',
      'Ab.conf',
      'a.conf',
      'aa.conf',
      'a_.conf',
      'B.conf',
      'b.conf',
    ]);
  });

  it('reads only *.conf files, in order, and says so', () => {
    const { config, messages } = parse(`include_dir ${dir}/good\n`);
    expect(config.sysInterval).toBe(5);
    expect(config.maxKeepalive).toBe(30);
    expect(messages.map((m) => m.text)).toEqual([
      `Loading config file ${dir}/good/A.conf`,
      `Loading config file ${dir}/good/B.conf`,
      `Loading config file ${dir}/good/b.conf`,
    ]);
  });

  it('names the included file and the including line on an error', () => {
    expect(parseError(`listener 1\n\ninclude_dir ${dir}/bad\n`).lines).toEqual([
      'Error: Unknown configuration variable "bogus_option".',
      `Error found at ${dir}/bad/b.conf:3.`,
      'Error found at test.conf:3.',
    ]);
  });

  it('a missing config file, a directory', () => {
    const missing = path.join(dir, 'missing.conf');
    expect(() => parseConfigFile(missing)).toThrow(`Error: Unable to open config file ${missing}.`);
    let err: unknown = null;
    try {
      parseConfigFile(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).lines).toEqual([`Error: Config file ${dir} is a directory.`]);
    expect((err as ConfigError).exitCode).toBe(3);
  });
});
