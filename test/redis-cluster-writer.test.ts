/**
 * redis_cluster_nodes: the write side on a Redis Cluster (src/broker/redis/cluster-writer.ts)
 * reads the RESP write buffer back into commands (binary arguments intact) and counts the
 * answers in the order the commands were written, whatever order the masters answer in,
 * naming an error by its position, as the single-server writer does.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { ClusterWriter, readCommands } from '../src/broker/redis/cluster-writer.js';
import { RespQueue } from '../src/broker/redis/resp-queue.js';

function encode(cmds: (string | Buffer | number)[][]): Buffer {
  const q = new RespQueue();
  for (const c of cmds) {
    q.begin();
    q.command(c);
    q.end();
  }
  q.seal();
  return Buffer.from(q.shift());
}

describe('cluster writer', () => {
  it('reads back each command of the write buffer with its arguments byte for byte', () => {
    const bin = Buffer.from([0, 13, 10, 36, 42, 255]);
    const got = readCommands(encode([['HSET', 'mqtt:client:a', 'state', 1], ['RPUSH', 'l', bin], ['EVAL', 'return 1', 1, 'k']]));
    expect(got.map(([n, a]) => [n, a.map((x) => x.toString('latin1'))])).toEqual([
      ['HSET', ['mqtt:client:a', 'state', '1']],
      ['RPUSH', ['l', bin.toString('latin1')]],
      ['EVAL', ['return 1', '1', 'k']],
    ]);
  });

  it('counts answers in write order and names an error by its position, whatever order they arrive in', async () => {
    const pending: { name: string; resolve: () => void; reject: (e: Error) => void }[] = [];
    const fake = Object.assign(new EventEmitter(), {
      status: 'ready',
      connect: () => Promise.resolve(),
      disconnect: () => undefined,
      hsetBuffer: (...a: Buffer[]) => new Promise<void>((resolve, reject) => pending.push({ name: `HSET ${a[0]}`, resolve, reject })),
    });
    const events: string[] = [];
    const w = new ClusterWriter(fake as unknown as Cluster, {
      ready: () => events.push('ready'),
      down: () => events.push('down'),
      replyError: (i, m) => events.push(`error ${i} ${m}`),
      replies: (n) => events.push(`replies ${n}`),
      drained: () => undefined,
    });
    fake.emit('ready');
    expect(w.write(encode([['HSET', 'a', 'f', 'v'], ['HSET', 'b', 'f', 'v'], ['HSET', 'c', 'f', 'v']]))).toBe(true);
    expect(pending.map((p) => p.name)).toEqual(['HSET a', 'HSET b', 'HSET c']);
    // The third answers first: nothing is counted until the first has.
    pending[2].resolve();
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(['ready']);
    pending[1].reject(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'));
    pending[0].resolve();
    await new Promise((r) => setImmediate(r));
    expect(events).toEqual(['ready', 'error 1 WRONGTYPE Operation against a key holding the wrong kind of value', 'replies 3']);
    // A loss: what was in flight is forgotten, and its late answers are not counted.
    w.write(encode([['HSET', 'd', 'f', 'v']]));
    fake.emit('close');
    pending[3].resolve();
    await new Promise((r) => setImmediate(r));
    expect(events.slice(3)).toEqual(['down']);
  });
});
