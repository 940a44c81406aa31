/**
 * Issue 7, Speed: the Redis write path as pipelined RESP (resp-queue.ts, resp-socket.ts,
 * RedisLink). The encoding itself (binary arguments, \r\n and spaces staying one
 * argument, buffers growing across chunks, cached hook arguments), and against a real
 * redis-server: order, error replies counted and logged once, the read barrier, the
 * bounded buffer through an outage and reconnection, password and database, and TLS.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Log, LOG_ALL } from '../src/index.js';
import { RedisLink, type RedisLinkOptions } from '../src/broker/redis/connection.js';
import { commandName } from '../src/broker/redis/sent-log.js';
import { OWN_SCRIPTS } from '../src/broker/redis/own-scripts.js';
import { compileCommand, Op } from '../src/broker/redis/hooks.js';
import { encodeHead, RespQueue } from '../src/broker/redis/resp-queue.js';
import { parseRedisUrl } from '../src/broker/redis/resp-socket.js';
import { makeCerts, type TestCerts } from './helpers/certs.js';
import { freePort } from './helpers/mosquitto.js';
import { eventually, haveRedis, RedisServer } from './helpers/redis-server.js';

/** Parses RESP commands (arrays of bulk strings) back into their arguments. */
function parseCommands(b: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  let p = 0;
  const line = (): string => {
    const e = b.indexOf('\r\n', p);
    const s = b.toString('latin1', p, e);
    p = e + 2;
    return s;
  };
  while (p < b.length) {
    const head = line();
    expect(head[0]).toBe('*');
    const n = Number(head.slice(1));
    const args: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const h = line();
      expect(h[0]).toBe('$');
      const len = Number(h.slice(1));
      args.push(b.subarray(p, p + len));
      expect(b.toString('latin1', p + len, p + len + 2)).toBe('\r\n');
      p += len + 2;
    }
    out.push(args);
  }
  return out;
}

/** Everything sealed in a queue, as one buffer, and the command count. */
function drain(q: RespQueue): { bytes: Buffer; count: number } {
  q.seal();
  const parts: Buffer[] = [];
  let count = 0;
  while (q.ready) {
    count += q.nextCount();
    parts.push(q.shift());
  }
  return { bytes: Buffer.concat(parts), count };
}

describe('RESP encoding of writes', () => {
  it('keeps every argument one bulk string: binary, \\r\\n, spaces, RESP inside, empty, UTF-8', () => {
    const q = new RespQueue();
    const evil = 'a b\r\n*3\r\n$3\r\nSET\r\n$4\r\npwnd\r\n$1\r\n1\r\n';
    const binary = Buffer.from([0, 255, 13, 10, 32, 36, 42]);
    q.begin();
    q.raw(encodeHead(6, 'RPUSH'));
    q.str(evil);
    q.bytes(binary);
    q.str('');
    q.str('grüße 温度');
    q.int(-1000);
    q.end();
    const { bytes, count } = drain(q);
    expect(count).toBe(1);
    const [cmd] = parseCommands(bytes);
    expect(cmd.map((a) => a.toString())).toEqual(['RPUSH', evil, binary.toString(), '', 'grüße 温度', '-1000']);
    expect(cmd[2].equals(binary)).toBe(true);
  });

  it('grows across buffers without splitting a command, and counts commands per chunk', () => {
    const q = new RespQueue();
    const big = Buffer.alloc(300 * 1024, 7);
    const n = 5000;
    for (let i = 0; i < n; i++) {
      q.begin();
      q.raw(encodeHead(3, 'SET'));
      q.str(`key:${i}`);
      if (i % 1000 === 999) q.bytes(big);
      else q.str(`value ${i}\r\n`);
      q.end();
    }
    expect(q.queued).toBe(n);
    q.seal();
    let total = 0;
    const cmds: Buffer[][] = [];
    while (q.ready) {
      const c = q.nextCount();
      const chunk = q.shift();
      const parsed = parseCommands(chunk); // each chunk holds whole commands only
      expect(parsed).toHaveLength(c);
      cmds.push(...parsed);
      total += c;
    }
    expect(total).toBe(n);
    expect(q.queued).toBe(0);
    expect(cmds[998][2].toString()).toBe('value 998\r\n');
    expect(cmds[999][2].equals(big)).toBe(true);
    expect(cmds[4999][1].toString()).toBe('key:4999');
  });

  it('joins what is appended after an unsent chunk into that chunk (one write later)', () => {
    const q = new RespQueue();
    for (let turn = 0; turn < 3; turn++) {
      q.begin();
      q.raw(encodeHead(2, 'INCR'));
      q.str('n');
      q.end();
      q.seal();
    }
    expect(q.nextCount()).toBe(3);
    expect(parseCommands(q.shift())).toHaveLength(3);
    expect(q.ready).toBe(false);
  });

  it('compiles a hook: literals and ${node} encoded once, runs that depend on one variable cached per value', () => {
    const ops = compileCommand('HSET', ['h:${topic}', 'node', '${node}', 'p', '${payload}', 'c', '${clientid}/${qos}'], 'n1');
    // [head, h:${topic}, node, n1, p] cached by topic; payload; literal c; mixed
    expect(ops.map((o) => (o.raw !== null ? 'raw' : o.payload ? 'payload' : (o.key ?? 'parts')))).toEqual(['topic', 'payload', 'raw', 'parts']);
    const keyed = ops[0] as Op;
    const a = keyed.encoded('t/1');
    expect(a.toString()).toBe('*8\r\n$4\r\nHSET\r\n$5\r\nh:t/1\r\n$4\r\nnode\r\n$2\r\nn1\r\n$1\r\np\r\n');
    expect(keyed.encoded('t/1')).toBe(a);
    expect(keyed.encoded('größe').toString()).toContain(`$${Buffer.byteLength('h:größe')}\r\nh:größe\r\n`);
    expect(keyed.encoded('t/1').equals(a)).toBe(true);
    expect(ops[2].raw!.toString()).toBe('$1\r\nc\r\n');
    // A whole command on one variable is one cached piece.
    const trim = compileCommand('LTRIM', ['l:${topic}', '-1000', '-1'], 'n1');
    expect(trim).toHaveLength(1);
    expect(parseCommands(trim[0].encoded('x')).map((c) => c.map(String))).toEqual([['LTRIM', 'l:x', '-1000', '-1']]);
    // Two different variables: two runs.
    const two = compileCommand('SET', ['${clientid}', '${topic}'], 'n1');
    expect(two.map((o) => o.key)).toEqual(['clientid', 'topic']);
  });

  it('finds the command an error reply answers in the bytes written (own scripts by their name)', () => {
    const q = new RespQueue();
    const cmds: (string | Buffer)[][] = [['SET', 'a', 'b\r\n*1\r\n'], ['RPUSH', 'l', Buffer.alloc(70_000)], ['EVAL', OWN_SCRIPTS['@offline'], '0', 'x'], ['EVAL', 'return 1', '0']];
    for (const c of cmds) {
      q.begin();
      q.raw(encodeHead(c.length));
      for (const a of c) typeof a === 'string' ? q.str(a) : q.bytes(a);
      q.end();
    }
    const { bytes } = drain(q);
    expect([0, 1, 2, 3].map((k) => commandName(bytes, k))).toEqual(['SET', 'RPUSH', '@offline', 'EVAL']);
  });

  it('reads redis:// and rediss:// URLs as ioredis does', () => {
    expect(parseRedisUrl('redis://:pw@10.0.0.1:6380/3')).toEqual({ host: '10.0.0.1', port: 6380, tls: false, username: null, password: 'pw', db: 3 });
    expect(parseRedisUrl('rediss://user:p%40ss@example.org')).toEqual({ host: 'example.org', port: 6379, tls: true, username: 'user', password: 'p@ss', db: 0 });
  });
});

describe.skipIf(!haveRedis())('the Redis write connection', () => {
  const servers: RedisServer[] = [];
  const links: RedisLink[] = [];
  let certs: TestCerts | undefined;

  afterEach(async () => {
    for (const l of links.splice(0)) await l.close();
    for (const s of servers.splice(0)) {
      s.proc?.kill('SIGCONT');
      await s.close();
    }
    certs?.remove();
    certs = undefined;
  });

  async function server(args: string[] = []): Promise<RedisServer> {
    const s = await RedisServer.start(args);
    servers.push(s);
    return s;
  }

  function link(o: Partial<RedisLinkOptions>): { link: RedisLink; lines: string[] } {
    const lines: string[] = [];
    const log = new Log(LOG_ALL, [{ write: (_t, line) => lines.push(line.replace(/^\d+: /, '')) }]);
    const l = new RedisLink({ url: null, host: '127.0.0.1', port: 0, password: null, db: 0, maxBackoffMs: 100, ...o }, log);
    links.push(l);
    return { link: l, lines };
  }

  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

  // 75 MB through one connection: on a loaded machine this takes well over the usual
  // few seconds, so it waits for the last write (polling, up to a minute) rather than a short deadline.
  it('pipelines writes in order, binary arguments intact', { timeout: 90_000 }, async () => {
    const s = await server();
    const { link: l } = link({ port: s.port });
    await l.connect(2000);
    const payloads = [Buffer.from('a b\r\nc'), Buffer.from([0, 13, 10, 0]), Buffer.alloc(0), Buffer.alloc(100_000, 'x')];
    for (let i = 0; i < 3000; i++) l.send(['RPUSH', 'list', payloads[i % payloads.length]]);
    l.send(['SET', 'done', 1]);
    const r = s.client();
    expect(await eventually(() => r.get('done'), (v) => v === '1', 60_000)).toBe('1');
    const got = await r.lrangeBuffer('list', 0, -1);
    expect(got).toHaveLength(3000);
    for (let i = 0; i < 3000; i++) expect(got[i].equals(payloads[i % payloads.length])).toBe(true);
    expect(l.errors).toBe(0);
  });

  it('counts error replies and logs one line per command and kind of error, naming the command', async () => {
    const s = await server();
    const { link: l, lines } = link({ port: s.port });
    await l.connect(2000);
    l.send(['SET', 'str', 'x']);
    for (let i = 0; i < 5; i++) l.send(['LPUSH', 'str', `v${i}`]); // WRONGTYPE
    l.send(['NOSUCH', 'a']);
    l.send(['NOSUCH', 'b']); // another message text, same command and kind
    l.send(['INCR', 'ok']);
    await eventually(async () => l.errors, (n) => n === 7);
    expect(l.errors).toBe(7);
    const refused = lines.filter((x) => x.includes('refused a command'));
    expect(refused).toHaveLength(2);
    expect(refused[0]).toMatch(/^Warning: Redis 127\.0\.0\.1:\d+ refused a command: LPUSH: WRONGTYPE /);
    expect(refused[1]).toMatch(/refused a command: NOSUCH: ERR unknown command/);
    expect(await s.client().get('ok')).toBe('1');
  });

  it('a read sees the writes sent before it (they travel on another connection)', async () => {
    const s = await server();
    const { link: l } = link({ port: s.port });
    await l.connect(2000);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 20_000; i++) l.send(['INCR', 'n']);
      await turn(); // the turn's writes are sent, not yet answered
      await turn();
      const n = await l.read((r) => r.get('n'), 5000);
      expect(Number(n)).toBe((round + 1) * 20_000);
    }
  });

  it('keeps a bounded number of writes while Redis is away, warns once, and sends them and then the resync (kept even so)', async () => {
    const s = await server();
    const { link: l, lines } = link({ port: s.port, maxBuffered: 5 });
    let syncs = 0;
    l.onReady(async () => {
      syncs++;
      l.essential(() => l.send(['RPUSH', 'order', `resync ${syncs}`]));
    });
    await l.connect(2000);
    await s.stop();
    await eventually(async () => lines.join('\n'), (t) => t.includes('Lost connection'));
    for (let i = 0; i < 20; i++) l.send(['RPUSH', 'order', `w${i}`]);
    expect(l.dropped).toBe(15);
    await new Promise((r) => setTimeout(r, 400)); // several failed reconnection attempts
    await s.run();
    const r = s.client();
    const order = await eventually(() => r.lrange('order', 0, -1), (v) => v.length === 6);
    // Buffered writes first, in order, then what the resync wrote: as before the outage.
    expect(order).toEqual(['w0', 'w1', 'w2', 'w3', 'w4', 'resync 2']);
    expect(lines.filter((x) => x.startsWith('Warning:'))).toHaveLength(1);
    expect(lines).toContain(`Connection to Redis at 127.0.0.1:${s.port} restored (15 writes dropped while it was away).`);
    // And it keeps writing.
    l.send(['SET', 'after', 'yes']);
    expect(await eventually(() => r.get('after'), (v) => v === 'yes')).toBe('yes');
  });

  it('a hung Redis: writes wait in the buffer, routing does not, what does not fit is dropped with one warning', async () => {
    const s = await server();
    const { link: l, lines } = link({ port: s.port, maxInflight: 100, maxBuffered: 500 });
    await l.connect(2000);
    s.proc!.kill('SIGSTOP');
    const t0 = Date.now();
    for (let i = 0; i < 400; i++) l.send(['INCR', 'hung']); // one turn's writes go out
    await turn();
    await turn();
    for (let i = 0; i < 1000; i++) l.send(['INCR', 'hung']); // 500 wait, 500 are dropped
    await turn();
    expect(Date.now() - t0).toBeLessThan(500);
    expect(l.dropped).toBe(500);
    expect(lines.filter((x) => x.includes('not keeping up'))).toEqual([
      `Warning: Redis at 127.0.0.1:${s.port} is not keeping up with the broker's writes; writes beyond 500 waiting are dropped and counted.`,
    ]);
    await expect(l.read((r) => r.get('hung'), 200)).rejects.toThrow('Redis timeout');
    s.proc!.kill('SIGCONT');
    expect(await eventually(() => s.client().get('hung'), (v) => v === '900')).toBe('900');
  });

  it('AUTH and SELECT: redis_password and redis_db, or the URL; a refused password is a warning without it', async () => {
    const s = await server(['--requirepass', 'pw1']);
    const { link: a } = link({ port: s.port, password: 'pw1', db: 5 });
    const { link: b } = link({ url: `redis://:pw1@127.0.0.1:${s.port}/6`, password: null });
    const { link: bad, lines } = link({ url: `redis://:wrong-pw1@127.0.0.1:${s.port}/0`, password: null });
    await Promise.all([a.connect(2000), b.connect(2000), bad.connect(1000)]);
    a.send(['SET', 'k', 'a']);
    b.send(['SET', 'k', 'b']);
    bad.send(['SET', 'k', 'bad']);
    expect(await eventually(() => s.client(5, 'pw1').get('k'), (v) => v === 'a')).toBe('a');
    expect(await eventually(() => s.client(6, 'pw1').get('k'), (v) => v === 'b')).toBe('b');
    expect(await s.client(0, 'pw1').get('k')).toBe(null);
    const warnings = lines.filter((x) => x.startsWith('Warning:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Warning: Unable to connect to Redis at 127\.0\.0\.1:\d+ \(.*WRONGPASS/);
    expect(lines.join('\n')).not.toContain('wrong-pw1');
  });

  it('rediss:// writes over TLS', async () => {
    certs = makeCerts();
    const tlsPort = await freePort();
    const s = await server([
      '--tls-port', String(tlsPort),
      '--tls-cert-file', certs.serverCrt,
      '--tls-key-file', certs.serverKey,
      '--tls-ca-cert-file', certs.caCrt,
      '--tls-auth-clients', 'no',
    ]);
    const { readFileSync } = await import('node:fs');
    const { link: l } = link({ url: `rediss://localhost:${tlsPort}/2`, tls: { ca: readFileSync(certs.caCrt) } });
    await l.connect(3000);
    expect(l.ready).toBe(true);
    l.send(['RPUSH', 'tls', Buffer.from('over\r\ntls')]);
    expect(await eventually(() => s.client(2).lrange('tls', 0, -1), (v) => v.length === 1)).toEqual(['over\r\ntls']);
  });
});
