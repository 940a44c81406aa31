/**
 * Times that travel between nodes (issue 15, a node's clock skewed). Membership needs no
 * clock: leases are Redis TTLs (PEXPIRE) and the nodes look at them on local intervals.
 * What does travel is a message's expiry, an absolute time: on its way into Redis it is
 * put on Redis's clock (TIME), and on its way out back on the reading node's, so that a
 * node whose wall clock is an hour off neither drops a message that has a minute left nor
 * keeps one that expired. The offset is measured when the node joins (and rejoins).
 */
import type { RedisClient } from '../redis/link-options.js';

/** Redis's time minus this node's wall clock, ms. */
let offset = 0;

/** Measures the offset with TIME, half the round trip counted on each side. */
export async function measureClock(cmd: RedisClient): Promise<void> {
  const t0 = Date.now();
  const [s, us] = await cmd.time();
  const t1 = Date.now();
  offset = Number(s) * 1000 + Math.floor(Number(us) / 1000) - Math.round((t0 + t1) / 2);
}

/** A local absolute time (unix ms, 0 none) on Redis's clock. */
export function toShared(localMs: number): number {
  return localMs === 0 ? 0 : localMs + offset;
}

/** A time on Redis's clock (unix ms, 0 none) on this node's. */
export function fromShared(sharedMs: number): number {
  return sharedMs === 0 ? 0 : sharedMs - offset;
}
