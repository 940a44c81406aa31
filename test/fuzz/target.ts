/**
 * The fuzz target: one in-process Broker, and for every input a new connection over an
 * in-memory stream (the same Connection a TCP listener makes), fed the input's bytes
 * after a CONNECT, then closed. What it reports to the runner: an exception thrown out
 * of the broker's packet path, and whether the broker let the client go afterwards.
 */
import { Duplex } from 'node:stream';
import { Broker, Connection, Log, LOG_ALL } from 'ts-mosquitto';

/** A stream that swallows what the broker writes; the input goes in through 'data'. */
class MemoryStream extends Duplex {
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  written = 0;
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.written += chunk.length;
    cb();
  }
  override _final(cb: (err?: Error | null) => void): void {
    cb();
  }
  setNoDelay(): void {}
}

/** CONNECTs used when an input does not start with one: 3.1, 3.1.1, 5.0, by the first byte. */
const CONNECTS: Buffer[] = [
  // MQTT 3.1, clean, keepalive 60, client id "fz"
  Buffer.from([0x10, 16, 0, 6, 0x4d, 0x51, 0x49, 0x73, 0x64, 0x70, 3, 2, 0, 60, 0, 2, 0x66, 0x7a]),
  // MQTT 3.1.1, clean, keepalive 60, client id "fz"
  Buffer.from([0x10, 14, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 2, 0x66, 0x7a]),
  // MQTT 5.0, clean start, keepalive 60, no properties, client id "fz"
  Buffer.from([0x10, 15, 0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 2, 0, 60, 0, 0, 2, 0x66, 0x7a]),
];

/** An exception out of the broker's packet path, and the input that was being fed. */
export class TargetError extends Error {
  readonly input: Buffer;
  readonly original: unknown;

  constructor(original: unknown, input: Buffer) {
    super(String((original as Error)?.stack ?? original));
    this.input = input;
    this.original = original;
  }
}

function feed(stream: MemoryStream, bytes: Buffer, input: Buffer): void {
  try {
    stream.emit('data', bytes);
  } catch (err) {
    throw new TargetError(err, input);
  }
}

function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

export class FuzzTarget {
  readonly broker: Broker;
  private execs = 0;
  private lastForget = 0;

  private constructor(broker: Broker) {
    this.broker = broker;
  }

  static async start(): Promise<FuzzTarget> {
    // Every log type on, into a sink that drops the lines: the formatting paths run too.
    const log = new Log(LOG_ALL, [{ write: () => {} }]);
    const broker = new Broker({ listeners: [{ port: 0, host: '127.0.0.1' }], sysInterval: 0 }, log);
    await broker.start();
    return new FuzzTarget(broker);
  }

  /**
   * A batch of inputs, each on its own connection at the same time (so that one event
   * loop turn serves them all, as it serves a busy broker's clients). Each gets a CONNECT
   * (the input's own when it starts with a CONNECT byte, else one of CONNECTS chosen by its
   * first byte), then the rest, in one chunk or split in two where its second byte says.
   * Resolves once the broker has dealt with them and every client is gone. Throws what
   * the packet path throws, with `input` set to the input being fed.
   */
  async run(inputs: Buffer[]): Promise<void> {
    const streams: MemoryStream[] = [];
    const tails: (Buffer | undefined)[] = [];
    for (const input of inputs) {
      const stream = new MemoryStream();
      this.broker.accept(new Connection(stream), this.broker.listeners[0]);
      let bytes = input;
      if (input.length === 0 || input[0] !== 0x10) {
        const pick = input.length > 0 ? input[0] % 3 : 1;
        bytes = Buffer.concat([CONNECTS[pick], input.subarray(1)]);
      }
      const split = input.length > 1 ? (input[1] * bytes.length) >> 8 : 0;
      const two = split > 0 && split < bytes.length && (input[1] & 1) === 1;
      feed(stream, two ? bytes.subarray(0, split) : bytes, input);
      streams.push(stream);
      tails.push(two ? bytes.subarray(split) : undefined);
    }
    await nextTurn();
    for (let i = 0; i < streams.length; i++) {
      const tail = tails[i];
      if (tail !== undefined) feed(streams[i], tail, inputs[i]);
    }
    // Handlers may answer on the next turn (writes are batched per turn).
    await nextTurn();
    // The peers go away: end of the stream, as a closed socket.
    for (const stream of streams) {
      stream.push(null);
      stream.destroy();
    }
    await nextTurn();
    this.execs += inputs.length;
    if (this.execs - this.lastForget >= 1024) {
      this.lastForget = this.execs;
      this.forgetState();
    }
  }

  /** Clients still attached to the broker (must be none between inputs). */
  get clientCount(): number {
    return this.broker.clients.size;
  }

  /**
   * Persistent sessions and retained messages that inputs legitimately leave behind are
   * dropped now and then, so that memory measures leaks, not what a broker must keep.
   */
  forgetState(): void {
    for (const s of [...this.broker.sessions.values()]) {
      if (s.client === null) this.broker.destroySession(s);
    }
    this.broker.retained.clear();
  }

  close(): Promise<void> {
    return this.broker.close();
  }
}
