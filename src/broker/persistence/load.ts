/**
 * Reading the snapshot and the journal at start-up. A file that is damaged, cut short or
 * not ours is reported in one line and what precedes the damage is kept: the broker always
 * starts (issue 5: "never crashes").
 */
import fs from 'node:fs';
import { scanFrames } from './frame.js';
import { decodeRecord, FORMAT_VERSION, MAGIC, FileKind, type PersistRecord } from './records.js';
import type { PersistState } from './state.js';

export interface FileLoad {
  /** The file exists and is not empty. */
  present: boolean;
  /** Generation from the header, or -1 when the file had no readable header. */
  generation: number;
  /** Records applied. */
  records: number;
  /** One log line describing damage, or undefined if the file read cleanly. */
  problem: string | undefined;
  /** The file held something of ours that could not be read: keep a copy before overwriting it. */
  damaged: boolean;
}

function readFile(path: string): Buffer | undefined | Error {
  try {
    return fs.readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return err.code === 'ENOENT' ? undefined : err;
  }
}

/**
 * Applies the records of one file to `state`. The journal is applied only if its
 * generation is at least `minGeneration` (an older one was already folded into the
 * snapshot: the broker died between writing the snapshot and truncating the journal).
 */
export function loadFile(path: string, kind: number, state: PersistState, minGeneration: number): FileLoad {
  const what = kind === FileKind.Snapshot ? 'Persistence file' : 'Persistence journal';
  const result: FileLoad = { present: false, generation: -1, records: 0, problem: undefined, damaged: false };
  const data = readFile(path);
  if (data === undefined) return result;
  if (data instanceof Error) {
    result.problem = `Error: Unable to read ${what.toLowerCase()} ${path}: ${data.message}.`;
    return result;
  }
  if (data.length === 0) {
    // Mosquitto's words for an empty database; an empty journal is normal.
    if (kind === FileKind.Snapshot) result.problem = 'Warning: Persistence file is empty.';
    return result;
  }
  result.present = true;
  const scan = scanFrames(data);
  let header: PersistRecord | undefined;
  try {
    header = scan.bodies.length > 0 ? decodeRecord(scan.bodies[0]) : undefined;
  } catch {
    header = undefined;
  }
  if (header === undefined || header.t !== 'header' || header.magic !== MAGIC || header.kind !== kind) {
    result.damaged = true;
    result.problem = `Error: Unable to restore persistent database. Unrecognised file format (${path}).`;
    return result;
  }
  if (header.version !== FORMAT_VERSION) {
    result.damaged = true;
    result.problem = `Error: Unsupported persistent database format version ${header.version} (need version ${FORMAT_VERSION}).`;
    return result;
  }
  result.generation = header.generation;
  if (header.generation < minGeneration) return result;

  let ended = false;
  let bad: string | undefined;
  for (let i = 1; i < scan.bodies.length; i++) {
    const body = scan.bodies[i];
    let rec: PersistRecord;
    try {
      rec = decodeRecord(body);
    } catch {
      bad = 'an unreadable record';
      break;
    }
    if (rec.t === 'end') {
      ended = true;
      break;
    }
    state.apply(rec);
    result.records++;
  }
  if (bad === undefined && scan.problem !== undefined) bad = scan.problem === 'torn' ? 'a torn record' : 'a bad checksum';
  if (bad === undefined && kind === FileKind.Snapshot && !ended) bad = 'a missing end';
  if (bad !== undefined) {
    // A torn last journal record is what a crash mid-write leaves: nothing to keep a copy of.
    result.damaged = kind === FileKind.Snapshot || scan.problem !== 'torn';
    result.problem =
      `Warning: ${what} ${path} is damaged at byte ${scan.validBytes} of ${data.length} (${bad}); ` +
      `restored the ${result.records} records before it.`;
  }
  return result;
}
