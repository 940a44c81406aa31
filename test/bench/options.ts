// Command line of the benchmark: npm run bench -- [--quick] [--only NAME[,NAME]]
// [--broker ts|mosquitto|aedes[,...]] [--json FILE]
import { BROKERS, type BrokerName } from './brokers.js';

export interface Options {
  quick: boolean;
  only?: string[];
  brokers: BrokerName[];
  json?: string;
  /** TCP_NODELAY in every scenario, not only those with acknowledgements or timing. */
  nodelay: boolean;
  /** Connections of the fleet scenarios (idle-100k, wake-100k); 100,000 by default. */
  connections?: number;
}

export const USAGE =
  'usage: npm run bench -- [--quick] [--only NAME[,NAME...]] [--broker ts|mosquitto|aedes[,...]] [--json FILE] [--nodelay] [--connections N]';

export function parseOptions(argv: string[], scenarioNames: string[]): Options {
  const opts: Options = { quick: false, brokers: [...BROKERS], nodelay: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    switch (arg) {
      case '--quick':
        opts.quick = true;
        break;
      case '--only': {
        const names = value().split(',');
        const unknown = names.filter((n) => !scenarioNames.includes(n));
        if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; one of: ${scenarioNames.join(', ')}`);
        opts.only = names;
        break;
      }
      case '--broker': {
        const names = value().split(',');
        const unknown = names.filter((n) => !(BROKERS as string[]).includes(n));
        if (unknown.length) throw new Error(`unknown broker ${unknown.join(', ')}; one of: ${BROKERS.join(', ')}`);
        opts.brokers = names as BrokerName[];
        break;
      }
      case '--nodelay':
        opts.nodelay = true;
        break;
      case '--connections': {
        const v = value();
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new Error(`--connections needs a positive whole number, not ${v}\n${USAGE}`);
        opts.connections = n;
        break;
      }
      case '--json':
        opts.json = value();
        break;
      case '-h':
      case '--help':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown option ${arg}\n${USAGE}`);
    }
  }
  return opts;
}
