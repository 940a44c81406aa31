// Starts ts-mosquitto (dist/, the real program) as a child process with the probe loaded,
// on a config the driver writes, and collects the probe's samples; kills it by its pid.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProbeSample } from './probe.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The repository: two levels up, compiled (dist-reliability/reliability/) or under vitest (test/reliability/). */
export const ROOT = path.resolve(HERE, '../..');
const BROKER_BIN = path.join(ROOT, 'bin/ts-mosquitto.js');
// Compiled, the probe sits beside this file; under vitest (sources only) brokers run without it.
const PROBE = path.join(HERE, 'probe.js');
const PROBE_ARGS = existsSync(PROBE) ? ['--import', PROBE] : [];

export interface RunningBroker {
  child: ChildProcess;
  pid: number;
  port: number;
  samples: ProbeSample[];
  exited: Promise<number | null>;
}

export { freePort } from '../shared/free-port.js';

/** Writes `conf` (a listener line for `port` is added) and starts the broker on it. */
export async function startBroker(dir: string, port: number, conf: string, logName = 'broker.log'): Promise<RunningBroker> {
  const confPath = path.join(dir, 'broker.conf');
  writeFileSync(confPath, `listener ${port} 127.0.0.1\n${conf}`);
  // RELIABILITY_NODE_ARGS: extra node flags for the broker, e.g. --heapsnapshot-signal=SIGUSR2.
  const extra = (process.env.RELIABILITY_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawn(process.execPath, ['--expose-gc', ...extra, ...PROBE_ARGS, BROKER_BIN, '-c', confPath], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    cwd: dir,
  });
  const log = createWriteStream(path.join(dir, logName), { flags: 'a' });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const samples: ProbeSample[] = [];
  child.on('message', (m) => samples.push(m as ProbeSample));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Never leave a broker behind, whatever happens to the driver.
  const killOnExit = (): void => {
    try {
      process.kill(child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.on('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));
  await waitForPort(port, 10000);
  return { child, pid: child.pid!, port, samples, exited };
}

export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`broker did not listen on ${port}`);
    await sleep(50);
  }
}

/** SIGTERM (or `signal`), then SIGKILL after a grace period; resolves when it is gone. */
export async function stopBroker(b: RunningBroker, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (b.child.exitCode !== null || b.child.signalCode !== null) return;
  try {
    process.kill(b.pid, signal);
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(b.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }, 5000);
  await b.exited;
  clearTimeout(t);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
