/**
 * Persistence as a broker plugin (mosquitto.conf: persistence, persistence_location,
 * persistence_file, autosave_interval, autosave_on_changes).
 *
 * Going beyond Mosquitto, which loses everything since its last autosave on a crash: every
 * change to a persistent session or to the retained messages is appended to a journal,
 * written before the socket writes of the same event-loop turn, so an acknowledged message
 * (PUBACK, PUBREC, SUBACK) is in the file before the client hears of it. The journal is
 * folded into a snapshot (atomic rename) every autosave_interval seconds (or after
 * autosave_on_changes changes), when it grows large, on SIGUSR1 and at shutdown.
 */
import fs from 'node:fs';
import type { BrokerConfig } from '../config/types.js';
import type { Message } from '../message.js';
import type { SubscriptionOptions } from '../router.js';
import { installState } from './install.js';
import { Journal } from './journal.js';
import { loadFile } from './load.js';
import {
  FileKind,
  RecordType,
  writeClientOnly,
  writeMessage,
  writeMid,
  writeMidMessage,
  writeOutgoing,
  writeRetain,
  writeRetainDelete,
  writeSession,
  writeSubscribe,
  writeUnsubscribe,
} from './records.js';
import { isSysTopic, writeSnapshot } from './snapshot.js';
import { PersistState } from './state.js';
import type { BrokerCore, BrokerPlugin, ClientContext, Outgoing, OutgoingEvent, Session } from '../core.js';

export type PersistenceConfig = Pick<
  BrokerConfig,
  'persistence' | 'persistenceFile' | 'persistenceLocation' | 'autosaveInterval' | 'autosaveOnChanges'
>;

export interface PersistencePlugin extends BrokerPlugin {
  /** Writes the snapshot now (SIGUSR1) and starts a fresh journal. */
  save(): void;
  readonly file: string;
  readonly journalFile: string;
  /** Journal writes and fdatasyncs so far (the metrics listener reads them); absent when persistence is off. */
  journalCounters?(): Readonly<Journal['counters']>;
}

export interface PersistenceTuning {
  /** Journal size that triggers a snapshot regardless of autosave settings. */
  journalCompactBytes?: number;
}

/** Mosquitto joins persistence_location and persistence_file with a slash. */
export function persistencePath(config: PersistenceConfig): string {
  const loc = config.persistenceLocation;
  return loc === null || loc === '' ? config.persistenceFile : `${loc}/${config.persistenceFile}`;
}

const DEFAULT_COMPACT_BYTES = 64 * 1024 * 1024;
/**
 * Records that only spare a duplicate after a crash (a QoS 1 message taken from the queue
 * into flight, a completed message) need not reach the file before the turn's packets:
 * they go with the next write that must, or after at most this long.
 */
const LAZY_MS = 50;
const RETRY_MS = 10_000;

export function createPersistencePlugin(config: PersistenceConfig, tuning: PersistenceTuning = {}): PersistencePlugin {
  const file = persistencePath(config);
  if (!config.persistence) return { file, journalFile: `${file}.journal`, save() {} };
  return new Persistence(config, file, tuning.journalCompactBytes ?? DEFAULT_COMPACT_BYTES);
}

class Persistence implements PersistencePlugin {
  readonly journalFile: string;
  journalCounters(): Readonly<Journal['counters']> {
    return this.journal.counters;
  }
  private broker: BrokerCore | undefined;
  private readonly journal: Journal;
  private generation = 0;
  /**
   * A message whose MESSAGE record is in the snapshot or the journal of this generation has
   * `journalMark === mark`. The mark is cleared when a session is done with the message; if
   * something refers to it again, the record is simply written again (replay keeps the last
   * copy). Every snapshot attempt takes a fresh mark, so one that failed half-way leaves
   * marks that match nothing.
   */
  private mark = 0;
  private marks = 0;
  /** Client ids with a SESSION record in the snapshot or the journal. */
  private sessions = new Set<string>();
  private changes = 0;
  private snapshotBytes = 0;
  private lastSave = Date.now();
  private lastAttempt = 0;
  private scheduled = false;
  /** A record that must be in the file before this turn's packets go out is waiting. */
  private strict = false;
  private lazyTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    if (this.strict) this.flushNow();
  };
  private readonly flushLazy = (): void => {
    this.lazyTimer = undefined;
    this.journal.flush();
  };

  constructor(
    private readonly config: PersistenceConfig,
    readonly file: string,
    private readonly compactBytes: number,
  ) {
    this.journalFile = `${file}.journal`;
    this.journal = new Journal(this.journalFile, (line) => this.broker?.log.error(line));
  }

  init(broker: BrokerCore): void {
    this.broker = broker;
    const log = broker.log;
    const report = (line: string | undefined): void => {
      if (line === undefined) return;
      if (line.startsWith('Error')) log.error(line);
      else log.warning(line);
    };
    const state = new PersistState();
    const snap = loadFile(this.file, FileKind.Snapshot, state, 0);
    report(snap.problem);
    const jl = loadFile(this.journalFile, FileKind.Journal, state, Math.max(snap.generation, 0));
    report(jl.problem);
    // What could not be read is kept beside the files for inspection: the save below replaces them.
    if (snap.damaged) keepCopy(this.file);
    if (jl.damaged) keepCopy(this.journalFile);
    this.generation = Math.max(snap.generation, jl.generation, 0);
    try {
      const counts = installState(broker, state, Date.now());
      if (snap.present || jl.present) {
        log.debug(`Restored ${counts.sessions} sessions and ${counts.retained} retained messages from ${this.file}.`);
      }
    } catch (e) {
      // Whatever was installed stays; the broker starts regardless.
      log.error(`Error: Unable to restore persistent database: ${(e as Error).message}.`);
    }
    // A fresh snapshot and journal: a torn tail is gone, and the journal starts small.
    this.snapshot(false);
  }

  stop(): void {
    if (this.stopped) return;
    this.save();
    this.stopped = true;
    if (this.lazyTimer !== undefined) clearTimeout(this.lazyTimer);
    this.journal.close();
  }

  /** Before each batch of socket writes: what this turn acknowledges is on disk first. */
  beforeFlush(): void {
    if (this.strict && !this.stopped && this.broker !== undefined) this.flushNow();
  }

  save(): void {
    if (this.stopped || this.broker === undefined) return;
    this.snapshot(true);
  }

  private snapshot(logIt: boolean): void {
    const broker = this.broker!;
    if (logIt) broker.log.info(`Saving in-memory database to ${this.file}.`);
    // If the snapshot fails, the journal must still hold everything.
    this.journal.flush();
    this.lastAttempt = Date.now();
    let result: ReturnType<typeof writeSnapshot>;
    try {
      result = writeSnapshot(this.file, broker, this.generation + 1, ++this.marks);
    } catch {
      broker.log.error(`Error saving in-memory database, unable to open ${this.file}.new for writing.`);
      return;
    }
    this.generation++;
    this.mark = this.marks;
    this.sessions = result.sessions;
    this.changes = 0;
    this.lastSave = Date.now();
    this.journal.restart(this.generation);
  }

  private flushNow(): void {
    this.strict = false;
    this.journal.flush();
  }

  /** The records just written go to the file before this turn's packets. */
  private schedule(): void {
    this.strict = true;
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flushSoon);
  }

  /**
   * The records just written go with the next strict write, or within LAZY_MS. Losing them
   * in a crash (kill -9) costs a duplicate delivery, never a message: the QUEUED record
   * before a dequeued one, and the INFLIGHT record before a DONE, were written strictly.
   */
  private scheduleLazy(): void {
    if (this.lazyTimer !== undefined) return;
    this.lazyTimer = setTimeout(this.flushLazy, LAZY_MS);
    this.lazyTimer.unref();
  }

  /** Writes the MESSAGE record unless this generation already has it. */
  private ref(msg: Message): void {
    if (msg.journalMark === this.mark) return;
    writeMessage(this.journal.writer, msg);
    msg.journalMark = this.mark;
  }

  private writeSessionRecord(session: Session): void {
    writeSession(this.journal.writer, session.clientId, session.expiryInterval, session.disconnectedAt, session.lastMid, session.username);
    this.sessions.add(session.clientId);
  }

  onClientConnected(client: ClientContext): void {
    const session = client.session;
    if (session === null) return;
    if (session.clean) {
      // A persistent session resumed as a clean one (MQTT 5, expiry 0) is no longer kept.
      if (!this.sessions.delete(session.clientId)) return;
      writeClientOnly(this.journal.writer, RecordType.SessionDelete, session.clientId);
    } else {
      this.writeSessionRecord(session);
    }
    this.schedule();
  }

  onClientDisconnected(client: ClientContext): void {
    const session = this.broker!.sessions.get(client.clientId);
    if (session === undefined || session.clean || session.client !== null || !this.sessions.has(session.clientId)) return;
    // The time it went away, for session expiry across restarts.
    this.writeSessionRecord(session);
    this.schedule();
  }

  onSessionDestroyed(session: Session): void {
    if (!this.sessions.delete(session.clientId)) return;
    writeClientOnly(this.journal.writer, RecordType.SessionDelete, session.clientId);
    this.schedule();
  }

  onSubscribe(session: Session, filter: string, options: SubscriptionOptions): void {
    if (session.clean) return;
    const sub = session.subscriptions.get(filter);
    if (!this.sessions.has(session.clientId)) this.writeSessionRecord(session);
    writeSubscribe(this.journal.writer, session.clientId, filter, sub?.treeFilter ?? filter, sub?.shareGroup, sub?.options ?? options);
    this.changes++;
    this.schedule();
  }

  onUnsubscribe(session: Session, filter: string): void {
    if (session.clean || !this.sessions.has(session.clientId)) return;
    writeUnsubscribe(this.journal.writer, session.clientId, filter);
    this.changes++;
    this.schedule();
  }

  onRetain(msg: Message): void {
    if (isSysTopic(msg.topic)) return;
    if (msg.payload.length === 0) writeRetainDelete(this.journal.writer, msg.topic);
    else {
      this.ref(msg);
      writeRetain(this.journal.writer, msg.topic, msg.storeId);
    }
    this.changes++;
    this.schedule();
  }

  onOutgoing(session: Session, out: Outgoing, event: OutgoingEvent): void {
    const id = session.clientId;
    if (!this.sessions.has(id)) {
      // A bridge's local session has no CONNECT to write its SESSION record: its first message does.
      if (this.stopped || this.broker!.sessions.bridgeSessions.get(id) !== session) return;
      this.writeSessionRecord(session);
    }
    const w = this.journal.writer;
    switch (event) {
      case 'queued':
        this.ref(out.msg);
        writeOutgoing(w, RecordType.Queued, id, out);
        this.changes++;
        break;
      case 'inflight':
        this.ref(out.msg);
        writeOutgoing(w, RecordType.Inflight, id, out);
        this.changes++;
        break;
      case 'dequeued':
        this.ref(out.msg);
        writeOutgoing(w, RecordType.Inflight, id, out);
        this.changes++;
        // Lost, the message is still queued after a restart and goes out again (QoS 1 allows
        // that). A QoS 2 message must not: its packet id has to survive.
        if (out.qos === 1) {
          this.scheduleLazy();
          return;
        }
        break;
      case 'pubrel':
        writeMid(w, RecordType.Pubrel, id, out.mid);
        break;
      case 'done':
        writeMidMessage(w, RecordType.Done, id, out.mid, out.msg.storeId);
        out.msg.journalMark = -1;
        // Lost, a QoS 1 message is sent again, which QoS 1 allows. QoS 0 must not repeat, and
        // a QoS 2 flow's end stays exact: strict.
        if (out.qos === 1) {
          this.scheduleLazy();
          return;
        }
        break;
    }
    this.schedule();
  }

  onIncoming(session: Session, mid: number, msg: Message | undefined): void {
    const id = session.clientId;
    if (!this.sessions.has(id)) return;
    if (msg !== undefined) {
      this.ref(msg);
      writeMidMessage(this.journal.writer, RecordType.Incoming, id, mid, msg.storeId);
    } else {
      writeMid(this.journal.writer, RecordType.Release, id, mid);
    }
    this.schedule();
  }

  onSweep(now: number): void {
    if (this.stopped) return;
    // After a failed save, try again now and then, not with an error line every second.
    if (now - this.lastAttempt < RETRY_MS && this.lastAttempt > this.lastSave) return;
    if (!this.journal.isOpen || this.journal.failed) {
      // Nothing is being journaled until a snapshot succeeds and reopens the journal.
      this.snapshot(false);
      return;
    }
    const interval = this.config.autosaveInterval;
    const due =
      interval > 0 &&
      (this.config.autosaveOnChanges ? this.changes >= interval : now - this.lastSave >= interval * 1000);
    if (due) this.snapshot(true);
    // A journal twice the snapshot's size (and at least compactBytes) is worth folding in:
    // the cost of a snapshot stays proportional to what the journal added.
    else if (this.journal.bytes >= Math.max(this.compactBytes, 2 * this.snapshotBytes)) this.snapshot(false);
    else this.journal.sync();
  }
}

function keepCopy(file: string): void {
  try {
    fs.renameSync(file, `${file}.corrupt`);
  } catch {
    // best effort: the broker starts either way
  }
}
