/**
 * Bridges as a broker plugin: they start with the broker (Broker.start), stop when it
 * closes, and are not restarted by a reload (SIGHUP), as with Mosquitto.
 *
 * Outgoing messages are matched against every bridge's out/both topics in one subscription
 * tree of its own (router.ts, cached per topic name), from the onPublish hook. A broker
 * without bridges has no such plugin, so the message path pays nothing for them.
 */
import type { QoS } from '../../protocol/index.js';
import type { BridgeConfig } from '../config/types.js';
import type { Message } from '../message.js';
import { Router } from '../router.js';
import { Bridge } from './bridge.js';
import { brokerPersists } from './bridge-session.js';
import { localSubscriptions } from './topic-map.js';
import type { BrokerCore, BrokerPlugin } from '../core.js';

export interface BridgePlugin extends BrokerPlugin {
  readonly bridges: Bridge[];
}

export function createBridgePlugin(configs: BridgeConfig[]): BridgePlugin {
  const router = new Router<Bridge>();
  const bridges: Bridge[] = [];
  let broker: BrokerCore | undefined;

  const onPublish = (msg: Message): boolean => {
    const { deliveries } = router.match(msg.topic);
    if (deliveries.length === 0) return false;
    const authorizer = broker!.options.authorizer;
    for (let i = 0; i < deliveries.length; i++) {
      const d = deliveries[i];
      const bridge = d.session;
      // No Local: what the bridge brought in is not sent back out (no loops).
      if (msg.from === bridge.clientId) continue;
      if (authorizer !== undefined && !authorizer.canRead(bridge.clientId, bridge.config.localUsername ?? undefined, msg.topic)) continue;
      bridge.forward(msg, (msg.qos < d.qos ? msg.qos : d.qos) as QoS);
    }
    // A bridge's topics are subscriptions in Mosquitto's tree: they count as subscribers.
    return true;
  };

  let sessionsLater = false;

  const plugin: BridgePlugin = {
    bridges,
    init(b: BrokerCore): void {
      broker = b;
      // A bridge takes over the local session persistence restored, so this must follow the
      // persistence plugin's init (the program pushes that plugin first). An embedding
      // program that pushed persistence after the bridges gets it done in start() instead.
      const persists = brokerPersists(b);
      sessionsLater = persists && b.plugins.slice(b.plugins.indexOf(plugin) + 1).some((p) => p.onOutgoing !== undefined);
      for (const config of configs) {
        const bridge = new Bridge(b, config);
        bridges.push(bridge);
        if (!sessionsLater) bridge.openSession(persists);
        for (const s of localSubscriptions(config.topics)) {
          router.subscribe(bridge, s.topic, { qos: s.qos, noLocal: true, retainAsPublished: true, retainHandling: 0, identifier: 0 });
        }
      }
    },
    start(): void {
      if (sessionsLater) for (const bridge of bridges) bridge.openSession(true);
      for (const bridge of bridges) bridge.start();
    },
    async stop(): Promise<void> {
      await Promise.all(bridges.map((bridge) => bridge.stop()));
    },
    onTerminate(): Promise<void> {
      return plugin.stop!() as Promise<void>;
    },
    onPublish,
    onSweep(now: number): void {
      for (const bridge of bridges) bridge.tick(now);
    },
  };
  return plugin;
}
