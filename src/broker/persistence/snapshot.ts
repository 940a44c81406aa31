/**
 * The snapshot: the whole persistent state written as records to `<file>.new`, synced,
 * then renamed over the file, so that the file is at every moment either the old snapshot
 * or the new one, never half of each.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Message } from '../message.js';
import { FrameWriter } from './frame.js';
import {
  FileKind,
  RecordType,
  writeEnd,
  writeHeader,
  writeMessage,
  writeMidMessage,
  writeOutgoing,
  writeRetain,
  writeSession,
  writeSubscribe,
} from './records.js';
import type { BrokerCore } from '../core.js';

/** Retained messages under $SYS are the broker's own and rebuilt at start, as Mosquitto does. */
export function isSysTopic(topic: string): boolean {
  return topic.startsWith('$SYS');
}

export interface SnapshotResult {
  /** Client ids of the persistent sessions in the snapshot. */
  sessions: Set<string>;
  records: number;
  /** Size of the file written. */
  bytes: number;
}

/**
 * Frames of at most about this size, each session starting a new one: damage to one frame
 * loses that frame and what follows, so smaller frames keep more of a damaged file.
 */
const CHUNK = 64 * 1024;

/**
 * Writes the snapshot of `generation`; every message written gets `journalMark = mark`
 * (the journal that follows need not write those again).
 */
export function writeSnapshot(file: string, broker: BrokerCore, generation: number, mark: number): SnapshotResult {
  const tmp = `${file}.new`;
  // 0600 as Mosquitto: the file holds other clients' messages.
  const fd = fs.openSync(tmp, 'w', 0o600);
  const w = new FrameWriter(CHUNK * 2);
  let pos = 0;
  let records = 0;
  const drain = (force: boolean): void => {
    if (w.length === 0 || (!force && w.length < CHUNK)) return;
    const data = w.data();
    let done = 0;
    while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, pos + done);
    pos += data.length;
    w.reset();
  };
  const sessions = new Set<string>();
  const ref = (msg: Message): void => {
    if (msg.journalMark === mark) return;
    writeMessage(w, msg);
    records++;
    msg.journalMark = mark;
  };
  try {
    writeHeader(w, FileKind.Snapshot, generation);
    drain(true);
    // Client sessions, then the bridges' local sessions (kept by the bridges, not in broker.sessions).
    for (const s of [...broker.sessions.values(), ...broker.sessions.bridgeSessions.values()]) {
      if (s.clean) continue;
      drain(true);
      sessions.add(s.clientId);
      writeSession(w, s.clientId, s.expiryInterval, s.disconnectedAt, s.lastMid, s.username);
      records++;
      for (const sub of s.subscriptions.values()) {
        writeSubscribe(w, s.clientId, sub.filter, sub.treeFilter, sub.shareGroup, sub.options);
        records++;
      }
      // In flight before queued: replaying an INFLIGHT record consumes the queue up to it.
      for (const out of s.inflight.values()) {
        ref(out.msg);
        writeOutgoing(w, RecordType.Inflight, s.clientId, out);
        records++;
        drain(false);
      }
      for (const out of s.queue.toArray()) {
        ref(out.msg);
        writeOutgoing(w, RecordType.Queued, s.clientId, out);
        records++;
        drain(false);
      }
      for (const [mid, msg] of s.incoming) {
        ref(msg);
        writeMidMessage(w, RecordType.Incoming, s.clientId, mid, msg.storeId);
        records++;
        drain(false);
      }
    }
    drain(true);
    for (const msg of broker.retained.all()) {
      if (isSysTopic(msg.topic)) continue;
      ref(msg);
      writeRetain(w, msg.topic, msg.storeId);
      records++;
      drain(false);
    }
    drain(true);
    writeEnd(w, records);
    drain(true);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  syncDirectory(path.dirname(file));
  return { sessions, records, bytes: pos };
}

/** Makes the rename itself durable (POSIX: the directory entry lives in the directory). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some platforms cannot open or sync a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
