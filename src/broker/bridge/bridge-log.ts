/**
 * A bridge's log lines in Mosquitto's words: the "Connecting bridge (step 1/2)" lines, and
 * the client engine's lines about acknowledgements reworded as Mosquitto's broker words
 * them for a bridge ("Received PUBACK from local.host.b1 (Mid: 3, RC:0)"); the engine's
 * other lines (CONNECT, SUBSCRIBE, PUBLISH) are logged by the bridge itself.
 */
import type { BridgeAddress, BridgeConfig } from '../config/types.js';
import { LogType, type Log } from '../log.js';
import { publishLogLine } from '../publish-log.js';
import type { HeldMessage } from './outbox.js';
import { localSubscriptions } from './topic-map.js';

/** An acknowledgement line of the client engine: "Client ID received PUBACK (Mid: 3, RC:0)". */
const ACK_LINE = /^Client \S* (received|sending) (PUBACK|PUBREC|PUBREL|PUBCOMP) \((.*)\)$/;
/** The engine answering the remote's PINGREQ: "Client ID received PINGREQ", "... sending PINGRESP". */
const PING_LINE = /^Client \S* (received PINGREQ|sending PINGRESP)$/;

export class BridgeLog {
  /** A "Sending PUBACK/PUBREC/PUBCOMP" line waiting for the "Received PUBLISH" it answers. */
  private pendingAckLine: string | undefined;

  constructor(
    private readonly log: Log,
    private readonly clientId: string,
  ) {}

  /** The local subscriptions and "step 1" lines of a connection attempt. */
  step1(b: BridgeConfig, addr: BridgeAddress): void {
    if (this.log.enabled(LogType.Debug)) {
      for (const s of localSubscriptions(b.topics)) this.log.debug(`Bridge ${this.clientId} doing local SUBSCRIBE on topic ${s.topic}`);
    }
    this.log.notice(`Connecting bridge (step 1) ${b.name} (${addr.host}:${addr.port})`);
  }

  step2(b: BridgeConfig, addr: BridgeAddress): void {
    this.log.notice(`Connecting bridge (step 2) ${b.name} (${addr.host}:${addr.port})`);
  }

  /** A debug line of the client engine. */
  engineLine(line: string): void {
    const ping = PING_LINE.exec(line);
    if (ping !== null) {
      this.log.debug(ping[1] === 'received PINGREQ' ? `Received PINGREQ from ${this.clientId}` : `Sending PINGRESP to ${this.clientId}`);
      return;
    }
    const m = ACK_LINE.exec(line);
    if (m === null) return;
    this.flushAckLine();
    if (m[1] === 'received') this.log.debug(`Received ${m[2]} from ${this.clientId} (${m[3]})`);
    // The engine acknowledges an incoming PUBLISH before handing it over; Mosquitto logs
    // "Received PUBLISH" first, so the acknowledgement's line waits for that one.
    else this.pendingAckLine = `Sending ${m[2]} to ${this.clientId} (${m[3]})`;
  }

  flushAckLine(): void {
    const line = this.pendingAckLine;
    if (line === undefined) return;
    this.pendingAckLine = undefined;
    this.log.debug(line);
  }

  /** A SUBACK or UNSUBACK from the remote broker. */
  received(packet: 'SUBACK' | 'UNSUBACK'): void {
    if (this.log.enabled(LogType.Debug)) this.log.debug(`Received ${packet} from ${this.clientId}`);
  }

  /** A held message handed to the client engine under `mid`: its PUBLISH, or its PUBREL when it was released before. */
  sent(m: HeldMessage, mid: number): void {
    if (m.released === true && mid === m.resendMid) this.log.debug(`Sending PUBREL to ${this.clientId} (m${mid})`);
    else this.log.debug(publishLogLine('Sending PUBLISH to', this.clientId, m.resendMid === mid, m.qos, m.retain, m.qos === 0 ? 0 : mid, m.topic, m.payload.length));
  }
}
