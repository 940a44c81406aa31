/**
 * The mosquitto.conf reader: lines, comments, include_dir, dispatch to the option
 * tables, and Mosquitto's error lines ("Error found at FILE:LINE.").
 *
 * File format (mosquitto.conf(5)): a line whose very first character is '#' is a
 * comment; otherwise the first space-separated word names the option and the rest is
 * its value. Only a space separates words; leading spaces are skipped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { ConfigError, emptyValue, OptionError, unknownOption } from './errors.js';
import { finalizeConfig, type FinalizeOptions } from './finalize.js';
import type { OptionHandler } from './option-handler.js';
import { bridgeOptions } from './options-bridge.js';
import { generalOptions, isPluginOption, pluginOption, securityOptions } from './options-general.js';
import { listenerOptions } from './options-listener.js';
import { logOptions } from './options-log.js';
import { optionTableOptions } from './options-table.js';
import { clusterOptions, redisOptions } from './options-redis.js';
import { ParseState } from './state.js';
import type { ParsedConfig } from './types.js';
import { LineTokens } from './values.js';

export type ParseOptions = FinalizeOptions;

const OPTIONS = new Map<string, OptionHandler>(
  Object.entries({
    ...optionTableOptions,
    ...generalOptions,
    ...securityOptions,
    ...logOptions,
    ...listenerOptions,
    ...bridgeOptions,
    ...redisOptions,
    ...clusterOptions,
  }),
);

/** Every option name the parser knows (auth_opt_* and plugin_opt_* aside). */
export const KNOWN_OPTIONS: readonly string[] = [...OPTIONS.keys(), 'include_dir'].sort();

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Lenient = new TextDecoder('utf-8');

/**
 * Mosquitto's include_dir order: character by character, case-insensitively, an upper
 * case letter before the lower case of the same letter (mosquitto.conf(5)).
 */
export function compareIncludeNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a[i]!;
    const cb = b[i]!;
    if (ca === cb) continue;
    const ua = ca.toUpperCase();
    const ub = cb.toUpperCase();
    if (ua !== ub) return ua < ub ? -1 : 1;
    return ca < cb ? -1 : 1;
  }
  return a.length - b.length;
}

function includeDir(st: ParseState, t: LineTokens, name: string): void {
  // Unlike other strings, Mosquitto takes the rest of the line as it is, blanks included.
  const dir = t.rest();
  if (dir === null) throw emptyValue(name);
  // Mosquitto only honours include_dir in the main file.
  if (st.level > 0) return;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new OptionError(`Error: Unable to open include_dir '${dir}'.`);
  }
  const files = names.filter((n) => n.endsWith('.conf')).sort(compareIncludeNames);
  for (const f of files) {
    const path = `${dir}/${f}`;
    try {
      if (!statSync(path).isFile()) continue;
    } catch {
      continue;
    }
    st.info(`Loading config file ${path}`);
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch {
      throw new OptionError(`Error: Unable to open config file ${path}.`);
    }
    st.level++;
    readText(st, data, path);
    st.level--;
  }
}

function splitLines(data: Buffer | string): { text: string; malformed: boolean }[] {
  if (typeof data === 'string') return data.split('\n').map((text) => ({ text, malformed: false }));
  const out: { text: string; malformed: boolean }[] = [];
  let start = 0;
  for (let i = 0; i <= data.length; i++) {
    if (i === data.length || data[i] === 0x0a) {
      const bytes = data.subarray(start, i);
      try {
        out.push({ text: utf8.decode(bytes), malformed: false });
      } catch {
        out.push({ text: utf8Lenient.decode(bytes), malformed: true });
      }
      start = i + 1;
    }
  }
  return out;
}

function dispatch(st: ParseState, t: LineTokens, name: string): void {
  if (name === 'include_dir') return includeDir(st, t, name);
  const h = OPTIONS.get(name);
  if (h) return h(st, t, name);
  if (isPluginOption(name)) return pluginOption();
  throw unknownOption(name);
}

/** Reads one file's lines into the state; throws ConfigError with Mosquitto's lines. */
function readText(st: ParseState, data: Buffer | string, filename: string): void {
  const lines = splitLines(data);
  for (let i = 0; i < lines.length; i++) {
    // Mosquitto strips the line end (LF and CR) only; other trailing blanks stay.
    const text = lines[i]!.text.replace(/[\r\n]+$/, '');
    if (text.length === 0 || text[0] === '#') continue;
    const t = new LineTokens(text, lines[i]!.malformed);
    const name = t.next();
    if (name === null) continue;
    try {
      dispatch(st, t, name);
    } catch (e) {
      const at = `Error found at ${filename}:${i + 1}.`;
      if (e instanceof OptionError) throw new ConfigError([...e.message.split('\n'), at], st.messages);
      // An error inside an included file: Mosquitto names both positions.
      if (e instanceof ConfigError) throw new ConfigError([...e.lines, at], st.messages);
      throw e;
    }
  }
}

function finish(st: ParseState, opts: ParseOptions): ParsedConfig {
  try {
    return { config: finalizeConfig(st, opts), messages: st.messages };
  } catch (e) {
    if (e instanceof OptionError) throw new ConfigError(e.message.split('\n'), st.messages);
    throw e;
  }
}

/**
 * Parses configuration text as if read from `filename` (used in messages and as the
 * config file name). include_dir paths are read from disk, relative to the working
 * directory as Mosquitto reads them. Throws ConfigError.
 */
export function parseConfigText(text: string | Buffer, filename: string, opts: ParseOptions = {}): ParsedConfig {
  const st = new ParseState();
  st.config.configFile = filename;
  readText(st, text, filename);
  return finish(st, opts);
}

/**
 * Reads and parses a mosquitto.conf. Throws ConfigError with `Error: Unable to open
 * config file PATH.` when it cannot be read, as Mosquitto does.
 */
export function parseConfigFile(path: string, opts: ParseOptions = {}): ParsedConfig {
  let data: Buffer;
  try {
    if (statSync(path).isDirectory()) throw new ConfigError([`Error: Config file ${path} is a directory.`]);
    data = readFileSync(path);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError([`Error: Unable to open config file ${path}.`]);
  }
  return parseConfigText(data, path, opts);
}

/** Mosquitto's configuration when started without -c: local-only on 1883 or the -p ports. */
export function defaultBrokerConfig(opts: ParseOptions = {}): ParsedConfig {
  return finish(new ParseState(), opts);
}
