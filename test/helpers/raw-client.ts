/**
 * A raw MQTT test client over node:net: packets go out exactly as given (mqtt-packet's
 * generator, or raw bytes), and every packet that comes back is queued for the test to
 * inspect in order. No retries, no automatic acks: the test drives the protocol.
 */
import net from 'node:net';
import mqttPacket from 'mqtt-packet';
import type { Packet, IConnectPacket, IConnackPacket, IPublishPacket, ISubscribePacket, ISubackPacket } from 'mqtt-packet';

export type Version = 3 | 4 | 5;

export interface ConnectOptions {
  clientId?: string;
  clean?: boolean;
  keepalive?: number;
  username?: string;
  password?: Buffer | string;
  will?: IConnectPacket['will'];
  version?: Version;
}

export class RawClient {
  readonly socket: net.Socket;
  /** Packets received and not yet taken by next()/waitFor(). */
  readonly inbox: Packet[] = [];
  /** Resolves when the socket has closed (by either side). */
  readonly closed: Promise<void>;
  isClosed = false;
  parseError: Error | undefined;
  version: Version = 4;
  private parser: ReturnType<typeof mqttPacket.parser>;
  private waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.parser = mqttPacket.parser({ protocolVersion: 4 });
    this.parser.on('packet', (p: Packet) => {
      this.inbox.push(p);
      this.wake();
    });
    this.parser.on('error', (err: Error) => {
      this.parseError = err;
      this.wake();
    });
    socket.on('data', (chunk: Buffer) => this.parser.parse(chunk));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      });
    });
  }

  /** Opens a TCP connection (no MQTT traffic yet). */
  static open(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      socket.setNoDelay(true);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
    });
  }

  /** Opens a connection, sends CONNECT and waits for the CONNACK. */
  static async connect(port: number, opts: ConnectOptions = {}): Promise<{ client: RawClient; connack: IConnackPacket }> {
    const client = await RawClient.open(port);
    const connack = await client.handshake(opts);
    return { client, connack };
  }

  connectPacket(opts: ConnectOptions = {}): IConnectPacket {
    const version = opts.version ?? 4;
    const p: IConnectPacket = {
      cmd: 'connect',
      protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: version,
      clientId: opts.clientId ?? '',
      clean: opts.clean ?? true,
      keepalive: opts.keepalive ?? 60,
    };
    if (opts.username !== undefined) p.username = opts.username;
    if (opts.password !== undefined) p.password = Buffer.from(opts.password);
    if (opts.will !== undefined) p.will = opts.will;
    return p;
  }

  async handshake(opts: ConnectOptions = {}): Promise<IConnackPacket> {
    this.setVersion(opts.version ?? 4);
    const packet = this.connectPacket(opts);
    // mqtt-packet refuses to generate some empty-id CONNECTs (clean 0, or 3.1); the broker must see them.
    if (packet.clientId === '' && this.version !== 5) this.sendRaw(encodeConnectRaw(packet));
    else this.send(packet);
    return (await this.next('connack')) as IConnackPacket;
  }

  setVersion(version: Version): void {
    this.version = version;
    (this.parser as unknown as { settings: { protocolVersion: number } }).settings.protocolVersion = version;
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: this.version }));
  }

  sendRaw(buf: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(buf) ? buf : Buffer.from(buf));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * The first queued packet matching the predicate, waiting for it if needed; rejects on
   * timeout or when the connection closes first.
   */
  waitFor<T extends Packet = Packet>(pred: (p: Packet) => boolean, timeoutMs = 3000, what = 'packet'): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${what}; inbox: ${this.describeInbox()}`));
      }, timeoutMs);
      const check = (): void => {
        const i = this.inbox.findIndex(pred);
        if (i !== -1) {
          clearTimeout(timer);
          resolve(this.inbox.splice(i, 1)[0] as T);
          return;
        }
        if (this.isClosed || this.parseError !== undefined) {
          clearTimeout(timer);
          reject(new Error(`connection ${this.isClosed ? 'closed' : 'unparseable'} while waiting for ${what}; inbox: ${this.describeInbox()}`));
          return;
        }
        this.waiters.push(check);
      };
      check();
    });
  }

  /** The next packet in arrival order; if `cmd` is given it must be of that type. */
  async next<T extends Packet = Packet>(cmd?: Packet['cmd'], timeoutMs = 3000): Promise<T> {
    const p = await this.waitFor(() => true, timeoutMs, cmd ?? 'any packet');
    if (cmd !== undefined && p.cmd !== cmd) {
      throw new Error(`expected ${cmd}, got ${p.cmd}: ${JSON.stringify(summarise(p))}`);
    }
    return p as T;
  }

  /** Next PUBLISH on any topic. */
  nextPublish(timeoutMs = 3000): Promise<IPublishPacket> {
    return this.next<IPublishPacket>('publish', timeoutMs);
  }

  /**
   * A round trip that proves the broker processed everything sent before it: everything it
   * would send in reply to earlier packets is in the inbox once PINGRESP arrives (one
   * connection, in-order processing). Returns what arrived before the PINGRESP.
   */
  async sync(timeoutMs = 3000): Promise<Packet[]> {
    this.send({ cmd: 'pingreq' });
    await this.waitFor((p) => p.cmd === 'pingresp', timeoutMs, 'pingresp');
    return this.inbox.splice(0, this.inbox.length);
  }

  async subscribe(topic: string | { topic: string; qos: 0 | 1 | 2 }[], qos: 0 | 1 | 2 = 0, messageId = 1): Promise<ISubackPacket> {
    const subscriptions = typeof topic === 'string' ? [{ topic, qos }] : topic;
    const packet: ISubscribePacket = { cmd: 'subscribe', messageId, subscriptions };
    this.send(packet);
    return this.waitFor<ISubackPacket>((p) => p.cmd === 'suback' && p.messageId === messageId, 3000, 'suback');
  }

  publish(topic: string, payload: string | Buffer, opts: { qos?: 0 | 1 | 2; retain?: boolean; dup?: boolean; messageId?: number } = {}): void {
    const qos = opts.qos ?? 0;
    this.send({
      cmd: 'publish',
      topic,
      payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
      qos,
      retain: opts.retain ?? false,
      dup: opts.dup ?? false,
      messageId: qos > 0 ? (opts.messageId ?? 1) : undefined,
    } as IPublishPacket);
  }

  disconnect(): void {
    this.send({ cmd: 'disconnect' });
    this.socket.end();
  }

  /** Drops the TCP connection without DISCONNECT (an unclean end: the will is sent). */
  destroy(): void {
    this.socket.destroy();
  }

  private describeInbox(): string {
    return JSON.stringify(this.inbox.map(summarise));
  }
}

function summarise(p: Packet): unknown {
  if (p.cmd === 'publish') {
    return { cmd: p.cmd, topic: p.topic, qos: p.qos, retain: p.retain, dup: p.dup, mid: p.messageId, payload: String(p.payload) };
  }
  const { cmd, messageId } = p;
  return { cmd, messageId, ...('returnCode' in p ? { returnCode: p.returnCode } : {}), ...('granted' in p ? { granted: p.granted } : {}) };
}

/** Encodes a packet to bytes, for tests that corrupt or truncate them. */
export function encode(packet: Packet, version: Version = 4): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: version }) as Buffer;
}

function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** A 3.1/3.1.1 CONNECT built by hand, for combinations mqtt-packet will not generate. */
export function encodeConnectRaw(p: IConnectPacket, flagsOverride?: number): Buffer {
  let flags = 0;
  if (p.clean !== false) flags |= 0x02;
  const parts: Buffer[] = [str(p.clientId)];
  if (p.will !== undefined) {
    flags |= 0x04 | ((p.will.qos ?? 0) << 3) | (p.will.retain === true ? 0x20 : 0);
    parts.push(str(p.will.topic), str(p.will.payload));
  }
  if (p.username !== undefined) {
    flags |= 0x80;
    parts.push(str(p.username));
  }
  if (p.password !== undefined) {
    flags |= 0x40;
    parts.push(str(p.password));
  }
  const header = Buffer.concat([
    str(p.protocolId ?? 'MQTT'),
    Buffer.from([p.protocolVersion ?? 4, flagsOverride ?? flags, (p.keepalive ?? 60) >> 8, (p.keepalive ?? 60) & 0xff]),
  ]);
  const body = Buffer.concat([header, ...parts]);
  if (body.length > 127) throw new Error('encodeConnectRaw: keep test CONNECTs under 128 bytes');
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}
