/**
 * Configuration errors, worded as Mosquitto 2.0 words them.
 *
 * Mosquitto prints each line on stderr with its log prefix ("1795394466: ") because
 * logging is not set up yet, and exits with status 3 (MOSQ_ERR_INVAL).
 */

/** A line Mosquitto prints while reading its configuration, without the timestamp prefix. */
export interface ConfigMessage {
  level: 'warning' | 'notice' | 'information' | 'error';
  text: string;
}

/** Exit status Mosquitto uses for a bad command line or configuration. */
export const CONFIG_ERROR_EXIT_CODE = 3;

export class ConfigError extends Error {
  /** The error lines, e.g. `Error: Unknown configuration variable "x".` then `Error found at FILE:LINE.` */
  readonly lines: string[];
  /** Messages printed before the error (deprecation warnings, "Loading config file ..."). */
  readonly before: ConfigMessage[];
  readonly exitCode = CONFIG_ERROR_EXIT_CODE;

  constructor(lines: string[], before: ConfigMessage[] = []) {
    super(lines[0] ?? 'Error: Invalid configuration.');
    this.name = 'ConfigError';
    this.lines = lines;
    this.before = before;
  }

  /** Every line to print on stderr, in order: earlier messages, then the error lines. */
  get output(): string[] {
    return [...this.before.map((m) => m.text), ...this.lines];
  }
}

/**
 * Thrown by option handlers; the parser adds the `Error found at FILE:LINE.` line(s).
 * Kept separate from ConfigError so handlers do not need to know where they are.
 */
export class OptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OptionError';
  }
}

/** `Error: Unknown configuration variable "x".` */
export function unknownOption(name: string): OptionError {
  return new OptionError(`Error: Unknown configuration variable "${name}".`);
}

/** `Error: Empty x value in configuration.` */
export function emptyValue(name: string): OptionError {
  return new OptionError(`Error: Empty ${name} value in configuration.`);
}

/** `Error: Duplicate x value in configuration.` */
export function duplicateValue(name: string): OptionError {
  return new OptionError(`Error: Duplicate ${name} value in configuration.`);
}

/**
 * An option that has no meaning in a Node.js broker (an OpenSSL engine, a C plugin).
 * Mosquitto has no wording for this; ours follows its style and names the option.
 */
export function unsupportedOption(name: string, why: string): OptionError {
  return new OptionError(`Error: The ${name} option is not supported by ts-mosquitto (${why}).`);
}
