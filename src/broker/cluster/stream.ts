/**
 * Cross-node transport (issue 15): one Redis Stream per node, mqtt:stream:<node>, read
 * by that node in the consumer group "cluster". Streams rather than Pub/Sub for every
 * QoS: an entry stays in Redis until the receiving node has handed it to its local
 * sessions and acknowledged it (XACK), so a message survives the receiver restarting
 * or Redis dropping the connection for a while, and one transport keeps one order for a
 * publisher's QoS 0 and QoS 1/2 messages on a topic. A node's messages for another node
 * within one event-loop turn are one entry (one XADD per target node per turn, up to
 * BATCH_MAX messages), paid only for nodes whose routes match; the reader takes up to
 * READ_COUNT entries a read and acknowledges them together.
 *
 * An entry is one field, b: its messages one after the other (encodeMessage). Entries of
 * named fields (m t p q f u e x g, one message each) are still read.
 */
import type { RedisClient } from '../redis/link-options.js';
import type { Log } from '../log.js';
import type { Message } from '../message.js';
import { PauseOwner } from '../core.js';
import { GROUP, streamKey } from './keys.js';
import { decodeEntry, encodeMessage, type Entry, type EntryBuffer, type Mode } from './codec.js';

export { decodeEntry, type Entry, type Mode } from './codec.js';

/** Entries kept per stream at most (approximately): the bound of what waits for a node. */
export const STREAM_MAXLEN = 20_000;
/** Messages in one entry at most, and its size (bytes) beyond which no more are added. */
export const BATCH_MAX = 256;
const BATCH_BYTES = 64 * 1024;
/** Messages waiting for Redis's answer beyond which QoS 0 ones are dropped and counted. */
export const MAX_PENDING = 50_000;
/**
 * QoS 1/2 messages held for Redis (their publishers' acknowledgements wait) at which the
 * publishers that add more are paused (cluster_max_held_messages's default); they read
 * again once the held count is down to half.
 */
export const MAX_HELD = 4 * MAX_PENDING;
const READ_COUNT = 64;
/** Between two attempts of an entry Redis refused. */
const RETRY_MS = 200;

/** The messages of one turn for one node: one entry, one XADD. */
class Batch implements EntryBuffer {
  buf = Buffer.allocUnsafe(4096);
  len = 0;
  count = 0;
  /** Of `count`, the QoS 1/2 messages. */
  held = 0;
  /** Redis refused it once (StreamOut.refuse). */
  refusedOnce = false;
  readonly done: Promise<void>;
  settle!: () => void;
  constructor(readonly node: string) {
    this.done = new Promise<void>((r) => (this.settle = r));
  }

  room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
}

/**
 * The sending side. Messages for a node within one event-loop turn are encoded into one
 * entry (field `b`, see encodeMessage) and the turn's entries go out together on the
 * auto-pipelined commands connection (setImmediate: after every socket's data of the
 * turn was handled), so Redis sees one XADD per node per turn (per BATCH_MAX messages)
 * instead of one per message. Order is the order of `send` calls, per node. The promise
 * `send` returns is the entry's: it settles when Redis has the entry. An XADD Redis
 * refuses (an error reply: out of memory, read-only, ...) is written again every
 * RETRY_MS, the node's later entries queued behind it, until Redis takes it or the node
 * stops: an acknowledgement waiting for it never goes out for a message Redis lacks.
 */
export class StreamOut {
  /** Messages sent (or being sent) and not yet answered. */
  pending = 0;
  /** Of `pending`, the QoS 1/2 ones: never dropped; at `maxHeld`, their publishers are paused. */
  held = 0;
  dropped = 0;
  private warned = false;
  private heldWarned = false;
  /** The publishers paused while `held` is at the bound, by client id (a reconnect replaces). */
  private readonly paused = new Map<string, Pausable>();
  private readonly open = new Map<string, Batch>();
  /** Per node, the entries Redis refused and those behind them, in order. */
  private readonly refused = new Map<string, Batch[]>();
  private refusedWarned = false;
  private closed = false;
  private scheduled = false;
  private readonly flushNow = (): void => this.flush();

  constructor(
    private readonly cmd: RedisClient,
    private readonly log: Log,
    readonly maxHeld: number = MAX_HELD,
  ) {}

  /** Whether the QoS 1/2 messages held have reached the bound (publishers adding more are paused). */
  full(): boolean {
    return this.held >= this.maxHeld;
  }

  /**
   * Stops reading from a publisher that added a held message while full(), until the held
   * count is down to half: what it already sent is still taken (and held: at most the rest
   * of one socket read per publisher beyond the bound), nothing is dropped.
   */
  pause(id: string, c: Pausable): void {
    if (!this.heldWarned) {
      this.heldWarned = true;
      this.log.warning(`Warning: Cluster: Redis is not taking messages for other nodes; ${this.held} QoS 1 and 2 messages are held, their publishers are paused until it does.`);
    }
    this.paused.set(id, c);
    c.pause(PauseOwner.Held);
  }

  /** Appends `msg` to `node`'s stream; the promise settles when Redis has it (or it was dropped). */
  send(node: string, msg: Message, mode: Mode, groups?: string): Promise<void> {
    // QoS 1/2 is never dropped here: its publisher's acknowledgement waits for Redis's answer.
    if (msg.qos === 0 && this.pending >= MAX_PENDING) {
      this.dropped++;
      if (!this.warned) {
        this.warned = true;
        this.log.warning(`Warning: Cluster: Redis is not taking messages for other nodes; beyond ${MAX_PENDING} waiting, QoS 0 ones are dropped and counted.`);
      }
      return RESOLVED;
    }
    this.pending++;
    let b = this.open.get(node);
    if (b === undefined) {
      b = new Batch(node);
      this.open.set(node, b);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flushNow);
      }
    }
    encodeMessage(b, msg, mode, groups);
    if (msg.qos > 0) {
      b.held++;
      this.held++;
    }
    if (b.count >= BATCH_MAX || b.len >= BATCH_BYTES) {
      this.open.delete(node);
      this.write(b);
    }
    return b.done;
  }

  /** Writes every open entry (the end of a turn). */
  flush(): void {
    this.scheduled = false;
    for (const b of this.open.values()) this.write(b);
    this.open.clear();
  }

  /** The node stops: what Redis refuses from now on is given up (its clients are gone). */
  close(): void {
    this.closed = true;
    for (const q of this.refused.values()) for (const b of q) this.end(b);
    this.refused.clear();
  }

  private write(b: Batch): void {
    const q = this.refused.get(b.node);
    if (q !== undefined) {
      q.push(b);
      return;
    }
    this.xadd(b).then(
      () => this.end(b),
      (err: Error) => this.refuse(b, err),
    );
  }

  private xadd(b: Batch): Promise<unknown> {
    return this.cmd.xadd(streamKey(b.node), 'MAXLEN', '~', STREAM_MAXLEN, '*', 'b', b.buf.subarray(0, b.len));
  }

  private end(b: Batch): void {
    this.pending -= b.count;
    this.held -= b.held;
    if (this.pending === 0) this.warned = false;
    if (this.paused.size > 0 && this.held <= this.maxHeld >> 1) this.resumeAll();
    b.settle();
  }

  private refuse(b: Batch, err: Error): void {
    if (this.closed) {
      this.end(b);
      return;
    }
    if (!this.refusedWarned) {
      this.refusedWarned = true;
      this.log.warning(`Warning: Cluster: Redis refused messages for node ${b.node} (${err.message}); they are held and sent again.`);
    }
    const q = this.refused.get(b.node);
    if (q !== undefined) {
      // Refused after an earlier one of the same node: it goes right behind the refused ones.
      const i = q.findIndex((x) => !x.refusedOnce);
      q.splice(i === -1 ? q.length : i, 0, b);
    } else {
      this.refused.set(b.node, [b]);
      setTimeout(() => void this.retry(b.node), RETRY_MS).unref();
    }
    b.refusedOnce = true;
  }

  /** Writes a node's refused entries again, in order, then lets its new ones go directly. */
  private async retry(node: string): Promise<void> {
    const q = this.refused.get(node);
    while (q !== undefined && q.length > 0 && !this.closed) {
      const b = q[0];
      try {
        await this.xadd(b);
      } catch {
        if (this.closed) break;
        setTimeout(() => void this.retry(node), RETRY_MS).unref();
        return;
      }
      // close() gave the queue up meanwhile (and settled it).
      if (this.closed) return;
      q.shift();
      this.end(b);
    }
    if (this.refused.get(node) === q) this.refused.delete(node);
    if (this.refused.size === 0) this.refusedWarned = false;
  }

  private resumeAll(): void {
    this.heldWarned = false;
    this.log.notice(`Cluster: Redis takes messages for other nodes again; ${this.paused.size} paused publisher${this.paused.size === 1 ? '' : 's'} resumed.`);
    // Only this pause is undone: a socket paused for another reason as well stays paused.
    for (const c of this.paused.values()) c.resume(PauseOwner.Held);
    this.paused.clear();
  }
}

/** A publisher's connection, as far as holding it back goes (Connection: pauses are owned). */
export interface Pausable {
  pause(owner: number): void;
  resume(owner: number): void;
}

const RESOLVED = Promise.resolve();

/**
 * Reads this node's stream: first what it was given and never acknowledged (a previous
 * run that died), then new entries, blocking on a connection of its own.
 */
export class StreamIn {
  private stopped = false;
  private backlog = true;
  private now = 0;
  private readonly each = (e: Entry): void => {
    if (e.msg.expiresAt === 0 || e.msg.expiresAt > this.now) this.handle(e);
  };

  constructor(
    private readonly reader: RedisClient,
    private readonly cmd: RedisClient,
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
          'XREADGROUP', 'GROUP', GROUP, this.node, 'COUNT', READ_COUNT, 'BLOCK', 1000, 'STREAMS', key, this.backlog ? '0' : '>',
        )) as [Buffer, [Buffer, Buffer[]][]][] | null;
        const entries = res?.[0]?.[1] ?? [];
        if (this.backlog && entries.length === 0) this.backlog = false;
        if (entries.length === 0) continue;
        this.now = Date.now();
        const ids: Buffer[] = [];
        for (const [id, fields] of entries) {
          ids.push(id);
          if (fields === null) continue;
          decodeEntry(fields, this.each);
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
