/**
 * bcrypt on worker threads. bcryptjs is plain JavaScript: its async API only slices the
 * work into chunks on the main thread, so a storm of CONNECTs with bcrypt passwords would
 * still take CPU from every message being routed. Here the hashing runs in a small pool of
 * workers and the event loop only waits for the answer.
 *
 * One worker per core, each lowering its own thread's scheduling priority (nice +10; on
 * Linux the nice value is per thread): a reconnect storm then uses every core while the
 * event loop, at normal priority, still gets a core whenever it has messages to route.
 *
 * The workers are referenced only while they have work, so a short-lived program (the
 * passwd tool, a test) is not kept alive by an idle pool. If a worker cannot be started
 * the caller falls back to bcryptjs's async API in-process.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';

// A CommonJS script: eval'd workers cannot import ES modules by path portably.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
try { const os = require('node:os'); os.setPriority(0, Math.min(19, os.getPriority(0) + workerData.nice)); } catch {}
const bcrypt = require(workerData.bcryptPath);
parentPort.on('message', (m) => {
  let result = null;
  try { result = bcrypt.hashSync(m.password, m.salt); } catch { result = null; }
  parentPort.postMessage({ id: m.id, result });
});
`;

interface Job {
  id: number;
  password: string;
  salt: string;
  resolve: (hash: string | null) => void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

/** Jobs waiting for a worker; beyond this the caller is told to try again later (null). */
const MAX_WAITING = 100000;

/** A worker thread's nice value above the process's own: below the event loop, so routing comes first. */
const WORKER_NICE = 10;

export class BcryptPool {
  private readonly slots: Slot[] = [];
  /** Jobs not yet given to a worker: waiting[head..] (a head index: shift() is O(n) in a storm). */
  private waiting: Job[] = [];
  private head = 0;
  private nextId = 1;
  private broken = false;

  constructor(private readonly size: number = defaultPoolSize()) {}

  /** Worker threads started so far (they are started on demand, up to the pool's size). */
  get workers(): number {
    return this.slots.length;
  }

  /** bcrypt(password, salt) where salt is the first 29 characters of an encoded hash; null if unavailable. */
  hash(password: string, salt: string): Promise<string | null> {
    if (this.broken) return Promise.resolve(null);
    if (this.waiting.length - this.head >= MAX_WAITING) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiting.push({ id: this.nextId++, password, salt, resolve });
      this.pump();
    });
  }

  /** Stop the workers (tests, shutdown). Jobs in flight resolve null. */
  async close(): Promise<void> {
    this.broken = true;
    this.dropWaiting();
    await Promise.all(
      this.slots.splice(0).map((s) => {
        s.job?.resolve(null);
        return s.worker.terminate();
      }),
    );
  }

  private pump(): void {
    while (this.head < this.waiting.length) {
      let slot = this.slots.find((s) => s.job === undefined);
      if (slot === undefined && this.slots.length < this.size) slot = this.spawn();
      if (slot === undefined) return;
      const job = this.waiting[this.head++];
      if (this.head === this.waiting.length) {
        this.waiting = [];
        this.head = 0;
      } else if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
        this.waiting = this.waiting.slice(this.head);
        this.head = 0;
      }
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, password: job.password, salt: job.salt });
    }
  }

  private spawn(): Slot | undefined {
    let worker: Worker;
    try {
      const bcryptPath = createRequire(import.meta.url).resolve('bcryptjs');
      worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptPath, nice: WORKER_NICE } });
    } catch {
      this.fail();
      return undefined;
    }
    const slot: Slot = { worker, job: undefined };
    worker.on('message', (m: { id: number; result: string | null }) => {
      const job = slot.job;
      slot.job = undefined;
      worker.unref();
      if (job !== undefined && job.id === m.id) job.resolve(m.result);
      this.pump();
    });
    worker.on('error', () => {
      slot.job?.resolve(null);
      slot.job = undefined;
      const i = this.slots.indexOf(slot);
      if (i !== -1) this.slots.splice(i, 1);
      if (this.slots.length === 0) this.fail();
      else this.pump();
    });
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  private fail(): void {
    this.broken = true;
    this.dropWaiting();
  }

  private dropWaiting(): void {
    const jobs = this.waiting;
    const from = this.head;
    this.waiting = [];
    this.head = 0;
    for (let i = from; i < jobs.length; i++) jobs[i].resolve(null);
  }
}

/**
 * One worker per core (at most 16): the workers run below the event loop's priority, so
 * they take only the CPU the event loop leaves idle.
 */
export function defaultPoolSize(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(16, cores));
}

let shared: BcryptPool | undefined;

/** The process-wide pool, created on first use. */
export function sharedBcryptPool(): BcryptPool {
  shared ??= new BcryptPool();
  return shared;
}
