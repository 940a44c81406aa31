/**
 * What the fuzzer (npm run fuzz) found, each kept as a test. The inputs it saved are in
 * test/fuzz/regressions/ and are replayed as they were found; the defect is also checked
 * on its own, in the log line Mosquitto 2.0.11 gives for the same bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openRaw, startBroker, stopBrokers } from './helpers/broker.js';

afterEach(stopBrokers);

const REGRESSIONS = path.resolve('test/fuzz/regressions');

describe('fuzzer findings', () => {
  it('replays every saved input without the broker throwing, each client let go, others unaffected', async () => {
    const b = await startBroker();
    const sub = await b.connect({ clientId: 'bystander' });
    await sub.subscribe('ok', 1);
    const files = fs.readdirSync(REGRESSIONS).filter((f) => f.endsWith('.bin'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const raw = await openRaw(b.port);
      raw.sendRaw(fs.readFileSync(path.join(REGRESSIONS, f)));
      await raw.closed;
    }
    expect(b.broker.clients.size).toBe(1);
    const pub = await b.connect({ clientId: 'after' });
    pub.publish('ok', 'still here', { qos: 1, messageId: 5 });
    expect(String((await sub.nextPublish()).payload)).toBe('still here');
  });

  // mqtt-packet reads a packet identifier cut short as -1 and passes the packet on; the
  // broker then answered a PUBREL with a PUBCOMP for -1, and the encoder threw.
  for (const version of [4, 5] as const) {
    for (const [name, bytes] of [
      ['PUBREL of remaining length 0', [0x62, 0]],
      ['PUBREL of remaining length 1', [0x62, 1, 0xff]],
      ['PUBACK of remaining length 0', [0x40, 0]],
      ['PUBCOMP of remaining length 1', [0x70, 1, 0]],
    ] as const) {
      it(`v${version}: a ${name} is a protocol error, as Mosquitto says`, async () => {
        const b = await startBroker();
        const c = await b.connect({ clientId: 'bad', version });
        c.sendRaw([...bytes]);
        await c.closed;
        await b.waitForLine('Client bad disconnected due to protocol error.');
        expect(b.broker.clients.size).toBe(0);
      });
    }
  }
});
