/**
 * The messages between the main thread (http-host.ts) and the http listeners' worker
 * thread (http-worker.ts). Plain data only.
 */
import type { HttpListenerSpec, Reply, RequestInfo } from './http-listener.js';

export interface HttpWorkerData {
  listeners: HttpListenerSpec[];
}

/** Worker to main thread. */
export type FromHttpWorker =
  | { t: 'log'; level: 'info' | 'error'; line: string }
  /** Every listener is bound: the ports, in the order given. */
  | { t: 'open'; ports: number[] }
  /** A listener could not open (the others are closed again). */
  | { t: 'fail'; code: string | undefined; message: string }
  /** A request to answer: which listener (its index) and what it is. */
  | { t: 'req'; id: number; listener: number; info: RequestInfo };

/** Main thread to worker. */
export type ToHttpWorker =
  | { t: 'reply'; id: number; reply: Reply }
  /** SIGHUP: read the certificates and keys again. */
  | { t: 'reload' }
  /** Close the listeners and their connections, then end the thread. */
  | { t: 'close' };
