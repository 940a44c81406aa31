/**
 * From argv to a configuration, or to exactly what Mosquitto prints when it refuses to
 * start: the whole start-up decision in one call, so the program only prints and exits.
 */
import {
  ALL_LOG_TYPES,
  ConfigError,
  defaultBrokerConfig,
  parseConfigFile,
  type BrokerConfig,
  type ConfigMessage,
  type ParsedConfig,
} from '../broker/config/index.js';
import { parseBrokerArgs, type BrokerArgs, type UsageNames } from './broker-args.js';

/** A line for stderr; `logged` lines get Mosquitto's log prefix ("1795394466: "). */
export interface StderrLine {
  text: string;
  logged: boolean;
}

export type Startup =
  | { ok: true; args: BrokerArgs; config: BrokerConfig; messages: ConfigMessage[] }
  | { ok: false; exitCode: number; stdout: string | null; stderr: StderrLine[] };

/**
 * The configuration the command line asks for: the -c file (or Mosquitto's built-in
 * defaults), with -p ports for local-only mode, -d and -v applied. -v turns every log
 * type on, overriding log_type, as Mosquitto's -v does. Throws ConfigError.
 */
export function loadBrokerConfig(args: BrokerArgs, hostname?: string): ParsedConfig {
  const opts = { ports: args.ports, hostname };
  const parsed = args.configFile !== null ? parseConfigFile(args.configFile, opts) : defaultBrokerConfig(opts);
  parsed.config.daemon = args.daemon;
  parsed.config.verbose = args.verbose;
  if (args.verbose) parsed.config.log.types = [...ALL_LOG_TYPES];
  return parsed;
}

function configFailure(e: ConfigError): Startup {
  return { ok: false, exitCode: e.exitCode, stdout: null, stderr: e.output.map((text) => ({ text, logged: true })) };
}

/**
 * Reads the command line and the configuration. On failure returns what to print and
 * the exit status (3, as Mosquitto). Config messages printed before an error (warnings,
 * "Loading config file ...") are part of `stderr`; on success they are in `messages`
 * for the broker to log once its logging is set up.
 */
export function startupFromArgs(argv: readonly string[], names: UsageNames = {}, hostname?: string): Startup {
  const r = parseBrokerArgs(argv, names);
  if (!r.ok) {
    // Mosquitto reads each -c file as it meets it, so a bad one before the bad
    // argument is what it reports.
    for (const f of r.configFilesBefore) {
      try {
        parseConfigFile(f, { hostname });
      } catch (e) {
        if (e instanceof ConfigError) return configFailure(e);
        throw e;
      }
    }
    const stderr: StderrLine[] = [
      ...r.stderr.map((text) => ({ text, logged: false })),
      ...r.stderrLogged.map((text) => ({ text, logged: true })),
    ];
    return { ok: false, exitCode: r.exitCode, stdout: r.stdout, stderr };
  }
  try {
    const { config, messages } = loadBrokerConfig(r.args, hostname);
    return { ok: true, args: r.args, config, messages };
  } catch (e) {
    if (e instanceof ConfigError) return configFailure(e);
    throw e;
  }
}
