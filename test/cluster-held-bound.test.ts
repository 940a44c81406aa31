/**
 * Issue 15, "nothing acknowledged is lost" and "bound every queue" on the cross-node path:
 * while Redis does not answer, the QoS 1/2 messages held for other nodes stop growing at
 * cluster_max_held_messages because their publishers are paused (nothing is dropped, no
 * PUBACK goes out before Redis has the message), and once Redis answers every message
 * reaches the remote subscriber exactly once; a publisher paused longer than 1.5 x its keep
 * alive is not cut off for it (the pause is the broker's) and goes on once resumed; an
 * entry Redis refuses (out of memory) is held and written again, its PUBACK waiting for it.
 * A retained QoS 2 message changes the retained store of every node at its PUBREL, so a
 * PUBREL that never comes changes none. Broker processes on a real redis-server stopped
 * with SIGSTOP or made to refuse writes (maxmemory), and the same on a Redis Cluster of
 * three masters (every master stopped, every master refusing).
 */
import { describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { BACKENDS, clusterPerTest, reaches, settle, until, type ClusterFixture, type Node, type RedisBackend } from './helpers/cluster.js';
import { runProgram, stopPrograms } from './helpers/conf-program.js';

const BOUND = 5;
const TOTAL = 30;

/** The retained payloads a new subscriber on `node` gets for `topic`. */
async function retainedOn(node: Node, topic: string): Promise<string[]> {
  const c = await node.connect();
  await c.subscribe(topic, 0);
  const got = (await c.sync()).filter((p) => p.cmd === 'publish') as IPublishPacket[];
  c.destroy();
  return got.filter((p) => p.retain).map((p) => String(p.payload));
}

describe('cluster_max_held_messages', () => {
  it('refuses a bound below 1', async () => {
    try {
      const p = await runProgram('ts', ['cluster_max_held_messages 0'], { readyNow: true });
      await p.waitForLine(/Error/, 30000);
      const code = await new Promise<number | null>((r) => (p.proc.exitCode !== null ? r(p.proc.exitCode) : p.proc.once('exit', r)));
      expect(code).not.toBe(0);
      expect(p.lines.join('\n')).toContain('Error: Invalid cluster_max_held_messages value (0).');
    } finally {
      await stopPrograms();
    }
  });
});

/** Pauses a publisher at the bound while Redis is stopped, acks nothing early, delivers every message once after. */
async function pausesAtBound(fx: ClusterFixture<RedisBackend>): Promise<void> {
  const a = await fx.node('n1', [`cluster_max_held_messages ${BOUND}`]);
  const b = await fx.node('n2');
  const sub = await b.connect({ clientId: 'sub' });
  await sub.subscribe('held/t', 1);
  const pub = await a.connect({ clientId: 'pub' });
  const other = await a.connect({ clientId: 'other' });
  await reaches(pub, sub, 'held/t');
  await settle(pub, sub, 'held/t'); // a probe still on its way would be taken for a message
  const received = (): number => a.proc.lines.filter((l) => l.includes('Received PUBLISH from pub (d0, q1')).length;
  fx.redis.signal('SIGSTOP');
  try {
    // One at a time up to the bound (each its own socket read), then the rest at once.
    for (let i = 1; i <= BOUND; i++) {
      pub.publish('held/t', `m${i}`, { qos: 1, messageId: i });
      await until(received, (n) => n >= i);
    }
    await a.proc.waitForLine(/Warning: Cluster: Redis is not taking messages for other nodes; 5 QoS 1 and 2 messages are held, their publishers are paused until it does\./, 8000);
    for (let i = BOUND + 1; i <= TOTAL; i++) pub.publish('held/t', `m${i}`, { qos: 1, messageId: i });
    // Node A still serves its other clients, but reads nothing more from the publisher.
    await other.sync();
    await new Promise((r) => setTimeout(r, 300));
    await other.sync();
    expect(received()).toBe(BOUND);
    expect(pub.inbox.map((p) => p.cmd)).toEqual([]);
    expect(a.proc.lines.some((l) => l.includes('Sending PUBACK to pub'))).toBe(false);
  } finally {
    fx.redis.signal('SIGCONT');
  }
  for (let i = 1; i <= TOTAL; i++) expect((await pub.next('puback', 15000)).messageId).toBe(i);
  await a.proc.waitForLine(/Cluster: Redis takes messages for other nodes again; 1 paused publisher resumed\./, 8000);
  const got: string[] = [];
  while (got.length < TOTAL) {
    const m = await sub.waitFor<IPublishPacket>((p) => p.cmd === 'publish' && (p as IPublishPacket).topic === 'held/t', 15000);
    got.push(String(m.payload));
    sub.send({ cmd: 'puback', messageId: m.messageId });
  }
  expect(got).toEqual(Array.from({ length: TOTAL }, (_, i) => `m${i + 1}`));
  await new Promise((r) => setTimeout(r, 300));
  expect((await sub.sync()).filter((p) => p.cmd === 'publish')).toEqual([]);
  expect(a.proc.lines.some((l) => l.includes('dropped'))).toBe(false);
}

/** A retained QoS 2 message whose PUBREL never comes changes no node; with its PUBREL, every node. */
async function retainedAtPubrel(fx: ClusterFixture<RedisBackend>): Promise<void> {
  const [a, b] = await fx.nodes(2);
  const pub = await a.connect({ clientId: 'pub' });
  const complete = async (payload: string, mid: number): Promise<void> => {
    pub.publish('keep/t', payload, { qos: 2, retain: true, messageId: mid });
    expect((await pub.next('pubrec')).messageId).toBe(mid);
    pub.send({ cmd: 'pubrel', messageId: mid });
    expect((await pub.next('pubcomp')).messageId).toBe(mid);
  };
  await complete('old', 1);
  expect(await until(() => retainedOn(b, 'keep/t'), (r) => r.length === 1)).toEqual(['old']);

  // Live subscribers on node B get it before the PUBREL, retain flag as a live copy.
  const rap = await b.connect({ clientId: 'rap', version: 5 });
  rap.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'keep/t', qos: 1, rap: true }] });
  await rap.next('suback');
  expect((await rap.next<IPublishPacket>('publish')).retain).toBe(true); // 'old', as retained
  const plain = await b.connect({ clientId: 'plain' });
  await plain.subscribe('keep/#', 1);
  expect(String((await plain.next<IPublishPacket>('publish')).payload)).toBe('old');
  await reaches(pub, plain, 'keep/probe');
  pub.publish('keep/t', 'half', { qos: 2, retain: true, messageId: 2 });
  expect((await pub.next('pubrec')).messageId).toBe(2);
  const r = await rap.next<IPublishPacket>('publish', 8000);
  expect([String(r.payload), r.retain]).toEqual(['half', true]);
  const l = await plain.waitFor<IPublishPacket>((p) => p.cmd === 'publish' && (p as IPublishPacket).topic === 'keep/t', 8000);
  expect([String(l.payload), l.retain]).toEqual(['half', false]);
  pub.destroy();
  await pub.closed;
  // A later retained change from node A: once node B has it, it has read everything before it.
  const late = await a.connect({ clientId: 'late' });
  late.publish('barrier/t', 'x', { qos: 1, retain: true, messageId: 3 });
  expect((await late.next('puback')).messageId).toBe(3);
  expect(await until(() => retainedOn(b, 'barrier/t'), (r) => r.length === 1)).toEqual(['x']);
  expect(await retainedOn(a, 'keep/t')).toEqual(['old']);
  expect(await retainedOn(b, 'keep/t')).toEqual(['old']);

  const again = await a.connect({ clientId: 'pub2' });
  again.publish('keep/t', 'new', { qos: 2, retain: true, messageId: 4 });
  expect((await again.next('pubrec')).messageId).toBe(4);
  again.send({ cmd: 'pubrel', messageId: 4 });
  expect((await again.next('pubcomp')).messageId).toBe(4);
  expect(await retainedOn(a, 'keep/t')).toEqual(['new']);
  expect(await until(() => retainedOn(b, 'keep/t'), (r) => r[0] === 'new')).toEqual(['new']);
}

/** No PUBACK for a message Redis refuses (out of memory); delivered once Redis takes it. */
async function heldWhileRefused(fx: ClusterFixture<RedisBackend>): Promise<void> {
  const [a, b] = await fx.nodes(2);
  const sub = await b.connect({ clientId: 'sub' });
  await sub.subscribe('oom/t', 1);
  const pub = await a.connect({ clientId: 'pub' });
  const other = await a.connect({ clientId: 'other' });
  await reaches(pub, sub, 'oom/t');
  await fx.redis.configSet('maxmemory-policy', 'noeviction');
  await fx.redis.configSet('maxmemory', '1');
  try {
    pub.publish('oom/t', 'kept', { qos: 1, messageId: 5 });
    await a.proc.waitForLine(/Warning: Cluster: Redis refused messages for node n2 \(OOM .*\); they are held and sent again\./, 8000);
    await other.sync();
    expect(pub.inbox.filter((p) => p.cmd === 'puback')).toEqual([]);
  } finally {
    await fx.redis.configSet('maxmemory', '0');
  }
  expect((await pub.next('puback', 8000)).messageId).toBe(5);
  const m = await sub.waitFor<IPublishPacket>((p) => p.cmd === 'publish' && (p as IPublishPacket).topic === 'oom/t', 8000);
  expect(String(m.payload)).toBe('kept');
  sub.send({ cmd: 'puback', messageId: m.messageId });
  await new Promise((res) => setTimeout(res, 300));
  expect((await sub.sync()).filter((p) => p.cmd === 'publish')).toEqual([]);
}

/**
 * A publisher paused at the bound (Redis refusing every write) for longer than 1.5 x its
 * keep alive, pinging meanwhile, is not cut off: its PINGREQs are answered once it is
 * resumed, with its PUBACKs, and every message reaches the other node.
 */
async function pausedPastKeepalive(fx: ClusterFixture<RedisBackend>): Promise<void> {
  // A long lease: Redis refusing writes refuses the lease's renewal too, and no node may be declared dead meanwhile.
  const a = await fx.node('n1', [`cluster_max_held_messages ${BOUND}`, 'cluster_lease 60']);
  const b = await fx.node('n2', ['cluster_lease 60']);
  const sub = await b.connect({ clientId: 'sub' });
  await sub.subscribe('ka/t', 1);
  const pub = await a.connect({ clientId: 'pub', keepalive: 2 });
  await reaches(pub, sub, 'ka/t');
  await settle(pub, sub, 'ka/t');
  await fx.redis.configSet('maxmemory-policy', 'noeviction');
  await fx.redis.configSet('maxmemory', '1');
  let pings = 0;
  try {
    for (let i = 1; i <= TOTAL; i++) pub.publish('ka/t', `m${i}`, { qos: 1, messageId: i });
    await a.proc.waitForLine(/Warning: Cluster: Redis is not taking messages for other nodes; \d+ QoS 1 and 2 messages are held, their publishers are paused until it does\./, 15000);
    // Past 1.5 x the keep alive (3 s) and a sweep (1 s) more since the publisher was last
    // read, pinging every half second as a client does: nothing is read, nothing answered.
    const t0 = Date.now();
    while (Date.now() - t0 < 5000) {
      pub.send({ cmd: 'pingreq' });
      pings++;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(pub.isClosed).toBe(false);
    expect(pub.inbox).toEqual([]);
    expect(a.proc.lines.filter((l) => l.includes('has exceeded timeout'))).toEqual([]);
  } finally {
    await fx.redis.configSet('maxmemory', '0');
  }
  // Every PUBACK in order, and every PINGREQ answered.
  const acks: number[] = [];
  let pongs = 0;
  while (acks.length < TOTAL || pongs < pings) {
    const p = await pub.next(undefined, 15000);
    if (p.cmd === 'puback') acks.push((p as { messageId?: number }).messageId ?? -1);
    else if (p.cmd === 'pingresp') pongs++;
    else throw new Error(`unexpected ${p.cmd}`);
  }
  expect(acks).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
  expect(pongs).toBe(pings);
  await a.proc.waitForLine(/Cluster: Redis takes messages for other nodes again; 1 paused publisher resumed\./, 8000);
  const got: string[] = [];
  while (got.length < TOTAL) {
    const m = await sub.waitFor<IPublishPacket>((p) => p.cmd === 'publish' && (p as IPublishPacket).topic === 'ka/t', 15000);
    got.push(String(m.payload));
    sub.send({ cmd: 'puback', messageId: m.messageId });
  }
  expect(got).toEqual(Array.from({ length: TOTAL }, (_, i) => `m${i + 1}`));
  // It goes on: its keep alive counts from the resume, and it is served as before.
  pub.publish('ka/t', 'after', { qos: 1, messageId: TOTAL + 1 });
  expect((await pub.next('puback', 8000)).messageId).toBe(TOTAL + 1);
  const m = await sub.waitFor<IPublishPacket>((p) => p.cmd === 'publish' && (p as IPublishPacket).topic === 'ka/t', 8000);
  expect(String(m.payload)).toBe('after');
  await pub.sync();
  expect(pub.isClosed).toBe(false);
  expect(a.proc.lines.filter((l) => l.includes('has exceeded timeout'))).toEqual([]);
}

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available())(`cluster on ${backend.label}: held messages bounded by pausing publishers; retained QoS 2 at PUBREL`, { timeout: 120000 }, () => {
    const fx = clusterPerTest(backend.kind);

    it('pauses a publisher at cluster_max_held_messages while Redis is stopped, acks nothing early, and delivers every message once after', () => pausesAtBound(fx));

    it('does not cut a paused publisher off for keep alive: resumed, its PINGREQs and PUBACKs come and every message is delivered', () => pausedPastKeepalive(fx));

    it('a retained QoS 2 message whose PUBREL never comes changes no node; with its PUBREL, every node', () => retainedAtPubrel(fx));

    it('sends no PUBACK for a message Redis refuses (out of memory) and delivers it once Redis takes it', () => heldWhileRefused(fx));
  });
}
