// The records that only spare a duplicate after a crash (a QoS 1 message taken from the queue
// into flight, a completed message) are written with the next write that must happen, or
// within a moment: a crash right after them repeats messages, never loses one, and once
// the moment has passed what the subscriber acknowledged is not sent again.
import type { IPublishPacket } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { publishQos1, receiveAll } from './helpers/persist-flows.js';
import type { RawClient } from './helpers/raw-client.js';
import { cleanupPersistent, crashCopy, startPersistent, tempDir } from './helpers/persist-broker.js';

afterEach(cleanupPersistent);

/** The next `n` PUBLISHes, not acknowledged. */
async function take(c: RawClient, n: number): Promise<IPublishPacket[]> {
  const got: IPublishPacket[] = [];
  while (got.length < n) got.push(await c.nextPublish());
  return got;
}

const names = (got: IPublishPacket[]): string[] => [...new Set(got.map((p) => String(p.payload)))].sort();
const range = (from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`).sort();

describe('persistence: acknowledgements from subscribers', () => {
  it('a crash right after a subscriber PUBACK repeats messages at most; a moment later the acknowledged ones are gone for good', async () => {
    const dir = tempDir();
    const b1 = await startPersistent(dir);
    const { client: sub } = await b1.connect({ clientId: 'sub', clean: false });
    await sub.subscribe('q/#', 1);
    const { client: pub } = await b1.connect({ clientId: 'pub' });
    for (let i = 1; i <= 30; i++) await publishQos1(pub, 'q/x', `m${i}`, i);
    // 20 in flight (max_inflight_messages), 10 queued.
    const first = await take(sub, 20);
    expect(names(first)).toEqual(range(1, 20));
    for (const p of first.slice(0, 5)) sub.send({ cmd: 'puback', messageId: p.messageId });
    // Each PUBACK takes the next queued message into flight.
    const next = await take(sub, 5);
    expect(names(next)).toEqual(range(21, 25));
    const early = crashCopy(dir);
    await new Promise((r) => setTimeout(r, 300));
    const later = crashCopy(dir);

    // Right after: whatever was not acknowledged is there; the acknowledged may come again.
    const b2 = await startPersistent(early);
    const { client: sub2, sessionPresent } = await b2.connect({ clientId: 'sub', clean: false });
    expect(sessionPresent).toBe(true);
    const got2 = await receiveAll(sub2, 25);
    expect(names(got2)).toEqual(expect.arrayContaining(range(6, 30)));

    // A moment later: exactly what was not acknowledged, the in-flight ones with DUP.
    const b3 = await startPersistent(later);
    const { client: sub3 } = await b3.connect({ clientId: 'sub', clean: false });
    const got3 = await receiveAll(sub3, 25);
    expect(names(got3)).toEqual(range(6, 30));
    const inFlight = got3.filter((p) => p.dup).map((p) => String(p.payload));
    expect(inFlight.sort()).toEqual(range(6, 25));
    await expect(sub3.nextPublish(300)).rejects.toThrow();
  });
});
