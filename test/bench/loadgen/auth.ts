// Authenticated connects: `concurrency` clients at a time connect with a username and
// password, wait for CONNACK and disconnect, for a fixed time; either the same user again
// and again (a broker may cache verified credentials) or each user once (a full hash each).
import { performance } from 'node:perf_hooks';
import type { AuthSpec, GenResult, MarkMessage } from '../protocol.js';
import { MqttConn } from './conn.js';
import { LatencyHistogram } from './histogram.js';

export async function runAuth(spec: AuthSpec, mark: (name: MarkMessage['name']) => void): Promise<GenResult> {
  // A broker that lets a wrong password in is not checking passwords: no rate to report.
  const first = spec.users[0]!;
  const wrong = await MqttConn.connect({
    port: spec.port,
    clientId: 'bench-auth-wrong',
    username: first.username,
    password: `${first.password}-wrong`,
    timeoutMs: 30000,
  }).then(
    (conn) => {
      conn.socket.destroy();
      return true;
    },
    () => false,
  );
  if (wrong) throw new Error('broker accepted a wrong password');
  const hist = new LatencyHistogram();
  let ok = 0;
  let refused = 0;
  let lastError = '';
  let seq = 0;
  mark('start');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + spec.measureMs;
  let nextUser = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      let user = first;
      if (spec.distinct) {
        if (nextUser >= spec.users.length) return;
        user = spec.users[nextUser++]!;
      }
      const started = performance.now();
      try {
        const conn = await MqttConn.connect({
          port: spec.port,
          clientId: `bench-auth${seq++}`,
          username: user.username,
          password: user.password,
          timeoutMs: 30000,
        });
        hist.record(performance.now() - started);
        ok++;
        conn.disconnect();
        conn.socket.destroy();
      } catch (err) {
        refused++;
        lastError = (err as Error).message;
        if (refused > 10 && ok === 0) throw new Error(`authentication fails: ${lastError}`);
      }
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  mark('end');
  return {
    rate: ok / seconds,
    unit: 'conn/s',
    p50Ms: hist.percentile(50),
    p99Ms: hist.percentile(99),
    genCpu: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100,
    extra: { connects: ok, refused, users: spec.distinct ? spec.users.length : 1 },
  };
}
