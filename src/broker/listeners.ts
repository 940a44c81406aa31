/**
 * Opens one configured listener with the transport it asks for and hands every accepted
 * Connection to the broker. TCP and unix sockets here; TLS and WebSockets plug in beside.
 */
import { listenStream, type Listener } from '../net/index.js';
import type { Broker, ListenerRuntime } from './broker.js';

export function openListener(broker: Broker, rt: ListenerRuntime): Promise<Listener> {
  const s = rt.settings;
  if (s.unixPath !== undefined) {
    broker.log.info(`Opening unix listen socket on path ${s.unixPath}.`);
  } else {
    const fam = s.family === 6 || (s.host !== undefined && s.host.includes(':')) ? 'ipv6' : 'ipv4';
    broker.log.info(`Opening ${fam} listen socket on port ${s.port}.`);
  }
  return new Promise((resolve, reject) => {
    listenStream(
      { port: s.port, host: s.host, unixPath: s.unixPath, family: s.family, noDelay: broker.options.setTcpNodelay },
      (conn) => broker.accept(conn, rt),
      (err, listener) => (err !== null ? reject(err) : resolve(listener!)),
    );
  });
}
