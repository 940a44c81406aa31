/**
 * A bridge's local session under `persistence true`: the QoS 1 messages the local broker
 * acknowledged (PUBACK to the local publisher) while the remote broker was away, or sent to
 * it and not yet acknowledged, survive a clean restart (SIGTERM) and a kill -9 right after
 * the PUBACK, and reach the remote broker once it is up, each once (again, with DUP, only
 * what was in flight). What the remote acknowledged is not sent again; a cleansession true
 * bridge keeps nothing. The local broker is the ts-mosquitto program in a child process
 * (killed by pid in afterEach); the remote is an in-process broker or a fake that never
 * acknowledges. Ephemeral ports only.
 */
import fs from 'node:fs';
import net from 'node:net';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { runProgram, stopPrograms, tempDir, type RunningProgram } from './helpers/conf-program.js';
import { freePort, publisher, sleep, startBroker, stopAll, subscriber } from './bridge-helpers.js';
import type { RawClient } from './helpers/raw-client.js';
import { publishQos2, receiveAll } from './helpers/persist-flows.js';
import { Broker, Log, LOG_ALL } from '../src/index.js';
import { parseConfigText } from '../src/broker/config/index.js';
import { createBridgePlugin } from '../src/broker/bridge/plugin.js';
import { createPersistencePlugin } from '../src/broker/persistence/plugin.js';

const dirs: string[] = [];
const servers: net.Server[] = [];
const inProcess: Broker[] = [];

afterEach(async () => {
  await Promise.all(inProcess.splice(0).map((b) => b.close()));
  await stopAll();
  await stopPrograms();
  for (const s of servers.splice(0)) s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function stateDir(): string {
  const d = tempDir('tsm-bridge-persist-');
  dirs.push(d);
  return d;
}

/** The local broker: persistence in `dir`, a bridge `b1` to 127.0.0.1:rport for t/# out at QoS 1. */
function localConf(lport: number, rport: number, dir: string, extra: string[] = []): string[] {
  return [
    'log_type all',
    `listener ${lport} 127.0.0.1`,
    'allow_anonymous true',
    'persistence true',
    `persistence_location ${dir}/`,
    'connection b1',
    `address 127.0.0.1:${rport}`,
    'remote_clientid site.b1',
    'local_clientid local.site.b1',
    'restart_timeout 1',
    'notifications false',
    'topic t/# out 1',
    ...extra,
  ];
}

function startLocal(lport: number, rport: number, dir: string, extra: string[] = []): Promise<RunningProgram> {
  return runProgram('ts', localConf(lport, rport, dir, extra), { dir, ready: lport });
}

/** Pipelines QoS 1 PUBLISHes of `payloads` on t/<payload>; resolves when every PUBACK is in. */
async function publishAcked(pub: RawClient, payloads: string[]): Promise<void> {
  const acked = new Set<number>();
  payloads.forEach((p, i) => pub.publish(`t/${p}`, p, { qos: 1, messageId: i + 1 }));
  while (acked.size < payloads.length) {
    const p = await pub.waitFor((q) => q.cmd === 'puback', 5000, `puback ${acked.size + 1} of ${payloads.length}`);
    acked.add((p as { messageId: number }).messageId);
  }
}

/** The PUBLISHes on t/# at the remote subscriber (acknowledged): until `n` distinct payloads came, then `quietMs` more. */
async function receivedAtRemote(sub: RawClient, n: number, quietMs = 800, timeoutMs = 8000): Promise<IPublishPacket[]> {
  const got: IPublishPacket[] = [];
  const take = (): void => {
    for (let i = 0; i < sub.inbox.length; ) {
      const p = sub.inbox[i];
      if (p.cmd === 'publish' && p.topic.startsWith('t/')) {
        sub.inbox.splice(i, 1);
        got.push(p as IPublishPacket);
        if (p.qos === 1) sub.send({ cmd: 'puback', messageId: p.messageId });
      } else i++;
    }
  };
  const deadline = Date.now() + timeoutMs;
  while (new Set(got.map((p) => String(p.payload))).size < n && Date.now() < deadline) {
    take();
    await sleep(50);
  }
  await sleep(quietMs);
  take();
  return got;
}

/** Waits until `count` output lines of `p` match. */
async function waitForCount(p: RunningProgram, match: RegExp, count: number, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (p.lines.filter((l) => match.test(l)).length < count) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} x ${String(match)}; output:\n${p.lines.join('\n')}`);
    await sleep(50);
  }
}

/** The local broker in process, with persistence and the bridge; `bridgesFirst` pushes the bridge plugin before persistence. */
async function startInProcess(lport: number, rport: number, dir: string, bridgesFirst = false): Promise<Broker> {
  const { config } = parseConfigText(localConf(lport, rport, dir).join('\n') + '\n', 'local.conf', { hostname: 'testhost' });
  const broker = new Broker(
    { listeners: [{ port: lport, host: '127.0.0.1' }], sysInterval: 1, persistentClientExpiration: 1 },
    new Log(LOG_ALL, []),
  );
  const persistence = createPersistencePlugin(config);
  const bridges = createBridgePlugin(config.bridges);
  if (bridgesFirst) broker.plugins.push(bridges, persistence);
  else broker.plugins.push(persistence, bridges);
  await broker.start();
  inProcess.push(broker);
  return broker;
}

const CONNACK = /Received CONNACK on connection local\.site\.b1\./;

const payloadsOf = (got: IPublishPacket[]): string[] => got.map((p) => String(p.payload)).sort();

/**
 * A remote that accepts the bridge and records every packet; `pubrec` answers each QoS 2
 * PUBLISH with PUBREC (never PUBCOMP), so the flow stops after our PUBREL.
 */
function recordingRemote(port: number, pubrec: boolean): Promise<{ packets: Packet[] }> {
  const packets: Packet[] = [];
  const server = net.createServer((sock) => {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => {
      packets.push(p);
      if (p.cmd === 'connect') sock.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: true }));
      else if (p.cmd === 'subscribe') sock.write(mqttPacket.generate({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map((s) => s.qos) }));
      else if (p.cmd === 'publish' && p.qos === 2 && pubrec) sock.write(mqttPacket.generate({ cmd: 'pubrec', messageId: p.messageId }));
      else if (p.cmd === 'pingreq') sock.write(mqttPacket.generate({ cmd: 'pingresp' }));
    });
    sock.on('data', (d: Buffer) => parser.parse(d));
    sock.on('error', () => {});
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ packets })));
}

/**
 * A remote broker that accepts the bridge (CONNACK 0, SUBACKs) and records its PUBLISHes
 * but never acknowledges them: they stay in flight.
 */
function silentRemote(port: number): Promise<{ publishes: IPublishPacket[] }> {
  const publishes: IPublishPacket[] = [];
  const server = net.createServer((sock) => {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: Packet) => {
      if (p.cmd === 'connect') sock.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
      else if (p.cmd === 'publish') publishes.push(p);
      else if (p.cmd === 'pingreq') sock.write(mqttPacket.generate({ cmd: 'pingresp' }));
    });
    sock.on('data', (d: Buffer) => parser.parse(d));
    sock.on('error', () => {});
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ publishes })));
}

describe('bridge: the local session under persistence true', () => {
  it('keeps messages held while the remote is down across a clean restart (SIGTERM) and sends each once', async () => {
    const [lport, rport] = [await freePort(), await freePort()];
    const dir = stateDir();
    const local = await startLocal(lport, rport, dir);
    const sent = ['a1', 'a2', 'a3', 'a4', 'a5'];
    await publishAcked(await publisher(lport), sent);
    expect(await local.stop('SIGTERM')).toBe(0);

    await startBroker({ port: rport });
    const rsub = await subscriber(rport, ['t/#'], 1);
    await startLocal(lport, rport, dir);
    const got = await receivedAtRemote(rsub, sent.length);
    expect(payloadsOf(got)).toEqual(sent);
    // Held, never in flight: no copy twice, none marked DUP.
    expect(got.every((p) => !p.dup)).toBe(true);
  });

  it('keeps them across kill -9 right after the PUBACK of the local publisher', async () => {
    const [lport, rport] = [await freePort(), await freePort()];
    const dir = stateDir();
    const local = await startLocal(lport, rport, dir);
    const sent = Array.from({ length: 30 }, (_, i) => `k${i}`);
    await publishAcked(await publisher(lport), sent);
    await local.stop('SIGKILL');

    await startBroker({ port: rport });
    const rsub = await subscriber(rport, ['t/#'], 1);
    await startLocal(lport, rport, dir);
    const got = await receivedAtRemote(rsub, sent.length);
    expect(payloadsOf(got)).toEqual([...sent].sort());
  });

  it('keeps a QoS 2 message held for the remote across kill -9 right after its PUBCOMP, and delivers it once', async () => {
    const [lport, rport] = [await freePort(), await freePort()];
    const dir = stateDir();
    const local = await startLocal(lport, rport, dir, ['topic q2/# out 2']);
    const pub = await publisher(lport);
    for (const [i, payload] of ['x1', 'x2', 'x3'].entries()) await publishQos2(pub, `q2/${payload}`, payload, i + 1);
    await local.stop('SIGKILL');

    await startBroker({ port: rport });
    const rsub = await subscriber(rport, ['q2/#'], 2);
    await startLocal(lport, rport, dir, ['topic q2/# out 2']);
    const got = await receiveAll(rsub, 3, 8000);
    await sleep(800);
    for (const p of rsub.inbox) if (p.cmd === 'publish') got.push(p as IPublishPacket);
    expect(got.map((p) => String(p.payload)).sort()).toEqual(['x1', 'x2', 'x3']);
    expect(got.every((p) => p.qos === 2)).toBe(true);
  });

  it('sends what was in flight at kill -9 again with DUP and its packet id, and what the remote acknowledged never again', async () => {
    const [lport, rport] = [await freePort(), await freePort()];
    const dir = stateDir();
    // First run: a remote that acknowledges, then one that never does.
    const remote = await startBroker({ port: rport });
    const rsub = await subscriber(rport, ['t/#'], 1);
    const local = await startLocal(lport, rport, dir);
    await waitForCount(local, CONNACK, 1);
    await publishAcked(await publisher(lport), ['done1', 'done2']);
    expect(payloadsOf(await receivedAtRemote(rsub, 2, 300))).toEqual(['done1', 'done2']);
    await remote.close();
    const silent = await silentRemote(rport);
    await waitForCount(local, CONNACK, 2);
    const pub = await publisher(lport);
    await publishAcked(pub, ['f1', 'f2']);
    for (let i = 0; i < 60 && silent.publishes.length < 2; i++) await sleep(50);
    const firstTry = silent.publishes.filter((p) => p.topic.startsWith('t/'));
    expect(firstTry.map((p) => String(p.payload))).toEqual(['f1', 'f2']);
    expect(firstTry.every((p) => !p.dup)).toBe(true);
    await local.stop('SIGKILL');
    for (const s of servers.splice(0)) s.close();

    // Second run, against a remote that never acknowledges: f1 and f2 again, as retries.
    const silent2 = await silentRemote(rport);
    const local2 = await startLocal(lport, rport, dir);
    await waitForCount(local2, CONNACK, 1);
    await sleep(500);
    const again = silent2.publishes.filter((p) => p.topic.startsWith('t/'));
    expect(again.map((p) => String(p.payload))).toEqual(['f1', 'f2']);
    expect(again.every((p) => p.dup)).toBe(true);
    expect(again.map((p) => p.messageId)).toEqual(firstTry.map((p) => p.messageId));
    await local2.stop('SIGTERM');
    for (const s of servers.splice(0)) s.close();

    // Third run, the remote acknowledging: each arrives, and nothing else.
    await startBroker({ port: rport });
    const rsub3 = await subscriber(rport, ['t/#'], 1);
    await startLocal(lport, rport, dir);
    expect(payloadsOf(await receivedAtRemote(rsub3, 2, 1000))).toEqual(['f1', 'f2']);
  });

  it('continues a QoS 2 flow whose PUBREC came before kill -9 with PUBREL, never with the PUBLISH again', async () => {
    // Had the local broker sent the PUBLISH again, a remote that had already released the
    // first copy would take it for a new message: delivered twice (MQTT-4.3.3).
    const [lport, rport] = [await freePort(), await freePort()];
    const dir = stateDir();
    const first = await recordingRemote(rport, true);
    const local = await startLocal(lport, rport, dir, ['topic q2/# out 2']);
    await waitForCount(local, CONNACK, 1);
    await publishQos2(await publisher(lport), 'q2/once', 'once', 1);
    for (let i = 0; i < 100 && !first.packets.some((p) => p.cmd === 'pubrel'); i++) await sleep(50);
    const sent = first.packets.find((p) => p.cmd === 'publish' && p.topic === 'q2/once') as IPublishPacket;
    expect(sent).toBeDefined();
    expect(first.packets.some((p) => p.cmd === 'pubrel' && p.messageId === sent.messageId)).toBe(true);
    await local.stop('SIGKILL');
    for (const s of servers.splice(0)) s.close();

    const second = await recordingRemote(rport, false);
    const local2 = await startLocal(lport, rport, dir, ['topic q2/# out 2']);
    await waitForCount(local2, CONNACK, 1);
    for (let i = 0; i < 60 && !second.packets.some((p) => p.cmd === 'pubrel'); i++) await sleep(50);
    await sleep(300);
    expect(second.packets.filter((p) => p.cmd === 'pubrel').map((p) => p.messageId)).toEqual([sent.messageId]);
    expect(second.packets.some((p) => p.cmd === 'publish' && p.topic === 'q2/once')).toBe(false);
  });

  it('keeps nothing for a cleansession true bridge, and drops what a cleansession false run left', async () => {
    const [lport, rport] = [await freePort(), await freePort()];
    const dir = stateDir();
    let local = await startLocal(lport, rport, dir, ['cleansession true']);
    await publishAcked(await publisher(lport), ['c1']);
    expect(await local.stop('SIGTERM')).toBe(0);
    local = await startLocal(lport, rport, dir);
    await publishAcked(await publisher(lport), ['c2']);
    expect(await local.stop('SIGTERM')).toBe(0);

    await startBroker({ port: rport });
    const rsub = await subscriber(rport, ['t/#'], 1);
    local = await startLocal(lport, rport, dir, ['cleansession true']);
    await waitForCount(local, CONNACK, 1);
    expect(await receivedAtRemote(rsub, 0, 1000)).toEqual([]);
    expect(await local.stop('SIGTERM')).toBe(0);
    // The clean run deleted the session: a cleansession false run after it finds nothing either.
    local = await startLocal(lport, rport, dir);
    await waitForCount(local, CONNACK, 1);
    expect(await receivedAtRemote(rsub, 0, 1000)).toEqual([]);
  });

  it('keeps the restored session apart from client sessions: not expired, not counted in $SYS', async () => {
    const [lport, rport] = [await freePort(), await freePort()];
    const dir = stateDir();
    // In process, to set persistent_client_expiration to one second (the file takes hours at least).
    const start = (): Promise<Broker> => startInProcess(lport, rport, dir);
    let broker = await start();
    await publishAcked(await publisher(lport), ['e1', 'e2']);
    await broker.close();
    inProcess.splice(0);

    broker = await start();
    const sys = await subscriber(lport, ['$SYS/broker/clients/total', '$SYS/broker/clients/expired'], 0);
    await sleep(2500);
    const bridgeSession = broker.bridgeSessions.get('local.site.b1');
    expect(bridgeSession?.queue.length).toBe(2);
    expect(broker.sessions.has('local.site.b1')).toBe(false);
    expect(broker.stats.clientsExpired).toBe(0);
    const totals = sys.inbox.filter((p) => p.cmd === 'publish' && p.topic === '$SYS/broker/clients/total').map((p) => String((p as IPublishPacket).payload));
    // Only the $SYS subscriber itself is a client (the first, retained, value is from before it came).
    expect(totals.at(-1)).toBe('1');
    expect(totals).not.toContain('2');

    await startBroker({ port: rport });
    const rsub = await subscriber(rport, ['t/#'], 1);
    expect(payloadsOf(await receivedAtRemote(rsub, 2, 300, 10000))).toEqual(['e1', 'e2']);
    // Acknowledged by the remote: gone from the session.
    expect(bridgeSession?.queue.length).toBe(0);
    expect(bridgeSession?.inflight.size).toBe(0);
  });

  it('takes over its restored session also when embedded with the bridge plugin before the persistence plugin', async () => {
    const [lport, rport] = [await freePort(), await freePort()];
    const dir = stateDir();
    let broker = await startInProcess(lport, rport, dir, true);
    await publishAcked(await publisher(lport), ['r1', 'r2']);
    await broker.close();
    inProcess.splice(0);
    broker = await startInProcess(lport, rport, dir, true);
    expect(broker.sessions.has('local.site.b1')).toBe(false);
    expect(broker.bridgeSessions.get('local.site.b1')?.queue.length).toBe(2);
    await startBroker({ port: rport });
    const rsub = await subscriber(rport, ['t/#'], 1);
    expect(payloadsOf(await receivedAtRemote(rsub, 2, 300, 10000))).toEqual(['r1', 'r2']);
  });
});
