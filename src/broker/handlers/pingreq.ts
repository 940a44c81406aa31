/** PINGREQ (MQTT-3.12): answer with PINGRESP. */
import type { Broker } from '../broker.js';
import type { Client } from '../client.js';
import { LogType } from '../log.js';

const PINGRESP = Buffer.from([0xd0, 0x00]);

export function handlePingreq(broker: Broker, client: Client): void {
  if (broker.log.enabled(LogType.Debug)) {
    broker.log.debug(`Received PINGREQ from ${client.id}`);
    broker.log.debug(`Sending PINGRESP to ${client.id}`);
  }
  client.conn.write(PINGRESP);
}
