/**
 * The subscription store (issue 7): SUBSCRIBE writes `HSET mqtt:sub:<clientid> <filter>
 * <qos>`, UNSUBSCRIBE deletes the field, and on CONNECT, before CONNACK, the broker reads
 * the hash and subscribes the client to every filter in it, so that a back end can
 * provision what a device listens to. The same functions apply subscribe/unsubscribe
 * events from the event channel (events.ts).
 */
import { isValidTopicFilter, parseSharedFilter, type QoS } from '../../protocol/index.js';
import { LogType, type Log } from '../log.js';
import type { SubscriptionOptions } from '../router.js';
import type { RedisLink } from './connection.js';
import { subKey } from './keys.js';
import type { BrokerCore, ClientContext, Session } from '../core.js';

/** Parses a stored or announced QoS: a number or a decimal string, 0 to 2. */
export function parseQos(v: unknown): QoS | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-2]$/.test(v.trim()) ? Number(v.trim()) : NaN;
  return n === 0 || n === 1 || n === 2 ? n : undefined;
}

export interface AppliedSubscription {
  filter: string;
  treeFilter: string;
  qos: QoS;
  shared: boolean;
  /** False when the session already had this filter (only its QoS may have changed). */
  isNew: boolean;
}

/**
 * Subscribes a session as if it had sent SUBSCRIBE for `filter` (retain handling 0, no
 * subscription identifier), within the same checks: a valid filter, the ACL, the
 * listener's max_qos. Returns undefined (and logs why) if it may not subscribe.
 */
export function applySubscription(
  broker: BrokerCore,
  session: Session,
  filter: string,
  requested: QoS,
  log: Log,
): AppliedSubscription | undefined {
  const client = session.client;
  const shared = parseSharedFilter(filter);
  const plain = shared !== null ? shared.filter : filter;
  if (!isValidTopicFilter(plain) || (shared !== null && (shared.group === '' || /[+#]/.test(shared.group)))) {
    log.warning(`Warning: Invalid Redis subscription "${filter}" for client ${session.clientId}, ignored.`);
    return undefined;
  }
  const settings = client?.listener.settings;
  const treeFilter = (client?.mountPoint ?? '') + plain;
  const authorizer = settings?.authorizer ?? broker.options.authorizer;
  if (authorizer !== undefined && !authorizer.canSubscribe(session.clientId, session.username, treeFilter)) {
    log.notice(`Denied Redis subscription "${filter}" for client ${session.clientId}.`);
    return undefined;
  }
  const maxQos = settings?.maxQos ?? 2;
  const qos = (requested > maxQos ? maxQos : requested) as QoS;
  const options: SubscriptionOptions = { qos, noLocal: false, retainAsPublished: false, retainHandling: 0, identifier: 0 };
  const isNew = !session.subscriptions.has(filter);
  broker.addSubscription(session, treeFilter, options, shared?.group);
  session.subscriptions.set(filter, { filter, treeFilter, shareGroup: shared?.group, options });
  if (log.enabled(LogType.Subscribe)) log.write(LogType.Subscribe, `${session.clientId} ${qos} ${filter}`);
  for (const p of broker.plugins) p.onSubscribe?.(session, filter, options);
  return { filter, treeFilter, qos, shared: shared !== null, isNew };
}

/** Removes a session's subscription as UNSUBSCRIBE would; false if it had none. */
export function removeSubscription(broker: BrokerCore, session: Session, filter: string, log: Log): boolean {
  const sub = session.subscriptions.get(filter);
  if (sub === undefined) return false;
  session.subscriptions.delete(filter);
  broker.removeSubscription(session, sub.treeFilter, sub.shareGroup);
  if (log.enabled(LogType.Unsubscribe)) log.write(LogType.Unsubscribe, `${session.clientId} ${filter}`);
  for (const p of broker.plugins) p.onUnsubscribe?.(session, filter);
  return true;
}

/** Sends the retained messages of new, non-shared subscriptions (MQTT-3.3.1-6). */
export function sendRetainedFor(broker: BrokerCore, client: ClientContext, applied: AppliedSubscription[]): void {
  if (client.session === null || !client.active) return;
  for (const a of applied) {
    if (a.isNew && !a.shared) broker.messages.deliverRetained(client, a.treeFilter, a.qos);
  }
}

export class SubscriptionStore {
  /** What the provisioning read found, from onClientConnecting to onClientConnected. */
  private readonly provisioned = new WeakMap<ClientContext, Record<string, string>>();

  constructor(
    private readonly broker: BrokerCore,
    private readonly link: RedisLink,
    private readonly log: Log,
    private readonly timeoutMs: number,
  ) {}

  record(session: Session, filter: string, qos: QoS): void {
    this.link.send(['HSET', subKey(session.clientId), filter, qos]);
  }

  forget(session: Session, filter: string): void {
    this.link.send(['HDEL', subKey(session.clientId), filter]);
  }

  /**
   * The provisioning read, before CONNACK. Bounded by a timeout and skipped at once while
   * Redis is away: a dead Redis delays no connect by more than the timeout.
   */
  async provision(client: ClientContext): Promise<void> {
    if (!this.link.ready) return;
    try {
      const subs = await this.link.read((r) => r.hgetall(subKey(client.clientId)), this.timeoutMs);
      if (Object.keys(subs).length > 0) this.provisioned.set(client, subs);
    } catch (err) {
      if (this.link.ready) {
        this.log.warning(`Warning: Unable to read Redis subscriptions of client ${client.clientId} (${(err as Error).message}).`);
      }
    }
  }

  /**
   * Session attached, CONNACK not yet sent: subscribes the client to what was read, so
   * that the subscriptions are in place before the client hears back. Their retained
   * messages follow the CONNACK (a microtask runs after the CONNECT handler returns).
   */
  applyProvisioned(client: ClientContext): void {
    const subs = this.provisioned.get(client);
    const session = client.session;
    if (subs === undefined || session === null) return;
    this.provisioned.delete(client);
    const applied: AppliedSubscription[] = [];
    for (const [filter, q] of Object.entries(subs)) {
      const qos = parseQos(q);
      if (qos === undefined) {
        this.log.warning(`Warning: Invalid QoS "${q}" in Redis subscription "${filter}" of client ${client.clientId}, ignored.`);
        continue;
      }
      const existing = session.subscriptions.get(filter);
      // A resumed session that already has the filter at this QoS keeps it untouched.
      if (existing !== undefined && existing.options.qos === qos) continue;
      const a = applySubscription(this.broker, session, filter, qos, this.log);
      if (a !== undefined) applied.push(a);
    }
    if (applied.length > 0) queueMicrotask(() => sendRetainedFor(this.broker, client, applied));
  }
}
