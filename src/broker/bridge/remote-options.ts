/**
 * What a bridge section of mosquitto.conf means for the connection to the remote broker:
 * the dialer's options (address, bridge_bind_address, TLS with certificates or PSK) and
 * the client engine's CONNECT (client id, credentials, keepalive, clean session, protocol
 * version, try_private, and the notification will).
 */
import type { DialOptions, TlsDialOptions } from '../../net/dial.js';
import type { ProtocolVersion } from '../../protocol/index.js';
import type { ClientOptions } from '../../client/mqtt-client.js';
import type { BridgeAddress, BridgeConfig } from '../config/types.js';

export function protocolLevel(b: BridgeConfig): ProtocolVersion {
  return b.protocolVersion === 'mqttv31' ? 3 : b.protocolVersion === 'mqttv50' ? 5 : 4;
}

/**
 * TLS as Mosquitto's bridges use it: with a PSK identity and key, or once bridge_cafile or
 * bridge_capath names the CA to check the remote broker against. bridge_tls_version is the
 * lowest version offered.
 */
export function bridgeTls(b: BridgeConfig): TlsDialOptions | undefined {
  if (b.identity !== null && b.psk !== null) return { psk: { key: b.psk, identity: b.identity } };
  if (b.cafile === null && b.capath === null) return undefined;
  const t: TlsDialOptions = {};
  if (b.cafile !== null) t.cafile = b.cafile;
  if (b.capath !== null) t.capath = b.capath;
  if (b.certfile !== null) t.certfile = b.certfile;
  if (b.keyfile !== null) t.keyfile = b.keyfile;
  if (b.tlsVersion !== null) t.version = b.tlsVersion;
  if (b.alpn !== null) t.alpn = b.alpn;
  if (b.insecure) t.insecure = true;
  return t;
}

export function dialOptions(b: BridgeConfig, addr: BridgeAddress, noDelay: boolean): DialOptions {
  const o: DialOptions = { host: addr.host, port: addr.port, noDelay };
  if (b.bindAddress !== null) o.bindAddress = b.bindAddress;
  const tls = bridgeTls(b);
  if (tls !== undefined) o.tls = tls;
  return o;
}

/**
 * The remote session. The will is the notification "0", retained, QoS 1, so the remote
 * broker says the bridge is down when the connection goes without a DISCONNECT.
 * try_private sets the top bit of the protocol level for 3.1 and 3.1.1 only: Mosquitto
 * sends an MQTT 5 bridge's CONNECT as a plain 5 (its subscriptions carry No Local instead).
 */
export function clientOptions(b: BridgeConfig, maxInflight: number, tryPrivate: boolean): ClientOptions {
  const version = protocolLevel(b);
  const o: ClientOptions = {
    clientId: b.remoteClientid,
    protocolVersion: version,
    keepalive: b.keepaliveInterval,
    clean: b.cleansession,
    maxInflight,
    // Mosquitto writes a bridge's SUBSCRIBEs before what was in flight: resent by the bridge.
    deferResend: true,
    answerPingreq: true,
  };
  if (b.remoteUsername !== null) {
    o.username = b.remoteUsername;
    // remote_password "is only valid if a remote_username is also supplied" (mosquitto.conf(5)).
    if (b.remotePassword !== null) o.password = Buffer.from(b.remotePassword);
  }
  if (b.notifications && !b.notificationsLocalOnly) {
    o.will = { topic: b.notificationTopic, payload: Buffer.from('0'), qos: 1, retain: true };
  }
  if (version === 5) o.connectProperties = { receiveMaximum: maxInflight };
  if (tryPrivate && version !== 5) o.bridgeMode = true;
  return o;
}

/** Mosquitto's words (strerror) for the errors a dial reports. */
const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EADDRINUSE: 'Address already in use',
  ENOTFOUND: 'Name or service not known',
  EAI_AGAIN: 'Temporary failure in name resolution',
  EPIPE: 'Broken pipe',
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
};

export function dialErrorText(err: Error & { code?: string }): string {
  if (err.code !== undefined && ERRNO_TEXT[err.code] !== undefined) return ERRNO_TEXT[err.code];
  return err.message;
}
