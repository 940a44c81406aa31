/**
 * What a bridge writes after it reconnects with cleansession false, as Mosquitto's bridges
 * write it: the SUBSCRIBEs first, under new packet ids that follow those used before, and
 * only then what was in flight (the PUBLISH again with DUP set, or the PUBREL of a QoS 2
 * flow whose PUBREC had arrived). The remote is a scripted socket server recording every
 * packet per connection; the local broker runs in-process. Ephemeral ports only.
 */
import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, publishAndWait, publisher, startBroker, stopAll } from './bridge-helpers.js';
import { publishQos2 } from './helpers/persist-flows.js';

const servers: net.Server[] = [];

afterEach(async () => {
  await stopAll();
  for (const s of servers.splice(0)) s.close();
});

/**
 * A remote that accepts the bridge, answers its SUBSCRIBEs and records each connection's
 * packets. `onPacket` scripts the rest: it may answer, or end the connection.
 */
function scriptedRemote(port: number, onPacket: (conn: number, p: Packet, sock: net.Socket) => void): Promise<Packet[][]> {
  const connections: Packet[][] = [];
  const server = net.createServer((sock) => {
    const n = connections.length;
    const packets: Packet[] = [];
    connections.push(packets);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => {
      packets.push(p);
      if (p.cmd === 'connect') sock.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
      else if (p.cmd === 'subscribe') sock.write(mqttPacket.generate({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map((s) => s.qos) }));
      else if (p.cmd === 'pingreq') sock.write(mqttPacket.generate({ cmd: 'pingresp' }));
      onPacket(n, p, sock);
    });
    sock.on('data', (d: Buffer) => parser.parse(d));
    sock.on('error', () => {});
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(connections)));
}

async function until(cond: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What the bridge wrote on a connection, as "cmd mid [dup]". */
function summary(packets: Packet[]): string[] {
  return packets.map((p) => {
    const mid = (p as { messageId?: number }).messageId;
    const dup = p.cmd === 'publish' && p.dup ? ' dup' : '';
    return mid === undefined ? p.cmd : `${p.cmd} ${mid}${dup}`;
  });
}

function bridgeConf(rport: number, qos: 1 | 2): string[] {
  return ['connection b1', `address 127.0.0.1:${rport}`, `topic bridge/# both ${qos}`, 'notifications false', 'restart_timeout 1', 'cleansession false'];
}

describe('bridge: order and packet ids after a reconnect', () => {
  it('sends its SUBSCRIBE (next packet id) before resending an unacknowledged QoS 1 PUBLISH with DUP', async () => {
    const rport = await freePort();
    // First connection: the remote closes it on the bridge's PUBLISH, before any PUBACK.
    const conns = await scriptedRemote(rport, (n, p, sock) => {
      if (n === 0 && p.cmd === 'publish') sock.destroy();
    });
    const local = await startBroker({ bridgeConf: bridgeConf(rport, 1) });
    await until(() => conns[0]?.some((p) => p.cmd === 'subscribe') === true, 'the first SUBSCRIBE');
    await local.waitForLine(/^Received SUBACK/);
    await publishAndWait(await publisher(local.port), 'bridge/disconnect/test', 'disconnect-message', { qos: 1 });
    await until(() => (conns[1]?.length ?? 0) >= 3, 'the second connection');
    expect(summary(conns[0])).toEqual(['connect', 'subscribe 1', 'publish 2']);
    expect(summary(conns[1])).toEqual(['connect', 'subscribe 3', 'publish 2 dup']);
  });

  it('sends its SUBSCRIBE before the PUBREL of a QoS 2 flow whose PUBREC arrived', async () => {
    const rport = await freePort();
    // 1st: PUBREC to the PUBLISH, then closed; 2nd: PUBREC to the resent PUBLISH, closed on PUBREL.
    const conns = await scriptedRemote(rport, (n, p, sock) => {
      if (n === 0 && p.cmd === 'publish') sock.destroy();
      if (n === 1 && p.cmd === 'publish') sock.write(mqttPacket.generate({ cmd: 'pubrec', messageId: p.messageId }));
      if (n === 1 && p.cmd === 'pubrel') sock.destroy();
    });
    const local = await startBroker({ bridgeConf: bridgeConf(rport, 2) });
    await until(() => conns[0]?.some((p) => p.cmd === 'subscribe') === true, 'the first SUBSCRIBE');
    await local.waitForLine(/^Received SUBACK/);
    await publishQos2(await publisher(local.port), 'bridge/disconnect/test', 'disconnect-message', 312);
    await until(() => (conns[2]?.length ?? 0) >= 3, 'the third connection');
    expect(summary(conns[0])).toEqual(['connect', 'subscribe 1', 'publish 2']);
    expect(summary(conns[1])).toEqual(['connect', 'subscribe 3', 'publish 2 dup', 'pubrel 2']);
    expect(summary(conns[2])).toEqual(['connect', 'subscribe 4', 'pubrel 2']);
  });
});
