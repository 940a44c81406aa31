/**
 * The broker's configuration: mosquitto.conf parsing. The program's command line (argv,
 * usage, exit codes) is in src/cli/broker-args.ts and broker-startup.ts.
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
