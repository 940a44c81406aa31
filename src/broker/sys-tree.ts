/**
 * $SYS/broker/...: the broker's own statistics, published as retained QoS 0 messages every
 * sys_interval seconds, with Mosquitto 2.0's topics, formats and order (mosquitto(8),
 * BROKER STATUS; compared side by side in test/broker-sys-full.test.ts). As Mosquitto, a
 * value is sent again only when it changed; uptime goes every time, version once.
 */
import v8 from 'node:v8';
import type { Stats } from './stats.js';
import { VERSION } from './version.js';
import type { BrokerCore, SysPublisher } from './core.js';

/** The counters that have load averages, in Mosquitto's publishing order. */
const LOADS: readonly [string, (s: Stats) => number][] = [
  ['messages/received', (s) => s.messagesReceived],
  ['messages/sent', (s) => s.messagesSent],
  ['publish/dropped', (s) => s.publishDropped],
  ['publish/received', (s) => s.publishReceived],
  ['publish/sent', (s) => s.publishSent],
  ['bytes/received', (s) => s.bytesReceived],
  ['bytes/sent', (s) => s.bytesSent],
  ['sockets', (s) => s.socketsOpened],
  ['connections', (s) => s.connectionsTotal],
];
/** Averaging windows in seconds, with their topic suffixes. */
const WINDOWS: readonly [string, number][] = [
  ['1min', 60],
  ['5min', 300],
  ['15min', 900],
];

/**
 * One exponentially damped moving average of a per-minute rate, as Unix load averages:
 * new = rate + e^(-dt/window) * (old - rate). Published with two decimals.
 */
export function dampedAverage(old: number, ratePerMinute: number, elapsedSeconds: number, windowSeconds: number): number {
  const k = Math.exp(-elapsedSeconds / windowSeconds);
  return ratePerMinute + k * (old - ratePerMinute);
}

export class SysTree implements SysPublisher {
  private readonly broker: BrokerCore;
  private timer: NodeJS.Timeout | undefined;
  private readonly last = new Map<string, string>();
  /** Load state: per counter, the count at the last update and the three averages. */
  private readonly loadCounts: number[] = LOADS.map(() => 0);
  private readonly loadValues: number[][] = LOADS.map(() => [0, 0, 0]);
  private lastUpdate = 0;
  private heapMaximum = 0;

  constructor(broker: BrokerCore) {
    this.broker = broker;
  }

  start(): void {
    const interval = this.broker.options.sysInterval;
    if (interval <= 0) return;
    // Static: sent once, retained, so that every later subscriber gets it (mosquitto(8)).
    this.publish(`$SYS/broker/version`, `mosquitto version ${VERSION}`, true);
    this.update();
    this.schedule(interval);
  }

  /** Restarts the timer with a new sys_interval (SIGHUP reload); 0 stops publishing. */
  setInterval(interval: number): void {
    this.stop();
    if (interval <= 0) return;
    if (!this.last.has('$SYS/broker/version')) {
      this.start();
      return;
    }
    this.schedule(interval);
  }

  private schedule(interval: number): void {
    this.timer = setInterval(() => this.update(), interval * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Publishes the current values; unchanged values are not sent again, as Mosquitto. */
  update(): void {
    const b = this.broker;
    const s = b.stats;
    const now = Date.now();
    const uptime = Math.floor((now - b.startedAt) / 1000);
    this.publish('$SYS/broker/uptime', `${uptime} seconds`, true);

    let disconnected = 0;
    let queuedBytes = 0;
    for (const session of b.sessions.values()) {
      if (session.client === null) disconnected++;
      queuedBytes += session.queue.bytes;
    }
    const connected = s.clientsConnected;
    this.publish('$SYS/broker/clients/total', String(connected + disconnected));
    this.publish('$SYS/broker/clients/inactive', String(disconnected));
    this.publish('$SYS/broker/clients/disconnected', String(disconnected));
    this.publish('$SYS/broker/clients/active', String(connected));
    this.publish('$SYS/broker/clients/connected', String(connected));
    this.publish('$SYS/broker/clients/expired', String(s.clientsExpired));
    // Mosquitto starts its maximum at 0 and sends it only once it has moved.
    if (s.clientsMaximum > 0) this.publish('$SYS/broker/clients/maximum', String(s.clientsMaximum));

    this.updateLoads(now);

    const stored = String(s.storedMessages + b.retained.count);
    this.publish('$SYS/broker/messages/stored', stored);
    this.publish('$SYS/broker/messages/received', String(s.messagesReceived));
    this.publish('$SYS/broker/messages/sent', String(s.messagesSent));
    this.publish('$SYS/broker/store/messages/count', stored);
    this.publish('$SYS/broker/store/messages/bytes', String(queuedBytes + b.retained.bytes));
    this.publish('$SYS/broker/subscriptions/count', String(b.router.count));
    this.publish('$SYS/broker/shared_subscriptions/count', String(b.router.sharedCount));
    this.publish('$SYS/broker/retained messages/count', String(b.retained.count));

    const heap = v8.getHeapStatistics().used_heap_size;
    if (heap > this.heapMaximum) this.heapMaximum = heap;
    this.publish('$SYS/broker/heap/current', String(heap));
    this.publish('$SYS/broker/heap/maximum', String(this.heapMaximum));

    this.publish('$SYS/broker/publish/messages/dropped', String(s.publishDropped));
    this.publish('$SYS/broker/publish/messages/received', String(s.publishReceived));
    this.publish('$SYS/broker/publish/messages/sent', String(s.publishSent));
    this.publish('$SYS/broker/publish/bytes/received', String(s.publishBytesReceived));
    this.publish('$SYS/broker/publish/bytes/sent', String(s.publishBytesSent));
    this.publish('$SYS/broker/bytes/received', String(s.bytesReceived));
    this.publish('$SYS/broker/bytes/sent', String(s.bytesSent));
  }

  /**
   * load/<counter>/{1min,5min,15min}: the counter's increase since the last update as a
   * per-minute rate, damped over each window. The first update sends 0.00 everywhere;
   * later ones send a value when it moved by at least 0.01.
   */
  private updateLoads(now: number): void {
    const s = this.broker.stats;
    const initial = this.lastUpdate === 0;
    const elapsed = initial ? 0 : Math.max(0.001, (now - this.lastUpdate) / 1000);
    this.lastUpdate = now;
    for (let i = 0; i < LOADS.length; i++) {
      const [name, read] = LOADS[i];
      const count = read(s);
      const delta = count - this.loadCounts[i];
      this.loadCounts[i] = count;
      const rate = initial ? 0 : (delta * 60) / elapsed;
      for (let w = 0; w < WINDOWS.length; w++) {
        const [suffix, window] = WINDOWS[w];
        const old = this.loadValues[i][w];
        const next = initial ? 0 : dampedAverage(old, rate, elapsed, window);
        this.loadValues[i][w] = next;
        if (initial || Math.abs(next - old) >= 0.01) {
          this.publish(`$SYS/broker/load/${name}/${suffix}`, next.toFixed(2), true);
        }
      }
    }
  }

  private publish(topic: string, value: string, always = false): void {
    if (!always && this.last.get(topic) === value) return;
    this.last.set(topic, value);
    this.broker.publishInternal(topic, value, 0, true);
  }
}
