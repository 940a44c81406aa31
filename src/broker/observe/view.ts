/**
 * What the observe plugin (metrics, health, dashboard) reads of the broker, and the other
 * plugins whose state it reports. Read-only and read at scrape or request time: nothing
 * here runs on the message path.
 */
import type { RedisPluginStats } from '../redis/plugin.js';
import type { PersistencePlugin } from '../persistence/plugin.js';
import type { BrokerCore } from '../core.js';

/** The broker as the observe plugin sees it. */
export type ObservedBroker = Pick<
  BrokerCore,
  'stats' | 'sessions' | 'clients' | 'router' | 'retained' | 'listeners' | 'options' | 'log' | 'startedAt'
>;

/** Plugins composed beside this one whose state is reported (each optional). */
export interface ObserveSources {
  persistence?: Pick<PersistencePlugin, 'journalCounters'>;
  redis?: { readonly stats: RedisPluginStats };
  /** cluster true: the node's own Redis connections (membership, routes, streams). */
  cluster?: { readonly stats: { connected(): boolean } };
}

/** "3.1", "3.1.1" or "5.0" for an MQTT protocol level. */
export function protocolName(version: number): string {
  return version === 5 ? '5.0' : version === 4 ? '3.1.1' : '3.1';
}
