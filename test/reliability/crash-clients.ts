// The crash loop's clients: one publisher and persistent subscribers on mqtt.js, all with
// clean session false and automatic reconnect, so that a killed broker is met as a real
// device meets it: reconnect, resume the session, resend what was not acknowledged.
import mqtt from 'mqtt';

export interface Tally {
  /** seq -> QoS of every message the broker acknowledged to the publisher (PUBACK/PUBCOMP). */
  acked: Map<number, 1 | 2>;
  /** Per subscriber: seq -> times delivered. */
  delivered: Map<string, Map<number, number>>;
  /** Which subscribers should get a QoS: subscriber id -> the QoS of its topic. */
  subscriberQos: Map<string, 1 | 2>;
}

export interface CrashCounts {
  acked: number;
  ackedQos1: number;
  ackedQos2: number;
  /** Deliveries owed: every acked message, once per subscriber of its topic. */
  owed: number;
  deliveredOnce: number;
  missing: number;
  duplicatesQos1: number;
  duplicatesQos2: number;
}

export function count(t: Tally): CrashCounts {
  const c: CrashCounts = { acked: t.acked.size, ackedQos1: 0, ackedQos2: 0, owed: 0, deliveredOnce: 0, missing: 0, duplicatesQos1: 0, duplicatesQos2: 0 };
  for (const q of t.acked.values()) {
    if (q === 1) c.ackedQos1++;
    else c.ackedQos2++;
  }
  for (const [sub, qos] of t.subscriberQos) {
    const got = t.delivered.get(sub)!;
    for (const [seq, q] of t.acked) {
      if (q !== qos) continue;
      c.owed++;
      const n = got.get(seq) ?? 0;
      if (n === 0) c.missing++;
      else {
        c.deliveredOnce++;
        if (n > 1 && q === 2) c.duplicatesQos2 += n - 1;
        if (n > 1 && q === 1) c.duplicatesQos1 += n - 1;
      }
    }
  }
  return c;
}

/** QoS 1 messages go to `${prefix}/q1`, QoS 2 to `${prefix}/q2`; two subscribers each. */
export class CrashClients {
  readonly tally: Tally = { acked: new Map(), delivered: new Map(), subscriberQos: new Map() };
  private readonly subs: mqtt.MqttClient[] = [];
  private pub: mqtt.MqttClient | undefined;
  private seq = 0;
  private outstanding = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly prefix: string,
    private readonly subPort: () => number,
    private readonly pubPort: () => number,
  ) {}

  private client(id: string, port: () => number): mqtt.MqttClient {
    // A function for the port: after a restart the same port is used again, but the
    // bridge mode has two brokers.
    return mqtt.connect({
      host: '127.0.0.1',
      port: port(),
      clientId: id,
      clean: false,
      reconnectPeriod: 100,
      connectTimeout: 5000,
      resubscribe: false,
      keepalive: 10,
    });
  }

  /** Subscribers first (each subscribes once: afterwards its session must keep it), then the publisher. */
  async start(): Promise<void> {
    const plan: [string, 1 | 2][] = [
      ['crash-s1a', 1],
      ['crash-s1b', 1],
      ['crash-s2a', 2],
      ['crash-s2b', 2],
    ];
    for (const [id, qos] of plan) {
      const got = new Map<number, number>();
      this.tally.delivered.set(id, got);
      this.tally.subscriberQos.set(id, qos);
      const c = this.client(id, this.subPort);
      c.on('error', () => {});
      c.on('message', (_t, payload: Buffer) => {
        const s = payload.readUInt32BE(0);
        got.set(s, (got.get(s) ?? 0) + 1);
      });
      await new Promise<void>((resolve) => c.once('connect', () => resolve()));
      await new Promise<void>((resolve, reject) =>
        c.subscribe(`${this.prefix}/q${qos}`, { qos }, (err) => (err ? reject(err) : resolve())),
      );
      this.subs.push(c);
    }
    const pub = this.client('crash-pub', this.pubPort);
    pub.on('error', () => {});
    await new Promise<void>((resolve) => pub.once('connect', () => resolve()));
    this.pub = pub;
  }

  /** Publishes `perTick` messages every 10 ms while fewer than `window` are unacknowledged. */
  run(perTick = 2, window = 100): void {
    this.timer = setInterval(() => {
      const pub = this.pub!;
      if (!pub.connected) return;
      for (let k = 0; k < perTick && this.outstanding < window; k++) {
        const seq = this.seq++;
        const qos: 1 | 2 = seq % 2 === 0 ? 1 : 2;
        const body = Buffer.alloc(8);
        body.writeUInt32BE(seq, 0);
        this.outstanding++;
        pub.publish(`${this.prefix}/q${qos}`, body, { qos }, (err) => {
          this.outstanding--;
          if (err === undefined || err === null) this.tally.acked.set(seq, qos);
        });
      }
    }, 10);
  }

  stopPublishing(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  /** Messages the publisher still holds unacknowledged (it resends them after a reconnect). */
  get pending(): number {
    return this.outstanding;
  }

  async end(): Promise<void> {
    this.stopPublishing();
    const all = [...this.subs, ...(this.pub ? [this.pub] : [])];
    await Promise.all(all.map((c) => new Promise<void>((r) => c.end(true, () => r()))));
  }
}
