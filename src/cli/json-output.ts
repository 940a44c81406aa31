/**
 * JSON output of a received message (-F %j / %J), shaped as Mosquitto's clients print it:
 * compact, or cJSON's tab-indented layout with --pretty; strings escaped byte-wise.
 */
import type { PublishPacket, UserProperty } from '../protocol/index.js';

/** A JSON value as cJSON would print it; payload strings stay raw bytes. */
type JsonValue = string | number | boolean | null | Buffer | JsonValue[] | { [k: string]: JsonValue } | RawJson | Entries;

class RawJson {
  constructor(readonly value: unknown) {}
}

/** An object that may repeat a key, as user properties may (cJSON prints each). */
class Entries {
  constructor(readonly entries: [string, JsonValue][]) {}
}

const PROPERTY_NAMES: Record<string, string> = {
  payloadFormatIndicator: 'payload-format-indicator',
  messageExpiryInterval: 'message-expiry-interval',
  contentType: 'content-type',
  responseTopic: 'response-topic',
  correlationData: 'correlation-data',
  subscriptionIdentifier: 'subscription-identifier',
  topicAlias: 'topic-alias',
  userProperties: 'user-properties',
};

/** Escape like cJSON: quote, backslash and control characters; other bytes pass through. */
export function jsonEscape(bytes: Buffer): Buffer {
  const nul = bytes.indexOf(0);
  const b = nul >= 0 ? bytes.subarray(0, nul) : bytes;
  const out: number[] = [0x22];
  for (const c of b) {
    if (c === 0x22) out.push(0x5c, 0x22);
    else if (c === 0x5c) out.push(0x5c, 0x5c);
    else if (c === 0x08) out.push(0x5c, 0x62);
    else if (c === 0x0c) out.push(0x5c, 0x66);
    else if (c === 0x0a) out.push(0x5c, 0x6e);
    else if (c === 0x0d) out.push(0x5c, 0x72);
    else if (c === 0x09) out.push(0x5c, 0x74);
    else if (c < 0x20) for (const ch of Buffer.from('\\u' + c.toString(16).padStart(4, '0'))) out.push(ch);
    else out.push(c);
  }
  out.push(0x22);
  return Buffer.from(out);
}

/** cJSON prints integers plainly and other numbers with up to 17 significant digits. */
function numberText(n: number): string {
  if (!Number.isFinite(n)) return 'null';
  if (Number.isInteger(n) && Math.abs(n) <= 2147483647) return String(n);
  const short = n.toPrecision(15);
  const text = Number(short) === n ? short : n.toPrecision(17);
  return String(Number(text)) === text ? text : formatG(text);
}

/** %g-style: strip trailing zeros of the fraction. */
function formatG(text: string): string {
  if (text.includes('e')) {
    const [m, e] = text.split('e');
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m;
    const exp = Number(e);
    return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

function print(v: JsonValue, pretty: boolean, depth: number, out: Buffer[]): void {
  if (v instanceof RawJson) return print(fromParsed(v.value), pretty, depth, out);
  if (Buffer.isBuffer(v)) {
    out.push(jsonEscape(v));
  } else if (typeof v === 'string') {
    out.push(jsonEscape(Buffer.from(v, 'utf8')));
  } else if (typeof v === 'number') {
    out.push(Buffer.from(numberText(v)));
  } else if (typeof v === 'boolean' || v === null) {
    out.push(Buffer.from(String(v)));
  } else if (Array.isArray(v)) {
    out.push(Buffer.from('['));
    v.forEach((item, i) => {
      if (i > 0) out.push(Buffer.from(pretty ? ', ' : ','));
      print(item, pretty, depth + 1, out);
    });
    out.push(Buffer.from(']'));
  } else {
    const entries: [string, JsonValue][] = v instanceof Entries ? v.entries : Object.entries(v);
    const indent = '\t'.repeat(depth + 1);
    out.push(Buffer.from(pretty ? '{\n' : '{'));
    entries.forEach(([k, value], i) => {
      if (pretty) out.push(Buffer.from(indent));
      out.push(jsonEscape(Buffer.from(k, 'utf8')));
      out.push(Buffer.from(pretty ? ':\t' : ':'));
      print(value, pretty, depth + 1, out);
      if (i < entries.length - 1) out.push(Buffer.from(','));
      if (pretty) out.push(Buffer.from('\n'));
    });
    if (pretty) out.push(Buffer.from('\t'.repeat(depth)));
    out.push(Buffer.from('}'));
  }
}

function fromParsed(v: unknown): JsonValue {
  if (Array.isArray(v)) return v.map(fromParsed);
  if (v !== null && typeof v === 'object') {
    const o: { [k: string]: JsonValue } = {};
    for (const [k, val] of Object.entries(v)) o[k] = fromParsed(val);
    return o;
  }
  return v as JsonValue;
}

function propertiesJson(props: Record<string, unknown>): { [k: string]: JsonValue } | undefined {
  const out: { [k: string]: JsonValue } = {};
  for (const [key, value] of Object.entries(props)) {
    const name = PROPERTY_NAMES[key];
    if (name === undefined || value === undefined) continue;
    if (key === 'userProperties') {
      // In wire order, a repeated name printed each time (as cJSON does).
      out[name] = new Entries((value as UserProperty[]).map(([k, v]): [string, JsonValue] => [k, v]));
    } else if (typeof value === 'boolean') {
      out[name] = value ? 1 : 0;
    } else if (key === 'subscriptionIdentifier' && Array.isArray(value)) {
      out[name] = value[0] as number;
    } else {
      out[name] = value as JsonValue;
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The message as JSON; `raw` embeds the payload as parsed JSON (%J). Returns undefined when
 * %J's payload is not valid JSON.
 */
export function messageJson(p: PublishPacket, tst: string, raw: boolean, pretty: boolean): Buffer | undefined {
  const payload = p.payload as Buffer;
  const obj: { [k: string]: JsonValue } = {
    tst,
    topic: p.topic,
    qos: p.qos,
    retain: p.retain ? 1 : 0,
    payloadlen: payload.length,
  };
  if (p.qos > 0) obj.mid = p.messageId ?? 0;
  if (p.properties !== undefined) {
    const props = propertiesJson(p.properties as Record<string, unknown>);
    if (props !== undefined) obj.properties = props;
  }
  if (raw) {
    try {
      obj.payload = new RawJson(JSON.parse(payload.toString('utf8')));
    } catch {
      return undefined;
    }
  } else {
    obj.payload = payload;
  }
  const out: Buffer[] = [];
  print(obj, pretty, 0, out);
  return Buffer.concat(out);
}
