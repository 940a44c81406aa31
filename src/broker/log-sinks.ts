/**
 * Where log lines go (log_dest in mosquitto.conf(5)): stderr, stdout, a file, syslog and
 * the $SYS/broker/log/<X> topics. Each sink gets the finished line (with its timestamp)
 * and the bare message (syslog adds its own header).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { LogType, batchedSink, type LogPublisher, type LogSink } from './log.js';

export type { LogPublisher } from './log.js';

export { stderrSink } from './log.js';
export const stdoutSink: LogSink = batchedSink((text) => process.stdout.write(text));

/** Thrown when `log_dest file` cannot be opened; Mosquitto logs it and runs on. */
export class LogFileError extends Error {}

/** log_dest file PATH: appended to, as Mosquitto ("a" mode), one write per line. */
export function fileSink(path: string): LogSink {
  let fd: number;
  try {
    fd = fs.openSync(path, 'a');
  } catch {
    throw new LogFileError(`Error: Unable to open log file ${path} for writing.`);
  }
  // One write per line, unlike stderr and stdout: a file is what is read after a crash
  // (kill -9 loses nothing), and what tools tail while the broker runs.
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

/**
 * The topic and syslog severity of each log type, as Mosquitto: $SYS/broker/log/E, W, N,
 * I, D, M/subscribe, M/unsubscribe, WS.
 */
export function logTopicAndSeverity(type: number): [string, number] {
  switch (type) {
    case LogType.Error: return ['$SYS/broker/log/E', 3];
    case LogType.Warning: return ['$SYS/broker/log/W', 4];
    case LogType.Notice: return ['$SYS/broker/log/N', 5];
    case LogType.Info: return ['$SYS/broker/log/I', 6];
    case LogType.Debug: return ['$SYS/broker/log/D', 7];
    case LogType.Subscribe: return ['$SYS/broker/log/M/subscribe', 5];
    case LogType.Unsubscribe: return ['$SYS/broker/log/M/unsubscribe', 5];
    case LogType.Websockets: return ['$SYS/broker/log/WS', 7];
    default: return ['$SYS/broker/log/E', 3];
  }
}

/** A sink that needs the broker it logs for (log_dest topic). */
export interface AttachableSink extends LogSink {
  attach(publish: LogPublisher): void;
}

/**
 * log_dest topic: each line, timestamp included, is published to $SYS/broker/log/<X>.
 * Debug lines are not (Mosquitto leaves them out: each would log another debug line).
 * A line logged while one is being published is dropped rather than recursing.
 */
export function topicSink(): AttachableSink {
  let publish: LogPublisher | undefined;
  let busy = false;
  return {
    attach(p) {
      publish = p;
    },
    write(type, line) {
      if (publish === undefined || busy || type === LogType.Debug) return;
      busy = true;
      try {
        publish(logTopicAndSeverity(type)[0], line);
      } finally {
        busy = false;
      }
    },
  };
}

/** syslog(3) facility numbers: daemon, and local0..local7 for log_facility 0..7. */
export function syslogFacility(logFacility: number | null): number {
  return logFacility === null ? 3 : 16 + logFacility;
}

const SYSLOG_BACKLOG = 1024 * 1024;

export interface SyslogOptions {
  /** syslog facility number (3 daemon, 16..23 local0..7). */
  facility: number;
  /** The socket to write to; /dev/log by default. */
  socketPath?: string;
  /** The ident; "mosquitto" as Mosquitto's openlog(). */
  tag?: string;
  /** The logger program; `logger` from util-linux. */
  program?: string;
}

/**
 * log_dest syslog. Node cannot send unix datagrams, so one `logger` (util-linux) process is
 * kept open and fed a line per message, each prefixed with its priority `<facility*8+severity>`
 * (--prio-prefix); logger writes the datagram `<PRI>Mmm dd hh:mm:ss mosquitto[pid]: message`
 * to /dev/log as syslog(3) would. Lines are dropped, never buffered without bound, when
 * logger falls behind or is missing; a missing /dev/log is silently ignored.
 */
export function syslogSink(opts: SyslogOptions): LogSink {
  const args = [
    '--prio-prefix',
    '--socket-errors=off',
    '-d',
    '-u',
    opts.socketPath ?? '/dev/log',
    '-t',
    opts.tag ?? 'mosquitto',
    `--id=${process.pid}`,
  ];
  let child: ChildProcess | undefined;
  let failed = false;
  const start = (): ChildProcess | undefined => {
    if (failed) return undefined;
    try {
      const c = spawn(opts.program ?? 'logger', args, { stdio: ['pipe', 'ignore', 'ignore'] });
      c.on('error', () => {
        failed = true;
        child = undefined;
      });
      c.on('exit', () => {
        if (child === c) child = undefined;
      });
      c.stdin!.on('error', () => {});
      // The broker's exit must not wait for logger.
      c.unref();
      (c.stdin as unknown as { unref?: () => void }).unref?.();
      return c;
    } catch {
      failed = true;
      return undefined;
    }
  };
  return {
    write(type, _line, message) {
      child ??= start();
      const stdin = child?.stdin;
      if (stdin == null || stdin.destroyed || stdin.writableLength > SYSLOG_BACKLOG) return;
      const pri = opts.facility * 8 + logTopicAndSeverity(type)[1];
      // One line per message: an embedded newline would start a new, unprefixed entry.
      stdin.write(`<${pri}>${(message ?? _line).replace(/\n/g, ' ')}\n`);
    },
    close() {
      const c = child;
      child = undefined;
      c?.stdin?.end();
    },
  };
}
