/**
 * ts-mosquitto_pub: connect, publish one message (-m, -f, -s, -n, --repeat) or one per line
 * of standard input (-l), wait for the QoS flows to finish, disconnect.
 */
import fs from 'node:fs';
import type { PublishProperties } from '../client/mqtt-client.js';
import { ClientError, reasonString } from '../client/reason-strings.js';
import type { ClientConfig } from './client-config.js';
import type * as Session from './client-session.js';
import { loadConfig, VERSION } from './load-config.js';
import { report, writeErr, writeOut } from './terminal.js';
import { pubUsage } from './usage-pub.js';

const PROGRAM = 'ts-mosquitto_pub';
/** Largest MQTT payload a PUBLISH can carry with its headers (MQTT-2.2.3). */
const MAX_PAYLOAD = 268435455;
/** Stop reading standard input while this many -l messages wait to complete. */
const LINE_BACKLOG = 1000;
/** libmosquitto's MOSQ_ERR_CONN_LOST, the exit code when the broker drops us. */
const EXIT_CONN_LOST = 7;

function loadPayload(cfg: ClientConfig): Buffer | undefined {
  if (cfg.mode === 'cmdline') return cfg.message;
  if (cfg.mode === 'null') return Buffer.alloc(0);
  if (cfg.mode === 'file') {
    const file = cfg.file as string;
    let data: Buffer;
    try {
      const st = fs.statSync(file);
      if (!st.isFile() || st.size > MAX_PAYLOAD) {
        report(cfg, 'Error: File must be less than 268435455 bytes.\n\n');
        throw new Error('too large');
      }
      data = fs.readFileSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== undefined) report(cfg, `Error: Unable to open file "${file}".\n`);
      report(cfg, `Error loading input file "${file}".\n`);
      process.exit(1);
    }
    return data;
  }
  if (cfg.mode === 'stdin-file') {
    let data: Buffer;
    try {
      data = fs.readFileSync(0);
    } catch {
      data = Buffer.alloc(0);
    }
    if (data.length === 0) {
      report(cfg, 'Error: Zero length input.\n');
      report(cfg, 'Error loading input from stdin.\n');
      process.exit(1);
    }
    return data;
  }
  return undefined;
}

export function main(argv: string[]): void {
  const cfg = loadConfig('pub', PROGRAM, argv.slice(2), pubUsage);
  if (cfg.topic === undefined || cfg.mode === 'none') {
    writeErr('Error: Both topic and message must be supplied.\n');
    writeOut(pubUsage(PROGRAM, VERSION));
    process.exit(1);
  }
  const payload = loadPayload(cfg);
  // The codec and dialers load only now: --help and option errors stay lean.
  void import('./client-session.js').then((cs) => start(cfg, payload, cs));
}

function start(cfg: ClientConfig, payload: Buffer | undefined, cs: typeof Session): void {
  const topic = cfg.topic as string;
  const props = cfg.protocolVersion === 5 ? (cfg.props.publish as PublishProperties | undefined) : undefined;

  let remaining = cfg.mode === 'stdin-line' ? 0 : cfg.repeat;
  let lastMid = -1;
  let inputDone = cfg.mode !== 'stdin-line';
  let stdinStarted = false;
  let connacked = false;

  const finishIfDone = (): void => {
    // While reconnecting (-l), wait: the next CONNACK calls this again.
    if (inputDone && remaining === 0 && session.client.pendingCount === 0 && session.client.connected) {
      session.client.disconnect(0, cfg.protocolVersion === 5 ? cfg.props.disconnect : undefined);
    }
  };

  const publishOne = (data: Buffer): number => {
    // PUBLISH properties need MQTT 5; libmosquitto refuses the publish without a word.
    if (cfg.props.publish !== undefined && cfg.protocolVersion !== 5) return -1;
    if (topic === '' || Buffer.byteLength(topic) > 65535) {
      report(cfg, `Error: ${ClientError.Inval}\n`);
      return -1;
    }
    return session.client.publish(topic, data, cfg.qos, cfg.retain, props);
  };

  const publishNext = (): void => {
    remaining--;
    lastMid = publishOne(payload as Buffer);
    if (lastMid < 0) {
      remaining = 0;
      finishIfDone();
    }
  };

  const readLines = (): void => {
    if (stdinStarted) return;
    stdinStarted = true;
    let pending = Buffer.alloc(0);
    process.stdin.on('data', (chunk: Buffer) => {
      let buf = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      let nl: number;
      while ((nl = buf.indexOf(10)) >= 0) {
        publishOne(buf.subarray(0, nl));
        buf = buf.subarray(nl + 1);
      }
      pending = Buffer.from(buf);
      if (session.client.pendingCount > LINE_BACKLOG) process.stdin.pause();
    });
    process.stdin.on('end', () => {
      if (pending.length > 0) publishOne(pending);
      inputDone = true;
      finishIfDone();
    });
  };

  const session = cs.createSession(cfg, {
    onConnect(code) {
      connacked = true;
      if (code !== 0) {
        report(cfg, cs.connackErrorText(cfg, code));
        report(cfg, `Error: ${cfg.protocolVersion === 5 ? ClientError.Protocol : ClientError.ConnectionRefused}\n`);
        process.exit(code);
      }
      if (cfg.mode === 'stdin-line') {
        readLines();
        finishIfDone();
      }
      else if (remaining > 0 && lastMid === -1) publishNext();
    },
    onMessage() {},
    onPublish(mid, reasonCode, properties) {
      if (reasonCode > 127) {
        report(cfg, `Warning: Publish ${mid} failed: ${reasonString(reasonCode)}.\n`);
        // mosquitto_pub prints the broker's Reason String, if any, on a line of its own.
        if (properties?.reasonString !== undefined) report(cfg, `${properties.reasonString}\n`);
      }
      if (cfg.mode === 'stdin-line') {
        if (process.stdin.isPaused() && session.client.pendingCount < LINE_BACKLOG / 2) process.stdin.resume();
        return finishIfDone();
      }
      if (mid !== lastMid) return;
      if (remaining > 0) {
        if (cfg.repeatDelay > 0) setTimeout(publishNext, cfg.repeatDelay * 1000);
        else setImmediate(publishNext);
        return;
      }
      finishIfDone();
    },
    onClose(expected, err) {
      if (expected) process.exit(0);
      if (cfg.mode === 'stdin-line' && connacked) {
        // Like mosquitto_pub -l: reconnect every second; lines read meanwhile at QoS 0 are lost.
        const retry = (): void => {
          setTimeout(() => session.connect(retry), 1000);
        };
        retry();
        return;
      }
      if (cs.isTlsAlert(cfg, err, connacked)) {
        report(cfg, 'Error: Protocol error\n');
        process.exit(1);
      }
      report(cfg, `Error: ${ClientError.ConnectionLost}\n`);
      // MOSQ_ERR_CONN_LOST
      process.exit(EXIT_CONN_LOST);
    },
  });
  session.connect((err) => cs.reportDialError(cfg, err));
}
