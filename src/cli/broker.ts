/**
 * ts-mosquitto: the broker program. `ts-mosquitto [-c config_file] [-d] [-h] [-p port] [-v]`
 * with Mosquitto 2.0's meaning, start-up lines and exit codes.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { Broker, VERSION } from '../broker/broker.js';
import { parseBrokerArgs } from '../broker/config/cli-args.js';
import { ConfigError } from '../broker/config/errors.js';
import { defaultBrokerConfig, parseConfigFile } from '../broker/config/parse.js';
import type { ParsedConfig } from '../broker/config/types.js';
import { logFromConfig, optionsFromConfig } from '../broker/from-config.js';
import { installSignals } from '../broker/signals.js';
import { loadSecurity } from '../broker/security-files.js';

const stamp = (): string => String(Math.floor(Date.now() / 1000));

function fail(lines: string[], code: number): never {
  for (const l of lines) process.stderr.write(`${stamp()}: ${l}\n`);
  process.exit(code);
}

/** Mosquitto's -d: the broker carries on in a detached child, the parent returns at once. */
function daemonize(argv: string[]): boolean {
  if (process.env.TS_MOSQUITTO_DAEMONIZED === '1') return false;
  const child = spawn(process.execPath, [argv[1], ...argv.slice(2)], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, TS_MOSQUITTO_DAEMONIZED: '1' },
  });
  child.unref();
  return true;
}

export function main(argv: string[]): void {
  const parsedArgs = parseBrokerArgs(argv.slice(2), { program: 'ts-mosquitto', version: VERSION });
  if (!parsedArgs.ok) {
    if (parsedArgs.stderr.length > 0) process.stderr.write(parsedArgs.stderr.join('\n') + '\n');
    if (parsedArgs.stdout !== null) process.stdout.write(parsedArgs.stdout);
    fail(parsedArgs.stderrLogged, parsedArgs.exitCode);
  }
  const args = parsedArgs.args;
  let parsed: ParsedConfig;
  try {
    parsed =
      args.configFile !== null
        ? parseConfigFile(args.configFile, { ports: args.ports })
        : defaultBrokerConfig({ ports: args.ports });
  } catch (e) {
    if (e instanceof ConfigError) fail(e.output, e.exitCode);
    throw e;
  }
  const config = parsed.config;
  config.verbose = args.verbose;
  config.daemon = args.daemon;
  if (args.daemon && daemonize(argv)) process.exit(0);

  const log = logFromConfig(config);
  log.notice(`mosquitto version ${VERSION} starting`);
  if (args.configFile !== null) log.notice(`Config loaded from ${args.configFile}.`);
  else log.notice('Using default config.');
  for (const m of parsed.messages) {
    if (m.level === 'error') log.error(m.text);
    else if (m.level === 'warning') log.warning(m.text);
    else if (m.level === 'notice') log.notice(m.text);
    else log.info(m.text);
  }
  if (config.localOnly) {
    log.notice('Starting in local only mode. Connections will only be possible from clients running on this machine.');
    log.notice('Create a configuration file which defines a listener to allow remote access.');
    log.notice('For more details see https://mosquitto.org/documentation/authentication-methods/');
  }

  const options = optionsFromConfig(config);
  try {
    loadSecurity(config, options);
  } catch (e) {
    log.error((e as Error).message);
    process.exit(1);
  }
  const broker = new Broker(options, log);
  if (config.pidFile !== null && config.daemon) {
    try {
      fs.writeFileSync(config.pidFile, `${process.pid}\n`);
    } catch {
      log.error(`Error: Unable to write pid file.`);
      process.exit(1);
    }
  }
  broker.start().then(
    () => {
      log.notice(`mosquitto version ${VERSION} running`);
      installSignals(broker, config, args.configFile);
    },
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') log.error('Error: Address already in use');
      else if (err.code === 'EACCES') log.error('Error: Permission denied');
      else log.error(`Error: ${err.message}`);
      process.exit(1);
    },
  );
}
