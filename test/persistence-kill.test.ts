/**
 * kill -9 right after the acknowledgements: a broker with file persistence runs in a child
 * process (test/fixtures/persist-broker.mjs, on the compiled dist/), clients publish QoS 1
 * and 2 messages for persistent sessions and retained messages, the broker is killed with
 * SIGKILL as soon as the last PUBACK/PUBCOMP arrives, and a new broker on the same
 * directory must deliver every one of them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IPublishPacket } from 'mqtt-packet';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RawClient } from './helpers/raw-client.js';
import { receiveAll } from './helpers/persist-flows.js';
import { cleanupPersistent, tempDir } from './helpers/persist-broker.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/persist-broker.mjs', import.meta.url));
const COMPILED = fileURLToPath(new URL('../dist/broker/persistence/plugin.js', import.meta.url));

interface Child {
  proc: ChildProcess;
  port: number;
  stderr: string[];
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
const clients: RawClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const p of children.splice(0)) {
    if (p.exitCode === null && p.signalCode === null && p.pid !== undefined) process.kill(p.pid, 'SIGKILL');
  }
  await cleanupPersistent();
});

beforeAll(() => {
  if (!fs.existsSync(COMPILED)) throw new Error(`${COMPILED} is missing: run "npm run build" (npm test does) first`);
});

function startChild(dir: string, tuning: Record<string, unknown> = {}): Promise<Child> {
  const proc = spawn(process.execPath, [FIXTURE, dir, JSON.stringify(tuning)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  const stderr: string[] = [];
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(...d.split('\n').filter((l) => l !== '')));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m !== null) resolve({ proc, port: Number(m[1]), stderr, exited });
    });
    proc.on('exit', (code) => reject(new Error(`broker exited (${code}) before listening: ${stderr.join('\n')}`)));
  });
}

async function connect(port: number, clientId: string, clean: boolean): Promise<{ client: RawClient; sessionPresent: boolean }> {
  const { client, connack } = await RawClient.connect(port, { clientId, clean });
  clients.push(client);
  expect(connack.returnCode).toBe(0);
  return { client, sessionPresent: connack.sessionPresent };
}

async function kill9(child: Child): Promise<void> {
  process.kill(child.proc.pid!, 'SIGKILL');
  await child.exited;
}

/**
 * Pipelines `n` QoS 1 and `n` QoS 2 messages on `topic` and `retained` retained ones, and
 * resolves when every PUBACK and PUBCOMP is in: the moment to kill.
 */
async function publishAll(pub: RawClient, topic: string, n: number, retained: number): Promise<string[]> {
  const sent: string[] = [];
  const acks = new Set<string>();
  let mid = 1;
  for (let i = 0; i < n; i++) {
    pub.publish(topic, `q1-${i}`, { qos: 1, messageId: mid++ });
    pub.publish(topic, `q2-${i}`, { qos: 2, messageId: mid++ });
    sent.push(`q1-${i}`, `q2-${i}`);
  }
  for (let i = 0; i < retained; i++) pub.publish(`ret/${i}`, `r-${i}`, { qos: 1, messageId: mid++, retain: true });
  const expected = mid - 1;
  while (acks.size < expected) {
    const p = await pub.waitFor((q) => ['puback', 'pubrec', 'pubcomp'].includes(q.cmd), 10000, `ack ${acks.size + 1} of ${expected}`);
    const id = (p as { messageId: number }).messageId;
    if (p.cmd === 'pubrec') pub.send({ cmd: 'pubrel', messageId: id });
    else acks.add(String(id));
  }
  return sent;
}

const distinct = (got: IPublishPacket[]): string[] => [...new Set(got.map((p) => String(p.payload)))].sort();

describe('persistence: kill -9', () => {
  it('loses no acknowledged QoS 1/2 message, no QoS 2 message awaiting PUBREL and no retained message', async () => {
    const dir = tempDir();
    const b1 = await startChild(dir);
    const { client: off } = await connect(b1.port, 'offline', false);
    await off.subscribe('k/#', 2);
    off.disconnect();
    await off.closed;
    // Connected but never acknowledging: messages pile up in flight and in its queue.
    const { client: on } = await connect(b1.port, 'online', false);
    await on.subscribe('k/#', 2);
    const { client: held } = await connect(b1.port, 'held', false);
    held.publish('k/held', 'held-qos2', { qos: 2, messageId: 9 });
    await held.waitFor((p) => p.cmd === 'pubrec');
    const { client: pub } = await connect(b1.port, 'pub', true);
    const sent = await publishAll(pub, 'k/t', 60, 15);
    await kill9(b1);

    const b2 = await startChild(dir);
    const { client: held2, sessionPresent: heldPresent } = await connect(b2.port, 'held', false);
    expect(heldPresent).toBe(true);
    held2.send({ cmd: 'pubrel', messageId: 9 });
    await held2.waitFor((p) => p.cmd === 'pubcomp' && p.messageId === 9);
    const want = [...sent, 'held-qos2'].sort();
    for (const id of ['offline', 'online']) {
      const { client, sessionPresent } = await connect(b2.port, id, false);
      expect(sessionPresent).toBe(true);
      expect(distinct(await receiveAll(client, want.length))).toEqual(want);
    }
    const { client: reader } = await connect(b2.port, 'reader', true);
    await reader.subscribe('ret/#', 1);
    const retained = await receiveAll(reader, 15);
    expect(distinct(retained)).toEqual(Array.from({ length: 15 }, (_, i) => `r-${i}`).sort());
    expect(retained.every((p) => p.retain)).toBe(true);
  });

  it('killed in the middle of a stream, every message whose PUBACK/PUBREC the publisher saw is delivered', async () => {
    const dir = tempDir();
    const b1 = await startChild(dir);
    const { client: sub } = await connect(b1.port, 'sub', false);
    await sub.subscribe('s/#', 2);
    sub.disconnect();
    await sub.closed;
    // A persistent publisher: a QoS 2 message is the broker's from PUBREC on (MQTT-4.3.3).
    const { client: pub } = await connect(b1.port, 'pub', false);
    // Within max_queued_messages (1000) for the subscriber, whatever the broker took in.
    const total = 800;
    for (let i = 1; i <= total; i++) pub.publish('s/t', `m${i}`, { qos: i % 2 === 0 ? 2 : 1, messageId: i });
    const acked: string[] = [];
    const released = new Set<number>();
    const completed = new Set<number>();
    while (acked.length < 250) {
      const p = await pub.waitFor((q) => ['puback', 'pubrec', 'pubcomp'].includes(q.cmd), 10000, 'ack');
      const id = (p as { messageId: number }).messageId;
      if (p.cmd === 'pubcomp') completed.add(id);
      else acked.push(`m${id}`);
      if (p.cmd === 'pubrec') {
        pub.send({ cmd: 'pubrel', messageId: id });
        released.add(id);
      }
    }
    // No await between the last ack seen and the kill.
    process.kill(b1.proc.pid!, 'SIGKILL');
    await b1.exited;

    const b2 = await startChild(dir);
    // MQTT-4.4.0-1: the publisher resumes its session and sends PUBREL again where no PUBCOMP came.
    const { client: pub2, sessionPresent } = await connect(b2.port, 'pub', false);
    expect(sessionPresent).toBe(true);
    for (const id of released) {
      if (completed.has(id)) continue;
      pub2.send({ cmd: 'pubrel', messageId: id });
      await pub2.waitFor((q) => q.cmd === 'pubcomp' && q.messageId === id);
    }
    const { client } = await connect(b2.port, 'sub', false);
    const got = new Set<string>();
    for (const p of await receiveAll(client, acked.length)) got.add(String(p.payload));
    // More than the acknowledged ones may arrive (acknowledged after we stopped counting).
    while (acked.some((a) => !got.has(a))) {
      for (const p of await receiveAll(client, 1)) got.add(String(p.payload));
    }
    expect(acked.filter((a) => !got.has(a))).toEqual([]);
  });

  it('loses nothing while the journal is being compacted into snapshots', async () => {
    const dir = tempDir();
    const b1 = await startChild(dir, { journalCompactBytes: 2048 });
    const { client: sub } = await connect(b1.port, 'sub', false);
    await sub.subscribe('c/#', 1);
    sub.disconnect();
    await sub.closed;
    const { client: pub } = await connect(b1.port, 'pub', true);
    const sent: string[] = [];
    // Several rounds a sweep apart, so that compactions happen between and during them.
    for (let round = 0; round < 3; round++) {
      const batch = await publishAll(pub, `c/${round}`, 40, 0);
      sent.push(...batch.map((s) => `${round}-${s}`));
      await new Promise((r) => setTimeout(r, 600));
    }
    await kill9(b1);
    expect(fs.statSync(path.join(dir, 'mosquitto.db')).size).toBeGreaterThan(2048);

    const b2 = await startChild(dir);
    const { client } = await connect(b2.port, 'sub', false);
    const got = await receiveAll(client, sent.length);
    expect([...new Set(got.map((p) => `${p.topic.split('/')[1]}-${String(p.payload)}`))].sort()).toEqual(sent.sort());
  });

  it('SIGTERM saves the snapshot and exits 0', async () => {
    const dir = tempDir();
    const b1 = await startChild(dir);
    const { client: sub } = await connect(b1.port, 'sub', false);
    await sub.subscribe('t/#', 1);
    sub.disconnect();
    await sub.closed;
    const { client: pub } = await connect(b1.port, 'pub', true);
    const sent = await publishAll(pub, 't/x', 5, 0);
    process.kill(b1.proc.pid!, 'SIGTERM');
    expect(await b1.exited).toBe(0);
    expect(b1.stderr.some((l) => / Saving in-memory database to .*mosquitto\.db\.$/.test(l))).toBe(true);
    // Everything is in the snapshot: the journal holds its header only.
    fs.rmSync(path.join(dir, 'mosquitto.db.journal'));
    const b2 = await startChild(dir);
    const { client } = await connect(b2.port, 'sub', false);
    expect(distinct(await receiveAll(client, sent.length))).toEqual([...sent].sort());
  });
});
