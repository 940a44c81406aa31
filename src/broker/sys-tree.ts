/**
 * $SYS/broker/...: the broker's own statistics, published as retained messages every
 * sys_interval seconds.
 */
import type { Broker } from './broker.js';
import { VERSION } from './version.js';

export class SysTree {
  private readonly broker: Broker;
  private timer: NodeJS.Timeout | undefined;
  private readonly last = new Map<string, string>();

  constructor(broker: Broker) {
    this.broker = broker;
  }

  start(): void {
    const interval = this.broker.options.sysInterval;
    if (interval <= 0) return;
    this.publish(`$SYS/broker/version`, `mosquitto version ${VERSION}`, true);
    this.update();
    this.timer = setInterval(() => this.update(), interval * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  /** Publishes the current values; unchanged values are not sent again, as Mosquitto. */
  update(): void {
    const b = this.broker;
    const s = b.stats;
    const uptime = Math.floor((Date.now() - b.startedAt) / 1000);
    this.publish('$SYS/broker/uptime', `${uptime} seconds`, true);
    this.publish('$SYS/broker/clients/connected', String(s.clientsConnected));
    this.publish('$SYS/broker/clients/active', String(s.clientsConnected));
    let disconnected = 0;
    for (const session of b.sessions.values()) if (session.client === null) disconnected++;
    this.publish('$SYS/broker/clients/disconnected', String(disconnected));
    this.publish('$SYS/broker/clients/inactive', String(disconnected));
    this.publish('$SYS/broker/clients/total', String(s.clientsConnected + disconnected));
    this.publish('$SYS/broker/clients/maximum', String(s.clientsMaximum));
    this.publish('$SYS/broker/clients/expired', String(s.clientsExpired));
    this.publish('$SYS/broker/messages/received', String(s.messagesReceived));
    this.publish('$SYS/broker/messages/sent', String(s.messagesSent));
    this.publish('$SYS/broker/messages/stored', String(s.storedMessages + b.retained.count));
    this.publish('$SYS/broker/store/messages/count', String(s.storedMessages + b.retained.count));
    this.publish('$SYS/broker/publish/messages/received', String(s.publishReceived));
    this.publish('$SYS/broker/publish/messages/sent', String(s.publishSent));
    this.publish('$SYS/broker/publish/messages/dropped', String(s.publishDropped));
    this.publish('$SYS/broker/bytes/received', String(s.bytesReceived));
    this.publish('$SYS/broker/bytes/sent', String(s.bytesSent));
    this.publish('$SYS/broker/retained messages/count', String(b.retained.count));
    this.publish('$SYS/broker/subscriptions/count', String(b.router.count));
    this.publish('$SYS/broker/heap/current', String(process.memoryUsage().heapUsed));
  }

  private publish(topic: string, value: string, always = false): void {
    if (!always && this.last.get(topic) === value) return;
    this.last.set(topic, value);
    this.broker.publishInternal(topic, value, 0, true);
  }
}
