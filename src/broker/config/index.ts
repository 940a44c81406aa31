/**
 * The broker's configuration: mosquitto.conf parsing and the command line.
 *
 * Typical use by the program:
 *
 *   const s = startupFromArgs(process.argv.slice(2));
 *   if (!s.ok) {
 *     if (s.stdout) process.stdout.write(s.stdout);
 *     for (const l of s.stderr) process.stderr.write(`${l.logged ? `${Math.floor(Date.now() / 1000)}: ` : ''}${l.text}\n`);
 *     process.exit(s.exitCode);
 *   }
 *   // s.config is the configuration; log s.messages once logging is set up.
 */
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
export { startupFromArgs, loadBrokerConfig, type Startup, type StderrLine } from './startup.js';
