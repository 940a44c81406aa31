/**
 * A message from the remote broker, published locally as the bridge's local client would
 * publish it: the ACL's verdict on its local topic, Mosquitto's debug line, and the MQTT 5
 * properties that travel on (not the per-hop topic alias and subscription identifiers).
 */
import type { PublishPacket, QoS } from '../../protocol/index.js';
import type { PublishProperties } from '../../client/mqtt-client.js';
import type { BrokerCore } from '../core.js';
import { LogType } from '../log.js';
import { Message } from '../message.js';
import { publishLogLine } from '../publish-log.js';
import type { BridgeLog } from './bridge-log.js';

export function publishFromRemote(
  broker: BrokerCore,
  p: PublishPacket,
  topic: string,
  clientId: string,
  username: string | undefined,
  lines: BridgeLog,
): void {
  const payload = p.payload as Buffer;
  const qos = p.qos as QoS;
  const log = broker.log;
  const authorizer = broker.options.authorizer;
  if (authorizer !== undefined && !authorizer.canWrite(clientId, username, topic)) {
    if (log.enabled(LogType.Debug)) {
      log.debug(publishLogLine('Denied PUBLISH from', clientId, p.dup, qos, p.retain, p.messageId ?? 0, topic, payload.length));
      lines.flushAckLine();
    }
    return;
  }
  if (log.enabled(LogType.Debug)) {
    log.debug(publishLogLine('Received PUBLISH from', clientId, p.dup, qos, p.retain, p.messageId ?? 0, topic, payload.length));
    lines.flushAckLine();
  }
  let props: PublishProperties | undefined;
  if (p.properties !== undefined) {
    const { topicAlias: _a, subscriptionIdentifier: _s, ...rest } = p.properties;
    if (Object.keys(rest).length > 0) props = rest;
  }
  const msg = new Message(topic, payload, qos, p.retain, props as ConstructorParameters<typeof Message>[4], clientId, username);
  broker.countMessage('received');
  broker.publish(msg, clientId);
}
