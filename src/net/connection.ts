/**
 * One MQTT connection over any byte stream (TCP, TLS, unix socket, WebSocket stream):
 * socket chunks go to protocol/'s FrameReader, which splits and decodes the frames;
 * outgoing buffers are queued and
 * written once per event-loop turn for all connections together; the caller sees the
 * socket's backlog to apply its own bounds; close is reported once, with a reason.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import {
  connectLevelOf,
  encodePacket,
  FrameReader,
  type Packet,
  type PacketCounters,
  type PacketHandler,
  type ProtocolVersion,
} from '../protocol/index.js';

export interface ConnectionHandler extends PacketHandler {
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

const pending: Connection[] = [];
let flushScheduled = false;

/**
 * What a connection's owner runs just before a batch of writes goes out: the broker's
 * write-ahead journal flushes there, so that nothing acknowledged in this turn reaches a
 * client before it is on disk. Owned per connection, not a module global.
 */
export interface FlushGate {
  beforeFlush(): void;
}

function flushAll(): void {
  flushScheduled = false;
  // Connections queued during this flush (from handlers) wait for the next turn.
  const n = pending.length;
  // Each owner's gate once per batch: the connections of one broker share theirs.
  let last: FlushGate | undefined;
  for (let i = 0; i < n; i++) {
    const gate = pending[i].flushGate;
    if (gate !== undefined && gate !== last) {
      last = gate;
      gate.beforeFlush();
    }
  }
  for (let i = 0; i < n; i++) pending[i].flush();
  pending.splice(0, n);
}

/**
 * Coalesce small writes into one buffer up to this size; larger batches, and batches of
 * large packets (copying them again costs more than writev saves), go out as writev.
 */
const COALESCE_LIMIT = 64 * 1024;

/** Totals a listener's owner keeps across connections ($SYS/broker/messages/..., bytes/...). */
export interface TrafficCounters extends PacketCounters {
  messagesSent: number;
  bytesReceived: number;
  bytesSent: number;
}

const noopHandler: ConnectionHandler = {
  onPacket() {},
  onProtocolError() {},
  onClose() {},
};

/**
 * Framing and decoding are inherited from protocol/'s FrameReader (maxInboundPacket,
 * closed, counters, the frames of each chunk); this class moves the bytes.
 */
export class Connection extends FrameReader<ConnectionHandler> {
  readonly stream: ByteStream;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Wall-clock ms of the last whole packet received; read by keepalive checks. */
  lastReceived = Date.now();
  bytesReceived = 0;
  bytesSent = 0;

  /** Where packets and bytes in and out are counted, if anywhere. */
  declare counters: TrafficCounters | undefined;
  /** Run before this connection's queued writes go out, if set (see FlushGate). */
  flushGate: FlushGate | undefined;
  /** Packets queued this turn; made on the first write of a turn (an idle connection holds none). */
  private queue: Buffer[] | null = null;
  private queuedBytes = 0;
  private queued = false;
  private closeReported = false;
  private failing = false;
  private firstChunk: Buffer | undefined;
  private streamError: Error | undefined;
  private drainHooked = false;
  /** Who stopped reading (owner bits, see pause()); the socket is read while none is set. */
  private pausedBy = 0;
  /** The peer's FIN came while reading was held (hold()): acted on once the held bytes are read. */
  private endHeld = false;

  constructor(stream: ByteStream) {
    super(noopHandler);
    this.stream = stream;
    this.remoteAddress = stream.remoteAddress ?? 'unknown';
    this.remotePort = stream.remotePort ?? 0;
    // Shared listeners that find their connection on the stream: no closures (and no
    // context) per connection, which an idle connection would carry for its lifetime.
    (stream as OwnedStream)[OWNER] = this;
    stream.on('data', onStreamData);
    stream.on('error', onStreamError);
    stream.on('close', onStreamClose);
    stream.on('end', onStreamEnd);
  }

  setHandler(handler: ConnectionHandler): void {
    this.handler = handler;
    // Only a handler that wants to hear of drains pays for the listener.
    if (handler.onDrain !== undefined && !this.drainHooked) {
      this.drainHooked = true;
      this.stream.on('drain', onStreamDrain);
    }
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
    (this.queue ??= []).push(buf);
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
    if (q === null || q.length === 0 || this.stream.destroyed) {
      this.queue = null;
      this.queuedBytes = 0;
      return;
    }
    const bytes = this.queuedBytes;
    this.bytesSent += bytes;
    this.queue = null;
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
    const last = this.queue !== null && this.queue.length > 0;
    if (last) this.flushGate?.beforeFlush();
    this.flush();
    if (!last && this.stream.writableLength === 0 && this.stream instanceof net.Socket && !(this.stream as { encrypted?: boolean }).encrypted) {
      // Nothing to send (a client's DISCONNECT): the socket is closed at once, as Mosquitto
      // closes it, rather than half-closed and closed when the peer's FIN comes (a
      // shutdown, a further wake-up, a timer and two listeners per leaving client). The
      // close is reported on the stream's 'close'. Not for TLS, whose close_notify goes
      // out with end(), nor where a last packet was just written.
      this.stream.destroy();
      return;
    }
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
    this.queue = null;
    this.queuedBytes = 0;
    this.stream.destroy();
  }

  /**
   * Stop reading from the socket until every owner that paused it has resumed it (a
   * stream's pause and resume each cost a system call). `owner` is one bit naming why
   * (the broker's PauseOwner): one reason's resume never undoes another's pause.
   */
  pause(owner = 1): void {
    if (this.pausedBy === 0) this.stream.pause();
    this.pausedBy |= owner;
  }

  /**
   * Undo `owner`'s pause(); the socket is read again once no owner holds it. The peer's
   * silence is then counted from now (lastReceived): what it sent while we did not read,
   * its PINGREQs too, is only read now, and the wait was ours.
   */
  resume(owner = 1): void {
    if ((this.pausedBy & owner) === 0) return;
    this.pausedBy &= ~owner;
    if (this.pausedBy !== 0) return;
    this.lastReceived = Date.now();
    this.stream.resume();
  }

  /** Whether some owner has stopped reading from the socket (keepalive is not counted then). */
  get paused(): boolean {
    return this.pausedBy !== 0;
  }

  /**
   * The protocol level byte of the CONNECT at the start of the stream, for the log line
   * about an unsupported level (the parser rejects the packet without telling it).
   */
  connectLevel(): number {
    return this.firstChunk === undefined ? -1 : connectLevelOf(this.firstChunk);
  }

  /** @internal the stream's 'data' (shared listener below). */
  onData(chunk: Buffer): void {
    if (this.closed) return;
    if (this.bytesReceived === 0) this.firstChunk = chunk;
    else this.firstChunk = undefined;
    this.bytesReceived += chunk.length;
    if (this.counters !== undefined) this.counters.bytesReceived += chunk.length;
    // Keep alive counts whole packets, as Mosquitto does: a peer trickling a packet a byte at
    // a time (slowloris) is cut off after 1.5 keep alive periods without one (MQTT-3.1.2-24).
    if (this.readChunk(chunk)) this.lastReceived = Date.now();
  }

  protected override protocolError(err: Error): void {
    if (this.closed || this.failing) return;
    // The handler may still queue a last packet (an MQTT 5 DISCONNECT with a reason).
    this.failing = true;
    this.handler.onProtocolError(err);
    this.close();
  }

  /** @internal */
  onStreamError(err: Error): void {
    this.streamError = err;
  }

  /**
   * Reads what hold() kept, then acts on a FIN that came meanwhile: the peer's packets and
   * its leaving are seen in the order they came.
   */
  override release(): boolean {
    const read = super.release();
    if (read) this.lastReceived = Date.now();
    if (this.endHeld) {
      this.endHeld = false;
      this.onEnd();
    }
    return read;
  }

  /** @internal the peer half-closed: MQTT has no use for it. */
  onEnd(): void {
    if (this.holding) {
      // Not yet: what came before the FIN is still to be read (release()).
      this.endHeld = true;
      return;
    }
    this.closed = true;
    this.stream.destroy();
  }

  /** @internal */
  onDrain(): void {
    if (this.handler.onDrain !== undefined) this.handler.onDrain();
  }

  /** @internal */
  reportClose(): void {
    if (this.closeReported) return;
    this.closeReported = true;
    this.closed = true;
    this.handler.onClose(this.streamError);
  }
}

/** Where a stream's shared listeners find their connection. */
const OWNER = Symbol('connection');
type OwnedStream = ByteStream & { [OWNER]: Connection };

function onStreamData(this: OwnedStream, chunk: Buffer): void {
  this[OWNER].onData(chunk);
}
function onStreamError(this: OwnedStream, err: Error): void {
  this[OWNER].onStreamError(err);
}
function onStreamClose(this: OwnedStream): void {
  this[OWNER].reportClose();
}
function onStreamEnd(this: OwnedStream): void {
  this[OWNER].onEnd();
}
function onStreamDrain(this: OwnedStream): void {
  this[OWNER].onDrain();
}
