/**
 * ts-mosquitto_sub: subscribe to one or more filters and print what arrives, until -C
 * messages, -W seconds, --retained-only's first live message, -E's SUBACK, or a signal.
 * A lost connection is retried every second, as Mosquitto's client does.
 */
import type { PublishPacket, Subscription, QoS } from '../protocol/index.js';
import { topicMatches } from '../protocol/topic.js';
import type { ClientConfig } from './client-config.js';
import type * as Session from './client-session.js';
import { loadConfig } from './load-config.js';
import { printerFor, type MessagePrinter } from './output-format.js';
import { report, writeOut } from './terminal.js';
import { subUsage } from './usage-sub.js';

const PROGRAM = 'ts-mosquitto_sub';
/** libmosquitto's reconnect delay for loop_forever. */
const RECONNECT_DELAY_MS = 1000;

export function main(argv: string[]): void {
  const cfg = loadConfig('sub', PROGRAM, argv.slice(2), subUsage);
  const printer = printerFor(cfg);
  // The codec and dialers load only now: --help and option errors stay lean.
  void import('./client-session.js').then((cs) => start(cfg, printer, cs));
}

function start(cfg: ClientConfig, printer: MessagePrinter, cs: typeof Session): void {

  let processing = true;
  let received = 0;
  let lastMid = 0;
  let timedOut = false;
  let exitCode = 0;
  let everConnected = false;
  const disconnectProps = cfg.protocolVersion === 5 ? cfg.props.disconnect : undefined;

  const stop = (): void => {
    processing = false;
    session.client.disconnect(0, disconnectProps);
  };

  const onMessage = (p: PublishPacket): void => {
    if (!processing) return;
    if (cfg.retainedOnly && !p.retain) {
      processing = false;
      if (lastMid === 0) session.client.disconnect(0, disconnectProps);
      return;
    }
    if (p.retain && cfg.noRetain) return;
    for (const f of cfg.filterOut) if (topicMatches(f, p.topic)) return;
    if (cfg.removeRetained && p.retain) {
      // An empty retained message clears the retained one (MQTT-3.3.1-6).
      lastMid = session.client.publish(p.topic, Buffer.alloc(0), 1, true);
    }
    if (cfg.randomFilter >= 100 || Math.random() * 100 < cfg.randomFilter) writeOut(printer.render(p));
    if (cfg.msgCount > 0) {
      received++;
      if (received === cfg.msgCount) {
        processing = false;
        if (lastMid === 0) session.client.disconnect(0, disconnectProps);
      }
    }
  };

  const session = cs.createSession(cfg, {
    onConnect(code) {
      everConnected = true;
      if (code !== 0) {
        report(cfg, cs.connackErrorText(cfg, code));
        exitCode = code;
        session.client.disconnect(0, disconnectProps);
        return;
      }
      const subs: Subscription[] = cfg.topics.map((topic) => ({ topic, qos: cfg.qos as QoS }));
      // SUBSCRIBE properties need MQTT 5; libmosquitto refuses the subscribe silently.
      if (cfg.props.subscribe === undefined || cfg.protocolVersion === 5) {
        session.client.subscribe(subs, cfg.protocolVersion === 5 ? cfg.props.subscribe : undefined);
      }
      for (const t of cfg.unsubTopics) {
        session.client.unsubscribe([t], cfg.protocolVersion === 5 ? cfg.props.unsubscribe : undefined);
      }
    },
    onSubscribe(mid, granted) {
      if (cfg.debug) writeOut(`Subscribed (mid: ${mid}): ${granted.join(', ')}\n`);
      if (granted.every((g) => g >= 0x80)) {
        report(cfg, 'All subscription requests were denied.\n');
        stop();
        return;
      }
      if (cfg.exitAfterSub) stop();
    },
    onMessage,
    onPublish(mid) {
      if (!processing && mid === lastMid) session.client.disconnect(0, disconnectProps);
    },
    onClose(expected, err) {
      if (!everConnected && cs.isTlsAlert(cfg, err, everConnected)) {
        report(cfg, 'Error: Protocol error\n');
        process.exit(1);
      }
      if (expected || !processing) cs.exitClosed(cfg, timedOut, exitCode);
      setTimeout(() => session.connect(retry), RECONNECT_DELAY_MS);
    },
  });

  const retry = (): void => {
    setTimeout(() => session.connect(retry), RECONNECT_DELAY_MS);
  };

  cs.runUntilDone(cfg, session, disconnectProps, {
    timedOut: () => {
      timedOut = true;
      processing = false;
    },
    stop,
  });
}
