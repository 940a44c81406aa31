/**
 * ts-mosquitto_rr: MQTT 5 request/response. Subscribe to the response topic (-e), publish
 * the request with that topic as its response-topic property, print the first response.
 */
import fs from 'node:fs';
import type { PublishProperties } from '../client/mqtt-client.js';
import type { PublishPacket, QoS } from '../protocol/index.js';
import type { ClientConfig } from './client-config.js';
import type * as Session from './client-session.js';
import { loadConfig } from './load-config.js';
import { printerFor, type MessagePrinter } from './output-format.js';
import { exitUsageError, report, writeOut } from './terminal.js';
import { rrUsage } from './usage-rr.js';

const PROGRAM = 'ts-mosquitto_rr';

export function main(argv: string[]): void {
  const cfg = loadConfig('rr', PROGRAM, argv.slice(2), rrUsage);
  if (cfg.topic === undefined || cfg.mode === 'none' || cfg.responseTopic === undefined) {
    exitUsageError(PROGRAM, 'Error: All of topic, message, and response topic must be supplied.\n');
  }
  const printer = printerFor(cfg);

  let payload: Buffer;
  if (cfg.mode === 'file') {
    try {
      payload = fs.readFileSync(cfg.file as string);
    } catch {
      report(cfg, `Error: Unable to open file "${cfg.file}".\n`);
      report(cfg, `Error loading input file "${cfg.file}".\n`);
      process.exit(1);
    }
  } else if (cfg.mode === 'stdin-file') {
    payload = fs.readFileSync(0);
  } else {
    payload = cfg.message ?? Buffer.alloc(0);
  }
  // The codec and dialers load only now: --help and option errors stay lean.
  void import('./client-session.js').then((cs) => start(cfg, printer, payload, cs));
}

function start(cfg: ClientConfig, printer: MessagePrinter, payload: Buffer, cs: typeof Session): void {

  const topic = cfg.topic as string;
  const responseTopic = cfg.responseTopic as string;
  const disconnectProps = cfg.protocolVersion === 5 ? cfg.props.disconnect : undefined;
  let exitCode = 0;
  let timedOut = false;
  let done = false;
  let requested = false;

  const session = cs.createSession(cfg, {
    onConnect(code) {
      if (code !== 0) {
        // mosquitto_rr words every refusal with the MQTT 5 reason strings.
        report(cfg, cs.connackErrorText(cfg, code, true));
        exitCode = code;
        session.client.disconnect(0, disconnectProps);
        return;
      }
      session.client.subscribe(
        [{ topic: responseTopic, qos: cfg.qos as QoS }],
        cfg.protocolVersion === 5 ? cfg.props.subscribe : undefined,
      );
    },
    onSubscribe() {
      if (requested) return;
      requested = true;
      let props: PublishProperties | undefined;
      if (cfg.protocolVersion === 5) props = { ...(cfg.props.publish ?? {}), responseTopic } as PublishProperties;
      session.client.publish(topic, payload, cfg.qos as QoS, false, props);
    },
    onMessage(p: PublishPacket) {
      if (done) return;
      if (p.retain && cfg.noRetain) return;
      done = true;
      writeOut(printer.render(p));
      // Like mosquitto_rr, close without DISCONNECT once the response is in.
      session.client.end();
    },
    onClose() {
      cs.exitClosed(cfg, timedOut, exitCode);
    },
  });

  cs.runUntilDone(cfg, session, disconnectProps, {
    timedOut: () => {
      timedOut = true;
    },
    stop: () => session.client.disconnect(0, disconnectProps),
  });
}
