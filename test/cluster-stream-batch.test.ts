/**
 * Issue 15, cross-node speed: the messages a node forwards in one event-loop turn go to
 * each target node's stream as one entry (one XADD per node per turn, at most BATCH_MAX
 * messages an entry), in send order, and every field survives the trip; the promise a
 * send returns settles only when Redis answered that entry's XADD (PUBACK/PUBREC wait on
 * it); what waits for Redis is bounded: QoS 0 beyond MAX_PENDING is dropped and counted,
 * QoS 1/2 is never dropped: at the held bound its publishers are paused (StreamOut.pause).
 * No Redis: a stand-in records the XADDs.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Log } from '../src/broker/log.js';
import { Message } from '../src/broker/message.js';
import { BATCH_MAX, decodeEntry, MAX_HELD, MAX_PENDING, StreamOut, type Entry } from '../src/broker/cluster/stream.js';

interface Xadd {
  key: string;
  fields: Buffer[];
  answer: () => void;
  refuse: (msg: string) => void;
}

function standIn(): { cmd: Redis; xadds: Xadd[] } {
  const xadds: Xadd[] = [];
  const cmd = {
    xadd: (key: string, ...args: (string | number | Buffer)[]) =>
      new Promise<string>((resolve, reject) => {
        // MAXLEN ~ N * then field/value pairs.
        const fields = args.slice(4).map((a) => (Buffer.isBuffer(a) ? a : Buffer.from(String(a))));
        xadds.push({ key, fields, answer: () => resolve('1-0'), refuse: (m) => reject(new Error(m)) });
      }),
  } as unknown as Redis;
  return { cmd, xadds };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const silent = (): Log => new Log(0, []);
/** Waits (real timers: a refused entry is written again after a pause) until `ok` holds. */
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
}

function decoded(x: Xadd): Entry[] {
  const out: Entry[] = [];
  decodeEntry(x.fields, (e) => out.push(e));
  return out;
}

describe('cluster stream batches', () => {
  it('one XADD per target node per turn, in send order, every field kept', async () => {
    const { cmd, xadds } = standIn();
    const out = new StreamOut(cmd, silent());
    const n = BATCH_MAX + 44;
    for (let i = 0; i < n; i++) void out.send('b', new Message(`t/${i}`, Buffer.from(`p${i}`), (i % 3) as 0 | 1 | 2, false, undefined, 'pub', 'user'), 'd');
    const special = new Message('ü/x', Buffer.alloc(0), 1, true, { messageExpiryInterval: 60 }, undefined, undefined);
    special.setStoredProperties(Buffer.from([0x26, 0, 1, 0x6b, 0, 1, 0x76]));
    void out.send('c', special, 'dr', 'g\nt/#\th\n+/x');
    void out.send('c', new Message('r', Buffer.from('kept'), 0, true, undefined, 'pub', undefined), 'r');
    expect(xadds.length).toBe(1); // the full batch went out at once
    await turn();
    expect(xadds.map((x) => x.key)).toEqual(['mqtt:stream:b', 'mqtt:stream:b', 'mqtt:stream:c']);
    const toB = [...decoded(xadds[0]), ...decoded(xadds[1])];
    expect(decoded(xadds[0]).length).toBe(BATCH_MAX);
    expect(toB.map((e) => [e.mode, e.msg.topic, String(e.msg.payload), e.msg.qos, e.msg.from, e.msg.fromUsername, e.groups])).toEqual(
      Array.from({ length: n }, (_, i) => ['d', `t/${i}`, `p${i}`, i % 3, 'pub', 'user', undefined]),
    );
    const [s, r] = decoded(xadds[2]);
    expect([s.mode, s.msg.topic, s.msg.payload.length, s.msg.qos, s.msg.retain, s.msg.from, s.msg.fromUsername, s.groups]).toEqual(
      ['dr', 'ü/x', 0, 1, true, undefined, undefined, 'g\nt/#\th\n+/x'],
    );
    expect(s.msg.expiresAt).toBe(special.expiresAt);
    expect([...s.msg.storedProperties()]).toEqual([0x26, 0, 1, 0x6b, 0, 1, 0x76]);
    expect([r.mode, r.msg.topic, String(r.msg.payload), r.msg.retain]).toEqual(['r', 'r', 'kept', true]);
    // A later turn is a new entry.
    void out.send('c', new Message('later', Buffer.from('x'), 0, false, undefined, undefined, undefined), 'd');
    await turn();
    expect(xadds.length).toBe(4);
    // flush() (a node stopping) writes what the turn holds at once.
    void out.send('b', new Message('last', Buffer.from('x'), 0, false, undefined, undefined, undefined), 'd');
    out.flush();
    expect(xadds.length).toBe(5);
    expect(decoded(xadds[4]).map((e) => e.msg.topic)).toEqual(['last']);
    await turn();
    expect(xadds.length).toBe(5);
  });

  it('a send settles when Redis answered its entry', async () => {
    const { cmd, xadds } = standIn();
    const out = new StreamOut(cmd, silent());
    let settled = 0;
    void out.send('b', new Message('a', Buffer.from('1'), 1, false, undefined, undefined, undefined), 'd').then(() => settled++);
    void out.send('b', new Message('a', Buffer.from('2'), 1, false, undefined, undefined, undefined), 'd').then(() => settled++);
    await turn();
    await turn();
    expect(settled).toBe(0);
    expect(out.pending).toBe(2);
    xadds[0].answer();
    await turn();
    expect(settled).toBe(2);
    expect(out.pending).toBe(0);
  });

  it('while Redis does not answer: QoS 0 beyond MAX_PENDING is dropped and counted, QoS 1 is never dropped', async () => {
    const { cmd, xadds } = standIn();
    const lines: string[] = [];
    const out = new StreamOut(cmd, new Log(0xffff, [{ write: (_t: number, l: string) => lines.push(l) }]));
    const m0 = new Message('a', Buffer.from('x'), 0, false, undefined, undefined, undefined);
    const m1 = new Message('a', Buffer.from('x'), 1, false, undefined, undefined, undefined);
    for (let i = 0; i < MAX_PENDING + 10; i++) void out.send('b', m0, 'd');
    expect(out.dropped).toBe(10);
    for (let i = 0; i < MAX_HELD + 5; i++) void out.send('b', m1, 'd');
    expect(out.dropped).toBe(10);
    expect(out.held).toBe(MAX_HELD + 5);
    expect(out.full()).toBe(true);
    expect(lines.filter((l) => l.includes('Cluster: Redis is not taking messages')).length).toBe(1);
    expect(lines.find((l) => l.includes('Cluster: Redis is not taking messages'))).toMatch(
      /Warning: Cluster: Redis is not taking messages for other nodes; beyond 50000 waiting, QoS 0 ones are dropped and counted\.$/,
    );
    await turn();
    for (const x of xadds) x.answer();
    await turn();
    expect(out.pending).toBe(0);
    expect(out.held).toBe(0);
  });

  it('a publisher paused at the held bound reads again once the held count is down to half; the log says each once', async () => {
    const { cmd, xadds } = standIn();
    const lines: string[] = [];
    const out = new StreamOut(cmd, new Log(0xffff, [{ write: (_t: number, l: string) => lines.push(l) }]), 4);
    const state: string[] = [];
    const conn = { pause: () => state.push('pause'), resume: () => state.push('resume') };
    const m1 = new Message('a', Buffer.from('x'), 1, false, undefined, undefined, undefined);
    for (let i = 0; i < 4; i++) {
      void out.send('b', m1, 'd');
      await turn();
    }
    expect(out.full()).toBe(true);
    out.pause('pub', conn);
    out.pause('pub', conn);
    expect(lines.filter((l) => l.includes('messages are held')).length).toBe(1);
    expect(lines.find((l) => l.includes('messages are held'))).toMatch(
      /Warning: Cluster: Redis is not taking messages for other nodes; 4 QoS 1 and 2 messages are held, their publishers are paused until it does\.$/,
    );
    xadds[0].answer();
    await turn();
    expect(out.held).toBe(3);
    expect(state).toEqual(['pause', 'pause']);
    xadds[1].answer();
    await turn();
    expect(out.held).toBe(2);
    expect(state).toEqual(['pause', 'pause', 'resume']);
    expect(lines.filter((l) => l.includes('paused publisher resumed')).length).toBe(1);
    expect(lines.find((l) => l.includes('paused publisher resumed'))).toMatch(/Cluster: Redis takes messages for other nodes again; 1 paused publisher resumed\.$/);
    xadds[2].answer();
    xadds[3].answer();
    await turn();
    expect(state).toEqual(['pause', 'pause', 'resume']);
    expect(out.held).toBe(0);
  });

  it('an entry Redis refuses is written again, the node\'s later entries behind it in order; its sends settle only once Redis has it', async () => {
    const { cmd, xadds } = standIn();
    const lines: string[] = [];
    const out = new StreamOut(cmd, new Log(0xffff, [{ write: (_t: number, l: string) => lines.push(l) }]));
    const settled: string[] = [];
    const send = (p: string): void => void out.send('b', new Message('t', Buffer.from(p), 1, false, undefined, undefined, undefined), 'd').then(() => settled.push(p));
    send('one');
    await turn();
    xadds[0].refuse('OOM command not allowed when used memory > maxmemory');
    await turn();
    send('two'); // written while 'one' waits: queued behind it
    await turn();
    expect(xadds.length).toBe(1);
    expect(settled).toEqual([]);
    expect(out.held).toBe(2);
    await until(() => xadds.length === 2);
    expect(decoded(xadds[1]).map((e) => String(e.msg.payload))).toEqual(['one']);
    xadds[1].refuse('OOM command not allowed when used memory > maxmemory');
    await until(() => xadds.length === 3);
    expect(decoded(xadds[2]).map((e) => String(e.msg.payload))).toEqual(['one']);
    xadds[2].answer();
    await until(() => xadds.length === 4);
    expect(decoded(xadds[3]).map((e) => String(e.msg.payload))).toEqual(['two']);
    expect(settled).toEqual(['one']);
    xadds[3].answer();
    await until(() => settled.length === 2);
    expect(settled).toEqual(['one', 'two']);
    expect(out.held).toBe(0);
    expect(lines.filter((l) => l.includes('Redis refused')).length).toBe(1);
    expect(lines.find((l) => l.includes('Redis refused'))).toMatch(
      /Warning: Cluster: Redis refused messages for node b \(OOM command not allowed when used memory > maxmemory\); they are held and sent again\.$/,
    );
    // Once taken, a new entry goes directly.
    send('three');
    await turn();
    expect(xadds.length).toBe(5);
    xadds[4].answer();
  });

  it('a stopping node gives up what Redis refuses (its clients are gone)', async () => {
    const { cmd, xadds } = standIn();
    const out = new StreamOut(cmd, silent());
    let settled = false;
    void out.send('b', new Message('t', Buffer.from('x'), 1, false, undefined, undefined, undefined), 'd').then(() => (settled = true));
    await turn();
    xadds[0].refuse('Connection is closed.');
    await turn();
    expect(settled).toBe(false);
    out.close();
    await turn();
    expect(settled).toBe(true);
    expect(out.held).toBe(0);
  });
});
