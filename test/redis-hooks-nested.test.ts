/**
 * Command hooks: the message.publish hooks are encoded lazily, when their connection next
 * writes (RedisLink.addSource). An event fired while such a publish is pending must keep
 * its own ${msgid}: the nested encoding of the publish hooks must not leak theirs.
 */
import { describe, expect, it } from 'vitest';
import type { RedisHook } from '../src/broker/config/types.js';
import type { Message } from '../src/broker/message.js';
import type { RedisLink } from '../src/broker/redis/connection.js';
import { Hooks } from '../src/broker/redis/hooks.js';

/** A write connection that records each command's string arguments, in order. */
class FakeLink {
  readonly commands: string[][] = [];
  private sources: { encodePending(): void }[] = [];
  private deferred = false;
  private current: string[] = [];
  readonly out = {
    raw: (b: Buffer): void => {
      this.current.push(...b.toString().split('\r\n').filter((x) => x !== '' && !/^[*$]/.test(x)));
    },
    bytes: (b: Buffer): void => void this.current.push(b.toString()),
    str: (s: string): void => void this.current.push(s),
  };
  addSource(s: { encodePending(): void }): void {
    this.sources.push(s);
  }
  later(): void {
    this.deferred = true;
  }
  begin(): boolean {
    if (this.deferred) {
      this.deferred = false;
      for (const s of this.sources) s.encodePending();
    }
    this.current = [];
    return true;
  }
  end(): void {
    this.commands.push(this.current);
  }
}

const hook = (event: RedisHook['event'], args: string[]): RedisHook => ({ event, topic: null, pool: null, command: 'RPUSH', args });
const message = (topic: string): Message => ({ topic, qos: 1, payload: Buffer.from(topic), from: 'c' }) as unknown as Message;

describe('Redis command hooks fired inside the encoding of pending publish hooks', () => {
  it('an acked message keeps its own ${msgid} when a publish was pending on the same connection', () => {
    const link = new FakeLink();
    const hooks = new Hooks(
      [hook('message.publish', ['log', 'pub ${msgid}']), hook('message.acked', ['log', 'acked ${msgid}'])],
      () => link as unknown as RedisLink,
      'node',
      (m) => `id-of-${m.topic}`,
    );
    hooks.firePublish(message('new'));
    hooks.fire('message.acked', { clientid: 'c', topic: 'old', message: message('old') });
    expect(link.commands).toEqual([
      ['RPUSH', 'log', 'pub id-of-new'],
      ['RPUSH', 'log', 'acked id-of-old'],
    ]);
  });
});
