/**
 * Reading a password from standard input, as mosquitto_passwd does: on a terminal the
 * typed characters are not echoed; from a pipe the lines are read as they come, so
 * `printf 'pw\npw\n' | ts-mosquitto_passwd file user` works as it does with Mosquitto.
 *
 * On a terminal we switch to raw mode and do the line editing ourselves (Backspace,
 * Ctrl-U); Ctrl-C restores the terminal and then dies of SIGINT like a C program would,
 * Ctrl-D on an empty line is end of input.
 */
import type { ReadStream } from 'node:tty';

/** Longest line kept; anything longer can never be a valid MQTT password anyway. */
const MAX_LINE_BYTES = 65536 * 4;

export class PasswordReader {
  private readonly input: NodeJS.ReadStream;
  private readonly tty: boolean;
  private buffered = '';
  private ended = false;
  private waiting: (() => void) | undefined;
  private started = false;
  private overflow = false;

  constructor(input: NodeJS.ReadStream = process.stdin) {
    this.input = input;
    this.tty = input.isTTY === true;
  }

  /** Write the prompt to stdout, read one line; null at end of input with nothing typed. */
  async read(prompt: string, out: (s: string) => void): Promise<string | null> {
    // Echo goes off before the prompt appears, so nothing typed after it is ever shown.
    this.start();
    out(prompt);
    for (;;) {
      const line = this.takeLine();
      if (line !== undefined) {
        out('\n');
        return line;
      }
      if (this.ended) {
        if (this.buffered.length > 0) {
          const rest = this.buffered;
          this.buffered = '';
          out('\n');
          return rest;
        }
        return null;
      }
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  /** Give the terminal back (echo on) and stop reading. */
  close(): void {
    if (!this.started) return;
    this.started = false;
    this.input.removeAllListeners('data');
    this.input.removeAllListeners('end');
    if (this.tty) (this.input as ReadStream).setRawMode(false);
    this.input.pause();
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    if (this.tty) (this.input as ReadStream).setRawMode(true);
    this.input.setEncoding('utf8');
    this.input.on('data', (chunk: string) => this.onData(chunk));
    this.input.on('end', () => {
      this.ended = true;
      this.wake();
    });
    this.input.resume();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  private onData(chunk: string): void {
    if (!this.tty) {
      this.append(chunk);
    } else {
      for (const ch of chunk) {
        const c = ch.charCodeAt(0);
        if (c === 0x03) {
          // Ctrl-C: the terminal is raw, so no signal was sent; restore echo first.
          this.close();
          process.stdout.write('\n');
          process.kill(process.pid, 'SIGINT');
          return;
        }
        if (c === 0x04) {
          // Ctrl-D: end of input on an empty line, otherwise ignored (as a canonical tty).
          if (this.currentLineEmpty()) {
            this.ended = true;
            break;
          }
          continue;
        }
        if (c === 0x7f || c === 0x08) {
          if (!this.currentLineEmpty()) this.buffered = this.buffered.slice(0, -1);
          continue;
        }
        if (c === 0x15) {
          // Ctrl-U: forget the line typed so far.
          const nl = this.buffered.lastIndexOf('\n');
          this.buffered = this.buffered.slice(0, nl + 1);
          continue;
        }
        this.append(ch === '\r' ? '\n' : ch);
      }
    }
    this.wake();
  }

  private append(s: string): void {
    if (this.buffered.length + s.length > MAX_LINE_BYTES) {
      this.overflow = true;
      return;
    }
    this.buffered += s;
  }

  private currentLineEmpty(): boolean {
    return this.buffered.length === 0 || this.buffered.endsWith('\n');
  }

  private takeLine(): string | undefined {
    const nl = this.buffered.indexOf('\n');
    if (nl === -1) return undefined;
    let line = this.buffered.slice(0, nl);
    this.buffered = this.buffered.slice(nl + 1);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (this.overflow) {
      // A line we had to cut short must not become a password silently.
      this.overflow = false;
      return '\u0000'.repeat(MAX_LINE_BYTES);
    }
    return line;
  }
}
