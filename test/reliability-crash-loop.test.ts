/**
 * The crash loop, short (test/reliability/crash-loop.ts; `npm run crash-loop` runs it with
 * 50 kills per mode): the ts-mosquitto program with persistence is killed with SIGKILL at
 * random moments while QoS 1 and 2 messages flow to persistent subscribers, and restarted;
 * every message acknowledged to the publisher must arrive, QoS 2 exactly once. Also with
 * Redis on (redis-server killed too) and across a bridge (either broker killed).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { runMode, type Args } from './reliability/crash-loop.js';
import { haveRedis } from './helpers/redis-server.js';

const BIN = fileURLToPath(new URL('../dist/cli/broker.js', import.meta.url));
const args: Args = { kills: 4, modes: [], out: undefined, minGapMs: 100, maxGapMs: 800 };

beforeAll(() => {
  if (!fs.existsSync(BIN)) throw new Error(`${path.relative(process.cwd(), BIN)} is missing: run "npm run build" (npm test does) first`);
});

describe('crash loop: kill -9 at random moments loses no acknowledged message', () => {
  it('file persistence', { timeout: 90000 }, async () => {
    const r = await runMode('file', args);
    expect(r.acked).toBeGreaterThan(0);
    expect(r.missing).toBe(0);
    expect(r.duplicatesQos2).toBe(0);
  });

  it.runIf(haveRedis() || process.env.CI === 'true')('Redis stores on, redis-server killed too', { timeout: 90000 }, async () => {
    const r = await runMode('redis', args);
    expect(r.acked).toBeGreaterThan(0);
    expect(r.missing).toBe(0);
    expect(r.duplicatesQos2).toBe(0);
  });

  it('a bridge between two brokers, either killed', { timeout: 90000 }, async () => {
    const r = await runMode('bridge', args);
    expect(r.acked).toBeGreaterThan(0);
    expect(r.missing).toBe(0);
    expect(r.duplicatesQos2).toBe(0);
  });
});
