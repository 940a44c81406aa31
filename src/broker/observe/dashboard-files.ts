/**
 * The dashboard's files: the page, its script and style from the package's dashboard/
 * folder, and uPlot's build from node_modules. Read once into memory when the listener
 * opens; only these names are served, so no request path ever reaches the file system.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface StaticFile {
  type: string;
  body: Buffer;
}

/** dashboard/ at the package root: three levels above dist/broker/observe (and src/broker/observe). */
export const DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dashboard');

const OWN: [string, string, string][] = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/dashboard.js', 'dashboard.js', 'text/javascript; charset=utf-8'],
  ['/mqtt-tail.js', 'mqtt-tail.js', 'text/javascript; charset=utf-8'],
  ['/dashboard.css', 'dashboard.css', 'text/css; charset=utf-8'],
];

export function loadDashboardFiles(): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const [url, name, type] of OWN) files.set(url, { type, body: fs.readFileSync(path.join(DASHBOARD_DIR, name)) });
  files.set('/index.html', files.get('/')!);
  const require = createRequire(import.meta.url);
  files.set('/uPlot.min.js', { type: 'text/javascript; charset=utf-8', body: fs.readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')) });
  files.set('/uPlot.min.css', { type: 'text/css; charset=utf-8', body: fs.readFileSync(require.resolve('uplot/dist/uPlot.min.css')) });
  return files;
}
