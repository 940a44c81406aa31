/**
 * A remote broker for bridge tests, scripted at the packet level: it accepts the bridge
 * (CONNACK 0), answers its SUBSCRIBEs and PINGREQs and records each connection's packets;
 * `onPacket` scripts the rest (answer, or end the connection). closeRemotes() in afterEach.
 */
import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

const servers: net.Server[] = [];

export type OnRemotePacket = (conn: number, p: Packet, sock: net.Socket) => void;

/** Listens on 127.0.0.1:`port`; resolves to the packets of each connection, in order. */
export function scriptedRemote(port: number, onPacket: OnRemotePacket = () => {}, protocolVersion: 4 | 5 = 4): Promise<Packet[][]> {
  const connections: Packet[][] = [];
  const server = net.createServer((sock) => {
    const n = connections.length;
    const packets: Packet[] = [];
    connections.push(packets);
    const parser = mqttPacket.parser({ protocolVersion });
    const opts = { protocolVersion };
    parser.on('packet', (p: Packet) => {
      packets.push(p);
      if (p.cmd === 'connect') sock.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, reasonCode: 0, sessionPresent: false }, opts));
      else if (p.cmd === 'subscribe') sock.write(mqttPacket.generate({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map((s) => s.qos) }, opts));
      else if (p.cmd === 'pingreq') sock.write(mqttPacket.generate({ cmd: 'pingresp' }));
      onPacket(n, p, sock);
    });
    sock.on('data', (d: Buffer) => parser.parse(d));
    sock.on('error', () => {});
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(connections)));
}

export function closeRemotes(): void {
  for (const s of servers.splice(0)) s.close();
}

/** Polls `cond` every 20 ms; rejects naming `what` after `timeoutMs`. */
export async function until(cond: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
