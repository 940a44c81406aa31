/**
 * reloadConfig(): what mosquitto.conf(5) marks "Reloaded on reload signal" (SIGHUP) takes
 * effect on a running broker: logging, connection_messages, limits, allow_anonymous,
 * sys_interval; listeners stay as they are.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { Broker } from '../src/broker/broker.js';
import { parseConfigText } from '../src/broker/config/index.js';
import { logFromConfig, optionsFromConfig } from '../src/broker/from-config.js';
import { reloadConfig, reloadFromFile } from '../src/broker/reload.js';
import { parseConfigFile } from '../src/broker/config/index.js';
import { RawClient } from './helpers/raw-client.js';
import { freePort } from './helpers/mosquitto.js';
import { tempDir } from './helpers/conf-program.js';

const brokers: Broker[] = [];
const raws: RawClient[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const c of raws.splice(0)) c.destroy();
  await Promise.all(brokers.splice(0).map((b) => b.close()));
  for (const b of dirs.splice(0)) fs.rmSync(b, { recursive: true, force: true });
});

const parse = (lines: string[]) => parseConfigText(lines.join('\n') + '\n', 'test.conf').config;

async function startFrom(lines: string[]): Promise<Broker> {
  const config = parse(lines);
  const b = new Broker(optionsFromConfig(config), logFromConfig(config));
  await b.start();
  brokers.push(b);
  return b;
}

async function connect(port: number, opts: Parameters<typeof RawClient.connect>[1]): Promise<{ c: RawClient; code: number }> {
  const { client, connack } = await RawClient.connect(port, opts);
  raws.push(client);
  return { c: client, code: connack.returnCode ?? connack.reasonCode ?? -1 };
}

const read = (f: string): string[] => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => l.replace(/^\d+: /, '')) : []);

describe('reloadConfig (SIGHUP)', () => {
  it('reopens the log with the new destinations, types and connection_messages', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const [f1, f2] = [path.join(dir, 'one.log'), path.join(dir, 'two.log')];
    const port = await freePort();
    const listener = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'sys_interval 0'];
    const b = await startFrom([...listener, `log_dest file ${f1}`]);
    const { c: a } = await connect(port, { clientId: 'before' });
    a.disconnect();
    await a.closed;
    while (!read(f1).includes('Client before disconnected.')) await new Promise((r) => setTimeout(r, 10));
    reloadConfig(b, parse([...listener, `log_dest file ${f2}`, 'log_type all', 'connection_messages false']));
    const { c: after } = await connect(port, { clientId: 'after' });
    await after.subscribe('t', 0);
    expect(read(f1)).toContain('Client before disconnected.');
    expect(read(f1).some((l) => l.includes('after'))).toBe(false);
    const two = read(f2);
    expect(two).toContain('Sending CONNACK to after (0, 0)'); // debug is on now
    expect(two).toContain('after 0 t'); // subscribe too
    expect(two.some((l) => l.includes('New client connected'))).toBe(false); // connection_messages false
    expect(b.listeners).toHaveLength(1); // listeners are not reopened
  });

  it('applies new limits and security settings to new connections', async () => {
    const port = await freePort();
    const base = [`listener ${port} 127.0.0.1`, 'log_dest none', 'sys_interval 0'];
    const b = await startFrom([...base, 'allow_anonymous true', 'max_inflight_messages 5']);
    expect((await connect(port, { clientId: 'x' })).code).toBe(0);
    reloadConfig(b, parse([...base, 'allow_anonymous false', 'max_inflight_messages 1', 'message_size_limit 3', 'retain_available false']));
    expect((await connect(port, { clientId: 'y' })).code).toBe(5);
    expect(b.options.maxInflightMessages).toBe(1);
    expect(b.options.messageSizeLimit).toBe(3);
    expect(b.options.retainAvailable).toBe(false);
    reloadConfig(b, parse([...base, 'allow_anonymous true', 'max_inflight_messages 1']));
    const { c: sub } = await connect(port, { clientId: 'sub' });
    await sub.subscribe('t', 1);
    const { c: pub } = await connect(port, { clientId: 'pub' });
    for (let i = 1; i <= 3; i++) pub.publish('t', `m${i}`, { qos: 1, messageId: i });
    await pub.sync();
    // max_inflight_messages 1 now: one PUBLISH in flight until it is acknowledged.
    expect((await sub.sync()).filter((p) => p.cmd === 'publish')).toHaveLength(1);
  });

  it('starts $SYS when sys_interval goes from 0 to 1', async () => {
    const port = await freePort();
    const base = [`listener ${port} 127.0.0.1`, 'log_dest none', 'allow_anonymous true'];
    const b = await startFrom([...base, 'sys_interval 0']);
    expect(b.retained.get('$SYS/broker/version')).toBeUndefined();
    reloadConfig(b, parse([...base, 'sys_interval 1']));
    const { c } = await connect(port, { clientId: 'w' });
    await c.subscribe('$SYS/broker/uptime', 0);
    const m = await c.waitFor<IPublishPacket>((p) => p.cmd === 'publish', 4000, 'uptime');
    expect(String(m.payload)).toMatch(/^\d+ seconds$/);
  });

  it('reloadFromFile re-reads the file; a broken file is reported and changes nothing', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const file = path.join(dir, 'mosquitto.conf');
    const logFile = path.join(dir, 'broker.log');
    const port = await freePort();
    const base = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'sys_interval 0', `log_dest file ${logFile}`];
    fs.writeFileSync(file, [...base, 'max_inflight_messages 7'].join('\n') + '\n');
    const config = parseConfigFile(file).config;
    const b = new Broker(optionsFromConfig(config), logFromConfig(config));
    await b.start();
    brokers.push(b);
    fs.writeFileSync(file, [...base, 'max_inflight_messages 3', 'bogus_option 1'].join('\n') + '\n');
    expect(reloadFromFile(b, config)).toBeNull();
    expect(b.options.maxInflightMessages).toBe(7);
    expect(read(logFile).slice(-2)).toEqual(['Error: Unknown configuration variable "bogus_option".', `Error found at ${file}:6.`]);
    fs.writeFileSync(file, [...base, 'max_inflight_messages 3'].join('\n') + '\n');
    expect(reloadFromFile(b, config)).not.toBeNull();
    expect(b.options.maxInflightMessages).toBe(3);
  });
});
