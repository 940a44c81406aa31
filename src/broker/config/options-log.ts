/**
 * Logging options: log_dest, log_type, log_timestamp, log_timestamp_format, log_facility,
 * connection_messages, websockets_log_level.
 */
import { emptyValue, OptionError, unsupportedOption } from './errors.js';
import { ALL_LOG_TYPES } from './defaults.js';
import type { OptionTable } from './option-handler.js';
import type { ParseState } from './state.js';
import type { LogDestination, LogType } from './types.js';
import { type LineTokens, parseBool, parseInt32, parseString } from './values.js';

const LOG_TYPES = new Set<string>(ALL_LOG_TYPES);
const SIMPLE_DESTS = new Set<string>(['stderr', 'stdout', 'syslog', 'topic']);

function addDest(st: ParseState, d: LogDestination): void {
  if (!st.config.log.dest.includes(d)) st.config.log.dest.push(d);
}

function logDest(st: ParseState, t: LineTokens, name: string): void {
  const w = t.next();
  if (w === null) throw emptyValue(name);
  const log = st.config.log;
  // The first log_dest replaces the default (stderr); later ones add to it.
  if (!st.markSet(log, 'log_dest')) log.dest = [];
  if (w === 'none') {
    log.dest = [];
    return;
  }
  if (SIMPLE_DESTS.has(w)) {
    addDest(st, w as LogDestination);
    return;
  }
  if (w === 'file') {
    const rest = t.rest();
    const path = rest === null ? '' : rest.trim();
    if (log.file !== null) throw new OptionError('Error: Duplicate "log_dest file" value.');
    if (path.length === 0) throw new OptionError('Error: Empty "log_dest file" value in configuration.');
    log.file = path;
    addDest(st, 'file');
    return;
  }
  if (w === 'dlt') throw unsupportedOption('log_dest dlt', 'the Diagnostic Log and Trace library is not available');
  throw new OptionError(`Error: Invalid log_dest value (${w}).`);
}

function logType(st: ParseState, t: LineTokens, name: string): void {
  const w = t.next();
  // Mosquitto reports this one and starts anyway.
  if (w === null) return st.emptyNonFatal(name);
  const log = st.config.log;
  if (w !== 'none' && w !== 'all' && !LOG_TYPES.has(w)) {
    throw new OptionError(`Error: Invalid log_type value (${w}).`);
  }
  // The first log_type replaces the defaults (error, warning, notice, information).
  if (!st.logTypeSet) {
    st.logTypeSet = true;
    log.types = [];
  }
  if (w === 'none') log.types = [];
  else if (w === 'all') log.types = [...ALL_LOG_TYPES];
  else if (!log.types.includes(w as LogType)) log.types.push(w as LogType);
}

export const logOptions: OptionTable = {
  log_dest: logDest,
  log_type: logType,
  log_timestamp: (st, t, name) => {
    st.config.log.timestamp = parseBool(t, name);
  },
  log_timestamp_format: (st, t, name) => {
    const log = st.config.log;
    log.timestampFormat = parseString(t, name, st.markSet(log, name));
  },
  log_facility: (st, t, name) => {
    const v = parseInt32(t, name);
    if (v < 0 || v > 7) throw new OptionError(`Error: Invalid log_facility value (${v}).`);
    st.config.log.facility = v;
  },
  connection_messages: (st, t, name) => {
    st.config.log.connectionMessages = parseBool(t, name);
  },
};
