/**
 * The broker's configuration: mosquitto.conf parsing and the command line.
 *
 * Typical use by the program:
 *
 *   const r = parseBrokerArgs(process.argv.slice(2));
 *   if (!r.ok) { print r.stdout / r.stderr / r.stderrLogged; exit(r.exitCode) }
 *   try { const { config, messages } = loadBrokerConfig(r.args); ... }
 *   catch (e) { if (e instanceof ConfigError) { print e.output with the log prefix; exit(e.exitCode) } }
 */
import { ALL_LOG_TYPES } from './defaults.js';
import type { BrokerArgs } from './cli-args.js';
import { defaultBrokerConfig, parseConfigFile } from './parse.js';
import type { ParsedConfig } from './types.js';

export * from './types.js';
export { ConfigError, CONFIG_ERROR_EXIT_CODE } from './errors.js';
export {
  parseConfigFile,
  parseConfigText,
  defaultBrokerConfig,
  compareIncludeNames,
  KNOWN_OPTIONS,
  type ParseOptions,
} from './parse.js';
export { LOCAL_ONLY_MESSAGES } from './finalize.js';
export {
  ALL_LOG_TYPES,
  DEFAULT_LOG_TYPES,
  DEFAULT_PORT,
  DEFAULT_REDIS_STORE,
  createDefaultConfig,
  createListener,
  createSecurityOptions,
} from './defaults.js';
export {
  parseBrokerArgs,
  brokerUsage,
  MAX_CLI_PORTS,
  CLI_EXIT_CODE,
  type BrokerArgs,
  type BrokerArgsResult,
  type UsageNames,
} from './cli-args.js';

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
