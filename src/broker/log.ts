/**
 * The broker's log, in Mosquitto's words and format: `TIMESTAMP: message`.
 * Callers test `log.enabled(type)` before formatting a line, so that disabled types cost
 * nothing on the message path.
 */
import fs from 'node:fs';

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

/** Where lines go. A destination receives the finished line without a newline. */
export interface LogSink {
  write(type: number, line: string): void;
  close?(): void;
}

export const stderrSink: LogSink = { write: (_t, line) => process.stderr.write(line + '\n') };
export const stdoutSink: LogSink = { write: (_t, line) => process.stdout.write(line + '\n') };

export function fileSink(path: string): LogSink {
  const fd = fs.openSync(path, 'a');
  return {
    write: (_t, line) => {
      try {
        fs.writeSync(fd, line + '\n');
      } catch {
        // a full disk must not take the broker down
      }
    },
    close: () => fs.closeSync(fd),
  };
}

export type TimestampFormatter = (now: Date) => string;

export class Log {
  /** Bitmask of enabled LogType values. */
  mask: number;
  sinks: LogSink[];
  timestamps = true;
  timestampFormat: TimestampFormatter | undefined;

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
    for (let i = 0; i < this.sinks.length; i++) this.sinks[i].write(type, line);
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
