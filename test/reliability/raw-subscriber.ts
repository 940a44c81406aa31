// A subscriber on a bare socket that reads only when told to: the slow and the stalled
// consumers of the soak and flood drivers. It speaks just enough MQTT 3.1.1 (CONNECT,
// SUBSCRIBE) and never acknowledges, so what it holds in the broker is the broker's
// business: the inflight window, the queue and the socket backlog.
import net from 'node:net';
import mqttPacket from 'mqtt-packet';

export interface RawSubscriber {
  socket: net.Socket;
  /** Bytes read so far. */
  received: () => number;
  close: () => void;
}

export function rawSubscribe(
  port: number,
  clientId: string,
  filter: string,
  qos: 0 | 1 | 2,
  opts: { clean?: boolean; keepalive?: number } = {},
): Promise<RawSubscriber> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let bytes = 0;
    let subscribed = false;
    const fail = (err: Error): void => {
      if (!subscribed) reject(err);
    };
    socket.once('error', fail);
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      // CONNACK (4 bytes) then SUBACK (5 bytes) arrive before anything else.
      if (!subscribed && bytes >= 9) {
        subscribed = true;
        socket.removeListener('error', fail);
        socket.on('error', () => {});
        resolve({ socket, received: () => bytes, close: () => socket.destroy() });
      }
    });
    socket.once('connect', () => {
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId,
          clean: opts.clean ?? true,
          keepalive: opts.keepalive ?? 0,
        }),
      );
      socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] }));
    });
  });
}
