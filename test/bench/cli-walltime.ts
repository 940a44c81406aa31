// `ts-mosquitto_pub -m x` wall time against `node -e 0` (Node's own start-up floor) and
// Mosquitto's mosquitto_pub, each the median of several runs against a running broker.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type BrokerName, ROOT, startBroker, stopBroker, unavailableReason } from './brokers.js';
import type { PubCliTiming } from './report.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timeRuns(runs: number, cmd: string, args: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10000, killSignal: 'SIGKILL' });
    const elapsed = performance.now() - t0;
    if (r.status !== 0) {
      const why = r.signal ? 'timed out after 10 s' : `exit ${r.status}: ${r.stderr?.toString().trim().split('\n')[0] ?? ''}`;
      throw new Error(`${path.basename(args[0] ?? cmd)} failed (${why})`);
    }
    times.push(elapsed);
  }
  return median(times);
}

export async function measurePubCli(quick: boolean, brokers: BrokerName[], dir: string): Promise<PubCliTiming> {
  if (!existsSync(path.join(ROOT, 'dist/cli/pub.js'))) return { skipped: 'dist/cli/pub.js not built' };
  const name = brokers.find((b) => unavailableReason(b) === undefined);
  if (!name) return { skipped: 'no broker available' };
  const runs = quick ? 5 : 20;
  const broker = await startBroker(name, dir, {});
  try {
    const port = String(broker.port);
    const tsPubMs = timeRuns(runs, process.execPath, [
      path.join(ROOT, 'bin/ts-mosquitto_pub.js'),
      ...['-h', '127.0.0.1', '-p', port, '-t', 'bench/cli', '-m', 'x'],
    ]);
    const nodeMs = timeRuns(runs, process.execPath, ['-e', '0']);
    let mosquittoPubMs: number | undefined;
    const mp = spawnSync('mosquitto_pub', ['--help'], { stdio: 'ignore' });
    if (!mp.error) mosquittoPubMs = timeRuns(runs, 'mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-t', 'bench/cli', '-m', 'x']);
    return { runs, tsPubMs, nodeMs, mosquittoPubMs, broker: name };
  } finally {
    await stopBroker(broker);
  }
}
