#!/usr/bin/env node
// What one /metrics scrape costs the broker's main thread at a given pace (issue 18): a
// broker built from dist/ with a `protocol http` listener holds CONNS idle connections, and
// is scraped SCRAPES times, one every GAP_MS over a kept-alive connection (as Prometheus
// scrapes). Each scrape's CPU is the main thread's (/proc/PID/task/PID/schedstat) from the
// request to 30 ms after the answer, less what the broker spends per second with no scrape
// (measured first over 5 s). The same code costs several times more once a second than back
// to back (GAP_MS=0): run cold, as a real scrape runs.
//
//   node scripts/scrape-cost.mjs [CONNS=100] [SCRAPES=30] [GAP_MS=1000] [URL_PATH=/metrics]
//
// PORT (default 27200) and PORT+2 are used; NODE_ARGS: node options for the broker (--cpu-prof ...).
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Conn, sleep } from './callgrind-mqtt.mjs';

const [conns = 100, scrapes = 30, gap = 1000] = process.argv.slice(2, 5).map(Number);
const urlPath = process.argv[5] ?? '/metrics';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const base = Number(process.env.PORT ?? 27200);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scrape-cost-'));
const conf = path.join(dir, 'broker.conf');
const user = process.getuid?.() === 0 ? 'user root\n' : '';
fs.writeFileSync(conf, `listener ${base} 127.0.0.1\nallow_anonymous true\n${user}listener ${base + 2} 127.0.0.1\nprotocol http\n`);
const child = spawn(process.execPath, [...(process.env.NODE_ARGS?.split(' ').filter(Boolean) ?? []), path.join(root, 'bin/ts-mosquitto.js'), '-c', conf], { stdio: 'ignore' });
const held = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
try {
  for (let i = 0; ; i++) {
    try { (await Conn.open(base, 'probe')).sock.destroy(); break; } catch { if (i > 100) throw new Error('broker did not start'); await sleep(100); }
  }
  for (let i = 0; i < conns; i += 100) {
    held.push(...(await Promise.all(Array.from({ length: Math.min(100, conns - i) }, (_, j) => Conn.open(base, `c${i + j}`)))));
  }
  const get = () => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: base + 2, path: urlPath, agent }, (r) => {
      let bytes = 0;
      r.on('data', (d) => (bytes += d.length));
      r.on('end', () => (r.statusCode === 200 ? resolve(bytes) : reject(new Error(`HTTP ${r.statusCode}`))));
    }).on('error', reject);
  });
  const cpuMs = () => Number(fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  await sleep(2000);
  const c0 = cpuMs();
  await sleep(5000);
  const idle = (cpuMs() - c0) / 5000; // ms of CPU per ms
  const per = [];
  let bytes = 0;
  for (let i = 0; i < scrapes; i++) {
    const t0 = performance.now(), a = cpuMs();
    bytes = await get();
    await sleep(30);
    per.push(cpuMs() - a - idle * (performance.now() - t0));
    if (gap > 30) await sleep(gap - 30);
  }
  const sorted = per.slice(Math.floor(scrapes / 2)).sort((x, y) => x - y);
  const fmt = (a) => a.map((x) => x.toFixed(1)).join(' ');
  console.log(`${conns} connections, ${urlPath} (${bytes} bytes) every ${gap} ms: broker main thread ${(idle * 1000).toFixed(2)} ms/s without scrapes`);
  console.log(`CPU per scrape (ms): first ten ${fmt(per.slice(0, 10))}; median of the second half ${sorted[Math.floor(sorted.length / 2)].toFixed(2)}`);
} finally {
  for (const c of held) c.sock.destroy();
  agent.destroy();
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
  fs.rmSync(dir, { recursive: true, force: true });
}
