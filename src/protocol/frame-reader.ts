/**
 * MQTT framing of an inbound byte stream (MQTT-2.1): chunks as they arrive are split into
 * whole frames (fixed header, remaining length as a variable byte integer), a frame still
 * arriving is gathered and joined once, and each frame is decoded (fast-decode.ts) and
 * handed to the packet handler.
 *
 * A base class rather than an object the connection holds, so that the bytes go from the
 * socket's 'data' event to the handler without another hop per chunk or per packet; the
 * transport (net/connection.ts) extends it and says what a protocol error does.
 */
import {
  decodePublish,
  decodePublishV5,
  decodeSmall,
  parseFrame,
  REQUIRED_FLAGS,
  willPropertiesOf,
} from './fast-decode.js';
import { decodeConnect } from './connect-decode.js';
import type { Packet, ProtocolVersion } from './packets.js';
import { decodeProperties, PropertyError, readVarint } from './properties.js';

/** The error a server's reader gives for a first packet that is not CONNECT. */
export const FIRST_NOT_CONNECT = 'First packet must be CONNECT';

/** Who gets the decoded packets. */
export interface PacketHandler {
  onPacket(packet: Packet): void;
}

/** Where decoded packets are counted ($SYS/broker/messages/received). */
export interface PacketCounters {
  messagesReceived: number;
}

/** Packet types whose reserved flag bits Mosquitto does not look at: PUBACK, PUBREC, PUBCOMP, PINGREQ. */
const IGNORED_FLAGS = [false, false, false, false, true, true, false, true, false, false, false, false, true, false, false, false];

/** Packet types whose flag bits Mosquitto does not check at MQTT 3.1: PUBREL, SUBSCRIBE, UNSUBSCRIBE. */
const LEVEL3_UNCHECKED = [false, false, false, false, false, false, true, false, true, false, true, false, false, false, false, false];

export abstract class FrameReader<H extends PacketHandler = PacketHandler> {
  /** Largest inbound packet accepted (remaining length), 0 for the protocol maximum. */
  maxInboundPacket = 0;
  /**
   * A server's reader sets this: the first frame must be CONNECT (MQTT-3.1.0-1), and any
   * other is refused on its first byte, before a length header it carries can make the
   * reader wait for (and hold) its bytes. Cleared by the first whole frame.
   */
  connectFirst = false;
  /** No more frames are read once set. */
  closed = false;
  /** Where packets in (and, for the transport, bytes in and out) are counted, if anywhere. */
  counters: PacketCounters | undefined;
  /** The packet type (first byte >> 4) of the frame read last: what a protocol error was about. */
  frameType = -1;
  protected handler: H;
  protected version: ProtocolVersion = 4;
  /** A frame still arriving: its chunks so far, their length, and the frame's length once known. */
  // Made when a frame spans chunks: an idle connection holds no array.
  private parts: Buffer[] | null = null;
  private partLen = 0;
  private partNeed = 0;
  /** Set by hold(): what arrives is kept unread, in order, until release(). */
  protected holding = false;

  /** Bytes of a frame that has begun to arrive and is not yet whole. */
  get partialBytes(): number {
    return this.partLen;
  }

  constructor(handler: H) {
    this.handler = handler;
  }

  /** A malformed or oversized packet: no further frame is read from this stream. */
  protected abstract protocolError(err: Error): void;

  /**
   * Stops reading after the frame being handled: the rest of its chunk, and the chunks
   * that follow, are kept as they are (not split, not decoded, no error found in them yet)
   * until release(). For a handler that must finish something later before the next packet
   * may be read, without holding decoded packets aside or hearing of a bad one too early.
   */
  hold(): void {
    this.holding = true;
  }

  /** Reads what was kept since hold(), as if it arrived now; true if at least one whole packet was read. */
  release(): boolean {
    if (!this.holding) return false;
    this.holding = false;
    if (this.partLen === 0 || this.closed) return false;
    // A frame still incomplete before the hold stays gathered as it was.
    if (this.partNeed > 0 && this.partLen < this.partNeed) return false;
    const parts = this.parts!;
    const buf = parts.length === 1 ? parts[0] : Buffer.concat(parts, this.partLen);
    this.parts = null;
    this.partLen = 0;
    this.partNeed = 0;
    return this.frames(buf);
  }

  /** Takes the next chunk of the stream; true if at least one whole packet was read. */
  protected readChunk(chunk: Buffer): boolean {
    let buf = chunk;
    if (this.partLen > 0) {
      // A frame is still arriving: gather chunks until it is whole, then join them once.
      this.parts!.push(chunk);
      this.partLen += chunk.length;
      if (this.partNeed > 0 && this.partLen < this.partNeed) return false;
      buf = Buffer.concat(this.parts!, this.partLen);
      this.parts = null;
      this.partLen = 0;
      this.partNeed = 0;
    }
    return this.frames(buf);
  }

  /**
   * Splits whole MQTT frames out of the buffer (MQTT-2.1: fixed header, remaining length as
   * a variable byte integer). The common packets are decoded straight from the chunk; the
   * rest go to mqtt-packet's parser one whole frame at a time.
   */
  private frames(buf: Buffer): boolean {
    const len = buf.length;
    const max = this.maxInboundPacket;
    let pos = 0;
    while (pos < len && !this.closed && !this.holding) {
      let b0 = buf[pos];
      if ((b0 & 0x0f) !== 0 && IGNORED_FLAGS[b0 >> 4] && this.frameType !== -1) {
        // Mosquitto 2.0.11 reads PUBACK, PUBREC, PUBCOMP and PINGREQ whatever their reserved
        // flag bits say (checked against it): they are cleared and the packet read as usual.
        // Not the first packet: garbage before CONNECT is refused on its first byte.
        b0 &= 0xf0;
        buf[pos] = b0;
      }
      if (this.version === 3 && (b0 & 0x0f) !== 2 && LEVEL3_UNCHECKED[b0 >> 4]) {
        // MQTT 3.1 had no rule for these flag bits (a PUBREL may carry DUP): Mosquitto reads
        // PUBREL, SUBSCRIBE and UNSUBSCRIBE from a 3.1 client whatever they say.
        b0 = (b0 & 0xf0) | 2;
        buf[pos] = b0;
      }
      this.frameType = b0 >> 4;
      if (this.connectFirst && b0 >> 4 !== 1) {
        this.protocolError(new Error(FIRST_NOT_CONNECT));
        return pos > 0;
      }
      let i = pos + 1;
      let rl = 0;
      let mul = 1;
      let complete = false;
      for (let n = 0; n < 4 && i < len; n++) {
        const b = buf[i++];
        rl += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
        if (n === 3) {
          // MQTT-1.5.5: at most four bytes.
          this.protocolError(new Error('Invalid variable byte integer'));
          return pos > 0;
        }
      }
      if (!complete) break;
      if ((b0 & 0x0f) !== REQUIRED_FLAGS[b0 >> 4] && b0 >> 4 !== 3) {
        // MQTT-2.2.2-2: reserved flag bits wrong (or type 0): refused once its length is
        // read (as Mosquitto, which first refuses a length over four bytes), before its
        // body, with mqtt-packet's own words for it.
        this.slowParse(buf.subarray(pos, pos + 1));
        if (!this.closed) this.protocolError(new Error('Invalid header flag bits'));
        return pos > 0;
      }
      const end = i + rl;
      if (max > 0 && end - pos > max) {
        // Refused as soon as its length is known, before its bytes pile up in memory.
        this.protocolError(new Error('packet too large'));
        return pos > 0;
      }
      if (end > len) {
        this.partNeed = end - pos;
        break;
      }
      this.connectFirst = false;
      this.dispatch(buf, pos, i, end);
      pos = end;
    }
    if (pos < len && !this.closed) {
      (this.parts ??= []).push(pos === 0 ? buf : buf.subarray(pos));
      this.partLen = len - pos;
    }
    return pos > 0;
  }

  private dispatch(buf: Buffer, start: number, body: number, end: number): void {
    const b0 = buf[start];
    const type = b0 >> 4;
    let packet: Packet | undefined;
    if (type === 3) {
      if (((b0 >> 1) & 3) === 3) {
        this.protocolError(new Error('Packet must not have both QoS bits set to 1'));
        return;
      }
      if (this.version === 5) {
        // Decoded here too, so that user properties keep their order.
        try {
          packet = decodePublishV5(buf, start, body, end) as Packet;
        } catch (err) {
          if (!(err instanceof PropertyError)) throw err;
          this.protocolError(err);
          return;
        }
      } else packet = decodePublish(buf, start, body, end);
    } else if (type === 1) packet = decodeConnect(buf, body, end);
    else packet = decodeSmall(buf, b0, body, end - body, this.version);
    if (packet === undefined) {
      // Everything else, and anything unusual, through mqtt-packet: one whole frame.
      const frame = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
      if (type === 1) this.connect(frame);
      else this.slowParse(frame);
      return;
    }
    if (this.counters !== undefined) this.counters.messagesReceived++;
    this.handler.onPacket(packet);
  }

  /**
   * CONNECT through mqtt-packet; for MQTT 5 the will's user properties are then read
   * again from the frame, in wire order (mqtt-packet groups them by name).
   */
  private connect(frame: Buffer): void {
    const c = this.parseOne(frame) as Extract<Packet, { cmd: 'connect' }> | undefined;
    if (c === undefined) return;
    if (c.protocolVersion === 5 && c.will?.properties !== undefined) {
      try {
        const props = willPropertiesOf(frame);
        if (props !== undefined) {
          c.will.properties = props.properties;
          c.will.storedProperties = props.stored;
        }
      } catch (err) {
        if (!(err instanceof PropertyError)) throw err;
        this.protocolError(err);
        return;
      }
    }
    if (this.counters !== undefined) this.counters.messagesReceived++;
    this.handler.onPacket(c);
  }

  /** One whole frame through mqtt-packet's parser of this protocol version. */
  private slowParse(frame: Buffer): void {
    const packet = this.parseOne(frame);
    if (packet === undefined) return;
    if (this.counters !== undefined) this.counters.messagesReceived++;
    this.handler.onPacket(packet);
  }

  /** Parses one whole frame with mqtt-packet; undefined after a protocol error. */
  private parseOne(frame: Buffer): Packet | undefined {
    const r = parseFrame(frame, this.version);
    if (r instanceof Error) {
      if (r.message === 'Unknown property') unknownPropertyOf(frame, r);
      this.protocolError(r);
      return undefined;
    }
    return r;
  }
}

/**
 * mqtt-packet's 'Unknown property' does not say which: for a SUBSCRIBE or UNSUBSCRIBE
 * (properties right after the packet id) the identifier is found again and set on the
 * error as a PropertyError's `identifier`, for the broker's log line.
 */
function unknownPropertyOf(frame: Buffer, err: Error): void {
  const type = frame[0] >> 4;
  if (type !== 8 && type !== 10) return;
  try {
    let pos = 1;
    while (pos < frame.length && (frame[pos] & 0x80) !== 0) pos++;
    const [len, start] = readVarint(frame, pos + 3, frame.length);
    decodeProperties(frame, start, Math.min(frame.length, start + len));
  } catch (e) {
    if (e instanceof PropertyError && e.identifier !== undefined) (err as { identifier?: number }).identifier = e.identifier;
  }
}
