/**
 * What Mosquitto 2.0 decides once every line is read: the default listener, local-only
 * mode, allow_anonymous's default, per_listener_settings, and the bridge checks and
 * defaults. Errors here have no "Error found at" line, as in Mosquitto.
 */
import { hostname as osHostname } from 'node:os';
import { DEFAULT_PORT } from './defaults.js';
import { OptionError } from './errors.js';
import type { ParseState } from './state.js';
import type { BrokerConfig, ListenerConfig } from './types.js';

/** The lines Mosquitto logs (notice level) when it starts in local-only mode. */
export const LOCAL_ONLY_MESSAGES: readonly string[] = [
  'Starting in local only mode. Connections will only be possible from clients running on this machine.',
  'Create a configuration file which defines a listener to allow remote access.',
  'For more details see https://mosquitto.org/documentation/authentication-methods/',
];

export interface FinalizeOptions {
  /** Ports given with -p; used only when the configuration defines no listener. */
  ports?: number[];
  /** Host name for bridge client ids ("<hostname>.<name>", as Mosquitto 2.0 makes them); defaults to os.hostname(). */
  hostname?: string;
}

/** The two loopback listeners of local-only mode for one port. */
function localOnlyListeners(st: ParseState, port: number): ListenerConfig[] {
  const out: ListenerConfig[] = [];
  for (const [host, domain] of [
    ['127.0.0.1', 'ipv4'],
    ['::1', 'ipv6'],
  ] as const) {
    // Options given before any listener (protocol, http_dir...) still apply here.
    const l: ListenerConfig = { ...st.defaultListener, port, host, socketDomain: domain, isDefault: true };
    out.push(l);
  }
  return out;
}

function finalizeListeners(st: ParseState, opts: FinalizeOptions): void {
  const c = st.config;
  if (st.defaultListenerUsed) {
    if (st.defaultListener.port === 0) st.defaultListener.port = DEFAULT_PORT;
    // Mosquitto opens the implicit listener after the explicit ones.
    c.listeners.push(st.defaultListener);
  }
  if (c.listeners.length === 0) {
    c.localOnly = true;
    const ports = opts.ports && opts.ports.length > 0 ? opts.ports : [DEFAULT_PORT];
    for (const p of ports) c.listeners.push(...localOnlyListeners(st, p));
  }
  // allow_anonymous: false since Mosquitto 2.0, except in local-only mode.
  const anonDefault = c.localOnly;
  if (c.security.allowAnonymous === null) c.security.allowAnonymous = anonDefault;
  for (const l of c.listeners) {
    if (!c.perListenerSettings) l.security = c.security;
    // With per_listener_settings, Mosquitto 2.0.11 gives the false default to `listener`
    // sections only: the default listener (port, or options before any listener) left
    // unset lets anonymous clients in.
    else if (l.security.allowAnonymous === null) l.security.allowAnonymous = anonDefault || l === st.defaultListener;
  }
}

function finalizeBridges(c: BrokerConfig, opts: FinalizeOptions): void {
  const host = opts.hostname ?? osHostname();
  for (const b of c.bridges) {
    if (b.addresses.length === 0) {
      throw new OptionError('Error: Invalid bridge configuration: no remote addresses defined.');
    }
    if (b.topics.length === 0) throw new OptionError('Error: Invalid bridge configuration: no topics defined.');
    if (b.psk !== null && b.identity === null) {
      throw new OptionError('Error: Invalid bridge configuration: missing bridge_identity.');
    }
    if (b.identity !== null && b.psk === null) {
      throw new OptionError('Error: Invalid bridge configuration: missing bridge_psk.');
    }
  }
  // Then only explicit local_clientid values are compared, as Mosquitto does;
  // the defaults are filled in afterwards.
  const seen = new Set<string>();
  for (const b of c.bridges) {
    if (b.localClientid === '') continue;
    if (seen.has(b.localClientid)) {
      throw new OptionError(
        `Error: Bridge local_clientid '${b.localClientid}' is not unique. Try changing or setting the local_clientid value for one of the bridges.`,
      );
    }
    seen.add(b.localClientid);
  }
  for (const b of c.bridges) {
    if (b.remoteClientid === '') b.remoteClientid = `${host}.${b.name}`;
    if (b.localClientid === '') b.localClientid = `local.${b.remoteClientid}`;
    if (b.notificationTopic === '') b.notificationTopic = `$SYS/broker/connection/${b.remoteClientid}/state`;
  }
}

/** Completes the configuration; throws an OptionError (without a file position) on a bad bridge. */
export function finalizeConfig(st: ParseState, opts: FinalizeOptions = {}): BrokerConfig {
  finalizeListeners(st, opts);
  finalizeBridges(st.config, opts);
  if (st.config.cluster.enabled && !st.config.redis.enabled) {
    throw new OptionError('Error: cluster true needs Redis: set redis_host, redis_port, redis_url or redis_cluster_nodes.');
  }
  const r = st.config.redis;
  if (r.clusterNodes !== null) {
    // Which one to talk to would be a guess: refused rather than one silently ignored.
    if (r.addressSet) throw new OptionError('Error: redis_cluster_nodes cannot be combined with redis_host, redis_port or redis_url.');
    // A Redis Cluster has only database 0.
    if (r.db !== 0) throw new OptionError('Error: redis_db must be 0 with redis_cluster_nodes (a Redis Cluster has only database 0).');
  }
  return st.config;
}
