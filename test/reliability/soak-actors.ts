// The soak's clients: steady publishers, persistent subscribers that come and go, churning
// clients (clean and persistent sessions, MQTT 3.1.1 and 5, wills, wildcard subscribe and
// unsubscribe), a slow and a stalled subscriber. Every action is counted in the Ledger
// before and after it happens, so that the driver can stop everything at a minute mark,
// let it settle, and compare with the broker.
import mqtt from 'mqtt';
import { type Ledger } from './soak-ledger.js';
import { rawSubscribe, type RawSubscriber } from './raw-subscriber.js';

type Client = mqtt.MqttClient;

const CHURN_FILTERS = ['soak/q0/+/x', 'soak/q0/#', 'soak/r/#', 'soak/+/3/x', 'soak/c/#', 'soak/+/+/x', 'soak/will/#'];

export interface SoakLoad {
  /** QoS 0 messages per second from the steady publisher. */
  qos0Rate: number;
  /** QoS 1/2 messages per second to the persistent subscribers, all together. */
  persistentRate: number;
  persistentSubscribers: number;
  /** Retained updates per second. */
  retainedRate: number;
  /**
   * 8 KB QoS 0 messages per second on soak/big: they fill the stalled subscriber's socket
   * backlog to its bound (16 MB) within the warm-up, after which it must stay there.
   */
  bigRate: number;
  /** A churning client starts every this many ms (while fewer than churnMax are alive). */
  churnEveryMs: number;
  churnMax: number;
}

export const DEFAULT_LOAD: SoakLoad = {
  qos0Rate: 300,
  persistentRate: 60,
  persistentSubscribers: 10,
  retainedRate: 5,
  bigRate: 20,
  churnEveryMs: 150,
  churnMax: 30,
};

function rand(n: number): number {
  return Math.floor(Math.random() * n);
}

export class SoakActors {
  paused = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly stable: Client[] = [];
  private readonly raws: RawSubscriber[] = [];
  private readonly psubs: PersistentSub[] = [];
  private readonly churning = new Set<Client>();
  /** Persistent churn session ids not in use by a live client. */
  private readonly freePersistentIds: string[] = [];
  private churnSeq = 0;
  private pseq = 0;
  private rseq = 0;
  private q0seq = 0;
  private ppub: Client | undefined;

  constructor(
    private readonly port: number,
    private readonly ledger: Ledger,
    private readonly load: SoakLoad,
  ) {
    for (let i = 0; i < 15; i++) this.freePersistentIds.push(`soak-cp-${i}`);
  }

  /**
   * A client that counts itself into the ledger; resolves at CONNACK. `onMessage` is
   * attached at once: a resumed session's queued messages arrive in the CONNACK's chunk,
   * before a handler attached after the promise resolves could see them.
   */
  connect(opts: mqtt.IClientOptions, sessionKept: boolean, onMessage?: (topic: string, payload: Buffer) => void): Promise<Client> {
    const L = this.ledger;
    const id = opts.clientId!;
    L.ops++;
    return new Promise((resolve, reject) => {
      const c = mqtt.connect({ host: '127.0.0.1', port: this.port, reconnectPeriod: 0, connectTimeout: 30000, ...opts });
      let up = false;
      if (onMessage !== undefined) c.on('message', onMessage);
      c.on('packetsend', (p) => {
        if (p.cmd === 'publish') L.publishesSent++;
      });
      c.once('connect', () => {
        up = true;
        L.connected++;
        L.offlineSessions.delete(id);
        if (!sessionKept) L.subscriptions.delete(id);
        L.ops--;
        resolve(c);
      });
      c.on('error', (err) => {
        if (!up) L.error(`${id}: connect failed: ${err.message}`);
      });
      c.once('close', () => {
        if (up) {
          L.connected--;
          if (sessionKept) L.offlineSessions.add(id);
          else L.subscriptions.delete(id);
        } else {
          L.ops--;
          reject(new Error(`${id}: closed before CONNACK`));
        }
      });
    });
  }

  /** Resolves at SUBACK (a client is not closed with its own operations pending: see churnOne). */
  subscribe(c: Client, id: string, filter: string, qos: 0 | 1 | 2): Promise<void> {
    const L = this.ledger;
    L.ops++;
    return new Promise((resolve) =>
      c.subscribe(filter, { qos }, (err) => {
        L.ops--;
        resolve();
        if (err) {
          if (c.connected) L.error(`${id}: subscribe ${filter}: ${err.message}`);
          return;
        }
        let s = L.subscriptions.get(id);
        if (s === undefined) L.subscriptions.set(id, (s = new Set()));
        s.add(filter);
      }),
    );
  }

  unsubscribe(c: Client, id: string, filter: string): Promise<void> {
    const L = this.ledger;
    L.ops++;
    return new Promise((resolve) =>
      c.unsubscribe(filter, (err) => {
        L.ops--;
        resolve();
        if (!err) L.subscriptions.get(id)?.delete(filter);
      }),
    );
  }

  /** Closes `c` and resolves when the socket is gone. */
  close(c: Client, abrupt: boolean): Promise<void> {
    const L = this.ledger;
    L.ops++;
    return new Promise((resolve) => {
      const done = (): void => {
        L.ops--;
        resolve();
      };
      if (c.stream === undefined || c.stream.destroyed || !c.connected) {
        c.end(true, done);
        return;
      }
      if (abrupt) {
        c.once('close', done);
        c.stream.destroy();
      } else c.end(false, done);
    });
  }

  async start(): Promise<void> {
    const L = this.ledger;
    const load = this.load;
    // The watcher of wills.
    const watcher = await this.connect({ clientId: 'soak-willwatch', clean: true }, false, () => L.willsReceived++);
    void this.subscribe(watcher, 'soak-willwatch', 'soak/will/#', 1);
    this.stable.push(watcher);

    // Slow subscriber: reads 200 ms out of every 2 s. Stalled: never reads after SUBACK.
    const slow = await rawSubscribe(this.port, 'soak-slow', 'soak/#', 0);
    L.connected++;
    L.subscriptions.set('soak-slow', new Set(['soak/#']));
    slow.socket.pause();
    this.every(2000, () => {
      slow.socket.resume();
      setTimeout(() => slow.socket.pause(), 200);
    });
    const stalled = await rawSubscribe(this.port, 'soak-stalled', 'soak/#', 1);
    L.connected++;
    L.subscriptions.set('soak-stalled', new Set(['soak/#']));
    stalled.socket.pause();
    this.raws.push(slow, stalled);

    // Persistent subscribers, QoS 1 and 2 alternately, and their publisher.
    for (let i = 0; i < load.persistentSubscribers; i++) {
      const ps = new PersistentSub(this, `soak-p-${i}`, `soak/p/${i}/m`, i % 2 === 0 ? 2 : 1, L);
      this.psubs.push(ps);
      L.acked.set(ps.id, new Map());
      L.delivered.set(ps.id, new Map());
      await ps.online();
    }
    this.ppub = await this.connect({ clientId: 'soak-ppub', clean: true }, false);
    this.stable.push(this.ppub);
    const ptick = Math.max(1, Math.round(load.persistentRate / 10));
    this.every(100, () => {
      for (let k = 0; k < ptick; k++) this.publishPersistent();
    });
    this.every(1000, () => {
      for (const ps of this.psubs) ps.cycle();
    });

    // QoS 0 flow.
    const q0 = await this.connect({ clientId: 'soak-q0pub', clean: true }, false);
    this.stable.push(q0);
    const payload = Buffer.alloc(64, 0x61);
    const q0tick = Math.max(1, Math.round(load.qos0Rate / 10));
    this.every(100, () => {
      for (let k = 0; k < q0tick; k++) q0.publish(`soak/q0/${this.q0seq++ % 20}/x`, payload, { qos: 0 });
    });

    const big = Buffer.alloc(8192, 0x62);
    this.every(Math.round(1000 / load.bigRate), () => q0.publish('soak/big', big, { qos: 0 }));

    // Retained updates; every tenth clears its topic.
    const rpub = await this.connect({ clientId: 'soak-rpub', clean: true }, false);
    this.stable.push(rpub);
    this.every(Math.round(1000 / load.retainedRate), () => {
      const n = this.rseq++;
      const topic = `soak/r/${n % 50}`;
      const clear = n % 10 === 9;
      L.ops++;
      rpub.publish(topic, clear ? '' : `r${n}`, { qos: 1, retain: true }, (err) => {
        L.ops--;
        if (err) return L.error(`retained publish: ${err.message}`);
        if (clear) L.retained.delete(topic);
        else L.retained.add(topic);
      });
    });

    this.every(load.churnEveryMs, () => {
      if (this.churning.size < load.churnMax) void this.churnOne();
    });
  }

  private every(ms: number, fn: () => void): void {
    this.timers.push(
      setInterval(() => {
        if (!this.paused) fn();
      }, ms),
    );
  }

  private publishPersistent(): void {
    const ps = this.psubs[this.pseq % this.psubs.length];
    const seq = this.pseq++;
    const L = this.ledger;
    const body = Buffer.alloc(16);
    body.writeUInt32BE(seq, 0);
    L.ops++;
    this.ppub!.publish(ps.topic, body, { qos: ps.qos }, (err) => {
      L.ops--;
      if (err) return L.error(`persistent publish ${seq}: ${err.message}`);
      L.acked.get(ps.id)!.set(seq, ps.qos);
    });
  }

  /** One short-lived client: connect, subscribe to wildcards, change them, publish, leave. */
  private async churnOne(): Promise<void> {
    const L = this.ledger;
    const n = this.churnSeq++;
    const kind = n % 3; // 0: 3.1.1 clean, 1: 5 clean, 2: 3.1.1 persistent (a pool of ids)
    let id = `soak-c-${n}`;
    if (kind === 2) {
      const free = this.freePersistentIds.shift();
      if (free === undefined) return;
      id = free;
    }
    const withWill = n % 2 === 0;
    const opts: mqtt.IClientOptions = {
      clientId: id,
      clean: kind !== 2,
      protocolVersion: kind === 1 ? 5 : 4,
      will: withWill ? { topic: `soak/will/${id}`, payload: Buffer.from('gone'), qos: 1, retain: false } : undefined,
    };
    let c: Client;
    try {
      c = await this.connect(opts, kind === 2);
    } catch {
      if (kind === 2) this.freePersistentIds.push(id);
      return;
    }
    this.churning.add(c);
    // Every operation is let finish before the client goes: an abrupt close with a SUBSCRIBE
    // or PUBLISH in flight leaves it unknown whether the broker applied it (and mqtt.js never
    // answers a persistent client's callbacks then).
    const ops: Promise<void>[] = [];
    const first = CHURN_FILTERS[rand(CHURN_FILTERS.length)];
    ops.push(this.subscribe(c, id, first, rand(3) as 0 | 1 | 2));
    if (kind === 2) ops.push(this.subscribe(c, id, 'soak/c/#', 1));
    const life = 1000 + rand(3000);
    await pausable(this, life / 2);
    if (c.connected) {
      ops.push(this.unsubscribe(c, id, first));
      ops.push(this.subscribe(c, id, CHURN_FILTERS[rand(CHURN_FILTERS.length)], rand(3) as 0 | 1 | 2));
      L.ops++;
      ops.push(new Promise((resolve) => c.publish(`soak/c/${n % 7}/x`, `m${n}`, { qos: 1 }, () => resolve(void L.ops--))));
    }
    await pausable(this, life / 2);
    await Promise.race([Promise.all(ops), new Promise((r) => setTimeout(r, 10000))]);
    const abrupt = rand(2) === 0;
    if (abrupt && withWill && c.connected) L.willsExpected++;
    await this.close(c, abrupt);
    this.churning.delete(c);
    if (kind === 2) this.freePersistentIds.push(id);
  }

  /** Every persistent subscriber online (the minute check wants their queues drained). */
  async allOnline(): Promise<void> {
    await Promise.all(this.psubs.map((ps) => ps.online()));
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.paused = true;
    const all = [...this.churning, ...this.stable, ...this.psubs.flatMap((p) => (p.client ? [p.client] : []))];
    await Promise.all(all.map((c) => new Promise<void>((r) => c.end(true, () => r()))));
    for (const r of this.raws) r.close();
  }
}

/** Waits `ms`, and longer while the driver is paused (a client's life does not run out during a check). */
async function pausable(a: SoakActors, ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
  while (a.paused) await new Promise((r) => setTimeout(r, 100));
}

/**
 * The QoS 2 state of a subscriber outlives each connection (method B: the message is
 * handed over at PUBREL, MQTT-4.3.3), so one store serves every client object of the same
 * id; mqtt.js closes a client's stores when it ends, which this one ignores.
 */
class KeptStore extends mqtt.Store {
  override close(cb: () => void): void {
    cb();
  }
}

/** A persistent (clean session false) subscriber that goes away and comes back. */
class PersistentSub {
  client: Client | undefined;
  private readonly store = new KeptStore();
  private subscribed = false;
  private connecting: Promise<void> | undefined;
  /** Seconds until the next change of state. */
  private countdown = 3 + rand(8);

  constructor(
    private readonly actors: SoakActors,
    readonly id: string,
    readonly topic: string,
    readonly qos: 1 | 2,
    private readonly ledger: Ledger,
  ) {}

  online(): Promise<void> {
    if (this.client?.connected) return Promise.resolve();
    this.connecting ??= this.actors
      .connect({ clientId: this.id, clean: false, incomingStore: this.store }, true, (_t, payload) => {
        const seq = payload.readUInt32BE(0);
        const d = this.ledger.delivered.get(this.id)!;
        d.set(seq, (d.get(seq) ?? 0) + 1);
      })
      .then((c) => {
        this.client = c;
        if (!this.subscribed) {
          this.subscribed = true;
          void this.actors.subscribe(c, this.id, this.topic, this.qos);
        }
      })
      .catch((err: Error) => this.ledger.error(`${this.id}: ${err.message}`))
      .finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** Called once a second: online for 3-10 s, offline for 1-4 s; half the exits abrupt. */
  cycle(): void {
    if (--this.countdown > 0 || this.connecting !== undefined) return;
    if (this.client?.connected) {
      this.countdown = 1 + rand(4);
      void this.actors.close(this.client, rand(2) === 0);
    } else {
      this.countdown = 3 + rand(8);
      void this.online();
    }
  }
}
