/**
 * How ts-mosquitto_sub and _rr print a message: payload only, -v ("topic payload"), or a
 * -F format string. A format is compiled once (and rejected with Mosquitto's message when
 * malformed); printing then walks the compiled pieces.
 */
import type { PublishPacket, UserProperty } from '../protocol/index.js';
import { strftime, strftimeOne } from '../text/strftime.js';
import { ConfigError, type ClientConfig } from './client-config.js';
import { messageJson } from './json-output.js';
import { exitUsageError, report } from './terminal.js';

interface Field {
  conv: string;
  leftAlign: boolean;
  zeroPad: boolean;
  width: number;
  /** -1 when no precision was given. */
  precision: number;
}

type Piece = string | Field | { time: string };

const CONVERSIONS = 'ACDEFIjJlmPpqRrStUxX%';
const ESCAPES: Record<string, string> = { '\\': '\\', '0': '\0', a: '\x07', e: '\x1b', n: '\n', r: '\r', t: '\t', v: '\x0b' };

export interface OutputOptions {
  format?: string;
  verbose: boolean;
  eol: boolean;
  pretty: boolean;
}

/** Validate and compile a -F format string. */
export function compileFormat(format: string): Piece[] {
  const pieces: Piece[] = [];
  let text = '';
  const flush = (): void => {
    if (text !== '') pieces.push(text);
    text = '';
  };
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c === '%') {
      if (i + 1 >= format.length) throw new ConfigError('Error: Incomplete format specifier.\n');
      const f: Field = { conv: '', leftAlign: false, zeroPad: false, width: 0, precision: -1 };
      let j = i + 1;
      if (format[j] === '-') {
        f.leftAlign = true;
        j++;
      } else if (format[j] === '0') {
        f.zeroPad = true;
        j++;
      }
      let w = '';
      while (j < format.length && format[j] >= '0' && format[j] <= '9') w += format[j++];
      if (w !== '') f.width = parseInt(w, 10);
      if (format[j] === '.') {
        j++;
        let p = '';
        while (j < format.length && format[j] >= '0' && format[j] <= '9') p += format[j++];
        f.precision = p === '' ? 0 : parseInt(p, 10);
      }
      if (j >= format.length) throw new ConfigError('Error: Incomplete format specifier.\n');
      const conv = format[j];
      if (!CONVERSIONS.includes(conv)) throw new ConfigError(`Error: Invalid format specifier '${conv}'.\n`);
      if (conv === '%') {
        text += '%';
      } else {
        f.conv = conv;
        flush();
        pieces.push(f);
      }
      i = j;
    } else if (c === '@') {
      if (i + 1 >= format.length) throw new ConfigError('Error: Incomplete format specifier.\n');
      const t = format[++i];
      if (t === '@') {
        text += '@';
      } else {
        flush();
        pieces.push({ time: t });
      }
    } else if (c === '\\') {
      if (i + 1 >= format.length) throw new ConfigError('Error: Incomplete escape specifier.\n');
      const e = format[++i];
      const v = ESCAPES[e];
      if (v === undefined) throw new ConfigError(`Error: Invalid escape specifier '${e}'.\n`);
      text += v;
    } else {
      text += c;
    }
  }
  flush();
  return pieces;
}

/** Wall-clock time in nanoseconds, finer than Date.now(). */
const wallBase = BigInt(Date.now()) * 1000000n;
const hrBase = process.hrtime.bigint();
function nowNs(): bigint {
  return wallBase + (process.hrtime.bigint() - hrBase);
}

function pad(s: string, f: Field, numeric: boolean): string {
  if (s.length >= f.width) return s;
  if (f.leftAlign) return s + ' '.repeat(f.width - s.length);
  const fill = f.zeroPad && numeric ? '0' : ' ';
  if (fill === '0' && s.startsWith('-')) return '-' + s.slice(1).padStart(f.width - 1, '0');
  return s.padStart(f.width, fill);
}

function str(s: string | undefined, f: Field): string {
  let v = s ?? '';
  if (f.precision >= 0 && v.length > f.precision) v = v.slice(0, f.precision);
  return pad(v, f, false);
}

/** An absent number still fills its field (with zeros under the 0 flag), as Mosquitto's does. */
function num(n: number | undefined, f: Field): string {
  return pad(n === undefined ? '' : String(n), f, true);
}

/** "2016-08-10T09:47:38.000000Z+0100", the tst field of %j. */
function jsonTimestamp(ns: bigint): string {
  const date = new Date(Number(ns / 1000000n));
  const micros = Number((ns / 1000n) % 1000000n);
  return `${strftime('%Y-%m-%dT%H:%M:%S', date)}.${String(micros).padStart(6, '0')}Z${strftime('%z', date)}`;
}

export class MessagePrinter {
  private readonly pieces: Piece[] | undefined;
  private readonly opts: OutputOptions;
  /** Called with the error line when %J meets a payload that is not JSON. */
  onJsonError: (topic: string) => void = () => {};

  constructor(opts: OutputOptions) {
    this.opts = opts;
    this.pieces = opts.format !== undefined ? compileFormat(opts.format) : undefined;
  }

  /** The bytes to print for one message (including the end of line unless -N). */
  render(p: PublishPacket): Buffer {
    const payload = p.payload as Buffer;
    const eol = this.opts.eol;
    if (this.pieces === undefined) {
      if (this.opts.verbose) {
        if (payload.length === 0) return Buffer.from(`${p.topic} (null)${eol ? '\n' : ''}`);
        return Buffer.concat([Buffer.from(p.topic + ' '), payload, eol ? NL : EMPTY]);
      }
      if (payload.length === 0) return EMPTY;
      return eol ? Buffer.concat([payload, NL]) : payload;
    }
    const out: Buffer[] = [];
    let ns: bigint | undefined;
    const time = (): bigint => (ns ??= nowNs());
    const props = (p.properties ?? {}) as Record<string, unknown>;
    for (const piece of this.pieces) {
      if (typeof piece === 'string') {
        out.push(Buffer.from(piece));
      } else if ('time' in piece) {
        const t = time();
        if (piece.time === 'N') out.push(Buffer.from(String(t % 1000000000n).padStart(9, '0')));
        else out.push(Buffer.from(strftimeOne(piece.time, new Date(Number(t / 1000000n)))));
      } else {
        this.field(piece, p, payload, props, time, out);
      }
    }
    if (eol) out.push(NL);
    return Buffer.concat(out);
  }

  private field(f: Field, p: PublishPacket, payload: Buffer, props: Record<string, unknown>, time: () => bigint, out: Buffer[]): void {
    const push = (s: string): void => {
      out.push(Buffer.from(s));
    };
    switch (f.conv) {
      case 'A': return push(num(props.topicAlias as number | undefined, f));
      case 'C': return push(str(props.contentType as string | undefined, f));
      case 'D': {
        const cd = props.correlationData as Buffer | undefined;
        if (cd !== undefined) out.push(cd);
        return;
      }
      case 'E': return push(num(props.messageExpiryInterval as number | undefined, f));
      case 'F': {
        const pfi = props.payloadFormatIndicator as boolean | number | undefined;
        return push(num(pfi === undefined ? undefined : Number(pfi), f));
      }
      case 'l': return push(num(payload.length, f));
      case 'm': return push(num(p.messageId ?? 0, f));
      case 'P': {
        // name:value pairs in wire order, space-separated, as mosquitto_sub prints them.
        const up = props.userProperties as UserProperty[] | undefined;
        if (up === undefined) return;
        const parts: string[] = [];
        for (let i = 0; i < up.length; i++) parts.push(`${up[i][0]}:${up[i][1]}`);
        return push(parts.join(' '));
      }
      case 'p': {
        // With a field width the payload fills exactly that many columns: cut, then padded.
        if (f.width === 0) {
          out.push(payload);
          return;
        }
        const cut = payload.subarray(0, Math.min(f.width, payload.length));
        const fill = f.width - cut.length;
        const padding = Buffer.from((f.zeroPad && !f.leftAlign ? '0' : ' ').repeat(fill));
        out.push(f.leftAlign ? Buffer.concat([cut, padding]) : Buffer.concat([padding, cut]));
        return;
      }
      case 'q': return push(String(p.qos));
      case 'R': {
        const rt = props.responseTopic as string | undefined;
        // Unlike the other properties, an absent response topic takes no room at all.
        return rt === undefined ? undefined : push(str(rt, f));
      }
      case 'r': return push(p.retain ? '1' : '0');
      case 'S': {
        const id = props.subscriptionIdentifier;
        return push(num(Array.isArray(id) ? (id[0] as number) : (id as number | undefined), f));
      }
      case 't': return push(str(p.topic, f));
      case 'x':
      case 'X': {
        // With a field width Mosquitto's clients print the hex of the first
        // min(length, width) / 2 bytes, padded to the width; reproduced as is.
        const bytes = f.width > 0 ? payload.subarray(0, Math.floor(Math.min(payload.length, f.width) / 2)) : payload;
        let hex = bytes.toString('hex');
        if (f.conv === 'X') hex = hex.toUpperCase();
        return push(f.width > 0 ? pad(hex, f, true) : hex);
      }
      case 'I': {
        const d = new Date(Number(time() / 1000000n));
        return push(str(strftime('%Y-%m-%dT%H:%M:%S%z', d), f));
      }
      case 'U': {
        const t = time();
        return push(`${t / 1000000000n}.${String(t % 1000000000n).padStart(9, '0')}`);
      }
      case 'j':
      case 'J': {
        const json = messageJson(p, jsonTimestamp(time()), f.conv === 'J', this.opts.pretty);
        if (json === undefined) this.onJsonError(p.topic);
        else out.push(json);
        return;
      }
      default:
        return;
    }
  }
}

const NL = Buffer.from('\n');
const EMPTY = Buffer.alloc(0);

/**
 * The printer sub and rr use for their -v, -F, -N and --pretty options; a bad -F is a
 * usage error (exit 1), and a payload that is not JSON under a JSON format is reported.
 */
export function printerFor(cfg: ClientConfig): MessagePrinter {
  let printer: MessagePrinter;
  try {
    printer = new MessagePrinter({ format: cfg.format, verbose: cfg.verbose, eol: cfg.eol, pretty: cfg.pretty });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    exitUsageError(cfg.program, err.text);
  }
  printer.onJsonError = (topic) => report(cfg, `Error: Message payload is not valid JSON on topic ${topic}.\n`);
  return printer;
}
