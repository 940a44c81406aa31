/**
 * The broker's command line: `[-c config_file] [-d] [-h] [-p port] [-v]`, read as
 * Mosquitto 2.0 reads it (mosquitto(8)). Pure: returns what to do and what to print.
 *
 * Mosquitto reads a config file as soon as it meets `-c`, so when a later argument is
 * bad, a bad config file given before it is reported instead; `configFilesBefore` lets
 * the caller reproduce that order.
 */

/** Mosquitto's limit on -p options. */
export const MAX_CLI_PORTS = 10;

/** Exit status of -h and of every command-line error (MOSQ_ERR_INVAL). */
export const CLI_EXIT_CODE = 3;

export interface BrokerArgs {
  /** The last -c given, or null to run on the built-in defaults. */
  configFile: string | null;
  /** Every -c in order (Mosquitto reads each one as it meets it). */
  configFiles: string[];
  daemon: boolean;
  /** -p ports; they only take effect when the configuration defines no listener. */
  ports: number[];
  verbose: boolean;
}

export type BrokerArgsResult =
  | { ok: true; args: BrokerArgs }
  | {
      ok: false;
      exitCode: number;
      /** Text for stdout (the usage for -h or an unknown option), or null. */
      stdout: string | null;
      /** Lines for stderr printed as they are. */
      stderr: string[];
      /** Lines for stderr that Mosquitto prints through its log, with the "<seconds>: " prefix. */
      stderrLogged: string[];
      /** Config files Mosquitto would have read before meeting this error. */
      configFilesBefore: string[];
    };

/** Mosquitto's usage text, printed on stdout by -h and after an unknown option. */
export function brokerUsage(program = 'mosquitto', version = '2.0.11'): string {
  return (
    `${program} version ${version}\n\n` +
    `${program} is an MQTT v5.0/v3.1.1/v3.1 broker.\n\n` +
    `Usage: ${program} [-c config_file] [-d] [-h] [-p port]\n\n` +
    ' -c : specify the broker config file.\n' +
    ' -d : put the broker into the background after starting.\n' +
    ' -h : display this help.\n' +
    ' -p : start the broker listening on the specified port.\n' +
    '      Not recommended in conjunction with the -c option.\n' +
    ' -v : verbose mode - enable all logging types. This overrides\n' +
    '      any logging options given in the config file.\n\n' +
    'See https://mosquitto.org/ for more information.\n\n'
  );
}

/** C atoi, as Mosquitto reads the -p value ("5x" is 5, "abc" is 0). */
function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  if (!m) return 0;
  return Number(BigInt.asIntN(32, BigInt(m[1]!)));
}

export interface UsageNames {
  program?: string;
  version?: string;
}

/** Parses the arguments after the program name. */
export function parseBrokerArgs(argv: readonly string[], names: UsageNames = {}): BrokerArgsResult {
  const args: BrokerArgs = { configFile: null, configFiles: [], daemon: false, ports: [], verbose: false };
  const fail = (stdout: string | null, stderr: string[], stderrLogged: string[]): BrokerArgsResult => ({
    ok: false,
    exitCode: CLI_EXIT_CODE,
    stdout,
    stderr,
    stderrLogged,
    configFilesBefore: [...args.configFiles],
  });
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-c' || a === '--config-file') {
      const f = argv[i + 1];
      if (f === undefined) return fail(null, [], ['Error: -c argument given, but no config file specified.']);
      args.configFiles.push(f);
      args.configFile = f;
      i++;
    } else if (a === '-d' || a === '--daemon') {
      args.daemon = true;
    } else if (a === '-h' || a === '--help') {
      return fail(brokerUsage(names.program, names.version), [], []);
    } else if (a === '-p' || a === '--port') {
      const p = argv[i + 1];
      if (p === undefined) return fail(null, [], ['Error: -p argument given, but no port specified.']);
      const port = atoi(p);
      if (port < 1 || port > 65535) return fail(null, [], [`Error: Invalid port specified (${port}).`]);
      if (args.ports.length >= MAX_CLI_PORTS) {
        return fail(null, [], [`Error: Only ${MAX_CLI_PORTS} ports can be specified on the command line.`]);
      }
      args.ports.push(port);
      i++;
    } else if (a === '-v' || a === '--verbose') {
      args.verbose = true;
    } else {
      return fail(brokerUsage(names.program, names.version), [`Error: Unknown option '${a}'.`], []);
    }
  }
  return { ok: true, args };
}
