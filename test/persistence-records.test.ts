/**
 * The persistence record format: framing with length and CRC-32, every record type
 * round-tripping, torn and damaged records, and the replay rules of PersistState.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Message } from '../src/broker/message.js';
import { crc32, tableCrc32 } from '../src/broker/persistence/crc32.js';
import { FrameWriter, scanFrames, Utf8Cache } from '../src/broker/persistence/frame.js';
import { loadFile } from '../src/broker/persistence/load.js';
import {
  decodeRecord,
  FileKind,
  RecordType,
  writeClientOnly,
  writeEnd,
  writeHeader,
  writeMessage,
  writeMid,
  writeMidMessage,
  writeOutgoing,
  writeRetain,
  writeRetainDelete,
  writeSession,
  writeSubscribe,
  writeUnsubscribe,
} from '../src/broker/persistence/records.js';
import { PersistState } from '../src/broker/persistence/state.js';
import type { Outgoing } from '../src/broker/session.js';

function msg(topic: string, payload: string, qos: 0 | 1 | 2 = 1, storeId?: number): Message {
  return new Message(topic, Buffer.from(payload), qos, false, undefined, 'pub', undefined, storeId);
}

function out(m: Message, mid = 0, qos: 0 | 1 | 2 = 1): Outgoing {
  return { mid, msg: m, qos, retain: false, identifiers: undefined, state: 0 };
}

function decodeAll(w: FrameWriter) {
  const scan = scanFrames(Buffer.from(w.data()));
  expect(scan.problem).toBeUndefined();
  return scan.bodies.map(decodeRecord);
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('crc32', () => {
  it('computes the IEEE CRC-32 (zlib/gzip) both natively and by table', () => {
    const check = Buffer.from('123456789');
    expect(crc32(check)).toBe(0xcbf43926);
    expect(tableCrc32(check)).toBe(0xcbf43926);
    const random = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7919) & 0xff));
    expect(tableCrc32(random)).toBe(crc32(random));
  });
});

describe('records', () => {
  it('round-trips every record type', () => {
    const w = new FrameWriter(16);
    const props = { userProperties: { a: 'b', c: ['d', 'e'] }, correlationData: Buffer.from([0, 1, 255]), contentType: 'text/plain' };
    const m = new Message('a/ü/c', Buffer.from('payload'), 2, true, props, 'pubber', 'alice', 42);
    m.expiresAt = 1234567890123;
    m.fromPort = 1884;
    writeHeader(w, FileKind.Journal, 7);
    writeMessage(w, m);
    writeSession(w, 'client-ü', 3600, 1700000000000, 513, 'bob');
    writeSession(w, 'anon', 0, 0, 0, undefined);
    writeClientOnly(w, RecordType.SessionDelete, 'gone');
    writeSubscribe(w, 'c1', '$share/g/x/#', 'mnt/x/#', 'g', { qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2, identifier: 268435455 });
    writeUnsubscribe(w, 'c1', 'x/+');
    writeOutgoing(w, RecordType.Queued, 'c1', { mid: 0, msg: m, qos: 1, retain: true, identifiers: [1, 99], state: 0 });
    writeOutgoing(w, RecordType.Inflight, 'c1', { mid: 65535, msg: m, qos: 2, retain: false, identifiers: undefined, state: 1 });
    writeMid(w, RecordType.Pubrel, 'c1', 300);
    writeMidMessage(w, RecordType.Done, 'c1', 301, 42);
    writeMidMessage(w, RecordType.Incoming, 'c1', 302, 42);
    writeMid(w, RecordType.Release, 'c1', 302);
    writeRetain(w, 'r/t', 42);
    writeRetainDelete(w, 'r/u');
    writeEnd(w, 14);
    const recs = decodeAll(w);
    expect(recs.map((r) => r.t)).toEqual([
      'header', 'message', 'session', 'session', 'sessionDelete', 'subscribe', 'unsubscribe', 'queued',
      'inflight', 'pubrel', 'done', 'incoming', 'release', 'retain', 'retainDelete', 'end',
    ]);
    expect(recs[0]).toMatchObject({ kind: FileKind.Journal, generation: 7, version: 1 });
    expect(recs[1]).toEqual({
      t: 'message',
      m: { storeId: 42, topic: 'a/ü/c', payload: Buffer.from('payload'), qos: 2, retain: true, expiresAt: 1234567890123, from: 'pubber', fromUsername: 'alice', properties: props, fromPort: 1884 },
    });
    expect(recs[2]).toEqual({ t: 'session', clientId: 'client-ü', expiry: 3600, disconnectedAt: 1700000000000, lastMid: 513, username: 'bob' });
    expect(recs[3]).toMatchObject({ username: undefined });
    expect(recs[5]).toEqual({
      t: 'subscribe', clientId: 'c1', filter: '$share/g/x/#', treeFilter: 'mnt/x/#', shareGroup: 'g',
      options: { qos: 2, noLocal: true, retainAsPublished: true, retainHandling: 2, identifier: 268435455 },
    });
    expect(recs[7]).toEqual({ t: 'queued', clientId: 'c1', out: { storeId: 42, mid: 0, qos: 1, retain: true, state: 0, identifiers: [1, 99] } });
    expect(recs[8]).toEqual({ t: 'inflight', clientId: 'c1', out: { storeId: 42, mid: 65535, qos: 2, retain: false, state: 1, identifiers: undefined } });
    expect(recs[10]).toEqual({ t: 'done', clientId: 'c1', mid: 301, storeId: 42 });
    expect(recs[13]).toEqual({ t: 'retain', topic: 'r/t', storeId: 42 });
  });

  /** One frame per write, as the journal writes one per event-loop turn. */
  function frames(...writes: ((w: FrameWriter) => void)[]): Buffer {
    const w = new FrameWriter();
    const out: Buffer[] = [];
    for (const write of writes) {
      write(w);
      out.push(Buffer.from(w.data()));
      w.reset();
    }
    return Buffer.concat(out);
  }

  it('keeps the whole frames before a torn one, at every cut point', () => {
    const full = frames(
      (w) => writeHeader(w, FileKind.Journal, 1),
      (w) => {
        writeMessage(w, msg('t', 'x'.repeat(100), 1, 5));
        writeRetain(w, 't', 5);
      },
      (w) => writeRetainDelete(w, 't'),
    );
    const all = scanFrames(full);
    expect(all.bodies).toHaveLength(4);
    const recordsAt = new Map<number, number>([[0, 0]]);
    // Frame boundaries: after the header frame (1 record), the pair (3), the delete (4).
    let pos = 0;
    for (const [n, records] of [[1, 1], [2, 3], [1, 4]] as const) {
      for (let i = 0; i < n; i++) pos += 4 + all.bodies[records - n + i].length;
      pos += 8;
      recordsAt.set(pos, records);
    }
    expect(pos).toBe(full.length);
    let lastWhole = 0;
    for (let cut = 0; cut < full.length; cut++) {
      if (recordsAt.has(cut)) lastWhole = cut;
      const scan = scanFrames(full.subarray(0, cut));
      expect(scan.bodies).toHaveLength(recordsAt.get(lastWhole)!);
      expect(scan.validBytes).toBe(lastWhole);
      expect(scan.problem).toBe(recordsAt.has(cut) ? undefined : 'torn');
    }
  });

  it('stops at a frame whose checksum does not match', () => {
    const header = frames((w) => writeHeader(w, FileKind.Snapshot, 1));
    const buf = Buffer.concat([
      header,
      frames((w) => {
        writeMessage(w, msg('t', 'hello', 1, 9));
        writeRetain(w, 't', 9);
      }),
    ]);
    buf[header.length + 8 + 14] ^= 0x40; // a byte inside the MESSAGE record
    const scan = scanFrames(buf);
    expect(scan.bodies).toHaveLength(1);
    expect(scan.problem).toBe('checksum');
    expect(scan.validBytes).toBe(header.length);
  });

  it('refuses a frame whose checksum matches but whose record lengths do not add up', () => {
    const w = new FrameWriter();
    writeHeader(w, FileKind.Journal, 1);
    const frame = Buffer.from(w.data());
    frame.writeUInt32LE(frame.readUInt32LE(8) + 1, 8); // the record claims one byte more
    frame.writeUInt32LE(crc32(frame.subarray(8)), 4);
    expect(scanFrames(frame)).toMatchObject({ bodies: [], problem: 'checksum', validBytes: 0 });
  });

  it('treats a zeroed tail as damage, not as records', () => {
    const w = new FrameWriter();
    writeHeader(w, FileKind.Journal, 1);
    const buf = Buffer.concat([w.data(), Buffer.alloc(100)]);
    const scan = scanFrames(buf);
    expect(scan.bodies).toHaveLength(1);
    expect(scan.problem).toBe('checksum');
  });
});

describe('PersistState replay', () => {
  function replay(build: (w: FrameWriter) => void): PersistState {
    const w = new FrameWriter();
    build(w);
    const state = new PersistState();
    for (const r of decodeAll(w)) state.apply(r);
    return state;
  }

  it('moves queued messages in flight from the head, skipping those sent without a record', () => {
    const a = msg('q', 'a', 0, 101);
    const b = msg('q', 'b', 1, 102);
    const c = msg('q', 'c', 1, 103);
    const state = replay((w) => {
      writeSession(w, 's', 0, 5, 0, undefined);
      for (const m of [a, b, c]) writeMessage(w, m);
      writeOutgoing(w, RecordType.Queued, 's', out(a, 0, 0));
      writeOutgoing(w, RecordType.Queued, 's', out(b));
      writeOutgoing(w, RecordType.Queued, 's', out(c));
      // a went out at QoS 0 (no record), then b went in flight as mid 7.
      writeOutgoing(w, RecordType.Inflight, 's', out(b, 7));
      writeMid(w, RecordType.Pubrel, 's', 7);
    });
    const s = state.sessions.get('s')!;
    expect(PersistState.liveQueue(s).map((o) => o.storeId)).toEqual([103]);
    expect([...s.inflight.keys()]).toEqual([7]);
    expect(s.inflight.get(7)!.state).toBe(1);
    expect(s.lastMid).toBe(7);
  });

  it('a DONE without packet id removes that message from the queue (sent at QoS 0, or expired)', () => {
    const a = msg('q', 'a', 0, 401);
    const b = msg('q', 'b', 0, 402);
    const state = replay((w) => {
      writeSession(w, 's', 0, 0, 0, undefined);
      writeMessage(w, a);
      writeMessage(w, b);
      writeOutgoing(w, RecordType.Queued, 's', out(a, 0, 0));
      writeOutgoing(w, RecordType.Queued, 's', out(b, 0, 0));
      writeMidMessage(w, RecordType.Done, 's', 0, 402);
    });
    expect(PersistState.liveQueue(state.sessions.get('s')!).map((o) => o.storeId)).toEqual([401]);
  });

  it('a message sent in flight directly means the queue was empty', () => {
    const a = msg('q', 'a', 0, 201);
    const b = msg('q', 'b', 1, 202);
    const state = replay((w) => {
      writeSession(w, 's', 0, 0, 0, undefined);
      writeMessage(w, a);
      writeMessage(w, b);
      writeOutgoing(w, RecordType.Queued, 's', out(a, 0, 0));
      writeOutgoing(w, RecordType.Inflight, 's', out(b, 1));
      writeMidMessage(w, RecordType.Done, 's', 1, 202);
    });
    const s = state.sessions.get('s')!;
    expect(PersistState.liveQueue(s)).toEqual([]);
    expect(s.inflight.size).toBe(0);
  });

  it('forgets a deleted session, its later records, unsubscribed filters, released QoS 2 and deleted retained', () => {
    const m = msg('x', 'y', 2, 301);
    const state = replay((w) => {
      writeSession(w, 'keep', 60, 0, 0, 'u');
      writeSession(w, 'gone', 0, 0, 0, undefined);
      writeSubscribe(w, 'keep', 'a', 'a', undefined, { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, identifier: 0 });
      writeSubscribe(w, 'keep', 'b', 'b', undefined, { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, identifier: 0 });
      writeUnsubscribe(w, 'keep', 'a');
      writeMessage(w, m);
      writeMidMessage(w, RecordType.Incoming, 'keep', 10, 301);
      writeMidMessage(w, RecordType.Incoming, 'keep', 11, 301);
      writeMid(w, RecordType.Release, 'keep', 10);
      writeClientOnly(w, RecordType.SessionDelete, 'gone');
      writeOutgoing(w, RecordType.Queued, 'gone', out(m));
      writeRetain(w, 'r1', 301);
      writeRetain(w, 'r2', 301);
      writeRetainDelete(w, 'r1');
    });
    expect([...state.sessions.keys()]).toEqual(['keep']);
    const s = state.sessions.get('keep')!;
    expect([...s.subscriptions.keys()]).toEqual(['b']);
    expect([...s.incoming.entries()]).toEqual([[11, 301]]);
    expect([...state.retained.keys()]).toEqual(['r2']);
  });
});

describe('loadFile', () => {
  function tmpFile(name: string, data: Buffer): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'persist-rec-'));
    dirs.push(dir);
    const file = path.join(dir, name);
    fs.writeFileSync(file, data);
    return file;
  }

  it('reports a snapshot without its end record as damaged and keeps what precedes it', () => {
    const w = new FrameWriter();
    writeHeader(w, FileKind.Snapshot, 3);
    writeSession(w, 's', 0, 0, 0, undefined);
    const file = tmpFile('db', Buffer.from(w.data()));
    const state = new PersistState();
    const r = loadFile(file, FileKind.Snapshot, state, 0);
    expect(r.generation).toBe(3);
    expect(r.damaged).toBe(true);
    expect(r.problem).toMatch(/^Warning: Persistence file .* is damaged at byte \d+ of \d+ \(a missing end\); restored the 1 records before it\.$/);
    expect(state.sessions.has('s')).toBe(true);
  });

  it('skips a journal older than the snapshot, and refuses a file of another format', () => {
    const w = new FrameWriter();
    writeHeader(w, FileKind.Journal, 2);
    writeSession(w, 's', 0, 0, 0, undefined);
    const state = new PersistState();
    const r = loadFile(tmpFile('j', Buffer.from(w.data())), FileKind.Journal, state, 3);
    expect(r.records).toBe(0);
    expect(state.sessions.size).toBe(0);

    const mosq = Buffer.concat([Buffer.from([0x00, 0xb5, 0x00]), Buffer.from('mosquitto db'), Buffer.alloc(40, 1)]);
    const bad = loadFile(tmpFile('mosquitto.db', mosq), FileKind.Snapshot, state, 0);
    expect(bad.damaged).toBe(true);
    expect(bad.problem).toMatch(/^Error: Unable to restore persistent database\. Unrecognised file format/);
  });
});

describe('the journal name cache', () => {
  it('holds each client id or topic in exact-size memory, not in a slab of the shared Buffer pool (a soak of new client ids grew RSS by 8 KB a name)', () => {
    const cache = new Utf8Cache(16);
    const names = Array.from({ length: 20 }, (_, i) => `soak-c-${i}-é`);
    for (const n of names) {
      const b = cache.get(n);
      expect(b.toString('utf8')).toBe(n);
      expect(b.buffer.byteLength).toBe(Buffer.byteLength(n));
      // Interleaved short-lived allocations must not share its memory.
      Buffer.from('transient');
    }
    expect(cache.get(names[19])).toBe(cache.get(names[19]));
  });
});
