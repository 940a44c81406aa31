/**
 * The messages of sessions, in flight towards their clients and queued behind (the
 * MessageStore of the contract): what plugins that restore or feed sessions (persistence,
 * Redis) use instead of reaching into deliver.ts or the broker's counters.
 */
import type { QoS } from '../protocol/index.js';
import type { BrokerCore, ClientContext, MessageStore, Outgoing, Session } from './core.js';
import { deliverToSession, pumpQueue } from './deliver.js';
import type { Message } from './message.js';

export class SessionMessages implements MessageStore {
  constructor(private readonly broker: BrokerCore) {}

  deliver(session: Session, msg: Message, qos: QoS, retain: boolean, identifiers: number[] | undefined): void {
    deliverToSession(this.broker, session, msg, qos, retain, identifiers);
  }

  /** Retained messages go out with the retain flag set (MQTT-3.3.1-8). */
  deliverRetained(client: ClientContext, filter: string, subQos: QoS): void {
    const broker = this.broker;
    const matches: Message[] = broker.retained.match(filter);
    const session = client.session!;
    const now = Date.now();
    for (const msg of matches) {
      if (msg.expiresAt !== 0 && msg.expiresAt <= now) {
        // MQTT-3.3.2-5: an expired retained message is no longer delivered; forget it.
        broker.retained.deleteTopic(msg.topic);
        continue;
      }
      if (!broker.mayRead(session, msg.topic)) continue;
      if (broker.options.checkRetainSource && !sourceMayStillWrite(broker, client, msg)) continue;
      const qos = broker.options.upgradeOutgoingQos ? subQos : ((msg.qos < subQos ? msg.qos : subQos) as QoS);
      deliverToSession(broker, session, msg, qos, true, undefined);
    }
  }

  restoreInflight(session: Session, out: Outgoing): void {
    session.inflight.set(out.mid, out);
    session.inflightBytes += out.msg.payload.length;
  }

  restoreQueued(session: Session, out: Outgoing): void {
    session.queue.push(out);
    this.broker.stats.storedMessages++;
  }

  /** Ack bookkeeping shared by PUBACK and PUBCOMP: frees the slot and pumps the queue. */
  complete(session: Session, mid: number): boolean {
    const out = session.inflight.get(mid);
    if (out === undefined) return false;
    session.inflight.delete(mid);
    session.inflightBytes -= out.msg.payload.length;
    if (!session.clean) this.broker.notifyOutgoing(session, out, 'done');
    pumpQueue(this.broker, session);
    return true;
  }
}

/**
 * check_retain_source (mosquitto.conf(5)): a retained message goes out only if the client
 * that published it would still be allowed to publish it (after an ACL reload, say).
 * Messages with no known source (the broker's own, or restored without one) pass. As
 * Mosquitto, the ACL asked is that of the listener the publisher came in on
 * (per_listener_settings), the receiver's when that is not known.
 */
function sourceMayStillWrite(broker: BrokerCore, client: ClientContext, msg: Message): boolean {
  if (msg.from === undefined) return true;
  let rt = client.listener;
  if (msg.fromPort > 0) {
    for (const l of broker.listeners) {
      if ((l.listener?.port ?? l.settings.port) === msg.fromPort) {
        rt = l;
        break;
      }
    }
  }
  const a = rt.settings.authorizer ?? broker.options.authorizer;
  return a === undefined || a.canWrite(msg.from, msg.fromUsername, msg.topic);
}
