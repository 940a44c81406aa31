/**
 * `npm run fuzz -- --minutes N` (or `--runs N`): coverage-guided fuzzing of the broker's
 * packet path. Inputs start from the seed corpus (test/fuzz/corpus, real sessions of every
 * packet type, MQTT 3.1/3.1.1/5), are mutated (mutate.ts), and each is fed to a live
 * in-process broker as one connection (target.ts); an input that reaches new code
 * (coverage.ts) joins the corpus. It stops with exit status 1 and the input saved under
 * test/fuzz/findings/ on: an exception out of the packet path, an unhandled rejection,
 * an input running over 1 s (watchdog.ts), a client the broker does not let go, or heap
 * growth after warm-up (heap after GC more than 25% + 16 MB over the first sample).
 * Exit 0 with a summary line when the time or run count is reached.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Coverage } from './coverage.js';
import { MAX_INPUT, Mutator } from './mutate.js';
import { FuzzTarget, TargetError } from './target.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..');
const CORPUS = path.join(REPO, 'test/fuzz/corpus');
const FINDINGS = path.join(REPO, 'test/fuzz/findings');
const HANG_MS = 1000;
const HEAP_EVERY = 25_000;
const WARMUP = 50_000;
/** Inputs run at once, each on its own connection; coverage is read once per batch. */
const BATCH = 64;

interface Options {
  minutes: number;
  runs: number;
  seed: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { minutes: 0, runs: 0, seed: Date.now() & 0x7fffffff };
  for (let i = 0; i < argv.length; i++) {
    const v = Number(argv[i + 1]);
    if (argv[i] === '--minutes') o.minutes = v;
    else if (argv[i] === '--runs') o.runs = v;
    else if (argv[i] === '--seed') o.seed = v;
    else continue;
    if (!Number.isFinite(v) || v < 0) {
      process.stderr.write(`Error: ${argv[i]} needs a number.\n`);
      process.exit(2);
    }
    i++;
  }
  if (o.minutes === 0 && o.runs === 0) o.minutes = 1;
  return o;
}

function finding(kind: string, input: Buffer, detail: string): never {
  mkdirSync(FINDINGS, { recursive: true });
  const file = path.join(FINDINGS, `${kind}-${createHash('sha1').update(input).digest('hex').slice(0, 12)}.bin`);
  writeFileSync(file, input);
  process.stderr.write(`FINDING: ${kind}: ${detail}\n  input saved to ${file} (${input.length} bytes)\n`);
  process.exit(1);
}

function loadCorpus(): Buffer[] {
  const files = readdirSync(CORPUS).filter((f) => f.endsWith('.bin')).sort();
  if (files.length === 0) throw new Error(`no seed inputs in ${CORPUS}`);
  return files.map((f) => readFileSync(path.join(CORPUS, f)).subarray(0, MAX_INPUT));
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const gc = globalThis.gc as () => void;
  const target = await FuzzTarget.start();
  const coverage = new Coverage((url) => url.includes('/dist/') || url.includes('/mqtt-packet/'));
  const mutator = new Mutator(opts.seed);
  const corpus = loadCorpus();
  const seeds = corpus.length;

  // Shared with the watchdog: counters, then the batch being run (length-prefixed inputs).
  const shared = new SharedArrayBuffer(16 + BATCH * (MAX_INPUT + 4));
  const words = new Int32Array(shared, 0, 4);
  const bytes = new Uint8Array(shared, 16);
  const watchdog = new Worker(new URL('./watchdog.js', import.meta.url), { workerData: { shared, findings: FINDINGS, hangMs: HANG_MS } });
  watchdog.unref();

  let current: Buffer[] = [];
  const batchBytes = (batch: Buffer[]): Buffer => Buffer.concat(batch.flatMap((b) => [Buffer.from([b.length >> 24, (b.length >> 16) & 255, (b.length >> 8) & 255, b.length & 255]), b]));
  // Outside a batch's synchronous feeding the input is not known: the batch is saved.
  process.on('unhandledRejection', (reason) => finding('rejection', batchBytes(current), `${String((reason as Error)?.stack ?? reason)} (a batch: length-prefixed inputs)`));
  process.on('uncaughtException', (err) => finding('crash', batchBytes(current), `${String(err.stack ?? err)} (a batch: length-prefixed inputs)`));

  const started = Date.now();
  const deadline = opts.minutes > 0 ? started + opts.minutes * 60_000 : Infinity;
  let execs = 0;
  let baseline = 0;
  let lastHeap = 0;
  let lastReport = started;
  const run = async (batch: Buffer[]): Promise<void> => {
    current = batch;
    const blob = batchBytes(batch);
    bytes.set(blob.subarray(0, bytes.length));
    Atomics.store(words, 1, Math.min(blob.length, bytes.length));
    Atomics.store(words, 2, 1);
    Atomics.add(words, 0, 1);
    try {
      await target.run(batch);
    } catch (err) {
      if (err instanceof TargetError) finding('crash', err.input, err.message);
      finding('crash', blob, `${String((err as Error).stack ?? err)} (a batch: length-prefixed inputs)`);
    }
    Atomics.store(words, 2, 0);
    execs += batch.length;
    if (target.clientCount !== 0) finding('leak', blob, `${target.clientCount} client(s) still attached after their connections closed (a batch: length-prefixed inputs)`);
  };

  // The seeds first, each alone, to set the coverage baseline.
  for (const input of corpus) {
    await run([input]);
    coverage.collect();
  }
  process.stdout.write(`fuzz: seed ${opts.seed}, ${seeds} seed inputs, ${coverage.features} features\n`);

  while (Date.now() < deadline && (opts.runs === 0 || execs < opts.runs)) {
    const batch: Buffer[] = [];
    for (let k = 0; k < BATCH; k++) {
      const base = corpus[corpus.length > seeds && mutator.rand(2) === 0 ? seeds + mutator.rand(corpus.length - seeds) : mutator.rand(corpus.length)];
      batch.push(mutator.mutate(base, corpus[mutator.rand(corpus.length)]));
    }
    await run(batch);
    if (coverage.collect(false) > 0) {
      // Something new: run the batch's inputs one by one to keep those that bring it.
      for (const input of batch) {
        await run([input]);
        if (coverage.collect() > 0) corpus.push(input);
      }
      coverage.commitPending();
    }
    if (execs - lastHeap >= HEAP_EVERY) {
      lastHeap = execs;
      target.forgetState();
      gc();
      const heap = process.memoryUsage().heapUsed;
      if (execs >= WARMUP && baseline === 0) baseline = heap;
      if (baseline > 0 && heap > baseline * 1.25 + 16 * 1024 * 1024) {
        finding('memory', batchBytes(batch), `heap after GC grew from ${(baseline / 1048576).toFixed(1)} MB to ${(heap / 1048576).toFixed(1)} MB by input ${execs}`);
      }
    }
    const now = Date.now();
    if (now - lastReport >= 10_000) {
      lastReport = now;
      const heap = (process.memoryUsage().heapUsed / 1048576).toFixed(1);
      process.stdout.write(
        `fuzz: ${execs} execs, ${Math.round(execs / ((now - started) / 1000))}/s, corpus ${corpus.length}, features ${coverage.features}, heap ${heap} MB\n`,
      );
    }
  }
  const secs = (Date.now() - started) / 1000;
  process.stdout.write(
    `fuzz: done: ${execs} executions in ${secs.toFixed(0)} s (${Math.round(execs / secs)}/s), corpus ${corpus.length} (${seeds} seeds), features ${coverage.features}, no finding\n`,
  );
  await target.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz: ${String((err as Error).stack ?? err)}\n`);
  process.exit(2);
});
