/**
 * The option table (src/broker/option-table.ts): one default per option for a parsed
 * mosquitto.conf and for `new Broker()`, the parser and SIGHUP driven by it, the default
 * of check_retain_source as Mosquitto 2.0.11 has it (the two tables used to disagree), and
 * the bridge outbox following a reloaded max_queued_messages.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { Broker } from '../src/broker/broker.js';
import { defaultBrokerConfig, KNOWN_OPTIONS, parseConfigText } from '../src/broker/config/index.js';
import { logFromConfig, optionsFromConfig } from '../src/broker/from-config.js';
import { Log } from '../src/broker/log.js';
import { OPTION_KEYS, OPTION_TABLE, RELOADED_OPTIONS, type OptionSpec } from '../src/broker/option-table.js';
import { defaultOptions } from '../src/broker/options.js';
import { reloadConfig } from '../src/broker/reload.js';
import { Outbox, type HeldMessage } from '../src/broker/bridge/outbox.js';
import { runProgram, stopPrograms } from './helpers/conf-program.js';
import { freePort, haveProgram, MOSQUITTO } from './helpers/mosquitto.js';
import { RawClient } from './helpers/raw-client.js';

const raws: RawClient[] = [];
const brokers: Broker[] = [];
afterEach(async () => {
  for (const c of raws.splice(0)) c.destroy();
  await Promise.all(brokers.splice(0).map((b) => b.close()));
  await stopPrograms();
});

const parse = (lines: string[]) => parseConfigText(lines.join('\n') + '\n', 'test.conf').config;
const publishes = (ps: Packet[]) => ps.filter((p): p is IPublishPacket => p.cmd === 'publish');

describe('one default per option', () => {
  it('every option with a mosquitto.conf name is one the parser knows', () => {
    for (const k of OPTION_KEYS) {
      const spec: OptionSpec = OPTION_TABLE[k];
      if (spec.name !== null) expect(KNOWN_OPTIONS).toContain(spec.name);
    }
  });

  it('a mosquitto.conf that sets nothing gives the broker the same options as new Broker()', () => {
    const fromFile = optionsFromConfig(parse(['listener 1884'])) as unknown as Record<string, unknown>;
    const embedded = defaultOptions() as unknown as Record<string, unknown>;
    for (const k of OPTION_KEYS) {
      // Unset, allow_anonymous follows local-only mode (false once a listener is configured).
      if (k === 'allowAnonymous') continue;
      expect([k, fromFile[k]]).toEqual([k, embedded[k]]);
      expect([k, embedded[k]]).toEqual([k, OPTION_TABLE[k].default]);
    }
    expect(fromFile.allowAnonymous).toBe(false);
    expect(optionsFromConfig(defaultBrokerConfig().config).allowAnonymous).toBe(true);
    expect(embedded.allowAnonymous).toBe(true);
  });

  it('a value given in the file reaches the broker options', () => {
    const o = optionsFromConfig(
      parse(['listener 1884', 'check_retain_source false', 'max_queued_messages 7', 'websockets_log_level 255', 'auto_id_prefix x-']),
    );
    expect([o.checkRetainSource, o.maxQueuedMessages, o.websocketsLogLevel, o.autoIdPrefix]).toEqual([false, 7, 255, 'x-']);
  });

  it('SIGHUP replaces the options mosquitto.conf(5) marks "Reloaded on reload signal", queue_qos0_messages among them', () => {
    expect(RELOADED_OPTIONS).toContain('queueQos0Messages');
    expect(RELOADED_OPTIONS).toContain('maxQueuedMessages');
    // Not reloaded: listeners are opened with them, or Mosquitto's man page does not say so.
    for (const k of ['checkRetainSource', 'websocketsHeadersSize', 'responseTopicPrefix', 'connectTimeout'] as const) {
      expect(RELOADED_OPTIONS).not.toContain(k);
    }
    const b = new Broker(optionsFromConfig(parse(['listener 0 127.0.0.1', 'sys_interval 0'])), new Log(0, []));
    reloadConfig(b, parse(['listener 0 127.0.0.1', 'sys_interval 0', 'queue_qos0_messages true', 'check_retain_source true']));
    expect(b.options.queueQos0Messages).toBe(true);
    expect(b.options.checkRetainSource).toBe(false);
  });
});

describe('the bridge outbox reads max_queued_messages live', () => {
  const held = (n: number): HeldMessage => ({
    topic: `t/${n}`,
    payload: Buffer.from('x'),
    qos: 1,
    retain: false,
    properties: undefined,
    expiresAt: 0,
  });

  it('a reload that raises or lowers the limit applies to the next message held', () => {
    const lines = ['listener 0 127.0.0.1', 'sys_interval 0'];
    const b = new Broker(optionsFromConfig(parse([...lines, 'max_queued_messages 2'])), new Log(0, []));
    const box = new Outbox(b.options);
    expect([box.push(held(1)), box.push(held(2)), box.push(held(3))]).toEqual([true, true, false]);
    reloadConfig(b, parse([...lines, 'max_queued_messages 4']));
    expect([box.push(held(4)), box.push(held(5)), box.push(held(6))]).toEqual([true, true, false]);
    reloadConfig(b, parse([...lines, 'max_queued_messages 1']));
    box.drain();
    expect([box.push(held(7)), box.push(held(8))]).toEqual([true, false]);
    expect(box.dropped).toBe(3);
  });
});

/**
 * mosquitto.conf(5) of 2.0.11 says check_retain_source defaults to true; run, Mosquitto
 * 2.0.11 checks the source only when the option is set to true. The two default tables of
 * ts-mosquitto disagreed (true for a file, false for new Broker()); what Mosquitto does wins.
 */
describe('check_retain_source is false unless set, as Mosquitto 2.0.11 behaves', () => {
  it('new Broker() and a file without the option do not check (broker-limits.test.ts has what each value does)', () => {
    expect(defaultOptions().checkRetainSource).toBe(false);
    expect(optionsFromConfig(parse(['listener 1884'])).checkRetainSource).toBe(false);
  });

  async function connect(port: number, clientId: string): Promise<RawClient> {
    const { client } = await RawClient.connect(port, { clientId });
    raws.push(client);
    return client;
  }

  /**
   * A retained message is published while the ACL allows it; the ACL then withdraws write
   * access and SIGHUP reloads it; a new subscriber is sent the message or not.
   */

  const mosquittoIt = haveProgram(MOSQUITTO) ? it : it.skip;
  for (const [label, extra, expected] of [
    ['unset', [], ['v']],
    ['true', ['check_retain_source true'], []],
    ['false', ['check_retain_source false'], ['v']],
  ] as const) {
    mosquittoIt(`${label}: Mosquitto and ts-mosquitto agree (${expected.length === 0 ? 'not sent' : 'sent'})`, async () => {
      for (const program of [MOSQUITTO, 'ts']) {
        const port = await freePort();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsm-crs-'));
        const acl = path.join(dir, 'acl');
        fs.writeFileSync(acl, 'topic readwrite kept\ntopic read probe\n');
        // Mosquitto started as root reads its files as the mosquitto user.
        fs.chmodSync(dir, 0o755);
        fs.chmodSync(acl, 0o644);
        const p = await runProgram(
          program,
          [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `acl_file ${acl}`, 'log_type all', ...extra],
          { dir },
        );
        const w = await connect(port, 'writer');
        w.publish('kept', 'v', { retain: true, qos: 1 });
        await w.next('puback');
        fs.writeFileSync(acl, 'topic read kept\ntopic readwrite probe\n');
        process.kill(p.proc.pid!, 'SIGHUP');
        // The reload has happened once a publish to `probe`, refused before, is let through.
        const probe = await connect(port, 'probe-reader');
        await probe.subscribe('probe', 0);
        const deadline = Date.now() + 5000;
        for (;;) {
          w.publish('probe', 'p');
          if (publishes(await probe.sync()).length > 0) break;
          if (Date.now() > deadline) throw new Error(`${program}: the ACL was not reloaded`);
          await new Promise((r) => setTimeout(r, 50));
        }
        const r = await connect(port, 'reader');
        await r.subscribe('kept', 0);
        expect([program, publishes(await r.sync()).map((m) => String(m.payload))]).toEqual([program, expected]);
        await p.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
