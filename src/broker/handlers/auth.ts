/**
 * AUTH (MQTT 5, 3.15 and 4.12): enhanced authentication during CONNECT and
 * re-authentication of a connected client, through the broker's EnhancedAuthenticator.
 * Each step may be asynchronous; packets that arrive meanwhile wait as for CONNECT.
 */
import { ReasonCode, type AuthPacket } from '../../protocol/index.js';
import { LogType } from '../log.js';
import { sendAuth } from '../send/packets.js';
import { type BrokerCore, type ClientContext, ClientState, PauseOwner } from '../core.js';

/** First step, from CONNECT's Authentication Method and Data. */
export function startEnhancedAuth(broker: BrokerCore, client: ClientContext, method: string, data: Buffer | undefined): void {
  client.authStep = 0;
  runStep(broker, client, method, data, false);
}

export function handleAuth(broker: BrokerCore, client: ClientContext, packet: AuthPacket): void {
  const rc = packet.reasonCode ?? 0;
  const method = packet.properties?.authenticationMethod;
  if (broker.log.enabled(LogType.Debug)) broker.log.debug(`Received AUTH from ${client.id} (rc${rc}, ${method ?? ''})`);
  if (client.protocolVersion !== 5 || broker.enhancedAuth === undefined || client.authMethod === undefined) {
    // AUTH without enhanced authentication: Mosquitto closes as a protocol error, with no
    // DISCONNECT (checked against mosquitto 2.0.11).
    client.disconnect('protocol');
    return;
  }
  // MQTT-4.12.0-5 / 4.12.1-1: the method never changes within a connection.
  if (method !== client.authMethod) {
    client.protocolError();
    return;
  }
  const data = packet.properties?.authenticationData;
  if (client.state === ClientState.Authenticating && rc === ReasonCode.ContinueAuthentication) {
    runStep(broker, client, method, data, false);
  } else if (client.state === ClientState.Active && rc === ReasonCode.ReAuthenticate) {
    client.authStep = 0;
    runStep(broker, client, method, data, true);
  } else if (client.state === ClientState.Active && rc === ReasonCode.ContinueAuthentication && client.authStep > 0) {
    runStep(broker, client, method, data, true);
  } else {
    client.protocolError();
  }
}

function runStep(broker: BrokerCore, client: ClientContext, method: string, data: Buffer | undefined, reauth: boolean): void {
  const auth = broker.enhancedAuth!;
  const step = client.authStep++;
  client.conn.pause(PauseOwner.AuthStep);
  auth.step(method, data, { clientId: client.clientId, username: client.username, step, reauth }).then(
    (result) => {
      client.conn.resume(PauseOwner.AuthStep);
      if (client.state === ClientState.Closed) return;
      if (!result.done) {
        sendAuth(client, ReasonCode.ContinueAuthentication, method, result.data);
        return;
      }
      finishStep(broker, client, method, result.ok, result.data, reauth);
    },
    () => {
      client.conn.resume(PauseOwner.AuthStep);
      finishStep(broker, client, method, false, undefined, reauth);
    },
  );
}

function finishStep(broker: BrokerCore, client: ClientContext, method: string, ok: boolean, data: Buffer | undefined, reauth: boolean): void {
  if (client.state === ClientState.Closed) return;
  client.authStep = 0;
  if (reauth) {
    // MQTT-4.12.1-2: a failed re-authentication ends the connection.
    if (ok) sendAuth(client, ReasonCode.Success, method, data);
    else client.disconnect('auth', ReasonCode.NotAuthorized);
    return;
  }
  client.authData = data;
  const done = client.authDone;
  client.authDone = undefined;
  done?.(ok);
}
