/**
 * ts-mosquitto_pub against mosquitto_pub: same arguments, same stdout, stderr and exit
 * code; published messages checked with mosquitto_sub, on Mosquitto's broker and on ours.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, haveProgram } from './helpers/mosquitto.js';
import {
  BROKERS, baseEnv, haveMosquitto, killAll, normalise, ours, run, start, startTarget, theirs, waitFor, type RunResult, type Target,
  expectSame, refusingMosquitto,
} from './client-diff-helpers.js';

afterEach(() => killAll());

const same = (args: string[], opts: Parameters<typeof run>[1] = {}): Promise<void> => expectSame('pub', args, opts);

describe.skipIf(!haveMosquitto)('ts-mosquitto_pub: option errors as mosquitto_pub', () => {
  let closedPort = 0;
  beforeAll(async () => {
    closedPort = await freePort();
  });

  const cases: string[][] = [
    ['--help'],
    ['-t', 'a'],
    ['-m', 'x'],
    ['-z'],
    ['-t'], ['-m'], ['-f'], ['-h'], ['-i'], ['-I'], ['-k'], ['-L'], ['-M'], ['-p'], ['-P'], ['-q'], ['-u'], ['-V'], ['-x'], ['-A'],
    ['--cafile'], ['--capath'], ['--cert'], ['--key'], ['--keyform'], ['--ciphers'], ['--tls-version'], ['--tls-alpn'],
    ['--tls-engine'], ['--tls-engine-kpass-sha1'], ['--psk'], ['--psk-identity'], ['--proxy'], ['--unix'],
    ['--will-topic'], ['--will-payload'], ['--will-qos'], ['--repeat'], ['--repeat-delay'],
    ['-C', '1'], ['-F', 'x'], ['-W', '1'], ['-T', 'a'], ['-U', 'a'], ['-e', 'x'], ['--random-filter', '5'],
    ['-t', 'a', '-m', 'x', '-q', '3'],
    ['-t', 'a', '-m', 'x', '-q', '-1'],
    ['-t', 'a/#', '-m', 'x'],
    ['-t', 'a/+/b', '-m', 'x'],
    ['-t', 'a', '-m', 'x', '-l'],
    ['-t', 'a', '-m', 'x', '-n'],
    ['-t', 'a', '-m', 'x', '-V', '4'],
    ['-t', 'a', '-m', 'x', '-V', 'mqttv6'],
    ['-t', 'a', '-m', 'x', '-c'],
    ['-t', 'a', '-m', 'x', '-k', '3'],
    ['-t', 'a', '-m', 'x', '-k', '0'],
    ['-t', 'a', '-m', 'x', '-k', '70000'],
    ['-t', 'a', '-m', 'x', '-p', '70000'],
    ['-t', 'a', '-m', 'x', '-p', '-5'],
    ['-t', 'a', '-m', 'x', '-p', '99999999999'],
    ['-t', 'a', '-m', 'x', '-i', 'x', '-I', 'y'],
    ['-t', 'a', '-m', 'x', '-I', 'y', '-i', 'x'],
    ['-t', 'a', '-m', 'x', '-M', '0'],
    ['-t', 'a', '-m', 'x', '--repeat', '0'],
    ['-t', 'a', '-m', 'x', '--repeat-delay', '-1'],
    ['-t', 'a', '-m', 'x', '--will-payload', 'w'],
    ['-t', 'a', '-m', 'x', '--will-retain'],
    ['-t', 'a', '-m', 'x', '--will-topic', 'w/#'],
    ['-t', 'a', '-m', 'x', '--will-topic', 'w', '--will-qos', '3'],
    ['-t', 'a', '-m', 'x', '--psk', '00'],
    ['-t', 'a', '-m', 'x', '-V', '5', '-x', '-2'],
    ['-t', 'a', '-m', 'x', '-V', '5', '-x', 'abc'],
    ['-t', 'a', '-m', 'x', '-V', '5', '-x', '-1'],
    ['-t', 'a', '-m', 'x', '-V', '5', '-x', '∞'],
    ['-t', 'a', '-m', 'x', '-V', '5', '-x', '99999999999'],
    ['-L', 'foo://x/y'],
    ['-L', 'ftp://localhost/a'],
    ['-L', 'mqtt://localhost'],
    ['-t', 'a', '-m', 'x', '-D'],
    ['-t', 'a', '-m', 'x', '-D', 'connect', 'foo'],
    ['-t', 'a', '-m', 'x', '-D', 'connect', 'foo', '1'],
    ['-t', 'a', '-m', 'x', '-D', 'foo', 'bar', '1'],
    ['-t', 'a', '-m', 'x', '-D', 'connect', 'topic-alias', '1'],
    ['-t', 'a', '-m', 'x', '-D', 'publish', 'topic-alias', '70000'],
    ['-t', 'a', '-m', 'x', '-D', 'connect', 'user-property', 'a'],
    ['-t', 'a', '-m', 'x', '-D', 'connect', 'session-expiry-interval', '-5'],
    ['-t', 'a', '-m', 'x', '-D', 'publish', 'payload-format-indicator', '300'],
    ['-t', 'a', '-m', 'x', '-V', '5', '-D', 'publish', 'topic-alias', 'x'],
    ['-t', 'a', '-m', 'x', '-V', '5', '-D', 'connect', 'receive-maximum', '0'],
    ['-t', 'a', '-m', 'x', '-P', 'secret'],
    ['-t', 'a', '-m', 'x', '-i', ''],
    ['-t', 'a', '-m', 'x', '--tls-engine', 'foo'],
    ['-t', 'a', '-m', 'x', '--proxy', 'foo'],
    ['-t', 'a', '-m', 'x', '--proxy', 'socks5h://'],
    ['-t', 'a', '-m', 'x', '--will-topic', 'w', '-D', 'will', 'content-type', 'x', '-V', '311'],
    ['-t', 'a', '-m', 'x', '-D', 'connect', 'user-property', 'a', 'b', '-V', '311'],
    ['-t', 'a', '-f', '/nonexistent/file'],
    ['-t', 'a', '-f', '/tmp'],
  ];
  for (const args of cases) {
    it(`mosquitto_pub ${args.join(' ')}`, async () => {
      await same(args.map((a) => a.replace('CLOSED', String(closedPort))));
    });
  }

  it('reports a refused TCP connection the same way (exit 1)', async () => {
    await same(['-p', String(closedPort), '-t', 'a', '-m', 'x']);
    await same(['-p', String(closedPort), '-t', 'a', '-m', 'x', '--quiet']);
  });

  it('publishes nothing to an empty topic (-t \'\') and says why, as mosquitto_pub does', async () => {
    const target = await startTarget('mosquitto');
    try {
      await same(['-p', String(target.port), '-t', '', '-m', 'x', '-d']);
      // -D implies MQTT 5; PUBLISH properties under a later -V 311 make the publish fail quietly.
      await same(['-p', String(target.port), '-t', 'a', '-m', 'x', '-d', '-D', 'publish', 'content-type', 'x', '-V', '311']);
      await same(['-p', String(target.port), '-t', 'a', '-m', 'x', '-d', '-V', '311', '-D', 'publish', 'content-type', 'x', '-i', 'v5-implied']);
    } finally {
      await target.stop();
    }
  });

  it('reports an unknown host and an unusable bind address the same way', async () => {
    await same(['-h', 'nonexistent.invalid', '-t', 'a', '-m', 'x']);
    await same(['-A', '192.0.2.1', '-p', String(closedPort), '-t', 'a', '-m', 'x']);
  });

  it('reports a missing unix socket the same way', async () => {
    await same(['--unix', '/nonexistent/ts-mosquitto.sock', '-t', 'a', '-m', 'x']);
  });

  it('reports an empty standard input for -s the same way', async () => {
    await same(['-p', String(closedPort), '-t', 'a', '-s'], { input: '' });
  });
});

describe.skipIf(!haveMosquitto).each(BROKERS)('ts-mosquitto_pub publishing (broker: %s)', (kind) => {
  let target: Target;
  beforeAll(async () => {
    target = await startTarget(kind);
  });
  afterAll(async () => {
    await target.stop();
  });

  /** Run a publisher while mosquitto_sub listens; returns the pub result and what sub printed. */
  async function observe(pub: string[], args: string[], count: number, format = '%t %x', input?: string | Buffer) {
    const topic = `t/${Math.random().toString(36).slice(2)}`;
    const sub = start(['stdbuf', '-oL', ...theirs('sub'), '-p', String(target.port), '-t', topic, '-C', String(count), '-d', '-q', '2', '-F', format]);
    await waitFor(() => sub.output().includes('Subscribed (mid'));
    const full = args.map((a) => (a === 'TOPIC' ? topic : a));
    const res = await run([...pub, '-p', String(target.port), ...full], input === undefined ? {} : { input });
    const s = await sub.done;
    const lines = s.stdout.split('\n').filter((l) => !l.startsWith('Client ') && !l.startsWith('Subscribed') && l !== '');
    res.stdout = res.stdout.split(topic).join('TOPIC');
    return { res, lines: lines.map((l) => l.replace(topic, 'TOPIC')) };
  }

  for (const qos of ['0', '1', '2']) {
    for (const v of ['31', '311', '5']) {
      it(`-m at QoS ${qos} over MQTT ${v}, with -d, prints what mosquitto_pub prints`, async () => {
        const args = ['-t', 'TOPIC', '-m', 'hello', '-q', qos, '-V', v, '-d'];
        const a = await observe(theirs('pub'), args, 1);
        const b = await observe(ours('pub'), args, 1);
        expect(b.lines).toEqual(['TOPIC 68656c6c6f']);
        expect(b.lines).toEqual(a.lines);
        expect(normalise(b.res.stdout)).toBe(normalise(a.res.stdout));
        expect(b.res.stderr).toBe(a.res.stderr);
        expect(b.res.code).toBe(0);
      });
    }
  }

  it('-l publishes every line of standard input, empty lines and a last unterminated one included', async () => {
    const input = 'one\n\ntwo\r\nlast';
    const a = await observe(theirs('pub'), ['-t', 'TOPIC', '-l', '-q', '1', '-d'], 4, '%t %x', input);
    const b = await observe(ours('pub'), ['-t', 'TOPIC', '-l', '-q', '1', '-d'], 4, '%t %x', input);
    expect(b.lines).toEqual(['TOPIC 6f6e65', 'TOPIC ', 'TOPIC 74776f0d', 'TOPIC 6c617374']);
    expect(b.lines).toEqual(a.lines);
    // PUBACKs may arrive between the PUBLISHes or after the last one, as the scheduler has it
    // (mosquitto_pub's own order varies from run to run): what is sent, in its order, and what
    // is received, in its order, are what must match.
    const byDirection = (out: string): string[][] => {
      const lines = normalise(out).split('\n');
      return [lines.filter((l) => / sending /.test(l)), lines.filter((l) => !/ sending /.test(l))];
    };
    expect(byDirection(b.res.stdout)).toEqual(byDirection(a.res.stdout));
    expect(normalise(b.res.stdout).trim().split('\n').at(-1)).toBe('Client (null) sending DISCONNECT');
  });

  it('-s publishes the whole of standard input as one message', async () => {
    const input = 'a\nb\n\0c';
    const b = await observe(ours('pub'), ['-t', 'TOPIC', '-s'], 1, '%t %x', input);
    expect(b.lines).toEqual(['TOPIC 610a620a0063']);
  });

  it('-f publishes a binary file unchanged', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsm-pub-'));
    const file = path.join(dir, 'bin');
    const data = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    fs.writeFileSync(file, data);
    const b = await observe(ours('pub'), ['-t', 'TOPIC', '-f', file, '-q', '1'], 1);
    fs.rmSync(dir, { recursive: true });
    expect(b.lines).toEqual([`TOPIC ${data.toString('hex')}`]);
  });

  it('-n sends a zero-length message; -r retains it', async () => {
    const b = await observe(ours('pub'), ['-t', 'TOPIC', '-n', '-r'], 1, '%t %l %r');
    // A subscriber already present gets a live (not retained) copy (MQTT-3.3.1-9).
    expect(b.lines).toEqual(['TOPIC 0 0']);
  });

  it('--repeat sends N copies, as mosquitto_pub does', async () => {
    const args = ['-t', 'TOPIC', '-m', 'r', '--repeat', '3', '--repeat-delay', '0.01', '-q', '1', '-d'];
    const a = await observe(theirs('pub'), args, 3);
    const b = await observe(ours('pub'), args, 3);
    expect(b.lines).toEqual(['TOPIC 72', 'TOPIC 72', 'TOPIC 72']);
    expect(normalise(b.res.stdout)).toBe(normalise(a.res.stdout));
  });

  it('-L carries host, port and topic', async () => {
    const topic = `t/${Math.random().toString(36).slice(2)}`;
    const sub = start(['stdbuf', '-oL', ...theirs('sub'), '-p', String(target.port), '-t', topic, '-C', '1', '-d']);
    await waitFor(() => sub.output().includes('Subscribed (mid'));
    const res = await run([...ours('pub'), '-L', `mqtt://user:pw@127.0.0.1:${target.port}/${topic}`, '-m', 'via-url']);
    expect(res.code).toBe(0);
    expect((await sub.done).stdout).toContain('via-url');
  });

  it('-D publish properties reach a v5 subscriber', async () => {
    const args = ['-t', 'TOPIC', '-m', 'p', '-V', '5', '-D', 'publish', 'content-type', 'text/x', '-D', 'publish', 'user-property', 'k', 'v',
      '-D', 'publish', 'response-topic', 'rt', '-D', 'publish', 'correlation-data', 'cd', '-D', 'publish', 'message-expiry-interval', '100'];
    const topic = `t/${Math.random().toString(36).slice(2)}`;
    const sub = start(['stdbuf', '-oL', ...theirs('sub'), '-p', String(target.port), '-V', '5', '-t', topic, '-C', '1', '-d', '-F', '%C|%P|%R|%D|%p']);
    await waitFor(() => sub.output().includes('Subscribed (mid'));
    const res = await run([...ours('pub'), '-p', String(target.port), ...args.map((a) => (a === 'TOPIC' ? topic : a))]);
    expect(res.code).toBe(0);
    const out = (await sub.done).stdout.split('\n').filter((l) => l.includes('|'));
    expect(out).toEqual(['text/x|k:v|rt|cd|p']);
  });

  it('--will-topic/--will-payload/--will-qos/--will-retain: the broker publishes the will when the client dies', async () => {
    const results: string[] = [];
    for (const prog of [theirs('pub'), ours('pub')]) {
      const willTopic = `will/${Math.random().toString(36).slice(2)}`;
      const watcher = start(['stdbuf', '-oL', ...theirs('sub'), '-p', String(target.port), '-t', willTopic, '-C', '1', '-d', '-q', '2', '-F', '%q %r %p']);
      await waitFor(() => watcher.output().includes('Subscribed (mid'));
      const pub = start(['stdbuf', '-oL', ...prog, '-p', String(target.port), '-t', 'will/unused', '-l', '-d',
        '--will-topic', willTopic, '--will-payload', 'client gone', '--will-qos', '1', '--will-retain'], { keepStdinOpen: true });
      await waitFor(() => pub.output().includes('received CONNACK'));
      process.kill(pub.pid, 'SIGKILL');
      const w = await watcher.done;
      results.push(w.stdout.split('\n').filter((l) => /^\d /.test(l)).join('|'));
      // Clear the retained will.
      await run([...theirs('pub'), '-p', String(target.port), '-t', willTopic, '-r', '-n']);
    }
    // A live subscriber gets the will with retain 0 (MQTT-3.3.1-9) at the QoS asked for.
    expect(results).toEqual(['1 0 client gone', '1 0 client gone']);
  });

  it('reads default options from $XDG_CONFIG_HOME/ts-mosquitto_pub', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsm-xdg-'));
    fs.writeFileSync(path.join(dir, 'ts-mosquitto_pub'), `# defaults\n-p ${target.port}\n-q 1\n`);
    const topic = `t/${Math.random().toString(36).slice(2)}`;
    const sub = start(['stdbuf', '-oL', ...theirs('sub'), '-p', String(target.port), '-t', topic, '-C', '1', '-d', '-q', '1', '-F', '%q %p']);
    await waitFor(() => sub.output().includes('Subscribed (mid'));
    const res = await run([...ours('pub'), '-t', topic, '-m', 'from file defaults'], { env: baseEnv({ XDG_CONFIG_HOME: dir }) });
    fs.rmSync(dir, { recursive: true });
    expect(res.code).toBe(0);
    expect((await sub.done).stdout).toContain('1 from file defaults');
  });
});

describe.skipIf(!haveMosquitto)('options file read like mosquitto_pub reads its own', () => {
  it('comments, flags without value, values with spaces, then the command line on top', async () => {
    const target = await startTarget('mosquitto');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsm-opts-'));
    try {
      const text = `# defaults\n-p ${target.port}\n-d\n-m hello  spaced world\n-q 2\n\n-i opts-client\n`;
      fs.writeFileSync(path.join(dir, 'mosquitto_pub'), text);
      fs.writeFileSync(path.join(dir, 'ts-mosquitto_pub'), text);
      const env = baseEnv({ XDG_CONFIG_HOME: dir });
      for (const extra of [['-t', 'o/t'], ['-t', 'o/t', '-q', '0'], ['-t', 'o/t', '-m', 'x']]) {
        const a = await run([...theirs('pub'), ...extra], { env });
        const b = await run([...ours('pub'), ...extra], { env });
        expect(b.stdout).toBe(a.stdout);
        expect(normalise(b.stderr)).toBe(normalise(a.stderr));
        expect(b.code).toBe(a.code);
      }
      fs.writeFileSync(path.join(dir, 'mosquitto_pub'), '-z\n');
      fs.writeFileSync(path.join(dir, 'ts-mosquitto_pub'), '-z\n');
      const a = await run([...theirs('pub'), '-t', 'a', '-m', 'x'], { env });
      const b = await run([...ours('pub'), '-t', 'a', '-m', 'x'], { env });
      expect(normalise(b.stderr)).toBe(normalise(a.stderr));
      expect(b.code).toBe(a.code);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await target.stop();
    }
  });
});

describe.skipIf(!haveProgram('script'))('terminal manners', () => {
  // script(1) gives the program a terminal; its output comes back through a pipe.
  const onTty = (env: string): Promise<RunResult> =>
    run(['script', '-qc', `${env} ${ours('pub').map((a) => `'${a}'`).join(' ')} -z`, '/dev/null']);

  it('colours the error line for a person at a terminal', async () => {
    const r = await onTty('');
    expect(r.stdout).toContain("\x1b[31mError: Unknown option '-z'.\x1b[39m");
  });

  it('does not colour with NO_COLOR set, nor when stderr is a pipe', async () => {
    const r = await onTty('NO_COLOR=1');
    expect(r.stdout).toContain("Error: Unknown option '-z'.");
    expect(r.stdout).not.toContain('\x1b[');
    const piped = await run([...ours('pub'), '-z']);
    expect(piped.stderr).toBe("Error: Unknown option '-z'.\n\nUse 'ts-mosquitto_pub --help' to see usage.\n");
  });
});

describe.skipIf(!haveMosquitto)('ts-mosquitto_pub when the broker refuses a message (MQTT 5)', () => {
  it('warns "Publish N failed" with the reason and still exits 0, as mosquitto_pub does', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsm-acl-'));
    const acl = path.join(dir, 'acl');
    fs.writeFileSync(acl, 'topic read #\ntopic write allowed/#\n');
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(acl, 0o644);
    const target = await startTarget('mosquitto', [`acl_file ${acl}`]);
    try {
      for (const q of ['1', '2']) {
        const args = ['-p', String(target.port), '-t', 'denied/x', '-m', 'x', '-q', q, '-V', '5', '-d', '-i', 'acl-pub'];
        const a = await run([...theirs('pub'), ...args]);
        const b = await run([...ours('pub'), ...args]);
        expect(b.stderr).toBe('Warning: Publish 1 failed: Not authorized.\n');
        expect(b.stderr).toBe(a.stderr);
        expect(b.stdout).toBe(a.stdout);
        expect(b.code).toBe(0);
      }
    } finally {
      await target.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!haveMosquitto)('ts-mosquitto_pub refused by the broker', () => {
  const port = refusingMosquitto();
  for (const v of ['31', '311', '5']) {
    it(`prints the CONNACK refusal and exits with its code (MQTT ${v})`, async () => {
      await same(['-p', String(port()), '-t', 'a', '-m', 'x', '-V', v, '-d']);
      await same(['-p', String(port()), '-t', 'a', '-m', 'x', '-V', v, '--quiet']);
    });
  }
});
