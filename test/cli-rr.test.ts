/**
 * ts-mosquitto_rr against mosquitto_rr: option errors, the request with its response-topic
 * property, printing the response (-v, -F, -N), -W timeouts and CONNACK refusals.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/mosquitto.js';
import {
  BROKERS, haveMosquitto, killAll, ours, run, start, startTarget, theirs, waitFor, type Target,
  expectSame, refusingMosquitto,
} from './client-diff-helpers.js';

afterEach(() => killAll());

const same = (args: string[]): Promise<void> => expectSame('rr', args);

describe.skipIf(!haveMosquitto)('ts-mosquitto_rr: option errors as mosquitto_rr', () => {
  const cases: string[][] = [
    ['--help'], [], ['-t', 'a'], ['-t', 'a', '-e', 'b'], ['-t', 'a', '-m', 'x'], ['-e'], ['-l'], ['-r'], ['-C', '1'],
    ['-t', 'a', '-e', 'b', '-m', 'x', '-W', '0'], ['-t', 'a', '-e', 'b', '-m', 'x', '-k', '0'],
    ['-t', 'a', '-e', 'b', '-m', 'x', '-n'], ['-t', 'a/#', '-e', 'b', '-m', 'x'], ['-t', 'a', '-e', 'b', '-m', 'x', '-F', '%z'],
  ];
  for (const args of cases) {
    it(`mosquitto_rr ${args.join(' ')}`, async () => {
      await same(args);
    });
  }
  it('exits 1 with "Error: Connection refused" when nothing listens', async () => {
    await same(['-p', String(await freePort()), '-t', 'a', '-e', 'b', '-m', 'x']);
  });
});

describe.skipIf(!haveMosquitto).each(BROKERS)('ts-mosquitto_rr request/response (broker: %s)', (kind) => {
  let target: Target;
  beforeAll(async () => {
    target = await startTarget(kind);
  });
  afterAll(async () => {
    await target.stop();
  });

  async function exchange(prog: string[], extra: string[]) {
    const p = String(target.port);
    const id = Math.random().toString(36).slice(2);
    const req = `req/${id}`;
    const resp = `resp/${id}`;
    const observer = start(['stdbuf', '-oL', ...theirs('sub'), '-p', p, '-V', '5', '-t', req, '-C', '1', '-d', '-F', '%R|%p']);
    await waitFor(() => observer.output().includes('Subscribed (mid'));
    const rr = start(['stdbuf', '-oL', ...prog, '-p', p, '-t', req, '-e', resp, '-m', 'question', '-d', '-i', 'rr-id', ...extra]);
    await waitFor(() => rr.output().includes(`sending PUBLISH (d0, q`));
    // The request's own QoS flow ends before the response is published: otherwise a loaded
    // machine can deliver the response first, and either program exits before its PUBACK or
    // PUBCOMP line (seen in CI).
    const qos = extra.includes('-q') ? extra[extra.indexOf('-q') + 1] : '0';
    if (qos === '1') await waitFor(() => rr.output().includes('received PUBACK'));
    if (qos === '2') await waitFor(() => rr.output().includes('received PUBCOMP'));
    await run([...theirs('pub'), '-p', p, '-t', resp, '-m', 'answer', '-V', '5', '-D', 'publish', 'content-type', 'ct']);
    const r = await rr.done;
    const o = await observer.done;
    const seen = o.stdout.split('\n').filter((l) => l.includes('|'));
    return { r: { ...r, stdout: r.stdout.split(id).join('ID') }, seen: seen.map((l) => l.split(id).join('ID')) };
  }

  for (const extra of [[], ['-v'], ['-F', '%t %C %p'], ['-N', '-v'], ['-q', '1'], ['-q', '2', '-V', '5'], ['-V', '311']]) {
    it(`publishes the request and prints the response like mosquitto_rr (${extra.join(' ') || 'defaults'})`, async () => {
      const a = await exchange(theirs('rr'), extra);
      const b = await exchange(ours('rr'), extra);
      expect(b.r.stdout).toBe(a.r.stdout);
      expect(b.r.stderr).toBe(a.r.stderr);
      expect(b.r.code).toBe(0);
      expect(b.seen).toEqual(a.seen);
      if (!extra.includes('311')) expect(b.seen).toEqual(['resp/ID|question']);
    });
  }

  it('-W exits 27 with "Timed out" when no response comes', async () => {
    await same(['-p', String(target.port), '-t', 'nobody/listens', '-e', 'no/answer', '-m', 'q', '-W', '1']);
    await same(['-p', String(target.port), '-t', 'nobody/listens', '-e', 'no/answer', '-m', 'q', '-W', '1', '-d', '-i', 'fixed']);
  });
});

describe.skipIf(!haveMosquitto)('ts-mosquitto_rr refused by the broker', () => {
  const port = refusingMosquitto();
  for (const v of ['31', '311', '5']) {
    it(`prints the refusal with MQTT 5 reason strings and exits with its code (MQTT ${v})`, async () => {
      await same(['-p', String(port()), '-t', 'a', '-e', 'b', '-m', 'x', '-V', v, '-d', '-i', 'rr-refused']);
    });
  }
});
