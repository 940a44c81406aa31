/**
 * Bridges between two in-process ts-mosquitto brokers: topic directions and prefix
 * remapping, notifications and the remote will, reconnection after restart_timeout,
 * what is kept while the remote broker is away, loops, start types and address fallback.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, freePort, nextOn, publishAndWait, publisher, sleep, startBroker, stopAll, subscriber } from './bridge-helpers.js';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) s.close();
  await stopAll();
});

/**
 * A fake remote broker: records the protocol level byte of each CONNECT and answers with
 * `connack(level)` (a CONNACK return code, or null for no answer at all).
 */
async function fakeRemote(connack: (level: number) => number | null): Promise<{ port: number; levels: number[] }> {
  const levels: number[] = [];
  const server = net.createServer((sock) => {
    sock.on('error', () => {});
    sock.once('data', (d) => {
      let pos = 1;
      while (d[pos] & 0x80) pos++;
      pos++;
      pos += 2 + d.readUInt16BE(pos);
      levels.push(d[pos]);
      const rc = connack(d[pos]);
      if (rc === null) return;
      sock.write(Buffer.from([0x20, 2, 0, rc]));
      if (rc !== 0) sock.end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, levels };
}

const ID = 'local.testhost.b1';
const CONNACK = `Received CONNACK on connection ${ID}.`;

function bridgeConf(remotePort: number, ...extra: string[]): string[] {
  return ['connection b1', `address 127.0.0.1:${remotePort}`, 'restart_timeout 1', ...extra];
}

describe('bridge topics', () => {
  it('forwards out topics to the remote and in topics to the local broker, with Mosquitto\'s prefix remapping', async () => {
    const remote = await startBroker();
    const local = await startBroker({
      bridgeConf: bridgeConf(
        remote.port,
        'topic out/# out 1 lo/ ro/',
        'topic in/# in 1 li/ ri/',
        'topic sh/# both 0',
        'topic "" out 0 one/local one/remote',
        'topic pre/# out 0 "" rp/',
      ),
    });
    await local.waitForLines(`Received SUBACK from ${ID}`, 2);
    // The remote subscriptions the bridge made (in and both; the out-only topics unsubscribed).
    expect(local.lines).toContain(`Bridge ${ID} sending SUBSCRIBE (Mid: 2, Topic: ri/in/#, QoS: 1, Options: 0x00)`);
    expect(local.lines).toContain(`Bridge ${ID} sending SUBSCRIBE (Mid: 3, Topic: sh/#, QoS: 0, Options: 0x00)`);
    expect(local.lines).toContain(`Bridge ${ID} sending UNSUBSCRIBE (Mid: 4, Topic: ro/out/#)`);
    expect(remote.lines.some((l) => /^New bridge connected from 127\.0\.0\.1:\d+ as testhost\.b1 \(p2, c0, k60\)\.$/.test(l))).toBe(true);

    const rsub = await subscriber(remote.port, ['#']);
    const lsub = await subscriber(local.port, ['#']);
    const lpub = await publisher(local.port);
    const rpub = await publisher(remote.port);

    await publishAndWait(lpub, 'lo/out/x', 'o1', { qos: 1 });
    const o1 = await nextOn(rsub, 'ro/out/x');
    expect([String(o1.payload), o1.qos]).toEqual(['o1', 1]);

    await publishAndWait(rpub, 'ri/in/y', 'i1', { qos: 1 });
    const i1 = await nextOn(lsub, 'li/in/y');
    expect([String(i1.payload), i1.qos]).toEqual(['i1', 1]);

    await publishAndWait(lpub, 'one/local', 'single');
    expect(String((await nextOn(rsub, 'one/remote')).payload)).toBe('single');

    await publishAndWait(lpub, 'pre/z', 'p');
    expect(String((await nextOn(rsub, 'rp/pre/z')).payload)).toBe('p');

    await publishAndWait(lpub, 'sh/a', 'both-out');
    expect(String((await nextOn(rsub, 'sh/a')).payload)).toBe('both-out');
    await publishAndWait(rpub, 'sh/b', 'both-in');
    expect(String((await nextOn(lsub, 'sh/b')).payload)).toBe('both-in');

    // Neither direction carries what the patterns do not match; in topics do not go out.
    await publishAndWait(lpub, 'lo/other', 'no');
    await publishAndWait(lpub, 'li/in/q', 'no');
    await publishAndWait(rpub, 'ri/other', 'no');
    await publishAndWait(rpub, 'ro/out/q', 'no');
    expect(await collect(rsub, 'lo/other', 200)).toEqual([]);
    expect(await collect(rsub, 'ri/in/q', 0)).toEqual([]);
    expect(await collect(lsub, 'li/other', 0)).toEqual([]);
    expect(await collect(lsub, 'lo/out/q', 0)).toEqual([]);
  });

  it('caps the QoS at the topic\'s and keeps the retain flag (bridge_outgoing_retain false clears it)', async () => {
    const remote = await startBroker();
    const local = await startBroker({ bridgeConf: bridgeConf(remote.port, 'topic q/# out 0', 'topic r/# in 2') });
    await local.waitForLines(`Received SUBACK from ${ID}`, 1);
    const rsub = await subscriber(remote.port, ['q/#'], 2);
    const lpub = await publisher(local.port);
    await publishAndWait(lpub, 'q/1', 'x', { qos: 1, retain: true });
    const got = await nextOn(rsub, 'q/1');
    expect(got.qos).toBe(0);
    // Retained on the remote broker too: a new subscriber there gets it.
    const late = await subscriber(remote.port, ['q/#']);
    const r = await nextOn(late, 'q/1');
    expect([String(r.payload), r.retain]).toEqual(['x', true]);

    const remote2 = await startBroker();
    const local2 = await startBroker({ bridgeConf: [...bridgeConf(remote2.port, 'topic q/# out 1'), 'bridge_outgoing_retain false'] });
    await local2.waitForLine(`Received CONNACK on connection ${ID}.`);
    const p2 = await publisher(local2.port);
    const s2 = await subscriber(remote2.port, ['q/#']);
    await publishAndWait(p2, 'q/2', 'y', { qos: 1, retain: true });
    expect((await nextOn(s2, 'q/2')).qos).toBe(1);
    const late2 = await subscriber(remote2.port, ['q/#']);
    expect(await collect(late2, 'q/2', 300)).toEqual([]);
  });

  it('sends local retained messages of the out topics to the remote when it connects', async () => {
    const remotePort = await freePort();
    const local = await startBroker({ bridgeConf: bridgeConf(remotePort, 'topic keep/# out 1') });
    const lpub = await publisher(local.port);
    await publishAndWait(lpub, 'keep/a', 'kept', { qos: 1, retain: true });
    const remote = await startBroker({ port: remotePort });
    await local.waitForLine(CONNACK, 5000);
    const late = await subscriber(remote.port, ['keep/#']);
    const r = await nextOn(late, 'keep/a');
    expect([String(r.payload), r.retain]).toEqual(['kept', true]);
  });
});

describe('bridge notifications', () => {
  it('publishes "1" retained locally and on the remote, and the remote will publishes "0" when the local broker goes', async () => {
    const remote = await startBroker();
    const local = await startBroker({ bridgeConf: bridgeConf(remote.port, 'topic x/# out 0') });
    await local.waitForLine(CONNACK);
    const topic = '$SYS/broker/connection/testhost.b1/state';
    const rsub = await subscriber(remote.port, ['$SYS/broker/connection/#']);
    const r1 = await nextOn(rsub, topic);
    expect([String(r1.payload), r1.retain]).toEqual(['1', true]);
    const lsub = await subscriber(local.port, ['$SYS/broker/connection/#']);
    const l1 = await nextOn(lsub, topic);
    expect([String(l1.payload), l1.retain]).toEqual(['1', true]);
    expect(remote.lines).toContain('Will message specified (1 bytes) (r1, q1).');
    // The local broker stops: the connection closes without DISCONNECT and the will says "0".
    await local.close();
    const r0 = await nextOn(rsub, topic);
    expect(String(r0.payload)).toBe('0');
  });

  it('publishes "0" locally when the remote goes; notifications_local_only and notification_topic', async () => {
    const remote = await startBroker();
    const local = await startBroker({
      bridgeConf: [...bridgeConf(remote.port, 'topic x/# out 0'), 'notifications_local_only true', 'notification_topic bridges/b1'],
    });
    await local.waitForLine(CONNACK);
    const lsub = await subscriber(local.port, ['bridges/#']);
    expect(String((await nextOn(lsub, 'bridges/b1')).payload)).toBe('1');
    const rsub = await subscriber(remote.port, ['bridges/#', '$SYS/broker/connection/#']);
    await rsub.sync();
    await sleep(100);
    expect(rsub.inbox.filter((p) => p.cmd === 'publish')).toEqual([]);
    expect(remote.lines).toContain('No will message specified.');
    await remote.close();
    await local.waitForLine(`Client ${ID} closed its connection.`);
    expect(String((await nextOn(lsub, 'bridges/b1')).payload)).toBe('0');
    // Retained: a later subscriber gets the state too.
    const late = await subscriber(local.port, ['bridges/#']);
    const l0 = await nextOn(late, 'bridges/b1');
    expect([String(l0.payload), l0.retain]).toEqual(['0', true]);
  });

  it('lets any client write $SYS/broker/connection/+/state (a bridge\'s state), and no other $SYS topic, as Mosquitto', async () => {
    const b = await startBroker();
    const sub = await subscriber(b.port, ['$SYS/#']);
    const pub = await publisher(b.port);
    await publishAndWait(pub, '$SYS/broker/connection/other.bridge/state', '1', { qos: 1 });
    await publishAndWait(pub, '$SYS/broker/connection/other.bridge/x', '1', { qos: 1 });
    await publishAndWait(pub, '$SYS/broker/other', '1', { qos: 1 });
    expect(String((await nextOn(sub, '$SYS/broker/connection/other.bridge/state')).payload)).toBe('1');
    expect(await collect(sub, '$SYS/broker/connection/other.bridge/x', 200)).toEqual([]);
    expect(await collect(sub, '$SYS/broker/other', 0)).toEqual([]);
    expect(b.lines.some((l) => l.startsWith('Denied PUBLISH from ') && l.includes("'$SYS/broker/other'"))).toBe(true);
  });

  it('notifications false publishes nothing and sets no will', async () => {
    const remote = await startBroker();
    const local = await startBroker({ bridgeConf: [...bridgeConf(remote.port, 'topic x/# out 0'), 'notifications false'] });
    await local.waitForLine(CONNACK);
    const lsub = await subscriber(local.port, ['$SYS/broker/connection/#']);
    const rsub = await subscriber(remote.port, ['$SYS/broker/connection/#']);
    expect(await collect(lsub, '$SYS/broker/connection/testhost.b1/state', 200)).toEqual([]);
    expect(await collect(rsub, '$SYS/broker/connection/testhost.b1/state', 0)).toEqual([]);
    expect(remote.lines).toContain('No will message specified.');
  });
});

describe('bridge connect options', () => {
  it('sends remote_username/remote_password, keepalive_interval and cleansession, from bridge_bind_address', async () => {
    const remote = await startBroker({
      options: {
        allowAnonymous: false,
        authenticator: { authenticate: (c) => c.username === 'bob' && String(c.password) === 'pw' },
      },
    });
    const local = await startBroker({
      bridgeConf: [
        ...bridgeConf(remote.port, 'topic t/# out 0'),
        'remote_username bob',
        'remote_password pw',
        'keepalive_interval 17',
        'cleansession true',
        'bridge_bind_address 127.0.0.2',
      ],
    });
    await local.waitForLine(CONNACK);
    expect(remote.lines.some((l) => /^New bridge connected from 127\.0\.0\.2:\d+ as testhost\.b1 \(p2, c1, k17, u'bob'\)\.$/.test(l))).toBe(true);
  });

  it('is refused with a wrong remote_password, in Mosquitto\'s words', async () => {
    const remote = await startBroker({ options: { allowAnonymous: false, authenticator: { authenticate: () => false } } });
    const local = await startBroker({ bridgeConf: [...bridgeConf(remote.port, 'topic t/# out 0'), 'remote_username bob', 'remote_password no'] });
    await local.waitForLine('Connection Refused: not authorised');
    expect(local.lines).not.toContain(`Bridge ${ID} sending SUBSCRIBE (Mid: 2, Topic: t/#, QoS: 0, Options: 0x00)`);
  });

  it('speaks MQTT 3.1 with bridge_protocol_version mqttv31 (0x83 with try_private)', async () => {
    const remote = await startBroker();
    const local = await startBroker({ bridgeConf: [...bridgeConf(remote.port, 'topic t/# both 1'), 'bridge_protocol_version mqttv31'] });
    await local.waitForLines(`Received SUBACK from ${ID}`, 1);
    expect(remote.lines.some((l) => /^New bridge connected from .* as testhost\.b1 \(p1, c0, k60\)\.$/.test(l))).toBe(true);
    const rsub = await subscriber(remote.port, ['t/#']);
    await publishAndWait(await publisher(local.port), 't/31', 'old', { qos: 1 });
    expect(String((await nextOn(rsub, 't/31')).payload)).toBe('old');
  });

  it('bridge_attempt_unsubscribe false sends no UNSUBSCRIBE for out topics', async () => {
    const remote = await startBroker();
    const local = await startBroker({ bridgeConf: [...bridgeConf(remote.port, 'topic o/# out 0', 'topic i/# in 0'), 'bridge_attempt_unsubscribe false'] });
    await local.waitForLines(`Received SUBACK from ${ID}`, 1);
    await sleep(200);
    expect(local.count(/sending UNSUBSCRIBE/)).toBe(0);
    expect(remote.count('Received UNSUBSCRIBE from testhost.b1')).toBe(0);
  });

  it('applies the local ACL to the bridge as local_clientid/local_username', async () => {
    const seen: string[] = [];
    const remote = await startBroker();
    const local = await startBroker({
      bridgeConf: [...bridgeConf(remote.port, 'topic acl/# both 0'), 'local_username lb'],
      options: {
        authorizer: {
          canWrite: (id, user, topic) => (seen.push(`w ${id} ${user} ${topic}`), topic !== 'acl/in-denied'),
          canRead: (id, user, topic) => (seen.push(`r ${id} ${user} ${topic}`), topic !== 'acl/out-denied'),
          canSubscribe: () => true,
        },
      },
    });
    await local.waitForLines(`Received SUBACK from ${ID}`, 1);
    const rsub = await subscriber(remote.port, ['acl/#']);
    const lsub = await subscriber(local.port, ['acl/#']);
    const lpub = await publisher(local.port);
    await publishAndWait(lpub, 'acl/out-denied', 'no');
    await publishAndWait(lpub, 'acl/out-ok', 'yes');
    const rpub = await publisher(remote.port);
    await publishAndWait(rpub, 'acl/in-denied', 'no');
    await publishAndWait(rpub, 'acl/in-ok', 'yes');
    expect(String((await nextOn(rsub, 'acl/out-ok')).payload)).toBe('yes');
    expect(String((await nextOn(lsub, 'acl/in-ok')).payload)).toBe('yes');
    expect(await collect(rsub, 'acl/out-denied', 200)).toEqual([]);
    expect(await collect(lsub, 'acl/in-denied', 0)).toEqual([]);
    expect(seen).toContain(`r ${ID} lb acl/out-denied`);
    expect(seen).toContain(`w ${ID} lb acl/in-denied`);
  });

  it('drops messages larger than bridge_max_packet_size', async () => {
    const remote = await startBroker();
    const local = await startBroker({ bridgeConf: [...bridgeConf(remote.port, 'topic m/# out 0'), 'bridge_max_packet_size 40'] });
    await local.waitForLine(CONNACK);
    const rsub = await subscriber(remote.port, ['m/#']);
    const lpub = await publisher(local.port);
    await publishAndWait(lpub, 'm/big', 'x'.repeat(60));
    await publishAndWait(lpub, 'm/small', 'y'.repeat(20));
    expect(String((await nextOn(rsub, 'm/small')).payload)).toBe('y'.repeat(20));
    expect(await collect(rsub, 'm/big', 100)).toEqual([]);
  });
});

describe('bridge connection', () => {
  it('reconnects after restart_timeout when the remote broker restarts, and forwards again', async () => {
    const remote = await startBroker();
    const port = remote.port;
    const local = await startBroker({ bridgeConf: bridgeConf(port, 'topic t/# both 1') });
    await local.waitForLines(`Received SUBACK from ${ID}`, 1);
    await remote.close();
    await local.waitForLine(`Client ${ID} closed its connection.`);
    await local.waitForLine('Error creating bridge: Connection refused.', 3000);
    const remote2 = await startBroker({ port });
    await local.waitForLines(CONNACK, 2, 5000);
    await local.waitForLines(`Received SUBACK from ${ID}`, 2);
    expect(local.count(`Connecting bridge (step 1) b1 (127.0.0.1:${port})`)).toBeGreaterThanOrEqual(3);
    const rsub = await subscriber(remote2.port, ['t/#']);
    const lsub = await subscriber(local.port, ['t/#']);
    await publishAndWait(await publisher(local.port), 't/out', 'after', { qos: 1 });
    expect(String((await nextOn(rsub, 't/out')).payload)).toBe('after');
    await publishAndWait(await publisher(remote2.port), 't/in', 'back', { qos: 1 });
    expect(String((await nextOn(lsub, 't/in')).payload)).toBe('back');
  });

  it('try_private: sends the bridge bit (0x84), and goes without it once the remote refuses the level (CONNACK 1)', async () => {
    const remote = await fakeRemote((level) => (level & 0x80 ? 1 : 0));
    const local = await startBroker({ bridgeConf: bridgeConf(remote.port, 'topic t/# out 0') });
    await local.waitForLine('Connection Refused: unacceptable protocol version');
    // The refused CONNACK is logged too; the second one accepts the plain level.
    await local.waitForLines(CONNACK, 2, 4000);
    expect(remote.levels.slice(0, 2)).toEqual([0x84, 0x04]);
    expect(local.count('Connection Refused: unacceptable protocol version')).toBe(1);
  });

  it('gives up an attempt that gets no CONNACK within keepalive_interval, and tries again', async () => {
    const remote = await fakeRemote(() => null);
    const local = await startBroker({ bridgeConf: [...bridgeConf(remote.port, 'topic t/# out 0'), 'keepalive_interval 5'] });
    await local.waitForLine(`Client ${ID} closed its connection.`, 7000);
    await local.waitForLines(`Connecting bridge (step 1) b1 (127.0.0.1:${remote.port})`, 2, 3000);
    expect(remote.levels.length).toBeGreaterThanOrEqual(1);
  }, 12000);

  it('cleansession false keeps QoS 1 messages (not QoS 0) while the remote is away and sends them on reconnect', async () => {
    const remote = await startBroker();
    const port = remote.port;
    const local = await startBroker({ bridgeConf: bridgeConf(port, 'topic q/# out 1') });
    await local.waitForLine(CONNACK);
    await remote.close();
    await local.waitForLine(`Client ${ID} closed its connection.`);
    const lpub = await publisher(local.port);
    await publishAndWait(lpub, 'q/kept1', 'a', { qos: 1 });
    await publishAndWait(lpub, 'q/lost', 'b', { qos: 0 });
    await publishAndWait(lpub, 'q/kept2', 'c', { qos: 1 });
    const remote2 = await startBroker({ port });
    // Subscribe on the new remote before the bridge is back (restart_timeout 1).
    const rsub = await subscriber(remote2.port, ['q/#']);
    expect(local.count(CONNACK)).toBe(1);
    expect(String((await nextOn(rsub, 'q/kept1')).payload)).toBe('a');
    expect(String((await nextOn(rsub, 'q/kept2')).payload)).toBe('c');
    expect(await collect(rsub, 'q/lost', 200)).toEqual([]);
  });

  it('cleansession true (so a clean local session) drops what is published while the remote is away', async () => {
    const remote = await startBroker();
    const port = remote.port;
    const local = await startBroker({ bridgeConf: [...bridgeConf(port, 'topic q/# out 1'), 'cleansession true'] });
    await local.waitForLine(CONNACK);
    expect(remote.lines.some((l) => /as testhost\.b1 \(p2, c1, k60\)/.test(l))).toBe(true);
    await remote.close();
    await local.waitForLine(`Client ${ID} closed its connection.`);
    await publishAndWait(await publisher(local.port), 'q/gone', 'a', { qos: 1 });
    const remote2 = await startBroker({ port });
    const rsub = await subscriber(remote2.port, ['q/#']);
    await local.waitForLines(CONNACK, 2, 5000);
    await publishAndWait(await publisher(local.port), 'q/now', 'b', { qos: 1 });
    expect(String((await nextOn(rsub, 'q/now')).payload)).toBe('b');
    expect(await collect(rsub, 'q/gone', 0)).toEqual([]);
  });

  it('bounds what it keeps by max_queued_messages and says so once', async () => {
    const port = await freePort();
    const local = await startBroker({ bridgeConf: bridgeConf(port, 'topic q/# out 1'), options: { maxQueuedMessages: 2 } });
    await local.waitForLine('Error creating bridge: Connection refused.');
    const lpub = await publisher(local.port);
    for (let i = 1; i <= 4; i++) await publishAndWait(lpub, `q/${i}`, String(i), { qos: 1, messageId: i });
    expect(local.count(`Outgoing messages are being dropped for client ${ID}.`)).toBe(1);
    const remote = await startBroker({ port });
    const rsub = await subscriber(remote.port, ['q/#']);
    expect(String((await nextOn(rsub, 'q/1')).payload)).toBe('1');
    expect(String((await nextOn(rsub, 'q/2')).payload)).toBe('2');
    expect(await collect(rsub, 'q/3', 300)).toEqual([]);
    expect(await collect(rsub, 'q/4', 0)).toEqual([]);
  });

  it('tries the next address when the first refuses, and goes back to the first once it is up (round_robin false)', async () => {
    const first = await freePort();
    const second = await startBroker();
    const local = await startBroker({
      bridgeConf: ['connection b1', `addresses 127.0.0.1:${first} 127.0.0.1:${second.port}`, 'restart_timeout 1', 'topic t/# out 0'],
    });
    await local.waitForLine(`Connecting bridge (step 1) b1 (127.0.0.1:${first})`);
    await local.waitForLine(CONNACK, 5000);
    expect(local.lines).toContain(`Connecting bridge (step 1) b1 (127.0.0.1:${second.port})`);
    expect(second.lines.some((l) => l.includes('as testhost.b1'))).toBe(true);
    const main = await startBroker({ port: first });
    await main.waitForLine(/New bridge connected from .* as testhost\.b1 /, 6000);
    await local.waitForLines(CONNACK, 2);
    const sub = await subscriber(main.port, ['t/#'], 0);
    await publishAndWait(await publisher(local.port), 't/x', 'main');
    expect(String((await nextOn(sub, 't/x')).payload)).toBe('main');
  });

  it('start_type lazy connects once threshold messages wait and disconnects after idle_timeout', async () => {
    const remote = await startBroker();
    const local = await startBroker({
      bridgeConf: [...bridgeConf(remote.port, 'topic z/# out 1'), 'start_type lazy', 'threshold 2', 'idle_timeout 1'],
    });
    await sleep(300);
    // As Mosquitto: step 1 at start, step 2 (the connection) once the threshold is met.
    expect(local.count(/Connecting bridge \(step 1\)/)).toBe(1);
    expect(local.count(/Connecting bridge \(step 2\)/)).toBe(0);
    const rsub = await subscriber(remote.port, ['z/#']);
    const lpub = await publisher(local.port);
    await publishAndWait(lpub, 'z/1', 'one', { qos: 1 });
    await sleep(200);
    expect(local.count(/Connecting bridge \(step 2\)/)).toBe(0);
    await publishAndWait(lpub, 'z/2', 'two', { qos: 1 });
    expect(String((await nextOn(rsub, 'z/1')).payload)).toBe('one');
    expect(String((await nextOn(rsub, 'z/2')).payload)).toBe('two');
    expect(local.count(/Connecting bridge \(step 1\)/)).toBe(1);
    expect(local.count(/Connecting bridge \(step 2\)/)).toBe(1);
    await local.waitForLine(`Bridge ${ID} idle timeout reached, disconnecting.`, 4000);
    await local.waitForLine(`Client ${ID} closed its connection.`);
  });

  it('start_type once does not reconnect', async () => {
    const remote = await startBroker();
    const port = remote.port;
    const local = await startBroker({ bridgeConf: [...bridgeConf(port, 'topic z/# out 1'), 'start_type once'] });
    await local.waitForLine(CONNACK);
    await remote.close();
    await local.waitForLine(`Client ${ID} closed its connection.`);
    await startBroker({ port });
    await sleep(2000);
    expect(local.count(/Connecting bridge \(step 1\)/)).toBe(1);
  });
});

describe('bridge loops', () => {
  for (const version of ['mqttv311', 'mqttv50']) {
    it(`a both-way bridge does not send a message back where it came from (${version})`, async () => {
      const remote = await startBroker();
      const local = await startBroker({ bridgeConf: [...bridgeConf(remote.port, 'topic loop/# both 1'), `bridge_protocol_version ${version}`] });
      await local.waitForLines(`Received SUBACK from ${ID}`, 1);
      if (version === 'mqttv50') {
        expect(local.lines).toContain(`Bridge ${ID} sending SUBSCRIBE (Mid: 2, Topic: loop/#, QoS: 1, Options: 0x0c)`);
      } else {
        expect(remote.lines.some((l) => l.startsWith('New bridge connected from '))).toBe(true);
      }
      const lsub = await subscriber(local.port, ['loop/#']);
      const rsub = await subscriber(remote.port, ['loop/#']);
      await publishAndWait(await publisher(local.port), 'loop/a', 'from-local', { qos: 1 });
      await publishAndWait(await publisher(remote.port), 'loop/b', 'from-remote', { qos: 1 });
      await sleep(400);
      expect((await collect(lsub, 'loop/a', 0)).length).toBe(1);
      expect((await collect(rsub, 'loop/a', 0)).length).toBe(1);
      expect((await collect(lsub, 'loop/b', 0)).length).toBe(1);
      expect((await collect(rsub, 'loop/b', 0)).length).toBe(1);
      expect(local.count(/^Sending PUBLISH to local\.testhost\.b1 .*'loop\/b'/)).toBe(0);
    });
  }

  it('without try_private the remote echoes the message once, and the bridge does not send it out again', async () => {
    const remote = await startBroker();
    const local = await startBroker({ bridgeConf: [...bridgeConf(remote.port, 'topic loop/# both 1'), 'try_private false'] });
    await local.waitForLines(`Received SUBACK from ${ID}`, 1);
    expect(remote.lines.some((l) => /New client connected from .* as testhost\.b1 /.test(l))).toBe(true);
    const rsub = await subscriber(remote.port, ['loop/#']);
    await publishAndWait(await publisher(local.port), 'loop/a', 'x', { qos: 1 });
    await sleep(500);
    expect((await collect(rsub, 'loop/a', 0)).length).toBe(1);
    expect(local.count(/^Sending PUBLISH to local\.testhost\.b1 .*'loop\/a'/)).toBe(1);
  });
});
