/**
 * Keepalive (MQTT-3.1.2-24): 1.5 x the keepalive without a packet closes the connection
 * and publishes the will; PINGREQ or any other packet keeps it open.
 */
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, stopBrokers } from './helpers/broker.js';

afterEach(stopBrokers);

describe('keepalive', () => {
  it('closes a silent client after 1.5 x keepalive, logs it and publishes its will', async () => {
    const b = await startBroker();
    const watch = await b.connect({ clientId: 'watch', keepalive: 0 });
    await watch.subscribe('will/ka', 1);
    const silent = await b.connect({
      clientId: 'silent',
      keepalive: 1,
      will: { topic: 'will/ka', payload: Buffer.from('timed out'), qos: 1, retain: false },
    });
    await silent.closed;
    expect(b.lines).toContain('Client silent has exceeded timeout, disconnecting.');
    const will = await watch.nextPublish();
    expect([will.topic, String(will.payload), will.qos]).toEqual(['will/ka', 'timed out', 1]);
    // The timeout is not reported a second time as an ordinary close.
    await watch.sync();
    expect(b.lines.filter((l) => l.startsWith('Client silent'))).toEqual(['Client silent has exceeded timeout, disconnecting.']);
  });

  it('does not cut a silent client off at the keep alive itself, only past 1.5 x (one sweep for all clients)', async () => {
    const b = await startBroker();
    const silent = await b.connect({ clientId: 'quiet', keepalive: 2 });
    const t0 = Date.now();
    // 2.2 s of silence: past the keep alive (2 s), short of 1.5 x (3 s).
    await new Promise((r) => setTimeout(r, 2200));
    expect(silent.isClosed).toBe(false);
    await silent.closed;
    // The sweep runs once a second: cut off between 3 and 4.5 s after CONNECT.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3000);
    expect(b.lines).toContain('Client quiet has exceeded timeout, disconnecting.');
  });

  it('keeps a client that sends PINGREQ within the keepalive', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'pinger', keepalive: 1 });
    // Four pings 0.5 s apart span 2 s, past the 1.5 x 1 s limit counted from CONNECT.
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 500));
      c.send({ cmd: 'pingreq' });
      await c.next('pingresp');
    }
    expect(c.isClosed).toBe(false);
    expect(b.lines).toContain('Received PINGREQ from pinger');
    expect(b.lines).toContain('Sending PINGRESP to pinger');
    expect(b.hasLine(/has exceeded timeout/)).toBe(false);
  });

  it('any packet counts as activity, not only PINGREQ', async () => {
    const b = await startBroker();
    const c = await b.connect({ clientId: 'chatty', keepalive: 1 });
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 500));
      c.publish('chat', String(i), { qos: 1, messageId: i + 1 });
      await c.next('puback');
    }
    expect(c.isClosed).toBe(false);
  });

  it('counts whole packets only: a client trickling a PUBLISH a byte at a time (slowloris) is cut off as Mosquitto does', async () => {
    const b = await startBroker();
    const slow = await b.connect({ clientId: 'slowloris', keepalive: 1 });
    const frame = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(100), qos: 0, retain: false, dup: false });
    let i = 0;
    const trickle = setInterval(() => {
      if (i < frame.length && !slow.isClosed) slow.socket.write(frame.subarray(i, ++i));
    }, 200);
    try {
      await slow.closed;
    } finally {
      clearInterval(trickle);
    }
    // 1.5 s after CONNECT, with a byte every 200 ms and the packet nowhere near whole.
    expect(i).toBeLessThan(frame.length);
    expect(b.lines).toContain('Client slowloris has exceeded timeout, disconnecting.');
  });

  it('keepalive 0 turns the timeout off', async () => {
    const b = await startBroker();
    const idle = await b.connect({ clientId: 'idle', keepalive: 0 });
    const timed = await b.connect({ clientId: 'timed', keepalive: 1 });
    await timed.closed; // at least 1.5 s have passed
    expect(idle.isClosed).toBe(false);
    await idle.sync();
  });

  it('a 3.1.1 client asking for more than max_keepalive is accepted, as Mosquitto 2.0.11 does', async () => {
    // mosquitto.conf(5): max_keepalive "only applies to MQTT v5 clients" (who get a Server
    // Keep Alive, test/broker-limits.test.ts); Mosquitto 2.0.11 answers CONNACK 0 here.
    const b = await startBroker({ maxKeepalive: 10 });
    const { RawClient } = await import('./helpers/raw-client.js');
    const c = await RawClient.open(b.port);
    expect((await c.handshake({ clientId: 'long', keepalive: 60 })).returnCode).toBe(0);
    c.destroy();
  });
});
