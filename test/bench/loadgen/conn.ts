// One MQTT 3.1.1 connection of the load generator: a hand-written frame splitter over the
// socket's chunks (no per-frame allocation, no full decode), acknowledgements answered in
// one write per chunk, and promise-based helpers for the setup phase only.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Qos } from '../protocol.js';
import {
  DISCONNECT,
  PINGREQ,
  PUBACK,
  PUBCOMP,
  PUBREC,
  PUBREL,
  connectPacket,
  fixedHeaderLength,
  subscribePacket,
} from './packets.js';

/** Called for each inbound PUBLISH; the frame stays valid only during the call. */
export type PublishHandler = (
  buf: Buffer,
  payloadOffset: number,
  end: number,
  retain: boolean,
) => void;
/** Called when the flow of one of our own PUBLISHes completes (PUBACK / PUBCOMP). */
export type CompleteHandler = (id: number) => void;

const noopPublish: PublishHandler = () => {};
const noopComplete: CompleteHandler = () => {};
const ACK_SCRATCH = 16 * 1024;

export interface ConnectOptions {
  port: number;
  clientId: string;
  clean?: boolean;
  keepalive?: number;
  username?: string;
  password?: string;
  timeoutMs?: number;
}

export class MqttConn {
  /** performance.now() at the start of the chunk being handled: one clock read per chunk. */
  static chunkTime = 0;
  readonly socket: net.Socket;
  onPublish: PublishHandler = noopPublish;
  onComplete: CompleteHandler = noopComplete;
  /** Called after each inbound chunk has been fully handled. */
  onChunk: () => void = () => {};
  closed = false;
  private carry: Buffer | null = null;
  // Allocated on the first acknowledgement: idle connections must stay small.
  private acks: Buffer | null = null;
  private ackLen = 0;
  private connackWaiter: ((rc: number) => void) | null = null;
  private subackWaiters = new Map<number, (codes: number[]) => void>();
  private pingWaiter: (() => void) | null = null;
  private nextSubId = 1;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
    });
  }

  /** Connects and resolves after a successful CONNACK; rejects on refusal or timeout. */
  static connect(opts: ConnectOptions): Promise<MqttConn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port: opts.port, host: '127.0.0.1' });
      const conn = new MqttConn(socket);
      const timer = setTimeout(() => fail(new Error(`CONNACK timeout for ${opts.clientId}`)), opts.timeoutMs ?? 10000);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      socket.once('error', fail);
      socket.once('close', () => fail(new Error(`connection closed before CONNACK (${opts.clientId})`)));
      conn.connackWaiter = (rc) => {
        clearTimeout(timer);
        socket.removeListener('error', fail);
        socket.removeAllListeners('close');
        socket.on('close', () => {
          conn.closed = true;
        });
        if (rc === 0) resolve(conn);
        else fail(new Error(`CONNACK return code ${rc} (${opts.clientId})`));
      };
      socket.write(
        connectPacket({
          clientId: opts.clientId,
          clean: opts.clean ?? true,
          keepalive: opts.keepalive ?? 60,
          username: opts.username,
          password: opts.password,
        }),
      );
    });
  }

  subscribe(filters: string[], qos: Qos): Promise<number[]> {
    const id = this.nextSubId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('SUBACK timeout')), 30000);
      this.subackWaiters.set(id, (codes) => {
        clearTimeout(timer);
        if (codes.some((c) => c >= 0x80)) reject(new Error(`subscription refused (${codes.join(',')})`));
        else resolve(codes);
      });
      this.socket.write(subscribePacket(id, filters, qos));
    });
  }

  /** Resolves when the broker has handled everything sent before it (packets are in order). */
  ping(timeoutMs = 30000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('PINGRESP timeout')), timeoutMs);
      this.pingWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
      this.socket.write(PINGREQ);
    });
  }

  disconnect(): void {
    if (!this.closed) this.socket.end(DISCONNECT);
  }

  private onData(chunk: Buffer): void {
    MqttConn.chunkTime = performance.now();
    const buf = chunk;
    let off = 0;
    if (this.carry !== null) {
      // Complete only the frame split across chunks, then go on in the new chunk in place.
      const carry = this.carry;
      const head = carry.length < 5 ? Buffer.concat([carry, chunk.subarray(0, 5 - carry.length)]) : carry;
      const hdr = fixedHeaderLength(head, 0, head.length);
      if (hdr < 0) {
        this.carry = Buffer.concat([carry, chunk]);
        return;
      }
      const total = hdr + remainingLength(head, 1, hdr);
      const missing = total - carry.length;
      if (missing > chunk.length) {
        this.carry = Buffer.concat([carry, chunk]);
        return;
      }
      this.carry = null;
      const frame = Buffer.concat([carry, chunk.subarray(0, missing)]);
      this.frame(frame, 0, hdr, total);
      off = missing;
    }
    const len = buf.length;
    while (off < len) {
      const hdr = fixedHeaderLength(buf, off, len);
      if (hdr < 0) break;
      const end = off + hdr + remainingLength(buf, off + 1, hdr);
      if (end > len) break;
      this.frame(buf, off, hdr, end);
      off = end;
    }
    if (off < len) this.carry = buf.subarray(off);
    if (this.ackLen > 0 && !this.ackQueued) {
      // Acknowledgements of all chunks read in this event-loop turn go out in one write.
      this.ackQueued = true;
      ackPending.push(this);
      if (ackPending.length === 1) setImmediate(flushPendingAcks);
    }
    this.onChunk();
  }

  private frame(buf: Buffer, off: number, hdr: number, end: number): void {
    const first = buf[off]!;
    const body = off + hdr;
    switch (first >> 4) {
      case 3: {
        // PUBLISH: topic length, topic, [packet id], payload. MQTT-3.3.2
        const qos = (first >> 1) & 3;
        const idOff = body + 2 + buf.readUInt16BE(body);
        if (qos === 0) {
          this.onPublish(buf, idOff, end, (first & 1) === 1);
        } else {
          this.onPublish(buf, idOff + 2, end, (first & 1) === 1);
          this.ack(qos === 1 ? PUBACK : PUBREC, buf[idOff]!, buf[idOff + 1]!);
        }
        return;
      }
      case 4: // PUBACK
      case 7: // PUBCOMP
        this.onComplete((buf[body]! << 8) | buf[body + 1]!);
        return;
      case 5: // PUBREC -> PUBREL. MQTT-4.3.3
        this.ack(PUBREL, buf[body]!, buf[body + 1]!);
        return;
      case 6: // PUBREL -> PUBCOMP
        this.ack(PUBCOMP, buf[body]!, buf[body + 1]!);
        return;
      case 2: {
        const waiter = this.connackWaiter;
        this.connackWaiter = null;
        if (waiter) waiter(buf[body + 1]!);
        return;
      }
      case 9: {
        const id = (buf[body]! << 8) | buf[body + 1]!;
        const waiter = this.subackWaiters.get(id);
        if (waiter) {
          this.subackWaiters.delete(id);
          waiter(Array.from(buf.subarray(body + 2, end)));
        }
        return;
      }
      case 13: {
        const waiter = this.pingWaiter;
        this.pingWaiter = null;
        if (waiter) waiter();
        return;
      }
      default:
        return;
    }
  }

  private ack(type: number, msb: number, lsb: number): void {
    if (this.ackLen + 4 > ACK_SCRATCH) this.flushAcks();
    const a = this.acks ?? (this.acks = Buffer.allocUnsafe(ACK_SCRATCH));
    const i = this.ackLen;
    a[i] = type;
    a[i + 1] = 2;
    a[i + 2] = msb;
    a[i + 3] = lsb;
    this.ackLen = i + 4;
  }

  /** @internal */
  ackQueued = false;

  flushAcks(): void {
    if (this.ackLen === 0 || this.acks === null) return;
    // A copy: the scratch buffer is reused while the socket may still hold this one.
    this.socket.write(Buffer.from(this.acks.subarray(0, this.ackLen)));
    this.ackLen = 0;
  }
}

const ackPending: MqttConn[] = [];

function flushPendingAcks(): void {
  for (const conn of ackPending) {
    conn.ackQueued = false;
    conn.flushAcks();
  }
  ackPending.length = 0;
}

function remainingLength(buf: Buffer, start: number, hdr: number): number {
  let value = 0;
  let mul = 1;
  for (let i = start; i < start + hdr - 1; i++) {
    value += (buf[i]! & 0x7f) * mul;
    mul *= 128;
  }
  return value;
}
