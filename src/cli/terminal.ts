/**
 * Writing to the terminal. Output a script reads is written as is; colour (chalk) is used
 * only for error lines on a stderr that is a TTY with NO_COLOR unset, and chalk is loaded
 * only then, to keep start-up lean.
 */
import fs from 'node:fs';

type Painter = (s: string) => string;

const colourWanted =
  process.stderr.isTTY === true && (process.env.NO_COLOR === undefined || process.env.NO_COLOR === '');

// The decision is ours (a TTY, NO_COLOR unset): chalk's own detection would also switch
// colour off under CI=true or a bare TERM, so its level is set explicitly.
const red: Painter | undefined = colourWanted ? new (await import('chalk')).Chalk({ level: 1 }).red : undefined;

/** Colour the first line of an error message for a person at a terminal. */
export function errorLine(text: string): string {
  if (red === undefined) return text;
  const nl = text.indexOf('\n');
  if (nl < 0) return red(text);
  return red(text.slice(0, nl)) + text.slice(nl);
}

function writeAll(fd: number, data: string | Uint8Array): void {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue;
      // The reader went away (EPIPE): nothing more to say, as a C program killed by SIGPIPE.
      process.exit(code === 'EPIPE' ? 0 : 1);
    }
  }
}

/** Synchronous writes keep the order of stdout and stderr lines and survive process.exit(). */
export function writeOut(data: string | Uint8Array): void {
  writeAll(1, data);
}

export function writeErr(data: string | Uint8Array): void {
  writeAll(2, data);
}

/** Print an error line unless --quiet. */
export function report(cfg: { quiet: boolean }, text: string): void {
  if (!cfg.quiet) writeErr(errorLine(text));
}

/** A bad command line: the error, then Mosquitto's pointer to --help, and exit status 1. */
export function exitUsageError(program: string, text: string): never {
  writeErr(errorLine(text));
  writeErr(`\nUse '${program} --help' to see usage.\n`);
  process.exit(1);
}
