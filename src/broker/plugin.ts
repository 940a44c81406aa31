/**
 * Extension points for integrations that watch the broker (Redis presence and stores,
 * persistence journals, bridges). Every hook is optional; hooks on the message path must
 * return quickly and never wait on I/O.
 */
import type { Broker } from './broker.js';
import type { QoS } from '../protocol/index.js';
import type { Client } from './client.js';
import type { Message } from './message.js';
import type { Outgoing, Session } from './session.js';
import type { SubscriptionOptions } from './router.js';

/** What happened to an outgoing message of a persistent session (BrokerPlugin.onOutgoing). */
export type OutgoingEvent = 'queued' | 'inflight' | 'dequeued' | 'pubrel' | 'done';

export interface BrokerPlugin {
  /** Awaited before the listeners open: load state (retained messages, sessions). */
  init?(broker: Broker): Promise<void> | void;
  /** After the listeners opened. */
  start?(broker: Broker): void;
  stop?(): Promise<void> | void;
  /**
   * The program was asked to stop (SIGINT, SIGTERM) and has not yet logged that it is
   * terminating: bridges disconnect here, as Mosquitto's do, so that what they finish is
   * in the save that follows.
   */
  onTerminate?(): Promise<void>;
  /** After authentication, before the session is attached; a returned promise delays CONNACK (provisioning reads). */
  onClientConnecting?(client: Client): Promise<void> | void;
  /** Session attached, CONNACK not yet sent: subscriptions made here are in place before the client hears back. */
  onClientConnected?(client: Client): void;
  onClientDisconnected?(client: Client): void;
  onSubscribe?(session: Session, filter: string, options: SubscriptionOptions): void;
  onUnsubscribe?(session: Session, filter: string): void;
  onPublish?(msg: Message): void;
  onRetain?(msg: Message): void;
  /** A PUBLISH went out to the session's client at this QoS (QoS 0: that is its acknowledgement). */
  onDelivered?(session: Session, msg: Message, qos: QoS): void;
  onAcked?(session: Session, msg: Message): void;
  onSessionDestroyed?(session: Session): void;
  onSessionCreated?(session: Session): void;
  /**
   * Persistent sessions only (not clean): an outgoing QoS>0 message was queued, put in
   * flight (mid assigned) straight away or from the queue ('dequeued'), moved to PUBREL, or
   * completed (acked or dropped).
   */
  onOutgoing?(session: Session, out: Outgoing, event: OutgoingEvent): void;
  /** Persistent sessions only: a QoS 2 message from the client was stored (msg) or released (undefined). */
  onIncoming?(session: Session, mid: number, msg: Message | undefined): void;
  onSweep?(now: number): void;
}
