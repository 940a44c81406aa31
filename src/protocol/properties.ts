/**
 * MQTT 5 properties (MQTT 5.0 section 2.2.2), decoded and encoded by hand so that user
 * properties keep their wire order: a name may repeat, interleaved with others, and the
 * order must reach the receiver unchanged (MQTT-3.3.2-18). mqtt-packet groups them into an
 * object by name; here they are an ordered list of [name, value] pairs.
 *
 * Property objects keep mqtt-packet's key names and value types (one-byte flags as
 * booleans, several subscription identifiers as an array), and their keys are inserted in
 * wire order.
 */

/** One user property: name and value, as they were on the wire. */
export type UserProperty = [name: string, value: string];

/** The properties of a PUBLISH (MQTT 5.0 3.3.2.3), user properties in wire order. */
export interface PublishProperties {
  /** true for UTF-8; a value other than 0 and 1 is kept as its number (Mosquitto passes it on). */
  payloadFormatIndicator?: boolean | number;
  messageExpiryInterval?: number;
  topicAlias?: number;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperty[];
  subscriptionIdentifier?: number | number[];
  contentType?: string;
}

/** Will properties (MQTT 5.0 3.1.3.2): those of a PUBLISH plus the will delay. */
export interface WillProperties extends PublishProperties {
  willDelayInterval?: number;
}

type PropType = 'bool' | 'byte' | 'u16' | 'u32' | 'varint' | 'string' | 'binary' | 'pair';

/** Identifier, key and type of every property (MQTT 5.0 2.2.2.2). */
const DEFS: [id: number, key: string, type: PropType][] = [
  [0x01, 'payloadFormatIndicator', 'bool'],
  [0x02, 'messageExpiryInterval', 'u32'],
  [0x03, 'contentType', 'string'],
  [0x08, 'responseTopic', 'string'],
  [0x09, 'correlationData', 'binary'],
  [0x0b, 'subscriptionIdentifier', 'varint'],
  [0x11, 'sessionExpiryInterval', 'u32'],
  [0x12, 'assignedClientIdentifier', 'string'],
  [0x13, 'serverKeepAlive', 'u16'],
  [0x15, 'authenticationMethod', 'string'],
  [0x16, 'authenticationData', 'binary'],
  [0x17, 'requestProblemInformation', 'bool'],
  [0x18, 'willDelayInterval', 'u32'],
  [0x19, 'requestResponseInformation', 'bool'],
  [0x1a, 'responseInformation', 'string'],
  [0x1c, 'serverReference', 'string'],
  [0x1f, 'reasonString', 'string'],
  [0x21, 'receiveMaximum', 'u16'],
  [0x22, 'topicAliasMaximum', 'u16'],
  [0x23, 'topicAlias', 'u16'],
  [0x24, 'maximumQoS', 'byte'],
  [0x25, 'retainAvailable', 'bool'],
  [0x26, 'userProperties', 'pair'],
  [0x27, 'maximumPacketSize', 'u32'],
  [0x28, 'wildcardSubscriptionAvailable', 'bool'],
  [0x29, 'subscriptionIdentifiersAvailable', 'bool'],
  [0x2a, 'sharedSubscriptionAvailable', 'bool'],
];

const BY_ID: ([string, PropType] | undefined)[] = new Array(0x2b);
const BY_KEY = new Map<string, [number, PropType]>();
for (const [id, key, type] of DEFS) {
  BY_ID[id] = [key, type];
  BY_KEY.set(key, [id, type]);
}

export const PropertyId = {
  PayloadFormatIndicator: 0x01,
  MessageExpiryInterval: 0x02,
  ContentType: 0x03,
  ResponseTopic: 0x08,
  CorrelationData: 0x09,
  SubscriptionIdentifier: 0x0b,
  TopicAlias: 0x23,
  UserProperty: 0x26,
} as const;

/** The properties a PUBLISH may carry (MQTT 5.0 3.3.2.3). */
export const PUBLISH_PROPERTY_IDS: readonly number[] = [0x01, 0x02, 0x03, 0x08, 0x09, 0x0b, 0x23, 0x26];
/** The properties a will may carry (MQTT 5.0 3.1.3.2). */
export const WILL_PROPERTY_IDS: readonly number[] = [0x01, 0x02, 0x03, 0x08, 0x09, 0x18, 0x26];

/** A malformed property section; the message is what the connection reports. */
export class PropertyError extends Error {
  /** The identifier, when the error is one no property has (Mosquitto logs it). */
  constructor(
    message: string,
    readonly identifier?: number,
  ) {
    super(message);
  }
}

/** Reads a variable byte integer at pos; returns [value, next pos] or throws. */
export function readVarint(buf: Buffer, pos: number, end: number): [number, number] {
  let value = 0;
  let mul = 1;
  for (let n = 0; n < 4; n++) {
    if (pos >= end) throw new PropertyError('Malformed packet');
    const b = buf[pos++];
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [value, pos];
    mul *= 128;
  }
  throw new PropertyError('Invalid variable byte integer');
}

export function varintSize(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

export function writeVarint(buf: Buffer, pos: number, n: number): number {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[pos++] = byte;
  } while (n > 0);
  return pos;
}

/**
 * Decodes the properties from `start` to `end` (the bytes after the property length) into
 * an object whose keys follow the wire order; user properties as an ordered list, a
 * repeated subscription identifier as an array. Throws PropertyError on malformed bytes,
 * an unknown identifier, a bad flag value or a repeated property that may appear once
 * (MQTT 5.0 2.2.2.2: "a Protocol Error to include the same property more than once"), or
 * one outside `allowed` (identifiers the packet may carry) when given.
 */
export function decodeProperties(buf: Buffer, start: number, end: number, allowed?: readonly number[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let pos = start;
  while (pos < end) {
    let id: number;
    [id, pos] = readVarint(buf, pos, end);
    const def = id < BY_ID.length ? BY_ID[id] : undefined;
    if (def === undefined) throw new PropertyError('Invalid property identifier', id);
    if (allowed !== undefined && !allowed.includes(id)) throw new PropertyError('Protocol error');
    const [key, type] = def;
    let value: unknown;
    switch (type) {
      case 'bool':
      case 'byte': {
        if (pos + 1 > end) throw new PropertyError('Malformed packet');
        const b = buf[pos++];
        if (type === 'bool') {
          // Mosquitto checks the other flags' values, but passes any Payload Format
          // Indicator on as it came: kept as its number when it is neither 0 nor 1.
          if (b > 1 && id !== 0x01) throw new PropertyError('Protocol error');
          value = b > 1 ? b : b === 1;
        } else value = b;
        break;
      }
      case 'u16':
        if (pos + 2 > end) throw new PropertyError('Malformed packet');
        value = buf.readUInt16BE(pos);
        pos += 2;
        break;
      case 'u32':
        if (pos + 4 > end) throw new PropertyError('Malformed packet');
        value = buf.readUInt32BE(pos);
        pos += 4;
        break;
      case 'varint':
        [value, pos] = readVarint(buf, pos, end);
        break;
      case 'string':
      case 'binary': {
        if (pos + 2 > end) throw new PropertyError('Malformed packet');
        const len = buf.readUInt16BE(pos);
        pos += 2;
        if (pos + len > end) throw new PropertyError('Malformed packet');
        value = type === 'string' ? buf.toString('utf8', pos, pos + len) : Buffer.from(buf.subarray(pos, pos + len));
        pos += len;
        break;
      }
      case 'pair': {
        if (pos + 2 > end) throw new PropertyError('Malformed packet');
        const klen = buf.readUInt16BE(pos);
        pos += 2;
        if (pos + klen + 2 > end) throw new PropertyError('Malformed packet');
        const name = buf.toString('utf8', pos, pos + klen);
        pos += klen;
        const vlen = buf.readUInt16BE(pos);
        pos += 2;
        if (pos + vlen > end) throw new PropertyError('Malformed packet');
        const v = buf.toString('utf8', pos, pos + vlen);
        pos += vlen;
        const list = out.userProperties as UserProperty[] | undefined;
        if (list === undefined) out.userProperties = [[name, v]];
        else list.push([name, v]);
        continue;
      }
    }
    const prev = out[key];
    if (prev !== undefined) {
      // Several subscription identifiers may reach a client in one PUBLISH (MQTT-3.3.4-4).
      if (key !== 'subscriptionIdentifier') throw new PropertyError('Duplicate property');
      if (Array.isArray(prev)) prev.push(value);
      else out[key] = [prev, value];
    } else out[key] = value;
  }
  return out;
}

/**
 * User properties as an ordered list, from either form: our list, or mqtt-packet's object
 * (what its parser gives for packets other than PUBLISH; repeats grouped by name).
 */
export function userPropertyList(up: unknown): UserProperty[] {
  if (up === undefined || up === null) return [];
  if (Array.isArray(up)) return up as UserProperty[];
  const list: UserProperty[] = [];
  for (const [k, v] of Object.entries(up as Record<string, string | string[]>)) {
    if (Array.isArray(v)) for (const one of v) list.push([k, String(one)]);
    else list.push([k, String(v)]);
  }
  return list;
}

/** mqtt-packet's grouped object for an ordered list (for the packets it still encodes). */
export function userPropertyObject(list: UserProperty[]): Record<string, string | string[]> {
  const o: Record<string, string | string[]> = {};
  for (const [k, v] of list) {
    const prev = o[k];
    if (prev === undefined) o[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else o[k] = [prev, v];
  }
  return o;
}

/**
 * Encodes a properties object (keys in the order they should go on the wire; unknown keys
 * and undefined values skipped) into the property bytes, without the length prefix.
 * User properties may be an ordered list or mqtt-packet's object.
 */
export function encodeProperties(props: Record<string, unknown> | undefined, skip?: readonly string[]): Buffer {
  if (props === undefined) return EMPTY;
  const parts: Buffer[] = [];
  for (const key in props) {
    const value = props[key];
    if (value === undefined) continue;
    if (skip !== undefined && skip.includes(key)) continue;
    const def = BY_KEY.get(key);
    if (def === undefined) continue;
    const [id, type] = def;
    if (type === 'pair') {
      for (const [k, v] of userPropertyList(value)) parts.push(encodeOne(id, type, [k, v]));
    } else if (Array.isArray(value) && type === 'varint') {
      for (const v of value) parts.push(encodeOne(id, type, v));
    } else {
      parts.push(encodeOne(id, type, value));
    }
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

const EMPTY = Buffer.alloc(0);

function stringBytes(s: unknown): Buffer {
  return Buffer.isBuffer(s) ? s : Buffer.from(String(s), 'utf8');
}

/** One property: identifier (one byte: every identifier is below 128) and value. */
export function encodeOne(id: number, type: PropType, value: unknown): Buffer {
  switch (type) {
    case 'bool':
    case 'byte':
      return Buffer.from([id, typeof value === 'boolean' ? (value ? 1 : 0) : Number(value) & 0xff]);
    case 'u16': {
      const b = Buffer.allocUnsafe(3);
      b[0] = id;
      b.writeUInt16BE(Number(value), 1);
      return b;
    }
    case 'u32': {
      const b = Buffer.allocUnsafe(5);
      b[0] = id;
      b.writeUInt32BE(Number(value), 1);
      return b;
    }
    case 'varint': {
      const n = Number(value);
      const b = Buffer.allocUnsafe(1 + varintSize(n));
      b[0] = id;
      writeVarint(b, 1, n);
      return b;
    }
    case 'string':
    case 'binary': {
      const s = stringBytes(value);
      const b = Buffer.allocUnsafe(3 + s.length);
      b[0] = id;
      b.writeUInt16BE(s.length, 1);
      s.copy(b, 3);
      return b;
    }
    case 'pair': {
      const [k, v] = value as UserProperty;
      const kb = stringBytes(k);
      const vb = stringBytes(v);
      const b = Buffer.allocUnsafe(5 + kb.length + vb.length);
      b[0] = id;
      b.writeUInt16BE(kb.length, 1);
      kb.copy(b, 3);
      b.writeUInt16BE(vb.length, 3 + kb.length);
      vb.copy(b, 5 + kb.length);
      return b;
    }
  }
}

/** Encodes one property given by its key (e.g. 'reasonString'). */
export function encodeProperty(key: string, value: unknown): Buffer {
  const def = BY_KEY.get(key);
  if (def === undefined) throw new Error(`unknown property ${key}`);
  return encodeOne(def[0], def[1], value);
}

/**
 * The properties of a PUBLISH split for forwarding: `stored` are the property bytes a
 * receiver gets as they arrived (payload format, content type, response topic, correlation
 * data and user properties, in wire order); topic alias, message expiry and subscription
 * identifiers (and a will's will delay) are per hop and left out (MQTT-3.3.2-7, 3.3.2-6, 3.3.4-3), as Mosquitto
 * leaves them out of what it stores.
 */
export function storedPublishProperties(buf: Buffer, start: number, end: number): Buffer {
  let pos = start;
  let cut: Buffer[] | undefined;
  let keepFrom = start;
  while (pos < end) {
    const at = pos;
    const id = buf[pos++];
    switch (id) {
      case 0x01: pos += 1; break;
      case 0x02:
      case 0x18: pos += 4; break;
      case 0x23: pos += 2; break;
      case 0x0b: pos = readVarint(buf, pos, end)[1]; break;
      case 0x03:
      case 0x08:
      case 0x09: pos += 2 + buf.readUInt16BE(pos); break;
      case 0x26: {
        pos += 2 + buf.readUInt16BE(pos);
        pos += 2 + buf.readUInt16BE(pos);
        break;
      }
      default:
        return buf.subarray(start, end);
    }
    if (id === 0x02 || id === 0x23 || id === 0x0b || id === 0x18) {
      cut ??= [];
      if (at > keepFrom) cut.push(buf.subarray(keepFrom, at));
      keepFrom = pos;
    }
  }
  if (cut === undefined) return buf.subarray(start, end);
  if (end > keepFrom) cut.push(buf.subarray(keepFrom, end));
  return Buffer.concat(cut);
}

/** The stored property bytes of a PUBLISH built from a properties object (no wire form at hand). */
export function storedPublishPropertiesOf(props: PublishProperties | undefined): Buffer {
  return encodeProperties(props as Record<string, unknown> | undefined, PER_HOP);
}

const PER_HOP = ['topicAlias', 'messageExpiryInterval', 'subscriptionIdentifier', 'willDelayInterval'] as const;
