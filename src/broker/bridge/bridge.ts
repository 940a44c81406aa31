/**
 * One bridge (a `connection` section of mosquitto.conf): a client of the remote broker run
 * by the client engine. It connects to address/addresses, subscribes there to the `in`
 * and `both` topics and publishes what arrives into the local broker (inbound.ts); local
 * messages on the `out` and `both` topics (the plugin matches them) go to the remote
 * broker through its outgoing side (outgoing.ts). It publishes the notification state,
 * reconnects after restart_timeout, and starts as start_type says: at once (automatic,
 * once) or when enough messages wait (lazy).
 */
import { dial } from '../../net/dial.js';
import type { Connection } from '../../net/connection.js';
import type { PublishPacket, QoS } from '../../protocol/index.js';
import { MqttClient, type ClientEvents } from '../../client/mqtt-client.js';
import { connackString, reasonString } from '../../client/reason-strings.js';
import type { BridgeConfig } from '../config/types.js';
import { LogType } from '../log.js';
import { Message } from '../message.js';
import type { Subscriber } from '../router.js';
import { BridgeSession } from './bridge-session.js';
import { BridgeOutgoing, type OutgoingLink } from './outgoing.js';
import { AddressProbe, Backoff } from './restart.js';
import { Attempts } from './attempts.js';
import { BridgeLog } from './bridge-log.js';
import { clientOptions, dialErrorText, dialOptions, protocolLevel } from './remote-options.js';
import { toLocal, topicMap, type TopicMap } from './topic-map.js';
import { subscribeRemote } from './remote-subscribe.js';
import { publishFromRemote } from './inbound.js';
import type { BrokerCore } from '../core.js';

type State = 'idle' | 'connecting' | 'connected' | 'waiting' | 'stopped';

export class Bridge implements Subscriber, OutgoingLink {
  /** The bridge's client id on the local broker (local_clientid): its messages are not sent back. */
  readonly clientId: string;
  readonly config: BridgeConfig;
  private readonly broker: BrokerCore;
  private readonly map: TopicMap;
  /** Local messages on their way to the remote broker (outgoing.ts). */
  private readonly out: BridgeOutgoing;
  private readonly version: 3 | 4 | 5;
  private client: MqttClient | undefined;
  private conn: Connection | undefined;
  state: State = 'idle';
  /** Index into config.addresses of the address in use or tried next. */
  addressIndex = 0;
  private readonly attempts = new Attempts();
  private readonly lines: BridgeLog;
  private readonly backoff: Backoff;
  /** try_private until the remote refuses the bridge bit (CONNACK 1). */
  private privateAccepted = true;
  /** Unix ms of the last message in either direction (lazy bridges' idle_timeout). */
  /** A lazy bridge logged step 1 at start; its first connection goes on with step 2. */
  private step1Done = false;
  private lastActivity = 0;
  /** The notification last published locally. */
  private localState: string | undefined;
  /** Connected to a secondary address: when to look for the main one again (round_robin false). */
  private nextPrimaryProbe = 0;
  private readonly probe = new AddressProbe();
  /** Set when the main address answered: reconnect there at once. */
  private switchToPrimary = false;
  private closed: (() => void) | undefined;

  constructor(broker: BrokerCore, config: BridgeConfig) {
    this.broker = broker;
    this.config = config;
    this.clientId = config.localClientid;
    this.map = topicMap(config.topics);
    this.version = protocolLevel(config);
    this.backoff = new Backoff(config.restartTimeout);
    this.lines = new BridgeLog(broker.log, this.clientId);
    this.out = new BridgeOutgoing(broker, config, this.map, this.version, this.lines, this);
  }

  private get log() {
    return this.broker.log;
  }

  get localClean(): boolean {
    return this.config.localCleansession ?? this.config.cleansession;
  }

  /**
   * Before the broker starts, after persistence restored its state: with persistence, a
   * cleansession false bridge keeps its local session there (and gets back what the last
   * run held or had in flight); a clean one discards what an earlier run left.
   */
  openSession(persists: boolean): void {
    if (!persists) return;
    if (this.localClean) {
      BridgeSession.discard(this.broker, this.clientId);
      return;
    }
    this.out.restore(BridgeSession.open(this.broker, this.clientId, this.config.localUsername ?? undefined));
  }

  /** With the broker: automatic and once connect now, lazy waits for its threshold. */
  start(): void {
    const b = this.config;
    const held = this.out.outbox.length;
    if (b.startType !== 'lazy' || (held > 0 && held >= b.threshold)) {
      this.connect();
      return;
    }
    // As Mosquitto, a lazy bridge does step 1 at start and step 2 once its threshold is met.
    this.lines.step1(b, b.addresses[this.addressIndex]);
    this.step1Done = true;
  }

  connect(): void {
    if (this.state === 'stopped' || this.state === 'connecting' || this.state === 'connected') return;
    this.attempts.cancelRestart();
    const b = this.config;
    const addr = b.addresses[this.addressIndex];
    this.state = 'connecting';
    if (this.step1Done) this.step1Done = false;
    else this.lines.step1(b, addr);
    this.lines.step2(b, addr);
    const options = dialOptions(b, addr, this.broker.options.setTcpNodelay);
    const attempt = this.attempts.begin(b.keepaliveInterval, (n) => this.attemptTimedOut(n));
    dial(options, (err, conn) => {
      if (this.state === 'stopped' || !this.attempts.isCurrent(attempt)) {
        conn?.destroy();
        return;
      }
      if (err !== undefined || conn === undefined) {
        this.attempts.settle();
        this.log.error(`Error creating bridge: ${dialErrorText(err ?? new Error('unknown error'))}.`);
        this.failed();
        return;
      }
      this.attach(conn);
    });
  }

  private attach(conn: Connection): void {
    const b = this.config;
    const maxInflight = this.broker.options.maxInflightMessages > 0 ? Math.min(this.broker.options.maxInflightMessages, 65535) : 65535;
    // A clean local session (local_cleansession) forgets what was in flight with the connection.
    if (this.client === undefined || this.localClean) {
      const opts = clientOptions(b, maxInflight, b.tryPrivate && this.privateAccepted);
      if (this.log.enabled(LogType.Debug)) opts.debug = (line) => this.lines.engineLine(line);
      this.client = new MqttClient(opts, this.events());
    } else {
      this.client.options.bridgeMode = b.tryPrivate && this.privateAccepted && this.version !== 5 ? true : undefined;
    }
    this.conn = conn;
    // What the bridge acknowledges to the remote goes out after the journal is on disk.
    conn.flushGate = this.broker;
    if (this.log.enabled(LogType.Debug)) this.log.debug(`Bridge ${b.remoteClientid} sending CONNECT`);
    this.client.start(conn);
  }

  private events(): ClientEvents {
    const persisted = this.out.persisted;
    const events: ClientEvents = {
      onConnect: (code, _present, props) => this.onConnack(code, props?.maximumPacketSize),
      onMessage: (p) => this.onRemoteMessage(p),
      onSubscribe: () => this.lines.received('SUBACK'),
      onUnsubscribe: () => this.lines.received('UNSUBACK'),
      onClose: () => this.onConnectionClosed(),
    };
    // Under persistence, an acknowledged message leaves the journaled session.
    if (persisted !== undefined) {
      events.onPublish = (mid) => persisted.completed(mid);
      events.onPubrec = (mid) => persisted.released(mid);
    }
    return events;
  }

  /** No connection or no CONNACK within keepalive_interval. */
  private attemptTimedOut(attempt: number): void {
    if (!this.attempts.isCurrent(attempt) || this.state !== 'connecting') return;
    if (this.conn !== undefined) {
      this.conn.destroy();
      return;
    }
    this.attempts.abandon();
    this.log.error('Error creating bridge: Connection timed out.');
    this.failed();
  }

  private onConnack(code: number, maxPacket: number | undefined): void {
    this.attempts.settle();
    const client = this.client!;
    const b = this.config;
    if (this.log.enabled(LogType.Debug)) this.log.debug(`Received CONNACK on connection ${this.clientId}.`);
    if (code !== 0) {
      this.log.error(this.version === 5 ? `Connection Refused: ${reasonString(code)}` : connackString(code).replace(/\.$/, ''));
      // A broker that does not know the bridge bit refuses the protocol level: try without.
      if (this.version !== 5 && code === 1 && client.options.bridgeMode === true) this.privateAccepted = false;
      this.conn?.destroy();
      return;
    }
    this.state = 'connected';
    this.backoff.reset();
    this.lastActivity = Date.now();
    this.nextPrimaryProbe = Date.now() + b.restartTimeout.base * 1000;
    const limits = [b.maxPacketSize, maxPacket ?? 0].filter((n) => n > 0);
    this.out.connected(client, limits.length > 0 ? Math.min(...limits) : 0);
    if (b.notifications) {
      if (!b.notificationsLocalOnly) client.publish(b.notificationTopic, Buffer.from('1'), 1, true);
      this.notifyLocal('1');
    }
    subscribeRemote(client, b, this.version === 5, this.log, this.clientId);
    // After the SUBSCRIBEs, as Mosquitto: what was in flight, then what was held.
    client.resendInflight();
    this.out.sendHeld();
  }

  /** A local message for the remote broker (the plugin matched it against the out topics). */
  forward(msg: Message, qos: QoS): void {
    this.out.forward(msg, qos);
  }

  /** A message went to the remote broker. */
  touch(): void {
    this.lastActivity = Date.now();
  }

  /** A message from the remote broker: remapped, then published locally as the bridge's local client. */
  private onRemoteMessage(p: PublishPacket): void {
    this.lastActivity = Date.now();
    publishFromRemote(this.broker, p, toLocal(this.map, p.topic), this.clientId, this.config.localUsername ?? undefined, this.lines);
  }

  private notifyLocal(state: '0' | '1'): void {
    if (!this.config.notifications || this.localState === state) return;
    this.localState = state;
    const msg = new Message(this.config.notificationTopic, Buffer.from(state), 1, true, undefined, this.clientId, undefined);
    this.broker.publish(msg, this.clientId);
  }

  private onConnectionClosed(): void {
    this.lines.flushAckLine();
    this.attempts.settle();
    this.conn = undefined;
    this.probe.stop();
    // Logged at shutdown too, as Mosquitto does when it disconnects its bridges.
    if (this.log.connectionMessages) this.log.notice(`Client ${this.clientId} closed its connection.`);
    if (this.state === 'stopped') {
      this.closed?.();
      return;
    }
    if (this.localClean) this.client = undefined;
    this.failed();
  }

  /** The attempt failed or the connection ended: the next address, then a restart as start_type says. */
  private failed(): void {
    const b = this.config;
    this.notifyLocal('0');
    if (this.switchToPrimary) {
      this.switchToPrimary = false;
      this.addressIndex = 0;
      this.state = 'waiting';
      this.connectLater(0);
      return;
    }
    if (b.addresses.length > 1) this.addressIndex = (this.addressIndex + 1) % b.addresses.length;
    if (b.startType === 'once' || b.startType === 'lazy') {
      // once: never again; lazy: when the threshold is reached again.
      this.state = 'idle';
      if (b.startType === 'once') this.state = 'stopped';
      return;
    }
    this.state = 'waiting';
    this.connectLater(this.backoff.next());
  }

  private connectLater(seconds: number): void {
    this.attempts.restartIn(seconds, () => {
      if (this.state === 'waiting') {
        this.state = 'idle';
        this.connect();
      }
    });
  }

  /** Once a second: a lazy bridge's idle_timeout, and the main address while on a secondary one. */
  tick(now: number): void {
    const b = this.config;
    if (this.state !== 'connected') return;
    if (b.startType === 'lazy' && now - this.lastActivity > b.idleTimeout * 1000) {
      this.log.notice(`Bridge ${this.clientId} idle timeout reached, disconnecting.`);
      this.client?.end();
      return;
    }
    if (!b.roundRobin && this.addressIndex !== 0 && !this.probe.running && now >= this.nextPrimaryProbe) {
      // round_robin false: while on a secondary address, see whether the main one is back.
      this.nextPrimaryProbe = now + b.restartTimeout.base * 1000;
      this.probe.start(b.addresses[0], () => {
        if (this.state !== 'connected') return;
        this.switchToPrimary = true;
        this.client?.end();
      });
    }
  }

  /**
   * With the broker. As Mosquitto, the connection just closes (no DISCONNECT), so the
   * remote broker publishes the will: the notification "0".
   */
  stop(): Promise<void> {
    const wasOpen = this.conn !== undefined;
    this.state = 'stopped';
    this.attempts.cancelRestart();
    this.probe.stop();
    this.attempts.settle();
    if (!wasOpen) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.conn?.destroy();
        resolve();
      }, 1000);
      timer.unref();
      this.closed = () => {
        clearTimeout(timer);
        resolve();
      };
      this.client?.end();
    });
  }
}
