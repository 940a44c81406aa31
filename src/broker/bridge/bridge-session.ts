/**
 * A bridge's local session under persistence (cleansession false, persistence true): the
 * QoS 1/2 messages held for the remote broker and those sent to it but not acknowledged,
 * kept in a broker Session of the bridge's local_clientid and reported through the hooks
 * client sessions use (BrokerCore.notifyOutgoing -> the persistence journal; the snapshot
 * writes sessions.bridgeSessions too). So a message whose local publisher got its PUBACK
 * survives a restart or a kill -9 (the journal is written before that PUBACK), as in
 * Mosquitto, which keeps a bridge's local session in its persistence database.
 *
 * The session lives in the session store's bridgeSessions, not among client sessions: no client takes it over,
 * persistent_client_expiration does not expire it and $SYS does not count it as a client.
 * The journal records follow the broker's own order (queued, then in flight from the head
 * of the queue, then done), which is what replaying them (persistence/state.ts) expects.
 */
import type { QoS } from '../../protocol/index.js';
import type { Message } from '../message.js';
import type { BrokerCore, Outgoing, Session } from '../core.js';

/** True when the broker journals persistent sessions (the persistence plugin is loaded). */
export function brokerPersists(broker: BrokerCore): boolean {
  return broker.plugins.some((p) => p.onOutgoing !== undefined);
}

export class BridgeSession {
  private constructor(
    private readonly broker: BrokerCore,
    readonly session: Session,
  ) {}

  /**
   * Takes over the session that persistence restored for `clientId` (it restores every
   * session as a client's, into broker.sessions), or starts an empty one.
   */
  static open(broker: BrokerCore, clientId: string, username: string | undefined): BridgeSession {
    const session = broker.sessions.adoptForBridge(clientId);
    // Written in its SESSION record: were the bridge gone from the configuration at the
    // next start, the session would be an ordinary one, expired as such.
    session.expiryInterval = 0;
    session.username = username;
    return new BridgeSession(broker, session);
  }

  /** A cleansession true bridge keeps nothing: a session left by an earlier run is discarded. */
  static discard(broker: BrokerCore, clientId: string): void {
    const session = broker.sessions.get(clientId);
    if (session !== undefined && session.client === null) broker.sessions.destroy(session);
  }

  /** What the last run left: messages in flight (sent again under their packet ids), then the queue. */
  restored(): { inflight: Outgoing[]; queued: Outgoing[] } {
    return { inflight: [...this.session.inflight.values()], queued: this.session.queue.toArray() };
  }

  /** Held while the bridge is not connected. */
  queued(msg: Message, qos: QoS, retain: boolean): Outgoing {
    const out: Outgoing = { mid: 0, msg, qos, retain, identifiers: undefined, state: 0 };
    this.session.queue.push(out);
    this.broker.notifyOutgoing(this.session, out, 'queued');
    return out;
  }

  /** A held message leaves the queue (oldest first) to be sent or dropped. */
  unqueued(out: Outgoing): void {
    const q = this.session.queue;
    if (q.peek() === out) q.shift();
  }

  /** Handed to the client engine under packet id `mid`; `out` undefined for a message never held. */
  sent(mid: number, msg: Message, qos: QoS, retain: boolean, out?: Outgoing): void {
    const s = this.session;
    if (out !== undefined && out.mid !== 0 && s.inflight.get(out.mid) === out) {
      // Restored in flight and sent again: under the same id, which its record already has.
      if (out.mid === mid) return;
      s.inflight.delete(out.mid);
      s.inflightBytes -= out.msg.payload.length;
    }
    const o: Outgoing = out ?? { mid, msg, qos, retain, identifiers: undefined, state: 0 };
    o.mid = mid;
    s.inflight.set(mid, o);
    s.inflightBytes += msg.payload.length;
    this.broker.notifyOutgoing(s, o, 'inflight');
  }

  /**
   * The remote broker sent PUBREC for `mid`: journaled before our PUBREL goes out, so that
   * after a restart the flow goes on with PUBREL, not with a PUBLISH the remote would take
   * for a new message once it has released the first (MQTT-4.3.3).
   */
  released(mid: number): void {
    const out = this.session.inflight.get(mid);
    if (out === undefined || out.qos !== 2) return;
    out.state = 1;
    this.broker.notifyOutgoing(this.session, out, 'pubrel');
  }

  /** The remote broker acknowledged `mid` (PUBACK, PUBCOMP, or an MQTT 5 refusal). */
  completed(mid: number): void {
    const s = this.session;
    const out = s.inflight.get(mid);
    if (out === undefined) return;
    s.inflight.delete(mid);
    s.inflightBytes -= out.msg.payload.length;
    this.broker.notifyOutgoing(s, out, 'done');
  }

  /** A held or restored message that will not be sent (expired, too large for the remote). */
  dropped(out: Outgoing): void {
    const s = this.session;
    if (out.mid !== 0) {
      if (s.inflight.get(out.mid) !== out) return;
      s.inflight.delete(out.mid);
      s.inflightBytes -= out.msg.payload.length;
    }
    this.broker.notifyOutgoing(s, out, 'done');
  }
}
