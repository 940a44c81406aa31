/**
 * Bridges in the ts-mosquitto program: one process bridged to another, a reload (SIGHUP)
 * that leaves the bridge alone, and a shutdown the remote side sees through the will.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runProgram, stopPrograms } from './helpers/conf-program.js';
import { freePort, nextOn, publishAndWait, publisher, sleep, stopAll, subscriber } from './bridge-helpers.js';

afterEach(async () => {
  await stopAll();
  await stopPrograms();
});

describe('ts-mosquitto program with a bridge', () => {
  it('bridges two processes, is not restarted by SIGHUP, and its will reports "0" when it stops', async () => {
    const rport = await freePort();
    const lport = await freePort();
    const remote = await runProgram('ts', ['log_type all', `listener ${rport} 127.0.0.1`, 'allow_anonymous true']);
    const local = await runProgram('ts', [
      'log_type all',
      `listener ${lport} 127.0.0.1`,
      'allow_anonymous true',
      'connection b1',
      `address 127.0.0.1:${rport}`,
      'remote_clientid proc.b1',
      'topic up/# out 1 site/ hq/site/',
      'topic down/# in 1 site/ hq/site/',
    ]);
    await local.waitForLine(/Received SUBACK from local\.proc\.b1$/);
    await remote.waitForLine(/New bridge connected from 127\.0\.0\.1:\d+ as proc\.b1 \(p2, c0, k60\)\.$/);
    const rsub = await subscriber(rport, ['hq/#', '$SYS/broker/connection/#']);
    expect(String((await nextOn(rsub, '$SYS/broker/connection/proc.b1/state')).payload)).toBe('1');
    const lsub = await subscriber(lport, ['site/#']);
    await publishAndWait(await publisher(lport), 'site/up/t', '21.5', { qos: 1 });
    expect(String((await nextOn(rsub, 'hq/site/up/t')).payload)).toBe('21.5');
    await publishAndWait(await publisher(rport), 'hq/site/down/cmd', 'reboot', { qos: 1 });
    expect(String((await nextOn(lsub, 'site/down/cmd')).payload)).toBe('reboot');

    // SIGHUP reloads the configuration but leaves the bridge connected as it was.
    process.kill(local.proc.pid!, 'SIGHUP');
    await sleep(800);
    expect(local.lines.filter((l) => l.includes('Connecting bridge (step 1)')).length).toBe(1);
    expect(remote.lines.filter((l) => l.includes('as proc.b1')).length).toBe(1);
    await publishAndWait(await publisher(lport), 'site/up/t', '22', { qos: 1 });
    expect(String((await nextOn(rsub, 'hq/site/up/t')).payload)).toBe('22');

    expect(await local.stop('SIGTERM')).toBe(0);
    expect(String((await nextOn(rsub, '$SYS/broker/connection/proc.b1/state')).payload)).toBe('0');
    // As Mosquitto, the bridge's connection is reported closed at shutdown, before the
    // broker says it is terminating.
    const closedAt = local.lines.findIndex((l) => /Client local\.proc\.b1 closed its connection\.$/.test(l));
    const terminatingAt = local.lines.findIndex((l) => /mosquitto version \S+ terminating$/.test(l));
    expect(closedAt).toBeGreaterThan(-1);
    expect(terminatingAt).toBeGreaterThan(closedAt);
  });
});
