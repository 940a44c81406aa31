/**
 * Delivery of one message to one session: send now within the inflight window, queue
 * behind it within max_queued_messages/max_queued_bytes, or drop and count it.
 * This is the hot path: no closures, no promises, log lines formatted only when enabled.
 */
import type { QoS } from '../protocol/index.js';
import type { Message } from './message.js';
import type { SharedGroup } from './router.js';
import type { BrokerCore, ClientContext, Outgoing, Session } from './core.js';
import { sendPubrel } from './send/packets.js';
import { sendPublish } from './send/publish.js';

export function deliverToSession(
  broker: BrokerCore,
  session: Session,
  msg: Message,
  qos: QoS,
  retain: boolean,
  identifiers: number[] | undefined,
  share?: SharedGroup<Session>,
): void {
  if (msg.expiresAt !== 0 && msg.expiresAt <= Date.now()) return;
  const client = session.client;
  const online = client !== null && client.active;
  const memoryLimit = broker.options.memoryLimit;
  if (memoryLimit > 0 && online && broker.memoryInUse() + msg.payload.length > memoryLimit) {
    // memory_limit (mosquitto.conf(5)): an outgoing message over the limit is dropped and
    // its receiver disconnected.
    broker.stats.publishDropped++;
    broker.stats.droppedMemoryLimit++;
    if (broker.log.connectionMessages) broker.log.notice(`Client ${client.id} disconnected due to out of memory.`);
    client.disconnect('admin');
    return;
  }
  if (qos === 0) {
    if (online) {
      if (client.conn.bufferedBytes > broker.options.maxSocketBacklog) {
        broker.stats.publishDropped++;
        broker.stats.droppedSocketBacklog++;
        return;
      }
      sendPublish(broker, client, msg, 0, retain, 0, false, identifiers);
      return;
    }
    if (!broker.options.queueQos0Messages || session.clean) return;
  }
  const out: Outgoing = { mid: 0, msg, qos, retain, identifiers, state: 0 };
  if (share !== undefined) out.share = share;
  if (online && session.queue.length === 0 && hasInflightRoom(broker, session, client, msg)) {
    startInflight(broker, session, client, out, 'inflight');
    return;
  }
  enqueue(broker, session, out);
}

function hasInflightRoom(broker: BrokerCore, session: Session, client: ClientContext, msg: Message): boolean {
  if (session.inflightCount >= client.inflightLimit) return false;
  // max_inflight_bytes: messages go in flight "until this byte limit is reached"
  // (mosquitto.conf(5)), so one may cross it; the first always goes.
  const maxBytes = broker.options.maxInflightBytes;
  return maxBytes === 0 || session.inflightBytes < maxBytes;
}

function enqueue(broker: BrokerCore, session: Session, out: Outgoing): void {
  const o = broker.options;
  const q = session.queue;
  // As Mosquitto, a QoS 1/2 message gets its packet id when it is queued, not when it
  // goes out, and before the limits are checked: one that expires in the queue or is
  // dropped there leaves a gap in the numbering.
  if (out.qos > 0 && out.mid === 0) out.mid = session.nextMid();
  // While the client is away nothing is in flight, so Mosquitto counts the messages left
  // unacknowledged towards the queue limits too.
  const offline = session.client === null || !session.client.active;
  const count = offline ? q.length + session.inflightCount : q.length;
  const bytes = offline ? q.bytes + session.inflightBytes : q.bytes;
  // max_queued_messages 0 means no limit; max_queued_bytes 0 likewise. Both bound memory.
  // As Mosquitto, a message is queued while the bytes waiting are under the byte limit.
  // Unlike Mosquitto, queued QoS 0 messages count towards max_queued_messages too, so that
  // queue_qos0_messages cannot grow a queue without bound.
  if (
    (o.maxQueuedMessages > 0 && count >= o.maxQueuedMessages) ||
    (o.maxQueuedBytes > 0 && bytes >= o.maxQueuedBytes)
  ) {
    broker.stats.publishDropped++;
    broker.stats.droppedQueueFull++;
    if (!session.dropWarned) {
      session.dropWarned = true;
      broker.log.notice(`Outgoing messages are being dropped for client ${session.clientId}.`);
    }
    return;
  }
  out.msg.compact();
  q.push(out);
  broker.stats.storedMessages++;
  if (!session.clean && broker.persistHooks.length > 0) broker.notifyOutgoing(session, out, 'queued');
}

function startInflight(
  broker: BrokerCore,
  session: Session,
  client: ClientContext,
  out: Outgoing,
  event: 'inflight' | 'dequeued',
): void {
  if (out.mid === 0 || session.inflight.has(out.mid)) out.mid = session.nextMid();
  session.inflight.set(out.mid, out);
  session.inflightBytes += out.msg.payload.length;
  if (!session.clean && broker.persistHooks.length > 0) broker.notifyOutgoing(session, out, event);
  sendPublish(broker, client, out.msg, out.qos, out.retain, out.mid, false, out.identifiers);
}

/** Moves queued messages into the inflight window as it frees up (after an ack or a reconnect). */
export function pumpQueue(broker: BrokerCore, session: Session): void {
  const client = session.client;
  if (client === null || !client.active) return;
  const q = session.queue;
  while (q.length > 0) {
    const next = q.peek()!;
    if (next.qos > 0 && !hasInflightRoom(broker, session, client, next.msg)) break;
    q.shift();
    broker.stats.storedMessages--;
    // Expired, or no longer readable (an ACL reload while it waited): dropped, as Mosquitto
    // checks the ACL again when it sends a queued message; its packet id stays used.
    const dropped = (next.msg.expiresAt !== 0 && next.msg.expiresAt <= Date.now()) || !broker.mayRead(session, next.msg.topic);
    if (next.qos > 0 && !dropped) {
      startInflight(broker, session, client, next, 'dequeued');
      continue;
    }
    // Sent at QoS 0, or dropped: it leaves the queue without going in flight (its DONE
    // record has packet id 0: persistence/state.ts takes it out of the queue).
    next.mid = 0;
    if (!session.clean && broker.persistHooks.length > 0) broker.notifyOutgoing(session, next, 'done');
    if (!dropped) sendPublish(broker, client, next.msg, 0, next.retain, 0, false, next.identifiers);
  }
  if (q.length === 0) session.dropWarned = false;
}

/** Re-sends everything in flight after a persistent session reconnects (MQTT-4.4.0-1), DUP set. */
export function resendInflight(broker: BrokerCore, session: Session, client: ClientContext): void {
  for (const out of session.inflight.values()) {
    if (out.state === 1) {
      sendPubrel(client, out.mid);
    } else {
      sendPublish(broker, client, out.msg, out.qos, out.retain, out.mid, true, out.identifiers);
    }
  }
}
