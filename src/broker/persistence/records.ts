/**
 * The records of the persistence files. The snapshot and the journal use the same ones:
 * a snapshot is the shortest list of records that rebuilds the state, the journal the
 * changes since that snapshot. Messages are written once (MESSAGE, keyed by storeId) and
 * referenced by the sessions' queue/inflight/incoming records and by RETAIN.
 */
import type { PublishProperties, QoS } from '../../protocol/index.js';
import type { Message } from '../message.js';
import type { SubscriptionOptions } from '../router.js';
import { BodyReader, type FrameWriter, Utf8Cache } from './frame.js';
import type { Outgoing } from '../core.js';

export const RecordType = {
  Header: 1,
  Message: 2,
  Session: 3,
  SessionDelete: 4,
  Subscribe: 5,
  Unsubscribe: 6,
  Queued: 7,
  Inflight: 8,
  Pubrel: 9,
  Done: 10,
  Incoming: 11,
  Release: 12,
  Retain: 13,
  RetainDelete: 14,
  End: 15,
} as const;

export const MAGIC = 0x514d5354; // "TSMQ" little-endian
export const FORMAT_VERSION = 1;
export const FileKind = { Snapshot: 0, Journal: 1 } as const;

export interface StoredMessage {
  storeId: number;
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** Unix ms, 0 for never (MQTT 5 message expiry). */
  expiresAt: number;
  from: string | undefined;
  fromUsername: string | undefined;
  properties: PublishProperties | undefined;
  /** The publisher's listener port (check_retain_source), 0 when unknown. */
  fromPort: number;
}

export interface StoredOutgoing {
  storeId: number;
  mid: number;
  qos: QoS;
  retain: boolean;
  state: 0 | 1;
  identifiers: number[] | undefined;
}

export type PersistRecord =
  | { t: 'header'; magic: number; version: number; kind: number; generation: number }
  | { t: 'message'; m: StoredMessage }
  | { t: 'session'; clientId: string; expiry: number; disconnectedAt: number; lastMid: number; username: string | undefined }
  | { t: 'sessionDelete'; clientId: string }
  | { t: 'subscribe'; clientId: string; filter: string; treeFilter: string; shareGroup: string | undefined; options: SubscriptionOptions }
  | { t: 'unsubscribe'; clientId: string; filter: string }
  | { t: 'queued'; clientId: string; out: StoredOutgoing }
  | { t: 'inflight'; clientId: string; out: StoredOutgoing }
  | { t: 'pubrel'; clientId: string; mid: number }
  | { t: 'done'; clientId: string; mid: number; storeId: number }
  | { t: 'incoming'; clientId: string; mid: number; storeId: number }
  | { t: 'release'; clientId: string; mid: number }
  | { t: 'retain'; topic: string; storeId: number }
  | { t: 'retainDelete'; topic: string }
  | { t: 'end'; records: number };

// ---- encoding (the journal calls these on the message path: no objects, no closures) ----

/** Client ids and topics, encoded once: every record of a message names them again. */
const names = new Utf8Cache();

export function writeHeader(w: FrameWriter, kind: number, generation: number): void {
  w.begin(RecordType.Header);
  w.u32(MAGIC);
  w.u8(FORMAT_VERSION);
  w.u8(kind);
  w.f64(generation);
  w.end();
}

function propertiesJson(p: PublishProperties | undefined): string | undefined {
  // Buffers (correlation data) become {type:'Buffer',data:[...]} and are revived on load.
  return p === undefined ? undefined : JSON.stringify(p);
}

export function writeMessage(w: FrameWriter, m: Message): void {
  w.begin(RecordType.Message);
  w.f64(m.storeId);
  // Flag 8: the publisher's listener port follows (files written before it have none).
  w.u8(m.qos | (m.retain ? 4 : 0) | (m.fromPort > 0 ? 8 : 0));
  if (m.fromPort > 0) w.u16(m.fromPort);
  w.f64(m.expiresAt);
  w.strBytes(names.get(m.topic));
  if (m.from === undefined) w.optStr(undefined);
  else w.strBytes(names.get(m.from));
  w.optStr(m.fromUsername);
  w.optStr(propertiesJson(m.properties));
  w.bytes(m.payload);
  w.end();
}

export function writeSession(
  w: FrameWriter,
  clientId: string,
  expiry: number,
  disconnectedAt: number,
  lastMid: number,
  username: string | undefined,
): void {
  w.begin(RecordType.Session);
  w.str(clientId);
  w.u32(expiry);
  w.f64(disconnectedAt);
  w.u16(lastMid);
  w.optStr(username);
  w.end();
}

export function writeClientOnly(w: FrameWriter, type: number, clientId: string): void {
  w.begin(type);
  w.str(clientId);
  w.end();
}

export function writeSubscribe(
  w: FrameWriter,
  clientId: string,
  filter: string,
  treeFilter: string,
  shareGroup: string | undefined,
  o: SubscriptionOptions,
): void {
  w.begin(RecordType.Subscribe);
  w.str(clientId);
  w.str(filter);
  w.str(treeFilter);
  w.optStr(shareGroup);
  w.u8(o.qos | (o.noLocal ? 4 : 0) | (o.retainAsPublished ? 8 : 0) | (o.retainHandling << 4));
  w.u32(o.identifier);
  w.end();
}

export function writeUnsubscribe(w: FrameWriter, clientId: string, filter: string): void {
  w.begin(RecordType.Unsubscribe);
  w.str(clientId);
  w.str(filter);
  w.end();
}

/** QUEUED or INFLIGHT: one outgoing message of a session. */
export function writeOutgoing(w: FrameWriter, type: number, clientId: string, out: Outgoing): void {
  w.begin(type);
  w.strBytes(names.get(clientId));
  w.f64(out.msg.storeId);
  w.u16(out.mid);
  w.u8(out.qos | (out.retain ? 4 : 0) | (out.state << 3));
  const ids = out.identifiers;
  if (ids === undefined) w.u8(0);
  else {
    const n = ids.length > 255 ? 255 : ids.length;
    w.u8(n);
    for (let i = 0; i < n; i++) w.u32(ids[i]);
  }
  w.end();
}

/** PUBREL, RELEASE: a packet id of a session. */
export function writeMid(w: FrameWriter, type: number, clientId: string, mid: number): void {
  w.begin(type);
  w.strBytes(names.get(clientId));
  w.u16(mid);
  w.end();
}

/** DONE and INCOMING: a packet id and the message it carried. */
export function writeMidMessage(w: FrameWriter, type: number, clientId: string, mid: number, storeId: number): void {
  w.begin(type);
  w.strBytes(names.get(clientId));
  w.u16(mid);
  w.f64(storeId);
  w.end();
}

export function writeRetain(w: FrameWriter, topic: string, storeId: number): void {
  w.begin(RecordType.Retain);
  w.str(topic);
  w.f64(storeId);
  w.end();
}

export function writeRetainDelete(w: FrameWriter, topic: string): void {
  w.begin(RecordType.RetainDelete);
  w.str(topic);
  w.end();
}

export function writeEnd(w: FrameWriter, records: number): void {
  w.begin(RecordType.End);
  w.f64(records);
  w.end();
}

// ---- decoding (start-up only) ----

function reviveBuffers(_key: string, value: unknown): unknown {
  if (
    value !== null &&
    typeof value === 'object' &&
    (value as { type?: unknown }).type === 'Buffer' &&
    Array.isArray((value as { data?: unknown }).data)
  ) {
    return Buffer.from((value as { data: number[] }).data);
  }
  return value;
}

function readOutgoing(r: BodyReader): StoredOutgoing {
  const storeId = r.f64();
  const mid = r.u16();
  const flags = r.u8();
  const n = r.u8();
  let identifiers: number[] | undefined;
  if (n > 0) {
    identifiers = [];
    for (let i = 0; i < n; i++) identifiers.push(r.u32());
  }
  return { storeId, mid, qos: (flags & 3) as QoS, retain: (flags & 4) !== 0, state: ((flags >> 3) & 1) as 0 | 1, identifiers };
}

/** Decodes one record body; throws on a body that does not parse (treated as damage). */
export function decodeRecord(body: Buffer): PersistRecord {
  const r = new BodyReader(body);
  switch (r.type) {
    case RecordType.Header:
      return { t: 'header', magic: r.u32(), version: r.u8(), kind: r.u8(), generation: r.f64() };
    case RecordType.Message: {
      const storeId = r.f64();
      const flags = r.u8();
      const fromPort = (flags & 8) !== 0 ? r.u16() : 0;
      const expiresAt = r.f64();
      const topic = r.str();
      const from = r.optStr();
      const fromUsername = r.optStr();
      const props = r.optStr();
      const payload = r.bytes();
      const properties = props === undefined ? undefined : (JSON.parse(props, reviveBuffers) as PublishProperties);
      return {
        t: 'message',
        m: { storeId, topic, payload, qos: (flags & 3) as QoS, retain: (flags & 4) !== 0, expiresAt, from, fromUsername, properties, fromPort },
      };
    }
    case RecordType.Session:
      return { t: 'session', clientId: r.str(), expiry: r.u32(), disconnectedAt: r.f64(), lastMid: r.u16(), username: r.optStr() };
    case RecordType.SessionDelete:
      return { t: 'sessionDelete', clientId: r.str() };
    case RecordType.Subscribe: {
      const clientId = r.str();
      const filter = r.str();
      const treeFilter = r.str();
      const shareGroup = r.optStr();
      const f = r.u8();
      const identifier = r.u32();
      const options: SubscriptionOptions = {
        qos: (f & 3) as QoS,
        noLocal: (f & 4) !== 0,
        retainAsPublished: (f & 8) !== 0,
        retainHandling: ((f >> 4) & 3) as SubscriptionOptions['retainHandling'],
        identifier,
      };
      return { t: 'subscribe', clientId, filter, treeFilter, shareGroup, options };
    }
    case RecordType.Unsubscribe:
      return { t: 'unsubscribe', clientId: r.str(), filter: r.str() };
    case RecordType.Queued:
      return { t: 'queued', clientId: r.str(), out: readOutgoing(r) };
    case RecordType.Inflight:
      return { t: 'inflight', clientId: r.str(), out: readOutgoing(r) };
    case RecordType.Pubrel:
      return { t: 'pubrel', clientId: r.str(), mid: r.u16() };
    case RecordType.Done:
      return { t: 'done', clientId: r.str(), mid: r.u16(), storeId: r.f64() };
    case RecordType.Incoming:
      return { t: 'incoming', clientId: r.str(), mid: r.u16(), storeId: r.f64() };
    case RecordType.Release:
      return { t: 'release', clientId: r.str(), mid: r.u16() };
    case RecordType.Retain:
      return { t: 'retain', topic: r.str(), storeId: r.f64() };
    case RecordType.RetainDelete:
      return { t: 'retainDelete', topic: r.str() };
    case RecordType.End:
      return { t: 'end', records: r.f64() };
    default:
      throw new RangeError(`unknown record type ${r.type}`);
  }
}
