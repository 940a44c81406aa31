/**
 * The broker's log, in Mosquitto's words and format: `TIMESTAMP: message`.
 * Callers test `log.enabled(type)` before formatting a line, so that disabled types cost
 * nothing on the message path.
 */

/** Publishes a log line into the broker (log_dest topic; QoS, retain as Mosquitto: 2, not retained). */
export type LogPublisher = (topic: string, payload: string) => void;

export const LogType = {
  Info: 0x01,
  Notice: 0x02,
  Warning: 0x04,
  Error: 0x08,
  Debug: 0x10,
  Subscribe: 0x20,
  Unsubscribe: 0x40,
  Websockets: 0x80,
} as const;
export type LogTypeBit = (typeof LogType)[keyof typeof LogType];

export const LOG_ALL = 0xff;
/** Mosquitto's default: error, warning, notice and information. */
export const LOG_DEFAULT = LogType.Error | LogType.Warning | LogType.Notice | LogType.Info;

export function logTypeFromName(name: string): number | undefined {
  switch (name) {
    case 'debug': return LogType.Debug;
    case 'error': return LogType.Error;
    case 'warning': return LogType.Warning;
    case 'notice': return LogType.Notice;
    case 'information': return LogType.Info;
    case 'subscribe': return LogType.Subscribe;
    case 'unsubscribe': return LogType.Unsubscribe;
    case 'websockets': return LogType.Websockets;
    case 'none': return 0;
    case 'all': return LOG_ALL;
    default: return undefined;
  }
}

/** Where lines go: `line` is finished (timestamp included, no newline), `message` is bare. */
export interface LogSink {
  write(type: number, line: string, message?: string): void;
  close?(): void;
  /** log_dest topic: given the broker's publish function once the broker exists. */
  attach?(publish: LogPublisher): void;
}

/** A sink whose lines go out together once per event-loop turn (batchedSink). */
export interface BatchedSink extends LogSink {
  flush(): void;
}

/** Lines waiting beyond this are written at once rather than at the end of the turn. */
const BATCH_LIMIT = 64 * 1024;
const unflushed = new Set<BatchedSink>();
let exitHooked = false;

/**
 * Lines written once per event-loop turn, as socket writes are: a connect storm logs two
 * lines per client, and a write(2) per line cost more than the rest of the connect. What
 * is pending goes out when the process exits, too.
 */
export function batchedSink(out: (text: string) => void, onClose?: () => void): BatchedSink {
  let pending = '';
  let scheduled = false;
  const sink: BatchedSink = {
    write(_t, line) {
      pending += line + '\n';
      if (pending.length > BATCH_LIMIT) sink.flush();
      else if (!scheduled) {
        scheduled = true;
        unflushed.add(sink);
        setImmediate(sink.flush);
      }
    },
    flush() {
      scheduled = false;
      unflushed.delete(sink);
      if (pending === '') return;
      const text = pending;
      pending = '';
      out(text);
    },
    close() {
      sink.flush();
      onClose?.();
    },
  };
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const s of [...unflushed]) s.flush();
    });
  }
  return sink;
}

/** The default destination; the others are in log-sinks.ts. */
export const stderrSink: BatchedSink = batchedSink((text) => process.stderr.write(text));

export type TimestampFormatter = (now: Date) => string;

export class Log {
  /** Bitmask of enabled LogType values. */
  mask: number;
  sinks: LogSink[];
  timestamps = true;
  timestampFormat: TimestampFormatter | undefined;
  /** connection_messages: false hides the connect and disconnect lines, as Mosquitto. */
  connectionMessages = true;
  private publisher: LogPublisher | undefined;

  constructor(mask: number = LOG_DEFAULT, sinks: LogSink[] = [stderrSink]) {
    this.mask = mask;
    this.sinks = sinks;
  }

  enabled(type: number): boolean {
    return (this.mask & type) !== 0 && this.sinks.length > 0;
  }

  write(type: number, message: string): void {
    if ((this.mask & type) === 0) return;
    let line = message;
    if (this.timestamps) {
      const prefix =
        this.timestampFormat !== undefined
          ? this.timestampFormat(new Date())
          : String(Math.floor(Date.now() / 1000));
      line = prefix + ': ' + message;
    }
    for (let i = 0; i < this.sinks.length; i++) this.sinks[i].write(type, line, message);
  }

  /** True when connect/disconnect lines of this type are to be written. */
  connectionEnabled(type: number): boolean {
    return this.connectionMessages && (this.mask & type) !== 0;
  }

  /** Gives sinks that publish (log_dest topic) the broker's publish function. */
  attach(publish: LogPublisher): void {
    this.publisher = publish;
    for (const s of this.sinks) s.attach?.(publish);
  }

  /**
   * Takes over another log's settings and destinations (SIGHUP reload); the old
   * destinations are closed. Callers keep their reference to this Log.
   */
  replaceWith(other: Log): void {
    const old = this.sinks;
    this.mask = other.mask;
    this.sinks = other.sinks;
    this.timestamps = other.timestamps;
    this.timestampFormat = other.timestampFormat;
    this.connectionMessages = other.connectionMessages;
    if (this.publisher !== undefined) for (const s of this.sinks) s.attach?.(this.publisher);
    for (const s of old) if (!this.sinks.includes(s)) s.close?.();
  }

  info(message: string): void {
    this.write(LogType.Info, message);
  }
  notice(message: string): void {
    this.write(LogType.Notice, message);
  }
  warning(message: string): void {
    this.write(LogType.Warning, message);
  }
  error(message: string): void {
    this.write(LogType.Error, message);
  }
  debug(message: string): void {
    this.write(LogType.Debug, message);
  }

  close(): void {
    for (const s of this.sinks) s.close?.();
  }
}
