/**
 * Acknowledgements that wait (the cluster: a remote QoS>0 subscriber's copy must be in
 * Redis before PUBACK/PUBREC, issue 15). A client's acknowledgements still go out in
 * the order its PUBLISH packets came (MQTT-4.6.0-2): once one waits, the later ones of
 * that client queue behind it. Nothing is held (the usual case): one counter read.
 */
import { ClientState, type ClientContext } from '../core.js';

const chains = new WeakMap<ClientContext, Promise<void>>();
let held = 0;
const ignore = (): void => {};

/** Whether any acknowledgement is waiting, on any client. */
export function ackHeld(): boolean {
  return held > 0;
}

/** Runs `send` after `wait` settles and after the client's earlier held acknowledgements. */
export function ackInOrder(client: ClientContext, wait: Promise<unknown> | undefined, send: () => void): void {
  const prev = chains.get(client);
  if (wait === undefined && prev === undefined) {
    send();
    return;
  }
  held++;
  const p: Promise<void> = (prev ?? Promise.resolve())
    .then(() => wait)
    .then(ignore, ignore)
    .then(() => {
      held--;
      if (chains.get(client) === p) chains.delete(client);
      if (client.state !== ClientState.Closed) send();
    });
  chains.set(client, p);
}
