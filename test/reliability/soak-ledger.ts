// What the soak driver expects the broker to hold, counted on the driver's side: PUBLISH
// packets it sent, connections it has open, subscriptions per session, retained topics,
// wills it caused, and every QoS 1/2 message acknowledged to a publisher for a persistent
// subscriber. The minute checks compare these with $SYS and with what arrived.

export class Ledger {
  publishesSent = 0;
  /** Open, CONNACKed driver connections (mqtt.js clients and raw sockets). */
  connected = 0;
  /** Subscription filters per session id; clean sessions leave when they disconnect. */
  readonly subscriptions = new Map<string, Set<string>>();
  /** Persistent session ids whose client is gone (their sessions stay in the broker). */
  readonly offlineSessions = new Set<string>();
  readonly retained = new Set<string>();
  willsExpected = 0;
  willsReceived = 0;
  /** Operations started and not yet finished (connects, subscribes, publishes, closes). */
  ops = 0;
  errors: string[] = [];
  /** Per persistent subscriber: seq -> QoS of every message acknowledged to the publisher. */
  readonly acked = new Map<string, Map<number, number>>();
  /** Per persistent subscriber: seq -> times delivered. */
  readonly delivered = new Map<string, Map<number, number>>();

  subscriptionCount(): number {
    let n = 0;
    for (const s of this.subscriptions.values()) n += s.size;
    return n;
  }

  error(what: string): void {
    if (this.errors.length < 50) this.errors.push(`${new Date().toISOString()} ${what}`);
  }

  /** QoS 1: at least once; QoS 2: exactly once (MQTT-4.3.2, MQTT-4.3.3). */
  /** Up to `max` undelivered acknowledged messages, as "subscriber:seq(qos)". */
  missingSample(max: number): string[] {
    const out: string[] = [];
    for (const [sub, seqs] of this.acked) {
      const got = this.delivered.get(sub);
      for (const [seq, qos] of seqs) {
        if ((got?.get(seq) ?? 0) === 0 && out.length < max) out.push(`${sub}:${seq}(q${qos})`);
      }
    }
    return out;
  }

  persistentDelivery(): { acked: number; missing: number; duplicatesQos2: number; duplicatesQos1: number } {
    let acked = 0;
    let missing = 0;
    let duplicatesQos2 = 0;
    let duplicatesQos1 = 0;
    for (const [sub, seqs] of this.acked) {
      const got = this.delivered.get(sub);
      for (const [seq, qos] of seqs) {
        acked++;
        const n = got?.get(seq) ?? 0;
        if (n === 0) missing++;
        else if (n > 1 && qos === 2) duplicatesQos2 += n - 1;
        else if (n > 1) duplicatesQos1 += n - 1;
      }
    }
    return { acked, missing, duplicatesQos2, duplicatesQos1 };
  }
}
