/**
 * Plain HTTP on a WebSocket listener: files from `http_dir` (mosquitto.conf(5)), as
 * Mosquitto serves them, so a dashboard and its MQTT endpoint share one port.
 *
 * Only GET and HEAD. A path is decoded once, resolved under http_dir, and resolved again
 * through symlinks; anything that lands outside http_dir is refused (403), so neither
 * "../", "%2e%2e/" nor a symlink reaches other files. A directory serves its index.html.
 */
import fs from 'node:fs';
import path from 'node:path';
import type http from 'node:http';

const MIME: Record<string, string> = {
  '.html': 'text/html',
  '.htm': 'text/html',
  '.js': 'application/javascript',
  '.mjs': 'application/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
};

function status(res: http.ServerResponse, code: number, text: string): void {
  const body = `<html><body><h1>${code} ${text}</h1></body></html>\n`;
  res.writeHead(code, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

/** True when `p` is `root` or lies below it. */
function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/** Answers one plain HTTP request; `httpDir` null means no files are served (404). */
export function serveHttpDir(httpDir: string | null, req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    status(res, 405, 'Method Not Allowed');
    return;
  }
  if (httpDir === null) {
    status(res, 404, 'Not Found');
    return;
  }
  let rel: string;
  try {
    const raw = (req.url ?? '/').split('?')[0].split('#')[0];
    rel = decodeURIComponent(raw);
  } catch {
    status(res, 400, 'Bad Request');
    return;
  }
  if (rel.includes('\0') || !rel.startsWith('/')) {
    status(res, 400, 'Bad Request');
    return;
  }
  let root: string;
  try {
    root = fs.realpathSync(httpDir);
  } catch {
    status(res, 404, 'Not Found');
    return;
  }
  const wanted = path.resolve(root, '.' + rel);
  if (!inside(root, wanted)) {
    status(res, 403, 'Forbidden');
    return;
  }
  fs.realpath(wanted, (err, real) => {
    if (err !== null) {
      status(res, 404, 'Not Found');
      return;
    }
    if (!inside(root, real)) {
      status(res, 403, 'Forbidden');
      return;
    }
    fs.stat(real, (err2, st) => {
      if (err2 !== null) {
        status(res, 404, 'Not Found');
        return;
      }
      if (st.isDirectory()) {
        const index = path.join(real, 'index.html');
        fs.stat(index, (err3, ist) => {
          if (err3 !== null || !ist.isFile()) status(res, 404, 'Not Found');
          else sendFile(res, req.method === 'HEAD', index, ist.size);
        });
        return;
      }
      if (!st.isFile()) {
        status(res, 404, 'Not Found');
        return;
      }
      sendFile(res, req.method === 'HEAD', real, st.size);
    });
  });
}

function sendFile(res: http.ServerResponse, headOnly: boolean, file: string, size: number): void {
  const type = MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  res.writeHead(200, { 'content-type': type, 'content-length': size });
  if (headOnly) {
    res.end();
    return;
  }
  const stream = fs.createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
