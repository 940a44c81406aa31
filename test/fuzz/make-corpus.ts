/**
 * Makes the seed corpus (test/fuzz/corpus/*.bin): what real clients send to a broker in
 * one session, client to broker bytes only. Recorded through a TCP proxy in front of an
 * in-process ts-mosquitto from mosquitto_pub, mosquitto_sub and mosquitto_rr (where
 * installed) at MQTT 3.1, 3.1.1 and 5; and, for what those programs never send (AUTH,
 * PUBREL, UNSUBSCRIBE, v5 properties on every packet, DISCONNECT reasons, and the packets
 * only a server sends), sessions written with mqtt-packet, the generator MQTT.js uses.
 * Run: `npm run build && tsc -p test/fuzz/tsconfig.json && node dist-fuzz/make-corpus.js`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqttPacket from 'mqtt-packet';
import { Broker, Log } from 'ts-mosquitto';

const CORPUS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test/fuzz/corpus');

function gen(packets: object[], version: 3 | 4 | 5): Buffer {
  return Buffer.concat(packets.map((p) => mqttPacket.generate(p as mqttPacket.Packet, { protocolVersion: version })));
}

function connect(version: 3 | 4 | 5, extra: object = {}): object {
  return { cmd: 'connect', protocolId: version === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: version, clean: true, keepalive: 30, clientId: `seed${version}`, ...extra };
}

const up = { userProperties: { a: '1', b: ['2', '3'] } };

/** Sessions written with mqtt-packet: every packet type, each protocol version. */
function generated(): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (const v of [3, 4, 5] as const) {
    const p5 = (props: object): object => (v === 5 ? { properties: props } : {});
    const will = { topic: 'will/t', payload: Buffer.from('gone'), qos: 1, retain: true, ...(v === 5 ? { properties: { willDelayInterval: 2, ...up } } : {}) };
    out.push([`v${v}-full-session`, gen([
      connect(v, { will, username: 'u', password: Buffer.from('p'), clean: false, ...p5({ sessionExpiryInterval: 60, receiveMaximum: 10, topicAliasMaximum: 5, ...up }) }),
      { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/+/c', qos: 2, ...(v === 5 ? { nl: true, rap: true, rh: 1 } : {}) }, { topic: '#', qos: 0 }, { topic: '$share/g/s/#', qos: 1 }], ...p5({ subscriptionIdentifier: 7, ...up }) },
      { cmd: 'publish', topic: 'a/b/c', payload: Buffer.from('zero'), qos: 0, retain: false, dup: false },
      { cmd: 'publish', topic: 'a/b/c', payload: Buffer.from('one'), qos: 1, retain: true, dup: false, messageId: 2, ...p5({ payloadFormatIndicator: true, messageExpiryInterval: 60, contentType: 'text/plain', responseTopic: 'r', correlationData: Buffer.from('cd'), ...up }) },
      { cmd: 'publish', topic: 'a/b/c', payload: Buffer.from('two'), qos: 2, retain: false, dup: true, messageId: 3, ...p5({ topicAlias: 1 }) },
      { cmd: 'pubrel', messageId: 3, ...(v === 5 ? { reasonCode: 0, properties: { reasonString: 'ok' } } : {}) },
      { cmd: 'puback', messageId: 1, ...(v === 5 ? { reasonCode: 0x10 } : {}) },
      { cmd: 'pubrec', messageId: 4 },
      { cmd: 'pubcomp', messageId: 4 },
      { cmd: 'pingreq' },
      { cmd: 'unsubscribe', messageId: 5, unsubscriptions: ['a/+/c', '#'], ...p5(up) },
      { cmd: 'disconnect', ...(v === 5 ? { reasonCode: 4, properties: { sessionExpiryInterval: 0, reasonString: 'bye' } } : {}) },
    ], v)]);
    // Packets a client must not send: the broker refuses them.
    out.push([`v${v}-server-packets`, gen([
      connect(v),
      { cmd: 'connack', returnCode: 0, sessionPresent: false, ...(v === 5 ? { reasonCode: 0 } : {}) },
      { cmd: 'suback', messageId: 1, granted: [0, 1, 128] },
      { cmd: 'unsuback', messageId: 1, ...(v === 5 ? { granted: [0] } : {}) },
      { cmd: 'pingresp' },
    ], v)]);
    out.push([`v${v}-second-connect`, gen([connect(v), connect(v)], v)]);
    if (v !== 3) out.push([`v${v}-empty-id`, gen([connect(v, { clientId: '', clean: true }), { cmd: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 1, retain: false, dup: false, messageId: 1 }], v)]);
  }
  out.push(['v5-auth', gen([
    connect(5, { properties: { authenticationMethod: 'SCRAM', authenticationData: Buffer.from('x') } }),
    { cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM', authenticationData: Buffer.from('y') } },
  ], 5)]);
  out.push(['v5-topic-alias', gen([
    connect(5),
    { cmd: 'publish', topic: 'alias/t', payload: Buffer.from('1'), qos: 0, retain: false, dup: false, properties: { topicAlias: 3 } },
    { cmd: 'publish', topic: '', payload: Buffer.from('2'), qos: 1, retain: false, dup: false, messageId: 9, properties: { topicAlias: 3 } },
  ], 5)]);
  return out;
}

/** A proxy that records what one client sends, in front of the broker. */
async function record(brokerPort: number, args: string[], program: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const server = net.createServer((c) => {
    const up2 = net.connect(brokerPort, '127.0.0.1');
    c.on('data', (d) => {
      chunks.push(d);
      up2.write(d);
    });
    up2.on('data', (d) => c.write(d));
    c.on('close', () => up2.destroy());
    up2.on('close', () => c.destroy());
    c.on('error', () => {});
    up2.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  // Run off the event loop's back: spawnSync would block the proxy, so use a promise.
  await new Promise<void>((resolve) => {
    import('node:child_process').then(({ spawn }) => {
      const p = spawn(program, ['-p', String(port), ...args], { stdio: 'ignore' });
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      p.on('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
  });
  server.close();
  return Buffer.concat(chunks);
}

async function main(): Promise<void> {
  rmSync(CORPUS, { recursive: true, force: true });
  mkdirSync(CORPUS, { recursive: true });
  const seeds = generated();
  if (spawnSync('sh', ['-c', 'command -v mosquitto_pub']).status === 0) {
    const broker = new Broker({ listeners: [{ port: 0, host: '127.0.0.1' }], sysInterval: 0 }, new Log(0, []));
    await broker.start();
    const port = broker.port();
    for (const [v, flag] of [['3', 'mqttv31'], ['4', 'mqttv311'], ['5', 'mqttv5']] as const) {
      const props = v === '5' ? ['-D', 'publish', 'user-property', 'k', 'v', '-D', 'connect', 'session-expiry-interval', '30'] : [];
      seeds.push([`v${v}-mosquitto_pub-q2-retain-will`, await record(port, ['-V', flag, '-i', `pub${v}`, '-t', 's/t', '-m', 'hello', '-q', '2', '-r', '--will-topic', 'w', '--will-payload', 'x', '--will-qos', '1', '-u', 'user', '-P', 'pw', ...props], 'mosquitto_pub')]);
      seeds.push([`v${v}-mosquitto_pub-q1-lines`, await record(port, ['-V', flag, '-t', 'l/t', '-q', '1', '-m', 'a'], 'mosquitto_pub')]);
      seeds.push([`v${v}-mosquitto_sub-wildcards`, await record(port, ['-V', flag, '-t', 'a/+/b', '-t', '#', '-t', '$SYS/#', '-q', '2', '-C', '1', '-W', '1', '-c', '-i', `sub${v}`, '-U', 'old/t'], 'mosquitto_sub')]);
      if (v === '5') seeds.push([`v5-mosquitto_rr`, await record(port, ['-V', flag, '-t', 'rq', '-e', 'rs', '-m', 'q', '-W', '1'], 'mosquitto_rr')]);
    }
    await broker.close();
  }
  for (const [name, bytes] of seeds) if (bytes.length > 0) writeFileSync(path.join(CORPUS, `${name}.bin`), bytes);
  process.stdout.write(`corpus: ${seeds.length} sessions in ${CORPUS}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(String((err as Error).stack ?? err) + '\n');
  process.exit(1);
});
