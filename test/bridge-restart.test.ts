/**
 * When a bridge reconnects: restart_timeout's constant and "decorrelated jitter" forms, and
 * round_robin true (stay on the address that works, move on when it fails).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Backoff } from '../src/broker/bridge/restart.js';
import { freePort, sleep, startBroker, stopAll } from './bridge-helpers.js';

afterEach(stopAll);

describe('restart_timeout', () => {
  it('a constant waits the same each time', () => {
    const b = new Backoff({ base: 7, cap: null });
    expect([b.next(), b.next(), b.next()]).toEqual([7, 7, 7]);
  });

  it('base and cap: random delays between base and cap, growing from base, back to base after a connection', () => {
    const b = new Backoff({ base: 2, cap: 30 });
    const delays: number[] = [];
    for (let i = 0; i < 200; i++) delays.push(b.next());
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(2);
      expect(d).toBeLessThanOrEqual(30);
    }
    // The first delay is at most three times base (decorrelated jitter starts from base).
    const fresh = new Backoff({ base: 2, cap: 30 });
    expect(fresh.next()).toBeLessThanOrEqual(6);
    expect(Math.max(...delays)).toBeGreaterThan(6);
    b.reset();
    expect(b.next()).toBeLessThanOrEqual(6);
  });
});

describe('round_robin true', () => {
  it('stays on the address that works, and moves to the next when it fails', async () => {
    const first = await freePort();
    const second = await startBroker();
    const local = await startBroker({
      bridgeConf: ['connection b1', `addresses 127.0.0.1:${first} 127.0.0.1:${second.port}`, 'round_robin true', 'restart_timeout 1', 'topic t/# out 0'],
    });
    await second.waitForLine(/New bridge connected from .* as testhost\.b1 /, 5000);
    const main = await startBroker({ port: first });
    await sleep(2500);
    // Not moved back to the first address while the second works.
    expect(main.lines.some((l) => l.includes('testhost.b1'))).toBe(false);
    await second.close();
    await main.waitForLine(/New bridge connected from .* as testhost\.b1 /, 5000);
    expect(local.count(/^Connecting bridge \(step 1\) b1 /)).toBeGreaterThanOrEqual(3);
  });
});
