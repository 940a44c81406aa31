/**
 * Cross-node transport (issue 15): one Redis Stream per node, mqtt:stream:<node>, read
 * by that node in the consumer group "cluster". Streams rather than Pub/Sub for every
 * QoS: an entry stays in Redis until the receiving node has handed it to its local
 * sessions and acknowledged it (XACK), so a message survives the receiver restarting
 * or Redis dropping the connection for a while, and one transport keeps one order for a
 * publisher's QoS 0 and QoS 1/2 messages on a topic. The cost is an XADD per remote node
 * per message (no fan-out by Redis), paid only for nodes whose routes match.
 *
 * Entry fields: m mode (d deliver, r retain only, dr both), t topic, p payload, q QoS,
 * f publisher, u its username, x MQTT 5 property bytes, e expiry (unix ms on Redis's
 * clock, clock.ts; 0 none),
 * g the shared subscription groups the receiving node serves this message to.
 */
import type { Redis } from 'ioredis';
import type { Log } from '../log.js';
import { Message } from '../message.js';
import { fromShared, toShared } from './clock.js';
import { GROUP, streamKey } from './keys.js';

/** Entries kept per stream at most (approximately): the bound of what waits for a node. */
export const STREAM_MAXLEN = 100_000;
/** XADDs written and not yet answered (Redis away or slow); beyond this messages are dropped and counted. */
export const MAX_PENDING = 50_000;
const EMPTY = Buffer.alloc(0);
const BATCH = 1000;

export type Mode = 'd' | 'r' | 'dr';

export class StreamOut {
  pending = 0;
  dropped = 0;
  private warned = false;

  constructor(
    private readonly cmd: Redis,
    private readonly log: Log,
  ) {}

  /** Appends `msg` to `node`'s stream; the promise settles when Redis has it (or it was dropped). */
  send(node: string, msg: Message, mode: Mode, groups?: string): Promise<unknown> {
    if (this.pending >= MAX_PENDING) {
      this.dropped++;
      if (!this.warned) {
        this.warned = true;
        this.log.warning(`Warning: Cluster: Redis is not taking messages for other nodes; beyond ${MAX_PENDING} waiting they are dropped and counted.`);
      }
      return Promise.resolve();
    }
    this.pending++;
    const args: (string | Buffer | number)[] = [
      streamKey(node), 'MAXLEN', '~', STREAM_MAXLEN, '*',
      'm', mode, 't', msg.topic, 'p', msg.payload, 'q', msg.qos,
      'f', msg.from ?? '', 'u', msg.fromUsername ?? '', 'e', toShared(msg.expiresAt),
    ];
    const props = msg.storedProperties();
    if (props.length > 0) args.push('x', props);
    if (groups !== undefined) args.push('g', groups);
    return this.cmd.xadd(...(args as [string])).then(
      () => this.done(),
      () => this.done(),
    );
  }

  private done(): void {
    this.pending--;
    if (this.pending === 0) this.warned = false;
  }
}

export interface Entry {
  mode: Mode;
  msg: Message;
  /** Shared groups this node delivers the message to ("group\nfilter" keys, '\t' between). */
  groups: string | undefined;
}

/** Decodes a stream entry's field list; undefined if it is not one of ours. */
export function decodeEntry(fields: Buffer[]): Entry | undefined {
  const f = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i].toString(), fields[i + 1]);
  const t = f.get('t')?.toString();
  const mode = f.get('m')?.toString() as Mode | undefined;
  if (t === undefined || mode === undefined) return undefined;
  const q = Number(f.get('q')?.toString());
  const qos = q === 1 || q === 2 ? q : 0;
  const from = f.get('f')?.toString() || undefined;
  const user = f.get('u')?.toString() || undefined;
  const msg = new Message(t, f.get('p') ?? EMPTY, qos, mode === 'r' || mode === 'dr', undefined, from, user);
  const x = f.get('x');
  if (x !== undefined && x.length > 0) msg.setStoredProperties(x);
  const e = Number(f.get('e')?.toString() ?? 0);
  if (e > 0) msg.expiresAt = fromShared(e);
  return { mode, msg, groups: f.get('g')?.toString() };
}

/**
 * Reads this node's stream: first what it was given and never acknowledged (a previous
 * run that died), then new entries, blocking on a connection of its own.
 */
export class StreamIn {
  private stopped = false;
  private backlog = true;

  constructor(
    private readonly reader: Redis,
    private readonly cmd: Redis,
    private readonly node: string,
    private readonly handle: (e: Entry) => void,
  ) {}

  async start(): Promise<void> {
    await this.cmd.xgroup('CREATE', streamKey(this.node), GROUP, '0', 'MKSTREAM').catch(() => {});
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
  }

  private async loop(): Promise<void> {
    const key = streamKey(this.node);
    while (!this.stopped) {
      try {
        const res = (await this.reader.callBuffer(
          'XREADGROUP', 'GROUP', GROUP, this.node, 'COUNT', BATCH, 'BLOCK', 1000, 'STREAMS', key, this.backlog ? '0' : '>',
        )) as [Buffer, [Buffer, Buffer[]][]][] | null;
        const entries = res?.[0]?.[1] ?? [];
        if (this.backlog && entries.length === 0) this.backlog = false;
        if (entries.length === 0) continue;
        const ids: Buffer[] = [];
        for (const [id, fields] of entries) {
          ids.push(id);
          if (fields === null) continue;
          const e = decodeEntry(fields);
          if (e !== undefined && (e.msg.expiresAt === 0 || e.msg.expiresAt > Date.now())) this.handle(e);
        }
        // Handed to the local sessions: acknowledged and removed, without waiting for the
        // answer before the next read (the same connection carries the sessions' mirror
        // writes first, in order; an entry whose XACK is lost is read again after a restart).
        const acked = this.cmd.multi().xack(key, GROUP, ...ids).xdel(key, ...ids).exec();
        // Re-reading the backlog ('0') must not see these again: wait for the XACK then.
        if (this.backlog) await acked;
        else acked.catch(() => {});
      } catch (err) {
        if (this.stopped) return;
        if ((err as Error).message.includes('NOGROUP')) {
          await this.cmd.xgroup('CREATE', key, GROUP, '0', 'MKSTREAM').catch(() => {});
        }
        this.backlog = true;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}
