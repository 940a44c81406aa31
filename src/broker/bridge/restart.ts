/**
 * When and where a bridge connects again: restart_timeout as a constant or as
 * "decorrelated jitter" between base and cap (mosquitto.conf(5)), and, with round_robin
 * false, a look now and then whether the main address accepts connections again.
 */
import net from 'node:net';
import type { BridgeAddress } from '../config/types.js';

export class Backoff {
  /** The last delay, in seconds. */
  private sleep: number;

  constructor(private readonly timeout: { base: number; cap: number | null }) {
    this.sleep = timeout.base;
  }

  /** Seconds to wait before the next attempt. */
  next(): number {
    const { base, cap } = this.timeout;
    if (cap === null) return base;
    const high = Math.max(base, this.sleep * 3);
    this.sleep = Math.min(cap, base + Math.random() * (high - base));
    return this.sleep;
  }

  /** A connection succeeded: the next delay starts from base again. */
  reset(): void {
    this.sleep = this.timeout.base;
  }
}

/** A TCP connection attempt to `addr` that only tells whether it was accepted. */
export class AddressProbe {
  private sock: net.Socket | undefined;

  get running(): boolean {
    return this.sock !== undefined;
  }

  start(addr: BridgeAddress, onAccepted: () => void): void {
    this.stop();
    const sock = net.connect({ host: addr.host, port: addr.port });
    this.sock = sock;
    sock.on('error', () => this.stop());
    sock.on('connect', () => {
      this.stop();
      onAccepted();
    });
  }

  stop(): void {
    this.sock?.destroy();
    this.sock = undefined;
  }
}
