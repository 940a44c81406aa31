/**
 * Default options from $XDG_CONFIG_HOME/<program> (or ~/.config/<program>): one option per
 * line, the option, one space, then its value as the rest of the line; lines starting
 * with '#' are comments. Read before the command line, which may override them.
 */
import fs from 'node:fs';
import path from 'node:path';

export function optionsFilePath(program: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg !== undefined && xdg !== '') return path.join(xdg, program);
  const home = env.HOME;
  if (home !== undefined && home !== '') return path.join(home, '.config', program);
  return undefined;
}

/** The lines of the options file as argument lists; [] when there is no file. */
export function readOptionsFile(file: string | undefined): string[][] {
  if (file === undefined) return [];
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: string[][] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[\r\n]+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    // Like strtok(line, " ") then strtok(NULL, ""): the option, and everything after the
    // single space that ends it as its value.
    const m = /^ *([^ ]+)(?: (.*))?$/.exec(line);
    if (m === null) continue;
    const args = [m[1]];
    if (m[2] !== undefined && m[2] !== '') args.push(m[2]);
    out.push(args);
  }
  return out;
}
