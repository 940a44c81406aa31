/**
 * Mosquitto's own mosquitto_pub and mosquitto_sub talking through the in-process broker:
 * QoS 0, 1, 2, retained messages, wills (--will-topic, then the subscriber is killed) and
 * a persistent session (-c).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, stopBrokers, type TestBroker } from './helpers/broker.js';
import { haveProgram } from './helpers/mosquitto.js';
import { killSpawned, spawnProgram, type Spawned } from './helpers/spawn.js';

const PUB = 'mosquitto_pub';
const SUB = 'mosquitto_sub';
const haveClients = haveProgram(PUB) && haveProgram(SUB);

type Run = Spawned;

function run(program: string, args: string[]): Run {
  const r = spawnProgram(program, args);
  // -W timeouts exit 27 by design; anything else unexpected is worth seeing.
  const exited = r.exited.then((code) => {
    if (code !== 0 && code !== 27 && r.stderr() !== '') process.stderr.write(`${program} ${args.join(' ')}: exit ${code}: ${r.stderr()}\n`);
    return code;
  });
  return { ...r, exited };
}


afterEach(async () => {
  killSpawned();
  await stopBrokers();
});

const common = (b: TestBroker): string[] => ['-h', '127.0.0.1', '-p', String(b.port)];

/** Starts mosquitto_sub and waits until the broker has granted its subscription. */
async function subscriber(b: TestBroker, id: string, topic: string, args: string[]): Promise<Run> {
  const before = b.lines.length;
  const r = run(SUB, [...common(b), '-i', id, '-t', topic, ...args]);
  const want = new RegExp(`^${id} \\d ${topic.replace(/[+#/]/g, '\\$&')}$`);
  for (let waited = 0; !b.lines.slice(before).some((l) => want.test(l)); waited += 20) {
    if (waited > 5000) throw new Error(`${id} never subscribed; log:\n${b.lines.join('\n')}`);
    await new Promise((res) => setTimeout(res, 20));
  }
  return r;
}

describe.skipIf(!haveClients)('mosquitto_pub and mosquitto_sub through ts-mosquitto', () => {
  it.each([0, 1, 2])('QoS %i', async (qos) => {
    const b = await startBroker();
    const sub = await subscriber(b, 'subber', 'interop/q', ['-q', String(qos), '-C', '1', '-F', '%t %q %p']);
    const pub = run(PUB, [...common(b), '-i', 'pubber', '-t', 'interop/q', '-q', String(qos), '-m', `hello ${qos}`]);
    expect(await pub.exited).toBe(0);
    expect(await sub.exited).toBe(0);
    expect(sub.stdout()).toBe(`interop/q ${qos} hello ${qos}\n`);
    expect(b.lines).toContain(`Received PUBLISH from pubber (d0, q${qos}, r0, m${qos === 0 ? 0 : 1}, 'interop/q', ... (7 bytes))`);
    await b.waitForLine('Client subber disconnected.');
    await b.waitForLine('Client pubber disconnected.');
  });

  it('QoS is downgraded to the subscription: QoS 2 publish to a QoS 1 subscriber', async () => {
    const b = await startBroker();
    const sub = await subscriber(b, 'subber', 'interop/d', ['-q', '1', '-C', '1', '-F', '%q %p']);
    expect(await run(PUB, [...common(b), '-t', 'interop/d', '-q', '2', '-m', 'down']).exited).toBe(0);
    expect(await sub.exited).toBe(0);
    expect(sub.stdout()).toBe('1 down\n');
  });

  it('a retained message reaches a later subscriber with the retain flag; -n -r deletes it', async () => {
    const b = await startBroker();
    expect(await run(PUB, [...common(b), '-t', 'interop/r', '-r', '-q', '1', '-m', 'kept']).exited).toBe(0);
    const sub = run(SUB, [...common(b), '-t', 'interop/r', '-C', '1', '-F', '%r %t %p']);
    expect(await sub.exited).toBe(0);
    expect(sub.stdout()).toBe('1 interop/r kept\n');
    expect(await run(PUB, [...common(b), '-t', 'interop/r', '-r', '-n']).exited).toBe(0);
    await b.waitForLine(/^Client auto-.* disconnected\.$/);
    expect(b.broker.retained.get('interop/r')).toBeUndefined();
    // --retained-only with a short wait prints nothing now.
    const none = run(SUB, [...common(b), '-t', 'interop/r', '--retained-only', '-W', '1']);
    await none.exited;
    expect(none.stdout()).toBe('');
  });

  it('the will of a killed mosquitto_sub is published', async () => {
    const b = await startBroker();
    const watcher = await subscriber(b, 'watcher', 'interop/will', ['-C', '1', '-F', '%t %q %p']);
    const victim = await subscriber(b, 'victim', 'interop/other', [
      '--will-topic',
      'interop/will',
      '--will-payload',
      'victim died',
      '--will-qos',
      '1',
    ]);
    expect(b.lines).toContain('Will message specified (11 bytes) (r0, q1).');
    process.kill(victim.proc.pid!, 'SIGKILL');
    expect(await watcher.exited).toBe(0);
    expect(watcher.stdout()).toBe('interop/will 0 victim died\n');
    await b.waitForLine('Client victim closed its connection.');
  });

  it('a clean exit (SIGINT sends DISCONNECT) publishes no will', async () => {
    const b = await startBroker();
    const victim = await subscriber(b, 'polite', 'interop/other', ['--will-topic', 'interop/will2', '--will-payload', 'x']);
    process.kill(victim.proc.pid!, 'SIGINT');
    await victim.exited;
    await b.waitForLine('Client polite disconnected.');
    expect(b.hasLine(/Sending PUBLISH .*interop\/will2/)).toBe(false);
  });

  it('-c keeps a persistent session: QoS 1 messages sent while it is away arrive on return', async () => {
    const b = await startBroker();
    // The first visit ends with -C 1 rather than a signal: mosquitto_sub disconnects from its
    // signal handler, which can hang if the signal lands while its library holds a lock.
    const first = await subscriber(b, 'persist', 'interop/p', ['-c', '-q', '1', '-C', '1', '-F', '%p']);
    expect(await run(PUB, [...common(b), '-t', 'interop/p', '-q', '1', '-m', 'first']).exited).toBe(0);
    expect(await first.exited).toBe(0);
    expect(first.stdout()).toBe('first\n');
    await b.waitForLine('Client persist disconnected.');
    expect(await run(PUB, [...common(b), '-t', 'interop/p', '-q', '1', '-m', 'while away']).exited).toBe(0);
    const again = run(SUB, [...common(b), '-i', 'persist', '-c', '-q', '1', '-t', 'interop/p', '-C', '1', '-F', '%t %p']);
    expect(await again.exited).toBe(0);
    expect(again.stdout()).toBe('interop/p while away\n');
    expect(b.lines).toContain('Sending CONNACK to persist (1, 0)');
  });
});

describe.skipIf(!haveClients)('mosquitto_pub and mosquitto_sub at -V 5 through ts-mosquitto', () => {
  it('carries user properties, content type, response topic, correlation data and expiry', async () => {
    const b = await startBroker();
    const sub = await subscriber(b, 'sub5', 'v5/#', ['-V', '5', '-C', '1', '-W', '5', '-F', '%t %p|%P|%C|%R|%D']);
    const pub = run(PUB, [
      ...common(b), '-V', '5', '-i', 'pub5', '-t', 'v5/a', '-m', 'hi', '-q', '1',
      '-D', 'publish', 'user-property', 'k', 'v',
      '-D', 'publish', 'content-type', 'text/plain',
      '-D', 'publish', 'response-topic', 'v5/reply',
      '-D', 'publish', 'correlation-data', 'c1',
      '-D', 'publish', 'message-expiry-interval', '60',
    ]);
    expect(await pub.exited).toBe(0);
    expect(await sub.exited).toBe(0);
    expect(sub.stdout()).toBe('v5/a hi|k:v|text/plain|v5/reply|c1\n');
  });

  it('keeps a v5 session with -x (session expiry) and delivers what was queued', async () => {
    const b = await startBroker();
    const first = await subscriber(b, 'keep5', 'q5', ['-V', '5', '-q', '1', '-x', '60', '-c', '-E']);
    expect(await first.exited).toBe(0);
    const pub = run(PUB, [...common(b), '-V', '5', '-t', 'q5', '-m', 'while-away', '-q', '1']);
    expect(await pub.exited).toBe(0);
    const back = run(SUB, [...common(b), '-V', '5', '-i', 'keep5', '-t', 'q5', '-q', '1', '-x', '60', '-c', '-C', '1', '-W', '5']);
    expect(await back.exited).toBe(0);
    expect(back.stdout()).toBe('while-away\n');
  });
});
