/**
 * A bridge answers a PINGREQ from the remote broker with PINGRESP, as Mosquitto's bridges
 * do (Mosquitto's own suite pings the bridge to check that nothing else was sent), and logs
 * it in Mosquitto's words. The remote is a scripted socket server; the local broker runs
 * in-process. Ephemeral ports only.
 */
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startBroker, stopAll } from './bridge-helpers.js';
import { closeRemotes, scriptedRemote, until } from './helpers/scripted-remote.js';

afterEach(async () => {
  await stopAll();
  closeRemotes();
});

describe('bridge: a PINGREQ from the remote broker', () => {
  for (const version of ['mqttv311', 'mqttv50'] as const) {
    it(`is answered with PINGRESP (${version})`, async () => {
      const rport = await freePort();
      const conns = await scriptedRemote(
        rport,
        (_n, p, sock) => {
          if (p.cmd === 'subscribe') sock.write(mqttPacket.generate({ cmd: 'pingreq' }));
        },
        version === 'mqttv50' ? 5 : 4,
      );
      const local = await startBroker({
        bridgeConf: ['connection b1', `address 127.0.0.1:${rport}`, 'topic in/# in 0', 'notifications false', `bridge_protocol_version ${version}`],
      });
      await until(() => conns[0]?.some((p) => p.cmd === 'pingresp') === true, 'PINGRESP from the bridge');
      expect(conns[0].map((p) => p.cmd)).toEqual(['connect', 'subscribe', 'pingresp']);
      await local.waitForLine('Received PINGREQ from local.testhost.b1');
      await local.waitForLine('Sending PINGRESP to local.testhost.b1');
    });
  }
});
