/**
 * The append-only journal: records collect in memory during an event-loop turn and go to
 * the file with one write before that turn's socket writes (the plugin's beforeFlush
 * hook, which the broker runs as its connections' flush gate), so that no acknowledgement
 * reaches a client before the record of what it acknowledges is in the file. A write that
 * has returned survives the process (kill -9, a crash); fdatasync once a second bounds
 * what an operating-system crash can take.
 */
import fs from 'node:fs';
import { FrameWriter } from './frame.js';
import { FileKind, writeHeader } from './records.js';

export class Journal {
  readonly writer = new FrameWriter();
  /** Bytes in the file. */
  bytes = 0;
  private fd: number | undefined;
  private dirty = false;
  private syncing = false;
  /** Set after a failed write; cleared when a snapshot has captured the state again. */
  failed = false;
  /** For the metrics listener: write calls, bytes written, fdatasyncs and their total time. */
  readonly counters = { writes: 0, bytes: 0, syncs: 0, syncSeconds: 0 };

  constructor(
    readonly path: string,
    private readonly onError: (line: string) => void,
  ) {}

  get isOpen(): boolean {
    return this.fd !== undefined;
  }

  /** Empties the file and starts it with a header for `generation` (after a snapshot). */
  restart(generation: number): void {
    this.writer.reset();
    try {
      if (this.fd === undefined) this.fd = fs.openSync(this.path, 'w', 0o600);
      else fs.ftruncateSync(this.fd, 0);
      this.bytes = 0;
      this.failed = false;
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    writeHeader(this.writer, FileKind.Journal, generation);
    this.flush();
    this.sync();
  }

  /** Writes what collected since the last flush. */
  flush(): void {
    const w = this.writer;
    if (w.length === 0) return;
    const fd = this.fd;
    if (fd === undefined || this.failed) {
      w.reset();
      return;
    }
    const data = w.data();
    try {
      let done = 0;
      while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, this.bytes + done);
      this.bytes += data.length;
      this.dirty = true;
      this.counters.writes++;
      this.counters.bytes += data.length;
    } catch (e) {
      this.fail(e as Error);
    }
    w.reset();
  }

  /**
   * fdatasync if anything was written since the last one, in the thread pool: the event loop
   * goes on (writes made meanwhile are covered by the next one).
   */
  sync(): void {
    const fd = this.fd;
    if (!this.dirty || fd === undefined || this.syncing) return;
    this.dirty = false;
    this.syncing = true;
    const started = performance.now();
    fs.fdatasync(fd, (err) => {
      this.syncing = false;
      this.counters.syncs++;
      this.counters.syncSeconds += (performance.now() - started) / 1000;
      if (err !== null && this.fd === fd) this.fail(err);
    });
  }

  close(): void {
    this.flush();
    if (this.fd !== undefined) {
      try {
        if (this.dirty) fs.fdatasyncSync(this.fd);
      } catch {
        // reported by the snapshot written at shutdown, if that fails too
      }
      try {
        fs.closeSync(this.fd);
      } catch {
        // nothing left to do with it
      }
      this.fd = undefined;
    }
  }

  private fail(e: Error): void {
    if (!this.failed) this.onError(`Error: Unable to write persistence journal ${this.path}: ${e.message}.`);
    this.failed = true;
  }
}
