/**
 * Number parsing with C's semantics (atoi, atof, strtol), because Mosquitto's clients parse
 * their numeric options that way and their messages echo the parsed value ("-p 99999999999"
 * reports 1215752191, "-C x" reports 0).
 */

const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);

/** Leading-whitespace, optional sign, digits; anything after is ignored. */
function leadingInteger(s: string): { value: bigint; rest: string } | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  if (m === null) return undefined;
  let value = BigInt(m[1]);
  if (value > LONG_MAX) value = LONG_MAX;
  if (value < LONG_MIN) value = LONG_MIN;
  return { value, rest: s.slice(m[0].length) };
}

/** atoi(3) on a 64-bit glibc: strtol, then truncation to int. */
export function atoi(s: string): number {
  const r = leadingInteger(s);
  if (r === undefined) return 0;
  return Number(BigInt.asIntN(32, r.value));
}

/** strtol/strtoll that must consume the whole string; undefined when it does not. */
export function strictInteger(s: string): number | undefined {
  const r = leadingInteger(s);
  if (r === undefined || r.rest !== '') return undefined;
  return Number(r.value);
}

/** atof(3): the longest leading decimal number, 0 when there is none. */
export function atof(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf(inity)?|nan))/i.exec(s);
  if (m === null) return 0;
  const t = m[1].toLowerCase();
  if (t.endsWith('inf') || t.endsWith('infinity')) return t.startsWith('-') ? -Infinity : Infinity;
  if (t.endsWith('nan')) return NaN;
  return parseFloat(m[1]);
}
