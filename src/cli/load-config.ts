/**
 * From argv to a checked ClientConfig: options file first, then the command line, then the
 * checks Mosquitto's clients make on the whole; on a problem print its message and exit 1.
 */
import { applyArgs } from './client-args.js';
import { ConfigError, defaultConfig, type ClientConfig, type ClientKind } from './client-config.js';
import { optionsFilePath, readOptionsFile } from './options-file.js';
import { checkProperties } from './properties-arg.js';
import { errorLine, writeErr, writeOut } from './terminal.js';

const RANDOM_ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** MQTT 3.1 needs a client id; libmosquitto makes one up as "mosq-" and 18 random characters. */
function randomClientId(): string {
  let id = 'mosq-';
  for (let i = 0; i < 18; i++) id += RANDOM_ID_CHARS[Math.floor(Math.random() * RANDOM_ID_CHARS.length)];
  return id;
}

function checkWhole(cfg: ClientConfig): void {
  if (cfg.willPayload !== undefined && cfg.willTopic === undefined) {
    throw new ConfigError('Error: Will payload given, but no will topic given.\n');
  }
  if (cfg.willRetain && cfg.willTopic === undefined) {
    throw new ConfigError('Error: Will retain given, but no will topic given.\n');
  }
  if ((cfg.tls.keyfile !== undefined) !== (cfg.tls.certfile !== undefined)) {
    throw new ConfigError('Error: Both certfile and keyfile must be provided if one of them is set.\n');
  }
  if (cfg.tls.keyform !== undefined && cfg.tls.keyfile === undefined) {
    throw new ConfigError('Error: If keyform is set, keyfile must be also specified.\n');
  }
  if (cfg.psk !== undefined && cfg.pskIdentity === undefined) {
    throw new ConfigError('Error: --psk-identity required if --psk used.\n');
  }
  if (!cfg.clean && cfg.id === undefined && cfg.idPrefix === undefined) {
    throw new ConfigError('Error: You must provide a client id if you are using the -c option.\n');
  }
  if (cfg.protocolVersion === 5) {
    // -c without -x keeps the session for ever; -x alone sets its lifetime.
    if (cfg.sessionExpiry === undefined) cfg.sessionExpiry = cfg.clean ? 0 : 0xffffffff;
    if (cfg.sessionExpiry === 0xffffffff && cfg.id === undefined && cfg.idPrefix === undefined) {
      throw new ConfigError('Error: You must provide a client id if you are using an infinite session expiry interval.\n');
    }
  }
  if (cfg.kind === 'sub' && cfg.topics.length === 0) {
    throw new ConfigError('Error: You must specify a topic to subscribe to.\n');
  }
  if (cfg.protocolVersion === 5) checkProperties(cfg);
}

function fail(cfg: ClientConfig, err: ConfigError): never {
  writeErr(errorLine(err.text));
  if (err.hint) writeErr(`\nUse '${cfg.program} --help' to see usage.\n`);
  process.exit(1);
}

/** Parse and check; prints help or errors and exits when it must. */
export function loadConfig(
  kind: ClientKind,
  program: string,
  args: string[],
  usage: (program: string, version: string) => string,
): ClientConfig {
  const cfg = defaultConfig(kind, program);
  try {
    for (const line of readOptionsFile(optionsFilePath(program))) {
      if (applyArgs(cfg, line) === 'help') return printHelp(cfg, usage);
    }
    if (applyArgs(cfg, args) === 'help') return printHelp(cfg, usage);
    checkWhole(cfg);
  } catch (err) {
    if (err instanceof ConfigError) fail(cfg, err);
    throw err;
  }
  // Problems libmosquitto finds when the client is set up: no usage hint.
  const setupError = (text: string): never => {
    writeErr(errorLine(text));
    process.exit(1);
  };
  if (cfg.id === '') setupError('Error: Invalid id.\n');
  if (cfg.willTopic !== undefined && cfg.props.will !== undefined && cfg.protocolVersion !== 5) {
    setupError('Error: Problem setting will.\n');
  }
  if (cfg.password !== undefined && cfg.username === undefined) {
    setupError('Error: Problem setting username and/or password.\n');
  }
  if (cfg.idPrefix !== undefined) cfg.id = `${cfg.idPrefix}${process.pid}`;
  if (cfg.id === undefined && cfg.protocolVersion === 3) cfg.id = randomClientId();
  return cfg;
}

export function printHelp(cfg: ClientConfig, usage: (program: string, version: string) => string): never {
  writeOut(usage(cfg.program, VERSION));
  process.exit(1);
}

export const VERSION = '0.1.0';
