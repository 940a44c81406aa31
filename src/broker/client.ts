/**
 * One network client of the broker: the connection, the CONNECT state machine, and the
 * dispatch of each inbound packet to its handler (handlers/<packet>.ts).
 */
import type { Connection, ConnectionHandler } from '../net/index.js';
import { PACKET_ID_MISSING, ReasonCode, type Packet, type ProtocolVersion } from '../protocol/index.js';
import { ClientState, PauseOwner, type BrokerCore, type ClientContext, type CloseCause, type ListenerRuntime, type Session } from './core.js';
import { LogType } from './log.js';
import type { Message } from './message.js';
import { handleConnect, handleBadProtocolVersion } from './handlers/connect.js';
import { handlePublish } from './handlers/publish.js';
import { handlePuback } from './handlers/puback.js';
import { handlePubrec } from './handlers/pubrec.js';
import { handlePubrel } from './handlers/pubrel.js';
import { handlePubcomp } from './handlers/pubcomp.js';
import { handleSubscribe } from './handlers/subscribe.js';
import { handleUnsubscribe } from './handlers/unsubscribe.js';
import { handlePingreq } from './handlers/pingreq.js';
import { handleDisconnect } from './handlers/disconnect.js';
import { handleAuth } from './handlers/auth.js';
import { sendDisconnect, sendErrorDisconnect } from './send/packets.js';

/** Packets a client may send while its password is verified before its socket is paused. */
const PENDING_BEFORE_PAUSE = 16;

/** The one implementation of ClientContext (core.ts), fed by its Connection. */
export class Client implements ConnectionHandler, ClientContext {
  readonly broker: BrokerCore;
  readonly conn: Connection;
  readonly listener: ListenerRuntime;
  state = ClientState.New;
  /** The client id once known; '' before CONNECT. */
  clientId = '';
  username: string | undefined;
  protocolVersion: ProtocolVersion = 4;
  keepalive = 0;
  /** The keepalive the client asked for in CONNECT (what Mosquitto's connect line shows). */
  requestedKeepalive = 0;
  session: Session | null = null;
  will: Message | null = null;
  /** MQTT 5 will delay interval, seconds. */
  willDelay = 0;
  cause: CloseCause | undefined;
  /** Min of max_inflight_messages and the client's receive maximum (MQTT 5). */
  inflightLimit = 20;
  /** Largest packet the client accepts (MQTT 5 Maximum Packet Size), 0 for no limit. */
  maxOutboundPacket = 0;
  /** MQTT 5 topic aliases the client has set, inbound (MQTT-3.3.2-7). */
  topicAliases: Map<number, string> | undefined;
  /** MQTT 5 Topic Alias Maximum the client accepts from us (CONNECT property). */
  topicAliasMaxOut = 0;
  /** Topic aliases we have set towards the client. */
  outAliases: Map<string, number> | undefined;
  /** MQTT 5 Request Problem Information: false forbids reason strings on most packets. */
  problemInformation = true;
  /** MQTT 5 enhanced authentication: the method, what to do when it ends, the step count. */
  authMethod: string | undefined;
  authDone: ((ok: boolean) => void) | undefined;
  authStep = 0;
  /** Authentication data for the CONNACK (or final AUTH) that ends an exchange. */
  authData: Buffer | undefined;
  /** Packets received while CONNECT is being authenticated. */
  pending: Packet[] | undefined;
  readonly connectedAt = Date.now();
  /** MQTT 5 session expiry requested in CONNECT. */
  sessionExpiry = 0;
  cleanStart = true;
  /** MQTT 5 DISCONNECT reason received from the client. */
  disconnectReason = 0;
  /**
   * A bridge: CONNECT came with the top bit of a 3.1/3.1.1 protocol level set (0x83, 0x84,
   * a Mosquitto bridge's try_private). Its subscriptions get No Local and Retain As
   * Published, as Mosquitto gives them, so what it publishes is not sent back to it.
   */
  isBridge = false;

  constructor(broker: BrokerCore, conn: Connection, listener: ListenerRuntime) {
    this.broker = broker;
    this.conn = conn;
    this.listener = listener;
    conn.setHandler(this);
  }

  /** The name used in log lines: the client id, or <unknown> before CONNECT. */
  get id(): string {
    return this.clientId === '' ? '<unknown>' : this.clientId;
  }

  get active(): boolean {
    return this.state === ClientState.Active;
  }

  get mountPoint(): string | undefined {
    return this.listener.settings.mountPoint;
  }

  get address(): string {
    return this.conn.remoteAddress;
  }

  onPacket(packet: Packet): void {
    const maxIn = this.conn.maxInboundPacket;
    if (maxIn > 0 && packetSize(packet) > maxIn) {
      // max_packet_size: a packet that arrived whole in one chunk (the connection refuses
      // the others while they are still arriving).
      this.onProtocolError(new Error('packet too large'));
      this.close();
      return;
    }
    switch (this.state) {
      case ClientState.Active:
        break;
      case ClientState.New:
        if (packet.cmd !== 'connect') {
          // MQTT-3.1.0-1: the first packet must be CONNECT.
          this.protocolError();
          return;
        }
        this.isBridge = (packet as { bridgeMode?: boolean }).bridgeMode === true && packet.protocolVersion !== 5;
        handleConnect(this.broker, this, packet);
        return;
      case ClientState.Authenticating:
        if (packet.cmd === 'auth') {
          handleAuth(this.broker, this, packet);
          return;
        }
        (this.pending ??= []).push(packet);
        // While a password is verified or plugins prepare (the wait is ours, and its end
        // resumes the socket: connect.ts), a client that keeps sending is stopped after a few packets. Not paused
        // at once: most clients send nothing before their CONNACK, and a pause and resume
        // cost two system calls per connect. An MQTT 5 AUTH exchange waits on the client,
        // whose AUTH must still be read.
        if (this.pending.length === PENDING_BEFORE_PAUSE && this.authMethod === undefined) this.conn.pause(PauseOwner.Connecting);
        return;
      default:
        return;
    }
    const b = this.broker;
    switch (packet.cmd) {
      case 'publish':
        handlePublish(b, this, packet);
        break;
      case 'puback':
        handlePuback(b, this, packet);
        break;
      case 'pubrec':
        handlePubrec(b, this, packet);
        break;
      case 'pubrel':
        handlePubrel(b, this, packet);
        break;
      case 'pubcomp':
        handlePubcomp(b, this, packet);
        break;
      case 'subscribe':
        handleSubscribe(b, this, packet);
        break;
      case 'unsubscribe':
        handleUnsubscribe(b, this, packet);
        break;
      case 'pingreq':
        handlePingreq(b, this);
        break;
      case 'disconnect':
        handleDisconnect(b, this, packet);
        break;
      case 'auth':
        handleAuth(b, this, packet);
        break;
      case 'connect':
        // MQTT-3.1.0-2: a second CONNECT is a protocol violation; Mosquitto closes without
        // a DISCONNECT, at MQTT 5 too.
        b.log.notice(`Bad client ${this.id} sending multiple CONNECT messages.`);
        this.disconnect('protocol');
        break;
      case 'suback':
      case 'unsuback':
        // Never sent to a server, but Mosquitto 2.0.11 reads them (its bridge's handlers),
        // logs them and carries on; so do we. An MQTT 5 SUBACK without a reason code is a
        // protocol error to it.
        b.log.debug(`Received ${packet.cmd === 'suback' ? 'SUBACK' : 'UNSUBACK'} from ${this.id}`);
        if (packet.cmd === 'suback' && this.protocolVersion === 5 && packet.granted.length === 0) this.disconnect('protocol');
        break;
      case 'pingresp':
        break;
      default:
        // A CONNACK: Mosquitto closes as a protocol error, without a DISCONNECT at MQTT 5.
        this.disconnect('protocol');
    }
  }

  /** Processes the packets that arrived while CONNECT was being authenticated. */
  drainPending(): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending === undefined) return;
    for (const p of pending) {
      if (this.state !== ClientState.Active) return;
      this.onPacket(p);
    }
  }

  onProtocolError(err: Error): void {
    if (this.state === ClientState.Closed) return;
    if (this.state === ClientState.New && err.message === 'Invalid protocol version') {
      handleBadProtocolVersion(this.broker, this);
      return;
    }
    this.cause = this.state === ClientState.New ? 'protocol' : 'malformed';
    // max_packet_size: Mosquitto's "disconnected due to oversize packet", 0x95 for MQTT 5.
    if (err.message === 'packet too large') this.cause = 'oversize';
    if (this.state === ClientState.Active) {
      // Mosquitto 2.0's verdicts and words for what mqtt-packet's parser refuses.
      const log = this.broker.log;
      switch (err.message) {
        case 'Invalid variable byte integer': // remaining length over four bytes
        case PACKET_ID_MISSING: // Mosquitto: a PUBACK/PUBREL/... shorter than its packet id
        case 'Invalid header flag bits, must be 0x2 for pubrel packet':
          this.cause = 'protocol';
          break;
        case 'Packet must not have both QoS bits set to 1':
          log.info(`Invalid QoS in PUBLISH from ${this.id}, disconnecting.`);
          break;
      }
      // Mosquitto logs a SUBSCRIBE or UNSUBSCRIBE as received before it reads any of it.
      const type = this.conn.frameType;
      if ((type === 8 || type === 10) && log.enabled(LogType.Debug)) {
        log.debug(`Received ${type === 8 ? 'SUBSCRIBE' : 'UNSUBSCRIBE'} from ${this.id}`);
      }
      // An identifier no property has (MQTT 5.0 2.2.2.2): Mosquitto names it.
      const unknown = (err as { identifier?: number }).identifier;
      if (unknown !== undefined && log.enabled(LogType.Debug)) log.debug(`Unsupported property type: ${unknown}`);
      if (err.message === 'Invalid subscribe QoS, must be <= 2') {
        log.info(`Invalid QoS in subscription command from ${this.address}, disconnecting.`);
      }
    }
    if (this.protocolVersion === 5 && this.state === ClientState.Active) {
      const reason = err.message === 'packet too large' ? ReasonCode.PacketTooLarge : disconnectReasonFor(this.conn.frameType, err);
      if (reason !== undefined) sendErrorDisconnect(this, reason);
    }
  }

  onClose(err: Error | undefined): void {
    // A reset by the peer is an ordinary close to Mosquitto ("closed its connection").
    if (this.cause === undefined) {
      this.cause = err !== undefined && (err as NodeJS.ErrnoException).code !== 'ECONNRESET' ? 'socket-error' : 'closed';
      // Closed in the middle of a packet: Mosquitto 2.0.11 logs the errno of that read, none.
      if (this.cause === 'closed' && this.conn.partialBytes > 0) this.cause = 'closed-mid-packet';
    }
    this.state = ClientState.Closed;
    this.broker.clientClosed(this);
  }

  /** Ends the connection for a protocol violation (log line and will as Mosquitto). */
  protocolError(reason: number = ReasonCode.ProtocolError): void {
    if (this.state === ClientState.Closed) return;
    this.cause = 'protocol';
    if (this.protocolVersion === 5 && this.state === ClientState.Active) sendErrorDisconnect(this, reason);
    this.close();
  }

  /** Ends the connection for the given cause; the rest happens in onClose. */
  disconnect(cause: CloseCause, v5Reason?: number): void {
    if (this.state === ClientState.Closed) return;
    this.cause = cause;
    if (v5Reason !== undefined && this.protocolVersion === 5 && this.state === ClientState.Active) {
      // For a bad packet Mosquitto writes no 'Sending DISCONNECT' line, only the cause's.
      if (cause === 'malformed' || cause === 'protocol' || cause === 'oversize') sendErrorDisconnect(this, v5Reason);
      else sendDisconnect(this, v5Reason);
    }
    this.close();
  }

  close(): void {
    if (this.state !== ClientState.Closed) {
      this.state = ClientState.Closed;
    }
    this.conn.close();
  }
}

/**
 * The MQTT 5 DISCONNECT reason Mosquitto 2.0.11 sends for a packet it could not read, by
 * packet type (checked against it): 0x81 for a malformed PUBLISH, SUBSCRIBE or
 * UNSUBSCRIBE, 0x82 for the reserved type 0; nothing for the others (a malformed PUBACK,
 * PUBREL, DISCONNECT, CONNACK, ... just closes), nor for a remaining length over four bytes.
 */
function disconnectReasonFor(frameType: number, err: Error): number | undefined {
  if (err.message === 'Invalid variable byte integer') return undefined;
  if (frameType === 3 || frameType === 8 || frameType === 10) return ReasonCode.MalformedPacket;
  if (frameType === 0) return ReasonCode.ProtocolError;
  return undefined;
}

/** Whole size of a parsed packet: fixed header byte, remaining-length bytes, remaining length. */
function packetSize(packet: Packet): number {
  const rl = (packet as { length?: number }).length ?? 0;
  return 1 + (rl < 128 ? 1 : rl < 16384 ? 2 : rl < 2097152 ? 3 : 4) + rl;
}
