/**
 * The http listeners' worker thread: it opens the `protocol http` listeners, reads the
 * requests and writes the answers; the main thread, which holds the broker, answers each
 * request (http-host.ts). Why a thread of its own: the broker's message path runs on
 * node:net sockets through Node's stream code, and an HTTP (or HTTPS) socket in the same
 * thread makes that code meet objects of other shapes. V8 then deoptimises the stream
 * functions the broker's sockets use (Socket.read, Readable.push, writeOrBuffer, onwrite,
 * _unrefTimer: seen with --trace-deopt at the first scrape) and compiles them again for
 * both kinds, slower for the broker's for as long as the process runs. Here no HTTP
 * socket ever reaches the main thread's code.
 */
import type http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import type { Listener } from '../../net/listener.js';
import type { ReloadableTls } from '../../net/tls-options.js';
import { openHttpListener, textReply, writeReply, type HttpLog } from './http-listener.js';
import type { FromHttpWorker, HttpWorkerData, ToHttpWorker } from './http-messages.js';

const port = parentPort!;
const data = workerData as HttpWorkerData;
const post = (m: FromHttpWorker): void => port.postMessage(m);
const log: HttpLog = {
  info: (line) => post({ t: 'log', level: 'info', line }),
  error: (line) => post({ t: 'log', level: 'error', line }),
};

const open: { listener: Listener; tls: ReloadableTls | undefined }[] = [];
const waiting = new Map<number, http.ServerResponse>();
let nextId = 1;
let closing = false;

function handlerFor(index: number) {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (closing) {
      writeReply(res, textReply(503, 'shutting down\n', { connection: 'close' }));
      return;
    }
    const id = nextId++;
    waiting.set(id, res);
    res.once('close', () => waiting.delete(id));
    post({
      t: 'req',
      id,
      listener: index,
      info: { method: req.method ?? 'GET', url: req.url ?? '/', authorization: req.headers.authorization, address: req.socket.remoteAddress ?? '' },
    });
  };
}

function closeAll(done: () => void): void {
  let left = open.length;
  if (left === 0) {
    done();
    return;
  }
  for (const o of open.splice(0)) o.listener.close(() => --left === 0 && done());
}

port.on('message', (m: ToHttpWorker) => {
  if (m.t === 'reply') {
    const res = waiting.get(m.id);
    if (res === undefined) return;
    waiting.delete(m.id);
    if (!res.destroyed) writeReply(res, m.reply);
  } else if (m.t === 'reload') {
    for (const o of open) {
      try {
        o.tls?.reload();
      } catch (err) {
        log.error(`Error: ${(err as Error).message}`);
      }
    }
  } else if (m.t === 'close') {
    closing = true;
    // Once every listener and connection is closed, the thread ends (the host waits for it).
    closeAll(() => port.close());
  }
});

(async () => {
  for (let i = 0; i < data.listeners.length; i++) {
    try {
      open.push(await openHttpListener(data.listeners[i], log, handlerFor(i)));
    } catch (err) {
      closeAll(() => post({ t: 'fail', code: (err as NodeJS.ErrnoException).code, message: (err as Error).message }));
      return;
    }
  }
  post({ t: 'open', ports: open.map((o) => o.listener.port) });
})();
