/**
 * The client engine: one MQTT session over a Connection (3.1, 3.1.1 or 5.0). It sends
 * CONNECT, runs the QoS 1 and 2 flows in both directions with an inflight limit, keeps the
 * connection alive with PINGREQ and reports what happens through a few callbacks, one per
 * event, so a caller handling thousands of messages allocates no promise per message.
 */
import type {
  ConnectPacket,
  ConnackPacket,
  DisconnectPacket,
  Packet,
  PublishPacket,
  QoS,
  SubackPacket,
  Subscription,
  UnsubackPacket,
} from '../protocol/index.js';
import { encodeAck } from '../protocol/index.js';
import type { Connection } from '../net/connection.js';
import type { ClientEvents, ClientOptions, DisconnectProperties, PublishProperties } from './client-types.js';
import { bridgeConnectBytes, connectPacketOf } from './connect-packet.js';
import { publishSummary, shownId } from './debug-lines.js';
import { IncomingFlows } from './incoming.js';

export type {
  ClientEvents,
  ClientOptions,
  ConnectProperties,
  DisconnectProperties,
  PublishProperties,
  WillMessage,
  WillProperties,
} from './client-types.js';

interface Outgoing {
  packet: PublishPacket;
  /** What we wait for next. */
  awaiting: 'puback' | 'pubrec' | 'pubcomp';
}

export class MqttClient {
  clientId: string;
  readonly options: ClientOptions;
  connected = false;

  private conn: Connection | undefined;
  private readonly events: ClientEvents;
  private lastMid = 0;
  private readonly inflight = new Map<number, Outgoing>();
  /** What was in flight when the last CONNACK came: the messages resendInflight() sends again. */
  private leftOver: Outgoing[] | null = null;
  private readonly waiting: PublishPacket[] = [];
  /** The server's PUBLISH flows and topic aliases (incoming.ts). */
  private readonly incoming: IncomingFlows;
  private inflightLimit: number;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private lastSent = 0;
  private pingOutstanding = false;
  private disconnecting = false;
  private readonly qos0Done: number[] = [];

  constructor(options: ClientOptions, events: ClientEvents) {
    this.options = options;
    this.events = events;
    this.clientId = options.clientId;
    this.inflightLimit = options.maxInflight;
    this.incoming = new IncomingFlows(options, events, (text) => this.debug(text), (type, mid) => this.sendAck(type, mid));
  }

  /** Messages accepted by publish() but not yet completed (inflight plus waiting). */
  get pendingCount(): number {
    return this.inflight.size + this.waiting.length;
  }

  private debug(text: string): void {
    const d = this.options.debug;
    if (d !== undefined) d(`Client ${shownId(this.clientId)} ${text}`);
  }

  /** Start the session over an open connection: sends CONNECT. */
  start(conn: Connection): void {
    const o = this.options;
    this.conn = conn;
    this.disconnecting = false;
    this.pingOutstanding = false;
    this.incoming.connectionStarted();
    conn.setProtocolVersion(o.protocolVersion);
    conn.setHandler({
      onPacket: (p) => this.onPacket(p),
      onProtocolError: () => {},
      onClose: (err) => this.onClosed(err),
    });
    const packet = connectPacketOf(o);
    this.debug('sending CONNECT');
    if (o.bridgeMode === true) this.sendBridgeConnect(conn, packet);
    else this.send(packet);
    if (o.keepalive > 0) {
      // MQTT-3.1.2-23: send something (PINGREQ if nothing else) within each keepalive period.
      this.keepaliveTimer = setInterval(() => this.checkKeepalive(), Math.min(1000, o.keepalive * 250));
    }
  }

  private send(packet: Packet): void {
    if (this.conn === undefined) return;
    this.lastSent = Date.now();
    this.conn.send(packet);
  }

  /**
   * PUBACK, PUBREC, PUBREL or PUBCOMP with success and no properties: the short form (type,
   * length 2, packet id) at every protocol level, as libmosquitto sends them (MQTT 5 allows
   * leaving out a 0x00 reason code, 3.4.2.1).
   */
  private sendAck(type: 'puback' | 'pubrec' | 'pubrel' | 'pubcomp', mid: number): void {
    if (this.conn === undefined) return;
    this.lastSent = Date.now();
    this.conn.write(encodeAck(type, mid));
  }

  private sendBridgeConnect(conn: Connection, packet: ConnectPacket): void {
    this.lastSent = Date.now();
    conn.write(bridgeConnectBytes(packet, this.options.protocolVersion));
  }

  private nextMid(): number {
    for (let i = 0; i < 65535; i++) {
      this.lastMid = this.lastMid >= 65535 ? 1 : this.lastMid + 1;
      if (!this.inflight.has(this.lastMid)) return this.lastMid;
    }
    return this.lastMid;
  }

  /**
   * Publish a message; returns its message id (also counted for QoS 0, as libmosquitto does).
   * `resendMid`: a QoS 1/2 message that was in flight under that id before (a bridge's
   * session restored from persistence) goes again with the same id and DUP set (MQTT-4.4.0-1);
   * `released`: a QoS 2 one whose PUBREC had arrived continues with PUBREL (MQTT-4.3.3).
   */
  publish(
    topic: string,
    payload: Buffer,
    qos: QoS,
    retain: boolean,
    properties?: PublishProperties,
    resendMid?: number,
    released = false,
  ): number {
    let mid: number;
    let dup = false;
    if (resendMid !== undefined && qos > 0 && resendMid > 0 && !this.inflight.has(resendMid)) {
      mid = resendMid;
      dup = true;
      // Resent oldest first: new ids follow the newest, even across the wrap from 65535 to 1.
      this.lastMid = mid;
    } else {
      mid = this.nextMid();
      released = false;
    }
    const packet: PublishPacket = { cmd: 'publish', topic, payload, qos, retain, dup, messageId: mid };
    if (released && qos === 2) {
      // The receiver has it already: only its release is owed (sent now, or at CONNACK).
      this.inflight.set(mid, { packet, awaiting: 'pubcomp' });
      if (this.connected) {
        this.debug(`sending PUBREL (m${mid})`);
        this.sendAck('pubrel', mid);
      }
      return mid;
    }
    if (properties !== undefined && this.options.protocolVersion === 5) packet.properties = properties;
    if (qos === 0) {
      // Not connected: a QoS 0 message is simply lost, as with libmosquitto (MOSQ_ERR_NO_CONN).
      if (!this.connected) return mid;
      if (this.options.debug !== undefined) this.debug(publishSummary('sending', packet, mid));
      this.send(packet);
      if (this.events.onPublish !== undefined) this.reportQos0(mid);
      return mid;
    }
    if (this.connected && this.inflight.size < this.inflightLimit) this.sendQos(packet);
    else this.waiting.push(packet);
    return mid;
  }

  /** QoS 0 completes once written: report it after this turn's writes, batched. */
  private reportQos0(mid: number): void {
    this.qos0Done.push(mid);
    if (this.qos0Done.length > 1) return;
    setImmediate(() => {
      const mids = this.qos0Done.splice(0);
      for (const m of mids) this.events.onPublish?.(m, 0);
    });
  }

  private sendQos(packet: PublishPacket): void {
    const mid = packet.messageId as number;
    this.inflight.set(mid, { packet, awaiting: packet.qos === 1 ? 'puback' : 'pubrec' });
    if (this.options.debug !== undefined) this.debug(publishSummary('sending', packet, mid));
    this.send(packet);
  }

  private fillInflight(): void {
    while (this.waiting.length > 0 && this.inflight.size < this.inflightLimit && this.connected) {
      this.sendQos(this.waiting.shift() as PublishPacket);
    }
  }

  subscribe(subscriptions: Subscription[], properties?: NonNullable<import('../protocol/index.js').SubscribePacket['properties']>): number {
    const mid = this.nextMid();
    for (const s of subscriptions) {
      const opts = (s.nl ? 4 : 0) | (s.rap ? 8 : 0) | ((s.rh ?? 0) << 4);
      this.debug(`sending SUBSCRIBE (Mid: ${mid}, Topic: ${s.topic}, QoS: ${s.qos}, Options: 0x${opts.toString(16).padStart(2, '0')})`);
    }
    const packet: Packet = { cmd: 'subscribe', messageId: mid, subscriptions };
    if (properties !== undefined && this.options.protocolVersion === 5) packet.properties = properties;
    this.send(packet);
    return mid;
  }

  unsubscribe(topics: string[], properties?: NonNullable<import('../protocol/index.js').UnsubscribePacket['properties']>): number {
    const mid = this.nextMid();
    for (const t of topics) this.debug(`sending UNSUBSCRIBE (Mid: ${mid}, Topic: ${t})`);
    const packet: Packet = { cmd: 'unsubscribe', messageId: mid, unsubscriptions: topics };
    if (properties !== undefined && this.options.protocolVersion === 5) packet.properties = properties;
    this.send(packet);
    return mid;
  }

  /** Send DISCONNECT and close the connection once it is written. */
  disconnect(reasonCode = 0, properties?: DisconnectProperties): void {
    if (this.conn === undefined || this.disconnecting) return;
    this.disconnecting = true;
    this.debug('sending DISCONNECT');
    const packet: DisconnectPacket = { cmd: 'disconnect' };
    if (this.options.protocolVersion === 5) {
      if (reasonCode !== 0 || properties !== undefined) packet.reasonCode = reasonCode;
      if (properties !== undefined) packet.properties = properties;
    }
    this.send(packet);
    this.conn.close();
  }

  /** Close after writing what is queued, without DISCONNECT (the server publishes the will). */
  end(): void {
    if (this.conn === undefined || this.disconnecting) return;
    this.disconnecting = true;
    this.conn.close();
  }

  /** Drop the connection without DISCONNECT (the will is published). */
  destroy(): void {
    this.disconnecting = true;
    if (this.conn !== undefined) this.conn.destroy();
  }

  private checkKeepalive(): void {
    if (this.conn === undefined || !this.connected) return;
    const now = Date.now();
    const period = this.options.keepalive * 1000;
    const idle = Math.max(now - this.lastSent, now - this.conn.lastReceived);
    if (now - this.lastSent < period && now - this.conn.lastReceived < period) return;
    if (this.pingOutstanding) {
      if (idle >= period) {
        // No PINGRESP within a keepalive period: the connection is dead.
        this.conn.destroy();
      }
      return;
    }
    this.pingOutstanding = true;
    this.debug('sending PINGREQ');
    this.send({ cmd: 'pingreq' });
  }

  private onPacket(p: Packet): void {
    switch (p.cmd) {
      case 'connack': return this.onConnack(p);
      case 'publish': return this.incoming.onPublish(p);
      case 'puback': return this.onAck(p.messageId ?? 0, "puback", p.reasonCode ?? 0, p.properties);
      case 'pubrec': return this.onPubrec(p.messageId ?? 0, p.reasonCode ?? 0);
      case 'pubcomp': return this.onAck(p.messageId ?? 0, "pubcomp", p.reasonCode ?? 0, p.properties);
      case 'pubrel': return this.incoming.onPubrel(p.messageId ?? 0);
      case 'suback': return this.onSuback(p);
      case 'unsuback': return this.onUnsuback(p);
      case 'pingresp':
        this.pingOutstanding = false;
        this.debug('received PINGRESP');
        return;
      case 'pingreq':
        if (this.options.answerPingreq !== true) return;
        this.debug('received PINGREQ');
        this.debug('sending PINGRESP');
        this.send({ cmd: 'pingresp' });
        return;
      case 'disconnect':
        // libmosquitto's line has no client prefix; the server closes next, and, as with
        // libmosquitto, that ends the session as our own disconnect would (no reconnect).
        this.options.debug?.(`Received DISCONNECT (${p.reasonCode ?? 0})`);
        this.disconnecting = true;
        if (this.events.onServerDisconnect !== undefined) this.events.onServerDisconnect(p.reasonCode ?? 0, p.properties);
        return;
      default:
        return;
    }
  }

  private onConnack(p: ConnackPacket): void {
    const code = (this.options.protocolVersion === 5 ? p.reasonCode : p.returnCode) ?? 0;
    const props = p.properties;
    if (props?.assignedClientIdentifier !== undefined) this.clientId = props.assignedClientIdentifier;
    this.debug(`received CONNACK (${code})`);
    if (code === 0) {
      this.connected = true;
      const rm = props?.receiveMaximum;
      this.inflightLimit = rm !== undefined && rm < this.options.maxInflight ? rm : this.options.maxInflight;
      // Messages left from a previous connection go first, as retries (MQTT-4.4.0-1);
      // with deferResend the owner sends them later, and only them, not what it sends meanwhile.
      this.leftOver = this.inflight.size === 0 ? null : [...this.inflight.values()];
      if (this.options.deferResend !== true) this.resendInflight();
    }
    this.events.onConnect(code, p.sessionPresent, props);
    if (code === 0) this.fillInflight();
  }

  /** Sends again what was in flight when the last connection ended (PUBLISH with DUP set, or PUBREL), once. */
  resendInflight(): void {
    const left = this.leftOver;
    this.leftOver = null;
    if (left === null) return;
    for (const out of left) {
      if (this.inflight.get(out.packet.messageId!) !== out) continue;
      if (out.awaiting === 'pubcomp') {
        this.debug(`sending PUBREL (m${out.packet.messageId})`);
        this.sendAck('pubrel', out.packet.messageId!);
      } else {
        out.packet.dup = true;
        if (this.options.debug !== undefined) this.debug(publishSummary('sending', out.packet, out.packet.messageId as number));
        this.send(out.packet);
      }
    }
  }

  private onPubrec(mid: number, rc: number): void {
    this.debug(`received PUBREC (Mid: ${mid})`);
    const out = this.inflight.get(mid);
    if (out === undefined || out.awaiting !== 'pubrec') {
      // Unknown id: answer so the server can finish its flow (MQTT 5 rc 0x92).
      this.sendAck('pubrel', mid);
      return;
    }
    if (rc >= 0x80) return this.complete(mid, rc);
    out.awaiting = 'pubcomp';
    if (this.events.onPubrec !== undefined) this.events.onPubrec(mid);
    this.debug(`sending PUBREL (m${mid})`);
    this.sendAck('pubrel', mid);
  }

  private onAck(mid: number, kind: 'puback' | 'pubcomp', rc: number, properties?: { reasonString?: string }): void {
    this.debug(`received ${kind.toUpperCase()} (Mid: ${mid}, RC:${rc})`);
    const out = this.inflight.get(mid);
    if (out === undefined || out.awaiting !== kind) return;
    this.complete(mid, rc, properties);
  }

  private complete(mid: number, rc: number, properties?: { reasonString?: string }): void {
    this.inflight.delete(mid);
    if (this.events.onPublish !== undefined) this.events.onPublish(mid, rc, properties);
    this.fillInflight();
  }

  private onSuback(p: SubackPacket): void {
    this.debug('received SUBACK');
    if (this.events.onSubscribe !== undefined) this.events.onSubscribe(p.messageId ?? 0, p.granted as number[]);
  }

  private onUnsuback(p: UnsubackPacket): void {
    this.debug('received UNSUBACK');
    if (this.events.onUnsubscribe !== undefined) this.events.onUnsubscribe(p.messageId ?? 0);
  }

  private onClosed(err: Error | undefined): void {
    if (this.keepaliveTimer !== undefined) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
    this.connected = false;
    this.conn = undefined;
    this.events.onClose(this.disconnecting, err);
  }
}
