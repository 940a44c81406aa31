/**
 * The timers of a bridge's connection attempts: each attempt is numbered, so that a dial
 * answering after its attempt was given up is ignored, and given up when it has not
 * reached CONNACK within keepalive_interval; between attempts, the restart delay.
 */
export class Attempts {
  /** Counts attempts; the current one is `current`. */
  private count = 0;
  private attemptTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;

  /** Starts a new attempt, given up by `onTimeout` (with its number) after `seconds`; returns its number. */
  begin(seconds: number, onTimeout: (attempt: number) => void): number {
    const attempt = ++this.count;
    this.attemptTimer = setTimeout(() => {
      this.attemptTimer = undefined;
      onTimeout(attempt);
    }, seconds * 1000);
    this.attemptTimer.unref();
    return attempt;
  }

  /** Whether `attempt` is still the current one. */
  isCurrent(attempt: number): boolean {
    return attempt === this.count;
  }

  /** Gives up the current attempt: whatever it still answers is ignored. */
  abandon(): void {
    this.count++;
  }

  /** The attempt reached CONNACK or ended: its timeout is no longer needed. */
  settle(): void {
    if (this.attemptTimer !== undefined) clearTimeout(this.attemptTimer);
    this.attemptTimer = undefined;
  }

  /** Runs `restart` after `seconds` (replacing a restart already planned). */
  restartIn(seconds: number, restart: () => void): void {
    this.cancelRestart();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      restart();
    }, seconds * 1000);
    this.restartTimer.unref();
  }

  cancelRestart(): void {
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }
}
