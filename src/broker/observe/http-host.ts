/**
 * The main thread's side of the http listeners: starts their worker thread
 * (http-worker.ts, which says why they have one), answers its requests with `answer`, and
 * relays its log lines, the SIGHUP reload and the shutdown.
 */
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { Log } from '../log.js';
import { textReply, type HttpListenerSpec, type Reply, type RequestInfo } from './http-listener.js';
import type { FromHttpWorker, HttpWorkerData, ToHttpWorker } from './http-messages.js';

export interface HttpHost {
  /** Bound port of each listener, in the order given. */
  readonly ports: number[];
  /** Reads the listeners' certificates and keys again (SIGHUP). */
  reload(): void;
  /** Closes the listeners and their connections; resolves once the thread has ended. */
  close(): Promise<void>;
}

/** How long a shutdown waits for the thread to close its connections before ending it. */
const CLOSE_WAIT_MS = 2_000;

/**
 * The worker's file: beside this one when built; from dist/ when this module runs from
 * src/ (the tests, under vitest: `npm test` builds first).
 */
function workerFile(): URL {
  const here = new URL(import.meta.url);
  return here.pathname.endsWith('.ts') ? new URL('../../../dist/broker/observe/http-worker.js', here) : new URL('./http-worker.js', here);
}

/** An error as the worker reported it, with its code (EADDRINUSE...) for the broker's message. */
function failure(code: string | undefined, message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  if (code !== undefined) err.code = code;
  return err;
}

/**
 * Starts the worker with an isolate that has no V8 memory reducer. The reducer, armed as a
 * young heap grows, runs two or three full collections about 8 s after the isolate starts
 * if it then allocates little: in this thread, which answers a request a second, 30-45 ms of
 * its CPU (`--trace-gc`: "Mark-Compact (reduce)", 7-21 ms each plus concurrent marking) in
 * the broker's first seconds, the most of what the thread cost in `idle` (issue 18). Its
 * heap is small and bounded without it. The flag is read when an isolate's heap is set up:
 * it is off while the worker's is, and on again (unless the process was started without it)
 * once the thread runs; the broker's own isolate keeps its reducer.
 */
function startWithoutMemoryReducer(start: () => Worker): Worker {
  const restore = !process.execArgv.some((a) => /^--no[-_]memory[-_]reducer$/.test(a));
  v8.setFlagsFromString('--no-memory-reducer');
  let worker: Worker;
  try {
    worker = start();
  } catch (err) {
    if (restore) v8.setFlagsFromString('--memory-reducer');
    throw err;
  }
  let restored = !restore;
  const back = (): void => {
    if (!restored) v8.setFlagsFromString('--memory-reducer');
    restored = true;
  };
  worker.once('online', back);
  worker.once('error', back);
  worker.once('exit', back);
  return worker;
}

export function startHttpHost(
  listeners: HttpListenerSpec[],
  log: Log,
  answer: (listener: number, info: RequestInfo) => Promise<Reply>,
): Promise<HttpHost> {
  const workerData: HttpWorkerData = { listeners };
  const worker = startWithoutMemoryReducer(() => new Worker(workerFile(), { workerData }));
  const post = (m: ToHttpWorker): void => worker.postMessage(m);
  let ended = false;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => {
    ended = true;
    resolve();
  }));
  return new Promise((resolve, reject) => {
    let started = false;
    const host: HttpHost = {
      ports: [],
      reload() {
        if (!ended) post({ t: 'reload' });
      },
      async close() {
        if (!ended) {
          post({ t: 'close' });
          const timer = setTimeout(() => void worker.terminate(), CLOSE_WAIT_MS);
          await exited;
          clearTimeout(timer);
        }
      },
    };
    worker.on('message', (m: FromHttpWorker) => {
      switch (m.t) {
        case 'log':
          if (m.level === 'error') log.error(m.line);
          else log.info(m.line);
          break;
        case 'req':
          answer(m.listener, m.info).then(
            (reply) => {
              if (!ended) post({ t: 'reply', id: m.id, reply });
            },
            (err: Error) => {
              if (!ended) post({ t: 'reply', id: m.id, reply: textReply(500, `Error: ${err.message}\n`) });
            },
          );
          break;
        case 'open':
          started = true;
          host.ports.push(...m.ports);
          resolve(host);
          break;
        case 'fail':
          reject(failure(m.code, m.message));
          void worker.terminate();
          break;
      }
    });
    worker.on('error', (err) => {
      if (!started) reject(err);
      else log.error(`Error: http listener thread: ${err.message}`);
    });
    worker.once('exit', (code) => {
      if (!started) reject(new Error(`http listener thread ended (${code}) before its listeners opened`));
    });
  });
}
