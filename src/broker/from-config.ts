/**
 * Turns a parsed mosquitto.conf (config/types.ts) into the broker's runtime options and
 * its log. Security files (password_file, acl_file) are loaded here too, so that a bad
 * file stops start-up with a clear message.
 */
import type { BrokerConfig, ListenerConfig } from './config/types.js';
import { Log, logTypeFromName, LOG_ALL, type LogSink } from './log.js';
import { LogFileError, fileSink, stderrSink, stdoutSink, syslogFacility, syslogSink, topicSink } from './log-sinks.js';
import { defaultOptions, type BrokerOptions, type ListenerSettings } from './options.js';
import { strftimeFormatter } from './log-timestamp.js';
import { OPTION_KEYS, OPTION_TABLE, type OptionKey, type OptionSpec } from './option-table.js';

export function logFromConfig(config: BrokerConfig): Log {
  const lc = config.log;
  let mask = 0;
  for (const t of lc.types) mask |= logTypeFromName(t) ?? 0;
  if (config.verbose) mask = LOG_ALL;
  const sinks: LogSink[] = [];
  let fileError: string | undefined;
  for (const d of lc.dest) {
    if (d === 'stderr') sinks.push(stderrSink);
    else if (d === 'stdout') sinks.push(stdoutSink);
    else if (d === 'syslog') sinks.push(syslogSink({ facility: syslogFacility(lc.facility) }));
    else if (d === 'topic') sinks.push(topicSink());
    else if (d === 'file' && lc.file !== null) {
      try {
        sinks.push(fileSink(lc.file));
      } catch (e) {
        // Mosquitto logs this to its other destinations and runs on.
        if (!(e instanceof LogFileError)) throw e;
        fileError = e.message;
      }
    }
  }
  const log = new Log(mask, sinks);
  log.timestamps = lc.timestamp;
  if (lc.timestampFormat !== null) log.timestampFormat = strftimeFormatter(lc.timestampFormat);
  log.connectionMessages = lc.connectionMessages;
  if (fileError !== undefined) log.error(fileError);
  return log;
}

/**
 * socket_domain without an address: the wildcard address of that family only. Node's
 * default, '::' dual-stack, would take both (it applies ipv6Only only to an explicit '::').
 */
function domainAnyAddress(domain: ListenerConfig['socketDomain']): string | undefined {
  return domain === 'ipv4' ? '0.0.0.0' : domain === 'ipv6' ? '::' : undefined;
}

function listenerSettings(l: ListenerConfig, config: BrokerConfig): ListenerSettings {
  return {
    port: l.port,
    host: l.host ?? (l.bindInterface === null ? domainAnyAddress(l.socketDomain) : undefined),
    unixPath: l.unixPath ?? undefined,
    family: l.socketDomain === 'ipv4' ? 4 : l.socketDomain === 'ipv6' ? 6 : undefined,
    bindInterface: l.bindInterface ?? undefined,
    protocol: l.protocol,
    maxConnections: l.maxConnections,
    mountPoint: l.mountPoint ?? undefined,
    useUsernameAsClientid: l.useUsernameAsClientid,
    allowAnonymous: l.security.allowAnonymous ?? undefined,
    allowZeroLengthClientid: l.security.allowZeroLengthClientid,
    autoIdPrefix: l.security.autoIdPrefix,
    maxQos: l.maxQos,
    maxTopicAlias: l.maxTopicAlias,
    clientidPrefixes: config.clientidPrefixes ?? undefined,
    config: l,
  };
}

/** Where a parsed mosquitto.conf keeps option `key` of the table. */
function configValue(config: BrokerConfig, key: OptionKey): unknown {
  const spec: OptionSpec = OPTION_TABLE[key];
  const from = spec.scope === 'log' ? config.log : spec.scope === 'security' ? config.security : config;
  return (from as unknown as Record<string, unknown>)[key];
}

export function optionsFromConfig(config: BrokerConfig): BrokerOptions {
  const o = defaultOptions();
  const listeners: ListenerSettings[] = [];
  for (const l of config.listeners) listeners.push(listenerSettings(l, config));
  o.listeners = listeners;
  o.localOnly = config.localOnly;
  const target = o as unknown as Record<string, unknown>;
  // Options without a mosquitto.conf name keep their defaults.
  for (const key of OPTION_KEYS) if (OPTION_TABLE[key].name !== null) target[key] = configValue(config, key);
  // Unset, allow_anonymous is true in local-only mode only (mosquitto.conf(5)).
  o.allowAnonymous = config.security.allowAnonymous ?? config.localOnly;
  return o;
}
