/**
 * One MQTT connection over any byte stream (TCP, TLS, unix socket, WebSocket stream):
 * whole socket chunks are split into frames here (the common packets decoded directly, the
 * rest by a shared mqtt-packet parser); outgoing buffers are queued and
 * written once per event-loop turn for all connections together; the caller sees the
 * socket's backlog to apply its own bounds; close is reported once, with a reason.
 */
import type { Duplex } from 'node:stream';
import {
  createParser,
  decodeProperties,
  encodePacket,
  PropertyError,
  PUBLISH_PROPERTY_IDS,
  WILL_PROPERTY_IDS,
  readVarint,
  storedPublishProperties,
  type Packet,
  type ProtocolVersion,
  type PublishPacket,
  type QoS,
} from '../protocol/index.js';

export interface ConnectionHandler {
  onPacket(packet: Packet): void;
  /** A malformed packet or an oversized one; the connection is already being closed. */
  onProtocolError(err: Error): void;
  /** Called once when the stream is gone. `err` is set when the stream failed. */
  onClose(err: Error | undefined): void;
  /** The socket accepted everything queued so far (after backpressure). */
  onDrain?(): void;
}

/** The stream pieces we use; net.Socket, tls.TLSSocket and ws streams all have them. */
export type ByteStream = Duplex & {
  remoteAddress?: string;
  remotePort?: number;
  localPort?: number;
  setNoDelay?(noDelay?: boolean): unknown;
};

/** Required low nibble of the first byte per packet type (MQTT-2.2.2); -1: type 0 is reserved. */
const REQUIRED_FLAGS = [-1, 0, 0, 0, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];

/**
 * The packets the connection does not decode itself go through a fresh mqtt-packet parser,
 * one whole frame at a time: CONNECT, SUBSCRIBE and the like are rare next to PUBLISH, and
 * an idle connection then holds no parser at all. (A parser is not shared: mqtt-packet
 * keeps state in it, the CONNECT it parsed among other things.)
 */
let parsedPacket: Packet | undefined;
let parseError: Error | undefined;

function parseFrame(frame: Buffer, version: ProtocolVersion): void {
  const parser = createParser(version);
  parser.on('packet', (packet: Packet) => {
    parsedPacket = packet;
  });
  parser.on('error', (err: Error) => {
    parseError ??= err;
  });
  parser.parse(frame);
}

const EMPTY_PAYLOAD = Buffer.alloc(0);

/** The will properties of an MQTT 5 CONNECT frame (MQTT-3.1.3.2), decoded in wire order. */
function willPropertiesOf(frame: Buffer): Record<string, unknown> | undefined {
  const end = frame.length;
  let pos = readVarint(frame, 1, end)[1];
  pos += 2 + frame.readUInt16BE(pos); // protocol name
  const flags = frame[pos + 1];
  pos += 4; // level, flags, keep alive
  if ((flags & 0x04) === 0) return undefined;
  let len: number;
  [len, pos] = readVarint(frame, pos, end);
  pos += len; // CONNECT properties
  pos += 2 + frame.readUInt16BE(pos); // client id
  [len, pos] = readVarint(frame, pos, end);
  if (pos + len > end) throw new PropertyError('Malformed packet');
  return decodeProperties(frame, pos, pos + len, WILL_PROPERTY_IDS);
}

const pending: Connection[] = [];
let flushScheduled = false;

const preFlushHooks: (() => void)[] = [];

/**
 * Runs before every batch of socket writes: a write-ahead journal flushes here, so that
 * nothing acknowledged in this turn reaches a client before it is on disk.
 */
export function addPreFlushHook(hook: () => void): void {
  preFlushHooks.push(hook);
}

export function removePreFlushHook(hook: () => void): void {
  const i = preFlushHooks.indexOf(hook);
  if (i !== -1) preFlushHooks.splice(i, 1);
}

function runPreFlushHooks(): void {
  for (let i = 0; i < preFlushHooks.length; i++) preFlushHooks[i]();
}

function flushAll(): void {
  flushScheduled = false;
  runPreFlushHooks();
  // Connections queued during this flush (from handlers) wait for the next turn.
  const n = pending.length;
  for (let i = 0; i < n; i++) pending[i].flush();
  pending.splice(0, n);
}

/**
 * Coalesce small writes into one buffer up to this size; larger batches, and batches of
 * large packets (copying them again costs more than writev saves), go out as writev.
 */
const COALESCE_LIMIT = 64 * 1024;

/** Totals a listener's owner keeps across connections ($SYS/broker/messages/..., bytes/...). */
export interface TrafficCounters {
  messagesReceived: number;
  messagesSent: number;
  bytesReceived: number;
  bytesSent: number;
}

const noopHandler: ConnectionHandler = {
  onPacket() {},
  onProtocolError() {},
  onClose() {},
};

export class Connection {
  readonly stream: ByteStream;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Largest inbound packet accepted (remaining length), 0 for the protocol maximum. */
  maxInboundPacket = 0;
  /** Wall-clock ms of the last bytes received; read by keepalive checks. */
  lastReceived = Date.now();
  closed = false;
  bytesReceived = 0;
  bytesSent = 0;

  /** Where packets and bytes in and out are counted, if anywhere. */
  counters: TrafficCounters | undefined;
  private handler: ConnectionHandler = noopHandler;
  private version: ProtocolVersion = 4;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private queued = false;
  private closeReported = false;
  private failing = false;
  private firstChunk: Buffer | undefined;
  /** A frame still arriving: its chunks so far, their length, and the frame's length once known. */
  private parts: Buffer[] = [];
  private partLen = 0;
  private partNeed = 0;
  private streamError: Error | undefined;

  constructor(stream: ByteStream) {
    this.stream = stream;
    this.remoteAddress = stream.remoteAddress ?? 'unknown';
    this.remotePort = stream.remotePort ?? 0;
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (err: Error) => {
      this.streamError = err;
    });
    stream.on('close', () => this.reportClose());
    stream.on('end', () => {
      // Half-close from the peer: MQTT has no use for it.
      this.closed = true;
      stream.destroy();
    });
    stream.on('drain', () => {
      if (this.handler.onDrain !== undefined) this.handler.onDrain();
    });
  }

  setHandler(handler: ConnectionHandler): void {
    this.handler = handler;
  }

  get protocolVersion(): ProtocolVersion {
    return this.version;
  }

  /** After CONNECT: later packets are parsed and encoded as this version. */
  setProtocolVersion(version: ProtocolVersion): void {
    this.version = version;
    // The first chunk was kept only to read a CONNECT's protocol level; let it go.
    this.firstChunk = undefined;
  }

  /** Bytes waiting to reach the kernel: our queue plus the stream's own buffer. */
  get bufferedBytes(): number {
    return this.queuedBytes + this.stream.writableLength;
  }

  send(packet: Packet): void {
    this.write(encodePacket(packet, this.version));
  }

  /** Queues one encoded packet. */
  write(buf: Buffer): void {
    if (this.closed) return;
    const c = this.counters;
    if (c !== undefined) {
      c.messagesSent++;
      c.bytesSent += buf.length;
    }
    this.queue.push(buf);
    this.queuedBytes += buf.length;
    if (!this.queued) {
      this.queued = true;
      pending.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushAll);
      }
    }
  }

  flush(): void {
    this.queued = false;
    const q = this.queue;
    if (q.length === 0 || this.stream.destroyed) {
      this.queue = [];
      this.queuedBytes = 0;
      return;
    }
    const bytes = this.queuedBytes;
    this.bytesSent += bytes;
    this.queue = [];
    this.queuedBytes = 0;
    if (q.length === 1) {
      this.stream.write(q[0]);
    } else if (bytes <= COALESCE_LIMIT && bytes < q.length * 1024) {
      // Many small packets: one copy into one buffer beats a writev of tiny pieces.
      this.stream.write(Buffer.concat(q, bytes));
    } else {
      this.stream.cork();
      for (let i = 0; i < q.length; i++) this.stream.write(q[i]);
      this.stream.uncork();
    }
  }

  /** Flush what is queued, then close the stream. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // What is queued (a PUBACK of this turn) must not overtake the journal record it acknowledges.
    if (this.queue.length > 0) runPreFlushHooks();
    this.flush();
    this.stream.end();
    // Our side is closed once what was queued has left: the close is reported then, as
    // Mosquitto frees a client at once (`Client X disconnected.`), not when the peer
    // gets round to closing its side.
    this.stream.once('finish', () => this.reportClose());
    // A peer that never reads must not keep the socket half-open forever.
    const timer = setTimeout(() => this.stream.destroy(), 2000);
    timer.unref();
    this.stream.once('close', () => clearTimeout(timer));
  }

  /** Drop the stream now, discarding anything queued. */
  destroy(): void {
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.stream.destroy();
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  /**
   * The protocol level byte of the CONNECT at the start of the stream, for the log line
   * about an unsupported level (the parser rejects the packet without telling it).
   */
  connectLevel(): number {
    const b = this.firstChunk;
    if (b === undefined) return -1;
    let pos = 1;
    while (pos < b.length && b[pos] & 0x80) pos++;
    pos++;
    if (pos + 2 > b.length) return -1;
    pos += 2 + ((b[pos] << 8) | b[pos + 1]);
    return pos < b.length ? b[pos] : -1;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    if (this.bytesReceived === 0) this.firstChunk = chunk;
    else this.firstChunk = undefined;
    this.lastReceived = Date.now();
    this.bytesReceived += chunk.length;
    if (this.counters !== undefined) this.counters.bytesReceived += chunk.length;
    let buf = chunk;
    if (this.partLen > 0) {
      // A frame is still arriving: gather chunks until it is whole, then join them once.
      this.parts.push(chunk);
      this.partLen += chunk.length;
      if (this.partNeed > 0 && this.partLen < this.partNeed) return;
      buf = Buffer.concat(this.parts, this.partLen);
      this.parts = [];
      this.partLen = 0;
      this.partNeed = 0;
    }
    this.frames(buf);
  }

  /**
   * Splits whole MQTT frames out of the buffer (MQTT-2.1: fixed header, remaining length as
   * a variable byte integer). The common packets are decoded here straight from the chunk;
   * the rest go to mqtt-packet's parser one whole frame at a time.
   */
  private frames(buf: Buffer): void {
    const len = buf.length;
    const max = this.maxInboundPacket;
    let pos = 0;
    while (pos < len && !this.closed) {
      const b0 = buf[pos];
      if ((b0 & 0x0f) !== REQUIRED_FLAGS[b0 >> 4] && b0 >> 4 !== 3) {
        // MQTT-2.2.2-2: reserved flag bits wrong (or type 0): refuse on the first byte, with
        // mqtt-packet's own words for it.
        this.slowParse(buf.subarray(pos, pos + 1));
        if (!this.closed) this.protocolError(new Error('Invalid header flag bits'));
        return;
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
          return;
        }
      }
      if (!complete) break;
      const end = i + rl;
      if (max > 0 && end - pos > max) {
        // Refused as soon as its length is known, before its bytes pile up in memory.
        this.protocolError(new Error('packet too large'));
        return;
      }
      if (end > len) {
        this.partNeed = end - pos;
        break;
      }
      this.dispatch(buf, pos, i, end);
      pos = end;
    }
    if (pos < len && !this.closed) {
      this.parts.push(pos === 0 ? buf : buf.subarray(pos));
      this.partLen = len - pos;
    }
  }

  private dispatch(buf: Buffer, start: number, body: number, end: number): void {
    const b0 = buf[start];
    const type = b0 >> 4;
    const rl = end - body;
    let packet: Packet | undefined;
    if (type === 3 && this.version === 5) {
      // PUBLISH, MQTT 5: decoded here too, so that user properties keep their order.
      if (((b0 >> 1) & 3) === 3) {
        this.protocolError(new Error('Packet must not have both QoS bits set to 1'));
        return;
      }
      const p = this.publishV5(buf, start, body, end);
      if (p === undefined) return;
      packet = p as Packet;
    } else if (type === 3) {
      // PUBLISH, 3.1/3.1.1 (MQTT-3.3).
      const qos = (b0 >> 1) & 3;
      if (qos === 3) {
        this.protocolError(new Error('Packet must not have both QoS bits set to 1'));
        return;
      }
      if (rl >= 2) {
        const tlen = (buf[body] << 8) | buf[body + 1];
        let p = body + 2 + tlen;
        if (p + (qos > 0 ? 2 : 0) <= end) {
          const topic = buf.toString('utf8', body + 2, p);
          let messageId: number | undefined;
          if (qos > 0) {
            messageId = (buf[p] << 8) | buf[p + 1];
            p += 2;
          }
          const size = end - p;
          // A small payload is copied so that it does not keep a whole socket chunk alive
          // (retained and queued messages live long).
          let payload: Buffer;
          if (size * 4 >= buf.length) payload = buf.subarray(p, end);
          else {
            payload = Buffer.allocUnsafe(size);
            buf.copy(payload, 0, p, end);
          }
          packet = { cmd: 'publish', topic, payload, qos: qos as QoS, retain: (b0 & 1) === 1, dup: (b0 & 8) !== 0, messageId, length: rl };
          // A plain QoS 0 PUBLISH is byte for byte what a subscriber of the same protocol
          // version gets: the broker may write these bytes on as they are.
          if (b0 === 0x30) (packet as { frame?: Buffer }).frame = buf.subarray(start, end);
        }
      }
    } else if (rl === 2 && (b0 === 0x40 || b0 === 0x50 || b0 === 0x70 || b0 === 0x62)) {
      // PUBACK, PUBREC, PUBCOMP, PUBREL with only a packet id (reason 0 in MQTT 5).
      const messageId = (buf[body] << 8) | buf[body + 1];
      const cmd = b0 === 0x40 ? 'puback' : b0 === 0x50 ? 'pubrec' : b0 === 0x70 ? 'pubcomp' : 'pubrel';
      packet = { cmd, messageId, length: 2 } as Packet;
    } else if (b0 === 0xc0 && rl === 0) {
      packet = { cmd: 'pingreq', length: 0 } as Packet;
    } else if (b0 === 0xd0 && rl === 0) {
      packet = { cmd: 'pingresp', length: 0 } as Packet;
    } else if (b0 === 0x20 && rl === 2 && this.version !== 5 && (buf[body] & 0xfe) === 0) {
      // CONNACK 3.1/3.1.1 (MQTT-3.2): a client that only publishes never loads mqtt-packet.
      packet = { cmd: 'connack', sessionPresent: buf[body] === 1, returnCode: buf[body + 1], length: 2 } as Packet;
    }
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
   * An MQTT 5 PUBLISH (MQTT-3.3.2): topic, packet id, properties (user properties in wire
   * order, and the bytes a receiver gets unchanged), payload. Undefined after a protocol
   * error.
   */
  private publishV5(buf: Buffer, start: number, body: number, end: number): PublishPacket | undefined {
    const b0 = buf[start];
    const qos = (b0 >> 1) & 3;
    try {
      if (body + 2 > end) throw new PropertyError('Malformed packet');
      let p = body + 2 + ((buf[body] << 8) | buf[body + 1]);
      if (p + (qos > 0 ? 2 : 0) > end) throw new PropertyError('Malformed packet');
      const topic = buf.toString('utf8', body + 2, p);
      let messageId: number | undefined;
      if (qos > 0) {
        messageId = (buf[p] << 8) | buf[p + 1];
        p += 2;
      }
      // The property length nearly always fits one byte: no tuple for it on the message path.
      let propLen: number;
      if (p < end && buf[p] < 0x80) propLen = buf[p++];
      else [propLen, p] = readVarint(buf, p, end);
      const propEnd = p + propLen;
      if (propEnd > end) throw new PropertyError('Malformed packet');
      const packet: PublishPacket = {
        cmd: 'publish',
        topic,
        payload: EMPTY_PAYLOAD,
        qos: qos as QoS,
        retain: (b0 & 1) === 1,
        dup: (b0 & 8) !== 0,
        length: end - body,
      };
      if (messageId !== undefined) packet.messageId = messageId;
      let plain = true;
      if (propLen > 0) {
        packet.properties = decodeProperties(buf, p, propEnd, PUBLISH_PROPERTY_IDS);
        const stored = storedPublishProperties(buf, p, propEnd);
        // Copied: it lives as long as the message, the socket chunk should not.
        packet.storedProperties = Buffer.from(stored);
        plain = stored.length === propLen;
      }
      const size = end - propEnd;
      if (size * 4 >= buf.length) packet.payload = buf.subarray(propEnd, end);
      else {
        const payload = Buffer.allocUnsafe(size);
        buf.copy(payload, 0, propEnd, end);
        packet.payload = payload;
      }
      // A plain QoS 0 PUBLISH without per-hop properties is what a subscriber gets.
      if (b0 === 0x30 && plain) packet.frame = buf.subarray(start, end);
      return packet;
    } catch (err) {
      if (!(err instanceof PropertyError)) throw err;
      this.protocolError(err);
      return undefined;
    }
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
        if (props !== undefined) c.will.properties = props;
      } catch (err) {
        if (!(err instanceof PropertyError)) throw err;
        this.protocolError(err);
        return;
      }
    }
    if (this.counters !== undefined) this.counters.messagesReceived++;
    this.handler.onPacket(c);
  }

  /** One whole frame through the shared mqtt-packet parser of this protocol version. */
  private slowParse(frame: Buffer): void {
    const packet = this.parseOne(frame);
    if (packet === undefined) return;
    if (this.counters !== undefined) this.counters.messagesReceived++;
    this.handler.onPacket(packet);
  }

  /** Parses one whole frame with mqtt-packet; undefined after a protocol error. */
  private parseOne(frame: Buffer): Packet | undefined {
    parsedPacket = undefined;
    parseError = undefined;
    parseFrame(frame, this.version);
    const packet = parsedPacket as Packet | undefined;
    const err = parseError as Error | undefined;
    parsedPacket = undefined;
    parseError = undefined;
    if (err !== undefined) {
      this.protocolError(err);
      return undefined;
    }
    if (packet === undefined) {
      // A whole frame the parser could not finish: its own length accounting disagrees.
      this.protocolError(new Error('Malformed packet'));
      return undefined;
    }
    return packet;
  }

  private protocolError(err: Error): void {
    if (this.closed || this.failing) return;
    // The handler may still queue a last packet (an MQTT 5 DISCONNECT with a reason).
    this.failing = true;
    this.handler.onProtocolError(err);
    this.close();
  }

  private reportClose(): void {
    if (this.closeReported) return;
    this.closeReported = true;
    this.closed = true;
    this.handler.onClose(this.streamError);
  }
}
