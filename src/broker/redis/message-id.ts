/**
 * Ids of messages as Redis knows them (mqtt:msg:<msgid>, ${msgid}, the id field of
 * mqtt:retain:<topic>). An id starts with its position in publish order, 14 hex digits
 * of microseconds since the epoch made strictly increasing within this process, then
 * 8 hex digits that tell brokers apart. So ids sort in publish order as strings, and the
 * position of an acknowledged message is known from its id alone even after the message
 * itself expired (mqtt:acked:<clientid>:<topic> holds an id).
 */
import { randomBytes } from 'node:crypto';
import type { RedisStoreMode } from '../config/types.js';
import type { Message } from '../message.js';

export interface StoredRef {
  id: string;
  /** Position in publish order; also the sorted-set score. */
  score: number;
  /** Store mode of the topic, or null for a message that is not in the offline store. */
  mode: RedisStoreMode | null;
}

const POSITION_DIGITS = 14;

/** The position encoded in an id, or -1 if it is not one of ours. */
export function positionOf(id: string): number {
  const n = parseInt(id.slice(0, POSITION_DIGITS), 16);
  return Number.isFinite(n) ? n : -1;
}

export class MessageIds {
  private last = 0;
  private readonly tag = randomBytes(4).toString('hex');
  private readonly refs = new WeakMap<Message, StoredRef>();

  /** The next position: now in microseconds, or one past the last if the clock stood still. */
  nextPosition(): number {
    const now = Date.now() * 1000;
    this.last = now > this.last ? now : this.last + 1;
    return this.last;
  }

  /** The position a replay may read up to: everything published before now. */
  ceiling(): number {
    const now = Date.now() * 1000;
    return now > this.last ? now : this.last;
  }

  assign(msg: Message, mode: RedisStoreMode | null): StoredRef {
    const score = this.nextPosition();
    const ref: StoredRef = { id: score.toString(16).padStart(POSITION_DIGITS, '0') + this.tag, score, mode };
    this.refs.set(msg, ref);
    return ref;
  }

  /** Attaches a message read back from Redis to its id. */
  adopt(msg: Message, id: string, mode: RedisStoreMode | null): StoredRef {
    const ref: StoredRef = { id, score: positionOf(id), mode };
    this.refs.set(msg, ref);
    return ref;
  }

  get(msg: Message): StoredRef | undefined {
    return this.refs.get(msg);
  }

  /** The message's id, giving it one if it has none yet (hooks' ${msgid}). */
  idOf(msg: Message): string {
    return (this.refs.get(msg) ?? this.assign(msg, null)).id;
  }
}
