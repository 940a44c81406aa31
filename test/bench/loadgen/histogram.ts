// Latency histogram in constant memory: 1 microsecond buckets below 10 ms, 100 microsecond
// buckets up to 10 s, one overflow bucket. One increment per sample.
const FINE = 10_000; // 1 us buckets: 0 .. 10 ms
const COARSE = 99_900; // 100 us buckets: 10 ms .. 10 s
const OVERFLOW = FINE + COARSE;

export class LatencyHistogram {
  private readonly counts = new Uint32Array(OVERFLOW + 1);
  private total = 0;
  private maxMs = 0;

  record(ms: number): void {
    const us = ms * 1000;
    let i: number;
    if (us < FINE) i = us < 0 ? 0 : Math.floor(us);
    else if (us < FINE + COARSE * 100) i = FINE + Math.floor((us - FINE) / 100);
    else i = OVERFLOW;
    this.counts[i]!++;
    this.total++;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  get count(): number {
    return this.total;
  }

  /** The p-th percentile in milliseconds (upper edge of its bucket), or undefined if empty. */
  percentile(p: number): number | undefined {
    if (this.total === 0) return undefined;
    const rank = Math.ceil((p / 100) * this.total);
    let seen = 0;
    for (let i = 0; i <= OVERFLOW; i++) {
      seen += this.counts[i]!;
      if (seen < rank) continue;
      if (i === OVERFLOW) return this.maxMs;
      return Math.min(this.maxMs, i < FINE ? (i + 1) / 1000 : (FINE + (i - FINE + 1) * 100) / 1000);
    }
    return this.maxMs;
  }
}
