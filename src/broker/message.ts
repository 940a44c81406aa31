/**
 * A message as the broker routes it. The encoded PUBLISH is cached per
 * (protocol version, QoS, retain flag) so that fan-out encodes once and writes the same
 * Buffer to every subscriber (DESIGN.md, the hot path).
 */
import {
  encodePublish,
  encodePublishV5,
  storedPublishPropertiesOf,
  type ProtocolVersion,
  type PublishProperties,
  type QoS,
} from '../protocol/index.js';

let nextStoreId = 1;

export class Message {
  readonly topic: string;
  /** Not reassigned except by compact(), which keeps the bytes. */
  payload: Buffer;
  readonly qos: QoS;
  retain: boolean;
  readonly properties: PublishProperties | undefined;
  /** Client id of the publisher; undefined for the broker's own ($SYS, wills have one). */
  readonly from: string | undefined;
  /** Username of the publisher, for check_retain_source. */
  readonly fromUsername: string | undefined;
  /**
   * Port of the listener a retained message's publisher came in on, 0 when unknown:
   * check_retain_source asks that listener's ACL (per_listener_settings), as Mosquitto.
   */
  fromPort = 0;
  /** Broker-wide id, used by persistence and stores. */
  readonly storeId: number;
  /** Unix ms after which the message expires (MQTT 5 message expiry), 0 for never. */
  expiresAt: number;
  /**
   * Persistence: the mark of the snapshot-and-journal generation that holds this message's
   * record, -1 for none. A field rather than a set of ids: a set that gains and loses an id
   * per message rehashes all the time, and its discarded tables are garbage the collector
   * has to promote and sweep.
   */
  journalMark = -1;
  /**
   * The MQTT 5 property bytes every receiver gets unchanged (user properties in their
   * order; no topic alias, expiry or subscription identifier): as they arrived, or built
   * from `properties` on first use.
   */
  private storedProps: Buffer | undefined;
  /** Encodings by key version*8 + qos*2 + retain (packet id 0; see publishIdOffset). */
  private encoded: (Buffer | undefined)[] | undefined;
  private firstKey = -1;
  private firstEncoded: Buffer | undefined;
  private compacted = false;

  constructor(
    topic: string,
    payload: Buffer,
    qos: QoS,
    retain: boolean,
    properties: PublishProperties | undefined,
    from: string | undefined,
    fromUsername: string | undefined,
    storeId?: number,
  ) {
    this.topic = topic;
    this.payload = payload;
    this.qos = qos;
    this.retain = retain;
    this.properties = properties;
    this.from = from;
    this.fromUsername = fromUsername;
    this.storeId = storeId ?? nextStoreId++;
    if (storeId !== undefined && storeId >= nextStoreId) nextStoreId = storeId + 1;
    const expiry = properties?.messageExpiryInterval;
    this.expiresAt = expiry !== undefined ? Date.now() + expiry * 1000 : 0;
  }

  /**
   * The PUBLISH for this message as a subscriber of `version` gets it, with packet id 0
   * for QoS > 0 (patch it with withMessageId). Properties other than the message's own
   * (subscription identifiers, topic alias, remaining expiry) bypass the cache.
   */
  encode(version: ProtocolVersion, qos: QoS, retain: boolean): Buffer {
    const key = version * 8 + qos * 2 + (retain ? 1 : 0);
    // Most messages go out in one form only: one slot first, the table when a second appears.
    if (key === this.firstKey) return this.firstEncoded!;
    if (this.firstKey === -1) {
      this.firstKey = key;
      this.firstEncoded = this.build(version, qos, retain);
      return this.firstEncoded;
    }
    if (this.encoded === undefined) this.encoded = new Array(48);
    let buf = this.encoded[key];
    if (buf === undefined) {
      buf = this.build(version, qos, retain);
      this.encoded[key] = buf;
    }
    return buf;
  }

  /**
   * For a message that is to stay a while (queued for a session that is away or behind):
   * its bytes in memory of their own size. A payload or wire form cut from a larger buffer
   * (a socket chunk of up to 64 KB, a slab of Node's 8 KB pool) keeps all of it alive, so
   * that a queue of 1,000 small messages could hold 8-64 MB (the soak's heap snapshots:
   * 6.4 KB per queued 16-byte payload). The cached encodings are dropped (rebuilt when
   * sent). Once per message.
   */
  compact(): void {
    if (this.compacted) return;
    this.compacted = true;
    this.payload = ownCopy(this.payload);
    if (this.storedProps !== undefined) this.storedProps = ownCopy(this.storedProps);
    this.firstKey = -1;
    this.firstEncoded = undefined;
    this.encoded = undefined;
  }

  /** The stored MQTT 5 property bytes (see storedProps). */
  storedProperties(): Buffer {
    return (this.storedProps ??= storedPublishPropertiesOf(this.properties));
  }

  /** The stored property bytes as the publisher sent them (net/connection.ts decodes them). */
  setStoredProperties(bytes: Buffer | undefined): void {
    this.storedProps = bytes;
  }

  /** The PUBLISH as it arrived (QoS 0, no retain, no DUP): reused for subscribers of that version. */
  setWireForm(version: ProtocolVersion, frame: Buffer): void {
    if (this.firstKey !== -1) return;
    this.firstKey = version * 8;
    this.firstEncoded = frame;
  }

  private build(version: ProtocolVersion, qos: QoS, retain: boolean): Buffer {
    if (version === 5) return encodePublishV5(this.topic, this.payload, qos, retain, false, 0, this.storedProperties());
    return encodePublish(this.topic, this.payload, qos, retain, false, 0, version);
  }
}

/** `b` itself if it has its memory to itself, else a copy that does. */
function ownCopy(b: Buffer): Buffer {
  if (b.length === 0 || (b.byteOffset === 0 && b.buffer.byteLength === b.length)) return b;
  const c = Buffer.allocUnsafeSlow(b.length);
  b.copy(c);
  return c;
}
