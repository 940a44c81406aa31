/**
 * What a bridge asks of the remote broker on each connect: a SUBSCRIBE per `in`/`both`
 * topic and, with bridge_attempt_unsubscribe, an UNSUBSCRIBE per `out` topic, each with
 * Mosquitto's debug line.
 */
import type { MqttClient } from '../../client/mqtt-client.js';
import type { BridgeConfig } from '../config/types.js';
import { LogType, type Log } from '../log.js';
import { remoteSubscriptions, remoteUnsubscriptions } from './topic-map.js';

export function subscribeRemote(client: MqttClient, b: BridgeConfig, v5: boolean, log: Log, clientId: string): void {
  for (const s of remoteSubscriptions(b.topics)) {
    // MQTT 5: No Local and Retain As Published, what try_private asks of a 3.1.1 broker.
    const mid = client.subscribe([v5 ? { topic: s.topic, qos: s.qos, nl: true, rap: true } : { topic: s.topic, qos: s.qos }]);
    if (log.enabled(LogType.Debug)) {
      log.debug(`Bridge ${clientId} sending SUBSCRIBE (Mid: ${mid}, Topic: ${s.topic}, QoS: ${s.qos}, Options: 0x${v5 ? '0c' : '00'})`);
    }
  }
  if (b.attemptUnsubscribe) {
    for (const t of remoteUnsubscriptions(b.topics)) {
      const mid = client.unsubscribe([t]);
      if (log.enabled(LogType.Debug)) log.debug(`Bridge ${clientId} sending UNSUBSCRIBE (Mid: ${mid}, Topic: ${t})`);
    }
  }
}
