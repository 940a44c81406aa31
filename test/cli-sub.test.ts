/**
 * ts-mosquitto_sub against mosquitto_sub: option errors, output formats (-v, -F, -N,
 * --pretty), message selection (-C, -R, -T, -E, --retained-only, --remove-retained, -U),
 * timeouts and exit codes, on Mosquitto's broker and on ours.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/mosquitto.js';
import {
  BROKERS, haveMosquitto, killAll, ours, run, start, startTarget, theirs, waitFor, type Target,
  expectSame, refusingMosquitto,
} from './client-diff-helpers.js';

afterEach(() => killAll());

const same = (args: string[]): Promise<void> => expectSame('sub', args);

describe.skipIf(!haveMosquitto)('ts-mosquitto_sub: option errors as mosquitto_sub', () => {
  const cases: string[][] = [
    ['--help'], [], ['-z'], ['-v'],
    ['-t'], ['-T'], ['-U'], ['-C'], ['-W'], ['-F'], ['--random-filter'], ['-e'], ['-m', 'x'], ['-l'], ['-r'], ['--repeat', '2'],
    ['-t', 'a', '-C', '0'], ['-t', 'a', '-C', 'x'], ['-t', 'a', '-W', '0'], ['-t', 'a', '-W', 'x'],
    ['-t', 'a/#/b'], ['-t', 'a/b+'], ['-t', 'a', '-T', 'a/#/b'], ['-t', 'a', '-U', '#/a'],
    ['-t', 'a', '-q', '3'], ['-t', 'a', '-k', '4'], ['-t', 'a', '-c'], ['-t', 'a', '-V', '5', '-x', '-1'],
    ['-t', 'a', '-F', 'end%'], ['-t', 'a', '-F', 'end\\'], ['-t', 'a', '-F', 'x@'], ['-t', 'a', '-F', '%z'],
    ['-t', 'a', '-F', '\\q'], ['-t', 'a', '-F', '%0-5l'],
    ['-t', 'a', '--will-retain'], ['-t', 'a', '--will-topic', 'a/+'],
    ['-t', 'a', '--cert', 'c.pem'], ['-t', 'a', '--key', 'k.pem'],
    ['-L', 'mqtt://localhost'], ['-L', 'http://localhost/a'],
    ['-t', 'a', '--random-filter', '0'], ['-t', 'a', '--random-filter', '1001'], ['-t', 'a', '--random-filter', 'x'],
  ];
  for (const args of cases) {
    it(`mosquitto_sub ${args.join(' ')}`, async () => {
      await same(args);
    });
  }

  it('exits 1 with "Error: Connection refused" when nothing listens', async () => {
    const port = await freePort();
    await same(['-p', String(port), '-t', 'a']);
    await same(['-p', String(port), '-t', 'a', '--quiet']);
  });
});

describe.skipIf(!haveMosquitto).each(BROKERS)('ts-mosquitto_sub output (broker: %s)', (kind) => {
  let target: Target;
  let base = '';
  beforeAll(async () => {
    target = await startTarget(kind);
    base = `r${Math.random().toString(36).slice(2)}`;
    const p = String(target.port);
    // Retained messages to read back: plain, binary, empty-looking JSON, and MQTT 5 properties.
    await run([...theirs('pub'), '-p', p, '-t', `${base}/a`, '-m', 'hello world', '-r', '-q', '1']);
    await run([...theirs('pub'), '-p', p, '-t', `${base}/b`, '-m', '{"x": [1, 2.5, {"y": null}], "z": "s"}', '-r', '-q', '1']);
    await run([...theirs('pub'), '-p', p, '-t', `${base}/c`, '-m', 'quote" back\\ tab\t nl\n ctl\x01 é', '-r', '-q', '2']);
    await run([...theirs('pub'), '-p', p, '-t', `${base}/d`, '-m', 'props', '-r', '-q', '1', '-V', '5',
      '-D', 'publish', 'content-type', 'text/plain', '-D', 'publish', 'user-property', 'k1', 'v1',
      '-D', 'publish', 'user-property', 'k2', 'v2', '-D', 'publish', 'response-topic', 'rt',
      '-D', 'publish', 'correlation-data', 'cd', '-D', 'publish', 'payload-format-indicator', '1']);
  });
  afterAll(async () => {
    await target.stop();
  });

  const formats = [
    '%t|%p|%q|%r|%l|%x|%X',
    '%C|%D|%F|%P|%R|%A|%S',
    '%10t|%-10t|%.3t|%12.6t|%05l|%-5l|%010x|%%|%8X',
    '%5q|%5r|%3p|%.2p|%6A|%6S|%7F|%5P|%3.1C|%4.1R|%4D',
    'a\\tb\\\\c\\ad\\ee\\nf\\rg\\vh\\0i@@',
    '%1x|%4x|%6X|%-12x|%012x|%20x|%.4x|%8p|%-8p|%08p|%05t|%5E|%05E|%5R|%5C|%05m|%5.2I',
  ];
  for (const v of ['311', '5']) {
    for (const q of ['0', '2']) {
      for (const format of formats) {
        it(`-F '${format}' (MQTT ${v}, QoS ${q}) prints what mosquitto_sub prints`, async () => {
          const args = ['-p', String(target.port), '-t', `${base}/#`, '-C', '4', '-V', v, '-q', q, '-F', format];
          const a = await run([...theirs('sub'), ...args]);
          const b = await run([...ours('sub'), ...args]);
          // A QoS 2 message is delivered at PUBREL, so its place among the others may vary.
          const lines = (s: string): string[] => s.split('\n').sort();
          expect(lines(b.stdout)).toEqual(lines(a.stdout));
          expect(b.stderr).toBe(a.stderr);
          expect(b.code).toBe(a.code);
        });
      }
    }
    it(`-v, -N, -R, -T and -d (MQTT ${v}) print what mosquitto_sub prints`, async () => {
      const p = String(target.port);
      await same(['-p', p, '-t', `${base}/#`, '-C', '4', '-V', v, '-v']);
      await same(['-p', p, '-t', `${base}/#`, '-C', '4', '-V', v, '-N', '-q', '1']);
      await same(['-p', p, '-t', `${base}/a`, '-t', `${base}/b`, '-C', '2', '-V', v, '-v', '-d', '-i', 'fixed-id', '-q', '2']);
      await same(['-p', p, '-t', `${base}/#`, '-T', `${base}/b`, '-T', `${base}/c`, '-C', '2', '-V', v, '-v']);
      await same(['-p', p, '-t', `${base}/#`, '-E', '-d', '-i', 'fixed-id', '-V', v]);
      await same(['-p', p, '-t', `${base}/#`, '-R', '-W', '1', '-V', v]);
    });
  }

  it('%j and --pretty give the same JSON apart from the timestamp', async () => {
    const p = String(target.port);
    const tst = /"tst":\s*"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z[+-]\d{4}"/g;
    for (const extra of [[], ['--pretty'], ['-V', '5'], ['-V', '5', '--pretty', '-q', '1']]) {
      const args = ['-p', p, '-t', `${base}/#`, '-C', '4', '-F', '%j', ...extra];
      const a = await run([...theirs('sub'), ...args]);
      const b = await run([...ours('sub'), ...args]);
      expect(b.stdout).toMatch(tst);
      expect(b.stdout.replace(tst, 'TST')).toBe(a.stdout.replace(tst, 'TST'));
    }
  });

  it('@ time codes, %I and %U have the shape strftime gives', async () => {
    const b = await run([...ours('sub'), '-p', String(target.port), '-t', `${base}/a`, '-C', '1', '-F', '@Y-@m-@d @H:@M:@S.@N|%I|%U|@q']);
    expect(b.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}\|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000\|\d+\.\d{9}\|%q\n$/);
  });

  it('-v prints "(null)" for an empty payload; payload-only prints nothing for it', async () => {
    const p = String(target.port);
    const topic = `${base}/null`;
    for (const extra of [['-v'], []]) {
      const outs: string[] = [];
      for (const prog of [theirs('sub'), ours('sub')]) {
        const sub = start(['stdbuf', '-oL', ...prog, '-p', p, '-t', topic, '-C', '2', '-d', '-i', 'nul', ...extra]);
        await waitFor(() => sub.output().includes('Subscribed (mid'));
        await run([...theirs('pub'), '-p', p, '-t', topic, '-n']);
        await run([...theirs('pub'), '-p', p, '-t', topic, '-m', 'after']);
        outs.push((await sub.done).stdout);
      }
      expect(outs[1]).toBe(outs[0]);
      expect(outs[1]).toContain(extra.length > 0 ? `${topic} (null)\n` : 'after\n');
    }
  });

  it('--random-filter 1000 prints everything (Mosquitto 2.0 reads the chance in tenths of a percent)', async () => {
    await same(['-p', String(target.port), '-t', `${base}/#`, '-C', '4', '--random-filter', '1000', '-v']);
  });

  it('-W exits 27 with "Timed out"; --quiet keeps the exit code and drops the line', async () => {
    const p = String(target.port);
    await same(['-p', p, '-t', `${base}/none`, '-W', '1']);
    await same(['-p', p, '-t', `${base}/none`, '-W', '1', '--quiet']);
  });

  it('--retained-only stops at the first live message; --remove-retained clears what it sees', async () => {
    const p = String(target.port);
    const t = `${base}/rm`;
    await run([...theirs('pub'), '-p', p, '-t', `${t}/1`, '-m', 'one', '-r']);
    await run([...theirs('pub'), '-p', p, '-t', `${t}/2`, '-m', 'two', '-r']);
    const sub = start([...ours('sub'), '-p', p, '-t', `${t}/#`, '--retained-only', '-v', '-d']);
    await waitFor(() => sub.output().includes(`${t}/2 two`));
    await run([...theirs('pub'), '-p', p, '-t', `${t}/live`, '-m', 'live']);
    const r = await sub.done;
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(' live\n');
    // --remove-retained, differentially: same output, same retained messages left behind.
    const results: string[][] = [];
    for (const prog of [theirs('sub'), ours('sub')]) {
      await run([...theirs('pub'), '-p', p, '-t', `${t}/1`, '-m', 'one', '-r']);
      await run([...theirs('pub'), '-p', p, '-t', `${t}/2`, '-m', 'two', '-r']);
      const rm = await run([...prog, '-p', p, '-t', `${t}/#`, '--remove-retained', '-T', `${t}/2`, '-W', '1', '-v']);
      const left = await run([...theirs('sub'), '-p', p, '-t', `${t}/#`, '-W', '1', '-v']);
      results.push([String(rm.code), rm.stdout, left.stdout]);
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[1][2]).toBe(`${t}/2 two\n`);
  });

  it('-c keeps the session: messages published while away arrive at the next start', async () => {
    const p = String(target.port);
    for (const [name, prog] of [['theirs', theirs('sub')], ['ours', ours('sub')]] as const) {
      const id = `persist-${name}-${base}`;
      const topic = `${base}/persist/${name}`;
      const first = await run([...prog, '-p', p, '-t', topic, '-c', '-i', id, '-q', '1', '-E']);
      expect(first.code).toBe(0);
      await run([...theirs('pub'), '-p', p, '-t', topic, '-m', 'while away', '-q', '1']);
      const second = await run([...prog, '-p', p, '-t', topic, '-c', '-i', id, '-q', '1', '-C', '1', '-v', '-W', '5']);
      expect(second.stdout).toBe(`${topic} while away\n`);
      expect(second.code).toBe(0);
    }
  });

  it('-U unsubscribes after subscribing, as mosquitto_sub does (debug lines equal)', async () => {
    await same(['-p', String(target.port), '-t', `${base}/a`, '-U', `${base}/zz`, '-C', '1', '-d', '-i', 'unsub-id']);
  });
});

describe.skipIf(!haveMosquitto)('ts-mosquitto_sub across a broker restart', () => {
  it('reconnects and subscribes again, as mosquitto_sub does', async () => {
    const port = await freePort();
    let target = await startTarget('mosquitto', [`listener ${port} 127.0.0.1`]);
    const sub = start([...ours('sub'), '-p', String(port), '-t', 'restart/t', '-C', '2', '-v', '-d', '-i', 'restarter']);
    try {
      await waitFor(() => sub.output().includes('Subscribed (mid: 1)'));
      await run([...theirs('pub'), '-p', String(port), '-t', 'restart/t', '-m', 'before']);
      await waitFor(() => sub.output().includes('restart/t before'));
      await target.stop();
      target = await startTarget('mosquitto', [`listener ${port} 127.0.0.1`]);
      await waitFor(() => sub.output().includes('Subscribed (mid: 2)'), 10000);
      await run([...theirs('pub'), '-p', String(port), '-t', 'restart/t', '-m', 'after']);
      const r = await sub.done;
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n').filter((l) => l.startsWith('restart/t'))).toEqual(['restart/t before', 'restart/t after']);
      expect(r.stdout.match(/sending CONNECT/g)?.length).toBeGreaterThanOrEqual(2);
    } finally {
      await target.stop();
    }
  });
});

describe.skipIf(!haveMosquitto)('ts-mosquitto_sub refused by the broker', () => {
  const port = refusingMosquitto();
  for (const v of ['31', '311', '5']) {
    it(`prints the CONNACK refusal and exits with its code (MQTT ${v})`, async () => {
      await same(['-p', String(port()), '-t', 'a', '-V', v, '-d', '-i', 'refused-id']);
    });
  }
});
