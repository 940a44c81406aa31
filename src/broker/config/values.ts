/**
 * Reading option values the way Mosquitto 2.0 reads them, so that a mosquitto.conf is
 * accepted or refused exactly as Mosquitto would:
 *
 * - a line is split on single spaces only (a tab is part of a word: "persistence\ttrue"
 *   is an unknown option);
 * - numbers are read like C's atoi: leading digits count, "abc" is 0, "5x" is 5, and an
 *   out-of-range value wraps to 32 bits ("99999999999" becomes 1215752191);
 * - booleans are exactly "true"/"1" or "false"/"0";
 * - string values are the rest of the line with surrounding blanks removed.
 */
import { duplicateValue, emptyValue, OptionError } from './errors.js';

/** The words of one configuration line, consumed left to right like strtok_r. */
export class LineTokens {
  private pos: number;

  /**
   * @param malformed the line's bytes were not valid UTF-8: Mosquitto refuses such a
   * line only where it reads a string value ("Malformed UTF-8 in configuration.").
   */
  constructor(
    private readonly line: string,
    readonly malformed = false,
  ) {
    this.pos = 0;
  }

  /** The next space-delimited word, or null at the end of the line. */
  next(): string | null {
    const s = this.line;
    let i = this.pos;
    while (i < s.length && s.charCodeAt(i) === 0x20) i++;
    if (i >= s.length) {
      this.pos = i;
      return null;
    }
    let j = i;
    while (j < s.length && s.charCodeAt(j) !== 0x20) j++;
    // The delimiter that ended the word is consumed with it, as strtok_r does.
    this.pos = j < s.length ? j + 1 : j;
    return s.slice(i, j);
  }

  /** Everything left on the line (untrimmed), or null when nothing is left. */
  rest(): string | null {
    if (this.pos >= this.line.length) return null;
    const r = this.line.slice(this.pos);
    this.pos = this.line.length;
    return r;
  }
}

const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);

function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** C strtol(s, NULL, 10) on a 64-bit platform: saturates at LONG_MIN/LONG_MAX. */
export function strtol(s: string): bigint {
  let i = 0;
  while (i < s.length && isCSpace(s.charCodeAt(i))) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  let v = 0n;
  let saturated = false;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    if (!saturated) {
      v = v * 10n + BigInt(c - 0x30);
      if (v > LONG_MAX + 1n) saturated = true;
    }
    i++;
  }
  if (neg) v = -v;
  if (saturated || v > LONG_MAX) return neg ? LONG_MIN : LONG_MAX;
  if (v < LONG_MIN) return LONG_MIN;
  return v;
}

/** C atoi: strtol truncated to a 32-bit int. */
export function atoi(s: string): number {
  return Number(BigInt.asIntN(32, strtol(s)));
}

/** C atol on a 64-bit platform, as a JS number (exact up to 2^53). */
export function atol(s: string): number {
  return Number(strtol(s));
}

/** Reinterpret a 32-bit int as unsigned, as a C (unsigned int) cast does. */
export function toUint32(n: number): number {
  return n >>> 0;
}

/** The next word, or `Error: Empty NAME value in configuration.` */
export function requireWord(t: LineTokens, name: string): string {
  const w = t.next();
  if (w === null) throw emptyValue(name);
  return w;
}

/** An integer option read with atoi. */
export function parseInt32(t: LineTokens, name: string): number {
  return atoi(requireWord(t, name));
}

/** A boolean option: `Error: Invalid NAME value (WORD).` for anything but true/false/1/0. */
export function parseBool(t: LineTokens, name: string): boolean {
  const w = requireWord(t, name);
  if (w === 'true' || w === '1') return true;
  if (w === 'false' || w === '0') return false;
  throw new OptionError(`Error: Invalid ${name} value (${w}).`);
}

/** Leading and trailing blanks removed, as Mosquitto trims string values. */
function trimBlanks(s: string): string {
  return s.replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
}

/**
 * A string option: the rest of the line. Mosquitto checks for a duplicate before it
 * trims, so "x a" then "x   " is a duplicate while "x a" then "x" is empty.
 */
export function parseString(t: LineTokens, name: string, alreadySet: boolean, dupName = name): string {
  const rest = t.rest();
  if (rest === null) throw emptyValue(name);
  if (alreadySet) throw duplicateValue(dupName);
  if (t.malformed) throw new OptionError('Error: Malformed UTF-8 in configuration.');
  const v = trimBlanks(rest);
  if (v.length === 0) throw emptyValue(name);
  return v;
}

const DURATION_UNITS: Record<string, number> = {
  h: 3600,
  d: 86400,
  w: 86400 * 7,
  m: 86400 * 30,
  y: 86400 * 365,
};

/**
 * persistent_client_expiration: an integer followed by h, d, w, m or y (hour, day, week,
 * month of 30 days, year of 365 days). Returns seconds, or null when invalid.
 */
export function parseDuration(word: string): number | null {
  const unit = DURATION_UNITS[word.charAt(word.length - 1)];
  if (unit === undefined) return null;
  const n = atoi(word.slice(0, -1));
  if (n <= 0) return null;
  return n * unit;
}
