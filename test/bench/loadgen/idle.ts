// Idle connections: how fast the broker accepts them, and what each costs it in RSS
// (the runner samples the broker's VmRSS at the 'baseline' and 'settled' marks).
import { performance } from 'node:perf_hooks';
import type { GenResult, IdleSpec, MarkMessage } from '../protocol.js';
import { MqttConn } from './conn.js';
import { LatencyHistogram } from './histogram.js';
import { sleep } from './flow.js';

export async function runIdle(spec: IdleSpec, mark: (name: MarkMessage['name']) => void): Promise<GenResult> {
  const conns: MqttConn[] = [];
  const hist = new LatencyHistogram();
  mark('baseline');
  mark('start');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < spec.connections) {
      const i = next++;
      const started = performance.now();
      // keepalive 60: the broker's keepalive bookkeeping is part of an idle connection's cost.
      conns.push(await MqttConn.connect({ port: spec.port, clientId: `bench-idle${i}`, keepalive: 60 }));
      hist.record(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, spec.connections) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  mark('end');
  await sleep(spec.settleMs);
  const alive = conns.filter((c) => !c.closed).length;
  mark('settled');
  return {
    rate: spec.connections / seconds,
    unit: 'conn/s',
    p50Ms: hist.percentile(50),
    p99Ms: hist.percentile(99),
    genCpu: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100,
    extra: { connections: spec.connections, alive },
  };
}
