/**
 * A client that sends DISCONNECT and keeps its socket open (MQTT-3.14.4: the server closes
 * the connection): the broker logs `Client X disconnected.` at once, as Mosquitto does,
 * closes its side and lets the client go, without waiting for the peer to close.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, stopBrokers } from './helpers/broker.js';
import { haveProgram, MOSQUITTO, normalise, startMosquitto, type RealMosquitto } from './helpers/mosquitto.js';

const sockets: net.Socket[] = [];
let mosquitto: RealMosquitto | undefined;

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await stopBrokers();
  await mosquitto?.stop();
  mosquitto = undefined;
});

const CONNECT = Buffer.from([0x10, 19, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 7, ...Buffer.from('rawdisc')]);
const DISCONNECT = Buffer.from([0xe0, 0]);

/**
 * CONNECT, CONNACK, DISCONNECT, and the socket left open on our side (allowHalfOpen: the
 * test's end is not closed when the broker's FIN arrives). Resolves with the time the
 * broker's FIN took to arrive after DISCONNECT was sent.
 */
async function disconnectAndStay(port: number): Promise<{ sock: net.Socket; finMs: number }> {
  const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  sockets.push(sock);
  sock.on('error', () => {});
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  const connack = new Promise<Buffer>((resolve) => sock.once('data', (b: Buffer) => resolve(b)));
  sock.write(CONNECT);
  expect([...(await connack)]).toEqual([0x20, 2, 0, 0]);
  const t0 = Date.now();
  const fin = new Promise<number>((resolve) => sock.once('end', () => resolve(Date.now() - t0)));
  sock.write(DISCONNECT);
  const finMs = await fin;
  return { sock, finMs };
}

describe('DISCONNECT with the socket kept open', () => {
  it('logs "Client X disconnected." at once, closes our side and releases the client', async () => {
    const b = await startBroker();
    const { sock, finMs } = await disconnectAndStay(b.port);
    // The broker's FIN arrives right away, not after a timeout.
    expect(finMs).toBeLessThan(500);
    await b.waitForLine('Client rawdisc disconnected.', 500);
    expect(sock.destroyed).toBe(false); // the peer still holds its socket open
    expect(b.broker.clients.size).toBe(0);
    expect(b.broker.stats.socketsClosed).toBe(1);
  });

  it.skipIf(!haveProgram(MOSQUITTO))('logs what Mosquitto logs for the same raw sequence, with no delay', async () => {
    mosquitto = await startMosquitto();
    await disconnectAndStay(mosquitto.port);
    await mosquitto.waitForLine('Client rawdisc disconnected.', 500);
    const b = await startBroker();
    await disconnectAndStay(b.port);
    await b.waitForLine('Client rawdisc disconnected.', 500);
    const from = (lines: string[]): string[] =>
      lines.slice(lines.findIndex((l) => l.startsWith('New connection from'))).map(normalise);
    expect(from(b.lines)).toEqual(from(mosquitto.lines));
  });
});
