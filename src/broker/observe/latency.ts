/**
 * Publish-to-delivery latency, sampled: the time from the broker routing a PUBLISH to the
 * start of the batch of socket writes that carries its copies to the subscribers (writes
 * go out once per event-loop turn, net/connection.ts; the plugin's beforeFlush hook calls
 * onFlush). Only a few messages a second are
 * timed, so the cost on the message path is one decrement and compare per message.
 *
 * The sampling period adapts: it doubles while samples come faster than MIN_GAP_MS apart
 * and halves when they are slower than MAX_GAP_MS, so that a busy broker is timed about
 * 50 to 100 times a second and a quiet one on every message.
 */
const MIN_GAP_MS = 10;
const MAX_GAP_MS = 20;
const MAX_PERIOD = 1 << 20;

export class LatencySampler {
  private countdown = 1;
  private period = 1;
  /** performance.now() when the pending sample was routed; 0 when none is pending. */
  private started = 0;
  private lastSample = 0;
  /** Counts samples, so that the expiry of one never clears the next. */
  private seq = 0;
  constructor(private readonly observe: (seconds: number) => void) {}

  /** Called for every routed message; times one now and then. */
  onPublish(): void {
    if (--this.countdown !== 0) return;
    this.startSample();
  }

  private startSample(): void {
    const now = performance.now();
    const gap = now - this.lastSample;
    this.lastSample = now;
    if (gap < MIN_GAP_MS && this.period < MAX_PERIOD) this.period *= 2;
    else if (gap > MAX_GAP_MS && this.period > 1) this.period >>= 1;
    this.countdown = this.period;
    if (this.started !== 0) return;
    this.started = now;
    const seq = ++this.seq;
    // A sample that no write batch followed in its turn (no subscriber) is dropped, not
    // timed late: the flush of this turn runs in the check phase this setImmediate is
    // queued in; the inner one runs after it. A closure per sample, never per message.
    setImmediate(() =>
      setImmediate(() => {
        if (this.seq === seq) this.started = 0;
      }),
    );
  }

  /** A batch of socket writes is about to go out. */
  onFlush(): void {
    const started = this.started;
    if (started === 0) return;
    this.started = 0;
    this.observe((performance.now() - started) / 1000);
  }
}
