/**
 * Opens one configured listener with the transport it asks for (TCP or unix socket, TLS,
 * WebSockets, secure WebSockets) and hands every accepted Connection to the broker.
 * A listener speaks TLS when its parsed config has certfile and keyfile, or psk_hint
 * (mosquitto.conf(5)); `protocol websockets` makes it a WebSocket listener.
 */
import type tls from 'node:tls';
import { listenStream, type Connection, type Listener } from '../net/index.js';
import { listenTls, type IdentitySource, type TlsHooks } from '../net/listen-tls.js';
import { listenWebSocket } from '../net/listen-ws.js';
import { ReloadableTls, TlsConfigError, isTlsListener } from '../net/tls-options.js';
import { LogType } from './log.js';
import type { ListenerConfig } from './config/types.js';
import type { ReloadTarget } from './signals.js';
import type { BrokerCore, ListenerRuntime } from './core.js';

/** The re-readable TLS context of each open TLS listener, for SIGHUP. */
const tlsContexts = new WeakMap<ListenerRuntime, ReloadableTls>();

/** MQTT's largest packet: 268,435,455 bytes of remaining length plus a 5-byte header. */
const MQTT_MAX_PACKET = 268435455 + 5;

export function openListener(broker: BrokerCore, rt: ListenerRuntime): Promise<Listener> {
  const s = rt.settings;
  const cfg = s.config;
  const websockets = (s.protocol ?? cfg?.protocol) === 'websockets';
  if (websockets) {
    broker.log.info(`Opening websockets listen socket on port ${s.port}.`);
  } else if (s.unixPath !== undefined) {
    broker.log.info(`Opening unix listen socket on path ${s.unixPath}.`);
  } else {
    const fam = s.family === 6 || (s.host !== undefined && s.host.includes(':')) ? 'ipv6' : 'ipv4';
    broker.log.info(`Opening ${fam} listen socket on port ${s.port}.`);
  }
  const listenOpts = { port: s.port, host: s.host, unixPath: s.unixPath, family: s.family, noDelay: broker.options.setTcpNodelay };
  const accept = (conn: Connection): void => broker.accept(conn, rt);

  let context: ReloadableTls | undefined;
  if (cfg !== undefined && isTlsListener(cfg)) {
    try {
      context = new ReloadableTls({ ...cfg, pskFile: cfg.security.pskFile });
    } catch (err) {
      return Promise.reject(configFailure(broker, err));
    }
    tlsContexts.set(rt, context);
  }
  const hooks = context !== undefined && cfg !== undefined ? tlsHooks(broker, cfg) : undefined;

  return new Promise((resolve, reject) => {
    const done = (err: Error | null, listener?: Listener): void => (err !== null ? reject(err) : resolve(listener!));
    if (websockets) {
      listenWebSocket(
        {
          ...listenOpts,
          httpDir: cfg?.httpDir ?? null,
          httpHandler: s.httpHandler,
          tls: context !== undefined && hooks !== undefined ? { context, hooks } : undefined,
          upgradeTimeout: broker.options.connectTimeout * 1000,
          maxHeaderSize: broker.options.websocketsHeadersSize > 0 ? broker.options.websocketsHeadersSize : undefined,
          maxPayload: broker.options.maxPacketSize > 0 ? broker.options.maxPacketSize : MQTT_MAX_PACKET,
          // log_type websockets with websockets_log_level selecting which events.
          onEvent: (level, line) => {
            if ((broker.options.websocketsLogLevel & level) !== 0 && broker.log.enabled(LogType.Websockets)) {
              broker.log.write(LogType.Websockets, line);
            }
          },
        },
        accept,
        done,
      );
    } else if (context !== undefined && hooks !== undefined) {
      listenTls(listenOpts, context, hooks, accept, done);
    } else {
      listenStream(listenOpts, accept, done);
    }
  });
}

/** Logs a listener's TLS setup failure as Mosquitto does, and returns the error to reject with. */
function configFailure(broker: BrokerCore, err: unknown): Error {
  if (err instanceof TlsConfigError) {
    for (const line of err.lines) broker.log.error(line);
    return err;
  }
  const e = err instanceof Error ? err : new Error(String(err));
  broker.log.error(`Error: ${e.message}`);
  return e;
}

function identitySource(cfg: ListenerConfig): IdentitySource {
  if (cfg.useIdentityAsUsername) return 'cn';
  if (cfg.useSubjectAsUsername) return 'subject';
  return undefined;
}

function tlsHooks(broker: BrokerCore, cfg: ListenerConfig): TlsHooks {
  return {
    identity: identitySource(cfg),
    onFailure(stream: tls.TLSSocket, lines: string[]) {
      for (const line of lines) broker.log.error(line);
      // Only failing sockets are looked up, so the scan costs nothing on good connections.
      for (const client of broker.clients) {
        if (client.conn.stream !== stream) continue;
        // Logged by the close path in Mosquitto's words for a connection lost to TLS.
        client.cause = 'tls';
        break;
      }
    },
  };
}

/**
 * Re-reads the certificates, keys, CRLs and PSK files of every TLS listener (SIGHUP).
 * New connections use the new files; a listener whose files fail to load keeps the old
 * ones and the failure is logged.
 */
export function reloadTlsListeners(broker: BrokerCore): void {
  for (const rt of broker.listeners) {
    const context = tlsContexts.get(rt);
    if (context === undefined) continue;
    try {
      context.reload();
    } catch (err) {
      configFailure(broker, err);
    }
  }
}

/** For installSignals(): reload TLS listeners on SIGHUP. */
export function tlsReloadTarget(broker: BrokerCore): ReloadTarget {
  return { reload: () => reloadTlsListeners(broker) };
}
