/**
 * What a bridge writes after it reconnects with cleansession false, as Mosquitto's bridges
 * write it: the SUBSCRIBEs first, under new packet ids that follow those used before, and
 * only then what was in flight (the PUBLISH again with DUP set, or the PUBREL of a QoS 2
 * flow whose PUBREC had arrived). The remote is a scripted socket server recording every
 * packet per connection; the local broker runs in-process. Ephemeral ports only.
 */
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, publishAndWait, publisher, startBroker, stopAll } from './bridge-helpers.js';
import { publishQos2 } from './helpers/persist-flows.js';
import { closeRemotes, scriptedRemote, until } from './helpers/scripted-remote.js';

afterEach(async () => {
  await stopAll();
  closeRemotes();
});

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
