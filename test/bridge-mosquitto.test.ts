/**
 * Bridges across implementations: a ts-mosquitto bridge to Mosquitto 2.0, a Mosquitto
 * bridge to ts-mosquitto (try_private both ways), and the log lines of the same bridge
 * configuration run by each.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { haveProgram, MOSQUITTO, startMosquitto, type RealMosquitto } from './helpers/mosquitto.js';
import { collect, nextOn, publishAndWait, publisher, sleep, startBroker, stopAll, subscriber } from './bridge-helpers.js';

const have = haveProgram(MOSQUITTO);
const mosquittos: RealMosquitto[] = [];

afterEach(async () => {
  await Promise.all(mosquittos.splice(0).map((m) => m.stop()));
  await stopAll();
});

async function mosquitto(extra: string[] = []): Promise<RealMosquitto> {
  const m = await startMosquitto(extra);
  mosquittos.push(m);
  return m;
}

const ID = 'local.testhost.b1';

describe.skipIf(!have)('ts-mosquitto bridged to Mosquitto', () => {
  it('is a bridge to Mosquitto (try_private), carries both directions with remapping, and makes no loop', async () => {
    const remote = await mosquitto();
    const local = await startBroker({
      bridgeConf: ['connection b1', `address 127.0.0.1:${remote.port}`, 'topic a/# both 1 loc/ rem/', 'topic in/# in 0', 'restart_timeout 1'],
    });
    await local.waitForLines(`Received SUBACK from ${ID}`, 2);
    await remote.waitForLine(/^New bridge connected from 127\.0\.0\.1:\d+ as testhost\.b1 \(p2, c0, k60\)\.$/);
    await remote.waitForLine('Will message specified (1 bytes) (r1, q1).');

    const rsub = await subscriber(remote.port, ['#', '$SYS/broker/connection/#']);
    const lsub = await subscriber(local.port, ['#']);
    const r1 = await nextOn(rsub, '$SYS/broker/connection/testhost.b1/state');
    expect([String(r1.payload), r1.retain]).toEqual(['1', true]);

    await publishAndWait(await publisher(local.port), 'loc/a/out', 'to-mosquitto', { qos: 1 });
    expect(String((await nextOn(rsub, 'rem/a/out')).payload)).toBe('to-mosquitto');
    const rpub = await publisher(remote.port);
    await publishAndWait(rpub, 'rem/a/in', 'from-mosquitto', { qos: 1 });
    expect(String((await nextOn(lsub, 'loc/a/in')).payload)).toBe('from-mosquitto');
    await publishAndWait(rpub, 'in/x', 'plain', { qos: 0 });
    expect(String((await nextOn(lsub, 'in/x')).payload)).toBe('plain');

    // Mosquitto gives a try_private bridge No Local: nothing comes back, nothing loops.
    await sleep(300);
    // Each subscriber has the original once, and no echo.
    expect((await collect(lsub, 'loc/a/out', 0)).length).toBe(1);
    expect((await collect(rsub, 'rem/a/in', 0)).length).toBe(1);
    expect(local.count(/^Received PUBLISH from local\.testhost\.b1 .*'loc\/a\/out'/)).toBe(0);

    // Retain as published: a retained message published on Mosquitto arrives retained.
    await publishAndWait(rpub, 'rem/a/kept', 'r', { qos: 1, retain: true });
    await local.waitForLine(/^Received PUBLISH from local\.testhost\.b1 \(d0, q1, r1, m\d+, 'loc\/a\/kept', \.\.\. \(1 bytes\)\)$/);
    const late = await subscriber(local.port, ['loc/#']);
    expect((await nextOn(late, 'loc/a/kept')).retain).toBe(true);
  });

  it('reconnects when Mosquitto restarts on the same port', async () => {
    const remote = await mosquitto();
    const port = remote.port;
    const local = await startBroker({ bridgeConf: ['connection b1', `address 127.0.0.1:${port}`, 'topic t/# out 1', 'restart_timeout 1'] });
    await local.waitForLine(`Received CONNACK on connection ${ID}.`);
    await remote.stop();
    mosquittos.splice(mosquittos.indexOf(remote), 1);
    await local.waitForLine(`Client ${ID} closed its connection.`);
    // startMosquitto picks its own port: the new one gets a second listener on the old port.
    const m2 = await startMosquittoOn(port);
    await local.waitForLines(`Received CONNACK on connection ${ID}.`, 2, 6000);
    const sub = await subscriber(m2.port, ['t/#']);
    await publishAndWait(await publisher(local.port), 't/x', 'again', { qos: 1 });
    expect(String((await nextOn(sub, 't/x')).payload)).toBe('again');
  });

  it('speaks MQTT 5 to Mosquitto with bridge_protocol_version mqttv50 (No Local instead of the bridge bit)', async () => {
    const remote = await mosquitto();
    const local = await startBroker({
      bridgeConf: ['connection b1', `address 127.0.0.1:${remote.port}`, 'bridge_protocol_version mqttv50', 'topic v/# both 1'],
    });
    await local.waitForLines(`Received SUBACK from ${ID}`, 1);
    await remote.waitForLine(/^New client connected from 127\.0\.0\.1:\d+ as testhost\.b1 \(p5, c0, k60\)\.$/);
    const rsub = await subscriber(remote.port, ['v/#']);
    const lsub = await subscriber(local.port, ['v/#']);
    await publishAndWait(await publisher(local.port), 'v/out', 'x', { qos: 1 });
    await publishAndWait(await publisher(remote.port), 'v/in', 'y', { qos: 1 });
    await sleep(300);
    expect((await collect(rsub, 'v/out', 0)).length).toBe(1);
    expect((await collect(lsub, 'v/out', 0)).length).toBe(1);
    expect((await collect(lsub, 'v/in', 0)).length).toBe(1);
    expect((await collect(rsub, 'v/in', 0)).length).toBe(1);
  });
});

/** Mosquitto with an extra listener on `port` (its own free port is the first listener). */
async function startMosquittoOn(port: number): Promise<RealMosquitto & { port: number }> {
  const m = await mosquitto([`listener ${port} 127.0.0.1`]);
  return Object.assign(m, { port });
}

describe.skipIf(!have)('Mosquitto bridged to ts-mosquitto', () => {
  it('is accepted as a bridge (0x84): both directions, no loop, notifications and its will', async () => {
    const ts = await startBroker();
    const m = await mosquitto([
      'connection b1',
      `address 127.0.0.1:${ts.port}`,
      'remote_clientid mosq.b1',
      'topic a/# both 1 loc/ rem/',
      'topic in/# in 1',
    ]);
    await ts.waitForLine(/^New bridge connected from 127\.0\.0\.1:\d+ as mosq\.b1 \(p2, c0, k60\)\.$/);
    await m.waitForLine('Received SUBACK from local.mosq.b1');
    const tsSub = await subscriber(ts.port, ['#', '$SYS/broker/connection/#']);
    const state = await nextOn(tsSub, '$SYS/broker/connection/mosq.b1/state');
    expect([String(state.payload), state.retain]).toEqual(['1', true]);
    const mSub = await subscriber(m.port, ['#']);

    await publishAndWait(await publisher(m.port), 'loc/a/out', 'from-mosquitto', { qos: 1 });
    expect(String((await nextOn(tsSub, 'rem/a/out')).payload)).toBe('from-mosquitto');
    const tsPub = await publisher(ts.port);
    await publishAndWait(tsPub, 'rem/a/in', 'from-ts', { qos: 1 });
    expect(String((await nextOn(mSub, 'loc/a/in')).payload)).toBe('from-ts');
    await publishAndWait(tsPub, 'in/z', 'in-only', { qos: 1 });
    expect(String((await nextOn(mSub, 'in/z')).payload)).toBe('in-only');

    // ts-mosquitto does not send the bridge its own messages back (No Local for a 0x84 client).
    await sleep(300);
    // Each subscriber has the original once, and no echo.
    expect((await collect(mSub, 'loc/a/out', 0)).length).toBe(1);
    expect(m.lines.some((l) => /^Received PUBLISH from local\.mosq\.b1 .*'loc\/a\/out'/.test(l))).toBe(false);
    expect((await collect(tsSub, 'rem/a/in', 0)).length).toBe(1);

    // Retain as published: a retained message published on ts-mosquitto is retained on Mosquitto.
    await publishAndWait(tsPub, 'rem/a/kept', 'r', { qos: 1, retain: true });
    await m.waitForLine(/^Received PUBLISH from local\.mosq\.b1 \(d0, q1, r1, m\d+, 'loc\/a\/kept', \.\.\. \(1 bytes\)\)$/);

    // Mosquitto stops: its connection closes without DISCONNECT, the will says "0".
    await m.stop();
    mosquittos.splice(mosquittos.indexOf(m), 1);
    expect(String((await nextOn(tsSub, '$SYS/broker/connection/mosq.b1/state')).payload)).toBe('0');
  });
});

describe.skipIf(!have)('Mosquitto bridged to ts-mosquitto over MQTT 5', () => {
  it('subscribes with No Local and Retain As Published, and nothing loops', async () => {
    const ts = await startBroker();
    const m = await mosquitto([
      'connection b5',
      `address 127.0.0.1:${ts.port}`,
      'remote_clientid mosq.b5',
      'bridge_protocol_version mqttv50',
      'topic v/# both 1',
    ]);
    await ts.waitForLine(/^New client connected from 127\.0\.0\.1:\d+ as mosq\.b5 \(p5, c0, k60\)\.$/);
    await m.waitForLine('Received SUBACK from local.mosq.b5');
    const tsSub = await subscriber(ts.port, ['v/#']);
    const mSub = await subscriber(m.port, ['v/#']);
    await publishAndWait(await publisher(m.port), 'v/from-mosquitto', 'a', { qos: 1 });
    await publishAndWait(await publisher(ts.port), 'v/from-ts', 'b', { qos: 1, retain: true });
    await m.waitForLine(/^Received PUBLISH from local\.mosq\.b5 \(d0, q1, r1, m\d+, 'v\/from-ts', \.\.\. \(1 bytes\)\)$/);
    await sleep(300);
    expect((await collect(tsSub, 'v/from-mosquitto', 0)).length).toBe(1);
    expect((await collect(mSub, 'v/from-mosquitto', 0)).length).toBe(1);
    expect((await collect(tsSub, 'v/from-ts', 0)).length).toBe(1);
    expect((await collect(mSub, 'v/from-ts', 0)).length).toBe(1);
  });
});

describe.skipIf(!have)('bridge log lines', () => {
  it('are Mosquitto\'s for the same configuration', async () => {
    const filter =
      /^(Bridge |Connecting bridge|Received CONNACK on connection|Received SUBACK from local|Received UNSUBACK from local|Sending PUBLISH to local|Received PUBLISH from local|Received PUBACK from local|Sending PUBACK to local)/;
    const run = async (which: 'ts' | 'mosquitto'): Promise<string[]> => {
      const remote = await startBroker();
      const conf = [
        'connection b1',
        `address 127.0.0.1:${remote.port}`,
        'remote_clientid testhost.b1',
        'topic a/# both 1 loc/ rem/',
        'topic "" out 0 x/y z/w',
      ];
      let lines: string[];
      let localPort: number;
      if (which === 'ts') {
        const local = await startBroker({ bridgeConf: conf });
        await local.waitForLine(`Received UNSUBACK from ${ID}`);
        lines = local.lines;
        localPort = local.port;
      } else {
        const m = await mosquitto(conf);
        await m.waitForLine(`Received UNSUBACK from ${ID}`);
        lines = m.lines;
        localPort = m.port;
      }
      const sub = await subscriber(remote.port, ['#']);
      await publishAndWait(await publisher(localPort), 'loc/a/b', 'hello', { qos: 1, retain: true });
      await nextOn(sub, 'rem/a/b');
      await publishAndWait(await publisher(remote.port), 'rem/a/c', 'fromremote', { qos: 1 });
      for (let i = 0; i < 50 && !lines.some((l) => l.startsWith(`Sending PUBACK to ${ID}`)); i++) await sleep(50);
      return lines.filter((l) => filter.test(l)).map((l) => l.replace(/127\.0\.0\.1:\d+\)/, '127.0.0.1:PORT)'));
    };
    const ours = await run('ts');
    const theirs = await run('mosquitto');
    expect(ours).toEqual(theirs);
    expect(ours).toContain(`Bridge ${ID} sending SUBSCRIBE (Mid: 2, Topic: rem/a/#, QoS: 1, Options: 0x00)`);
    // The remote's acknowledgements, and ours of what came in, as Mosquitto logs them.
    expect(ours.some((l) => /^Received PUBACK from \S+ \(Mid: \d+, RC:0\)$/.test(l))).toBe(true);
    expect(ours.some((l) => /^Sending PUBACK to \S+ \(m\d+, rc0\)$/.test(l))).toBe(true);
  });
});
