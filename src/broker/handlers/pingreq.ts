/** PINGREQ (MQTT-3.12): answer with PINGRESP. */
import { LogType } from '../log.js';
import { sendPingresp } from '../send/packets.js';
import type { BrokerCore, ClientContext } from '../core.js';

export function handlePingreq(broker: BrokerCore, client: ClientContext): void {
  if (broker.log.enabled(LogType.Debug)) {
    broker.log.debug(`Received PINGREQ from ${client.id}`);
    broker.log.debug(`Sending PINGRESP to ${client.id}`);
  }
  sendPingresp(client);
}
