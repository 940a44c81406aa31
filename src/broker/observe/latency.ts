/**
 * Publish-to-delivery latency, sampled: the time from the broker routing a PUBLISH to the
 * start of the batch of socket writes that carries its copies to the subscribers (writes
 * go out once per event-loop turn, net/connection.ts; the plugin's beforeFlush hook calls
 * onFlush).
 *
 * Nothing runs per message for it: each write batch arms the broker's publishProbe
 * (BrokerCore) unless it is armed, which the broker calls as it routes the next message;
 * that message is timed if the latest sample is at least GAP_MS old. So the probe costs
 * a call per write batch, not per message; a busy broker is timed about 20 times a second
 * (each timing costs a histogram observation and two setImmediate callbacks), and a quiet
 * one on every message at least GAP_MS after the latest one timed.
 */
const GAP_MS = 50;

export class LatencySampler {
  private armed = false;
  /** performance.now() when the pending sample was routed; 0 when none is pending. */
  private started = 0;
  private lastSample = 0;
  /** Counts samples, so that the expiry of one never clears the next. */
  private seq = 0;

  /**
   * arm: sets the probe to call at the next routed message (BrokerCore.publishProbe);
   * observe: takes each timing, in seconds.
   */
  constructor(
    private readonly arm: (probe: () => void) => void,
    private readonly observe: (seconds: number) => void,
  ) {}

  /** The probe: a message is being routed now. */
  private readonly probe = (): void => {
    this.armed = false;
    const now = performance.now();
    if (now - this.lastSample < GAP_MS || this.started !== 0) return;
    this.lastSample = now;
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
  };

  /** A batch of socket writes is about to go out. */
  onFlush(): void {
    const started = this.started;
    if (started !== 0) {
      this.started = 0;
      this.observe((performance.now() - started) / 1000);
    }
    this.start();
  }

  /** Arms the probe unless it is armed (first before any write batch: the first message is timed). */
  start(): void {
    if (this.armed) return;
    this.armed = true;
    this.arm(this.probe);
  }
}
