/**
 * A third-party MQTT 5 client against the broker: Eclipse Paho for Python (Debian's
 * python3-paho-mqtt), with user properties, response topic, correlation data, message
 * expiry and a subscription identifier round-tripping through ts-mosquitto.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, stopBrokers } from './helpers/broker.js';

const PY = '/usr/bin/python3';
const hasPaho = fs.existsSync(PY) && spawnSync(PY, ['-c', 'import paho.mqtt.client'], { timeout: 10000 }).status === 0;
const required = process.env.CI === 'true';

afterEach(stopBrokers);

const SCRIPT = String.raw`
import sys, json, time
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.subscribeoptions import SubscribeOptions

port = int(sys.argv[1])
got = []
acks = {}

def on_message(c, u, m):
    p = m.properties
    got.append({
        "topic": m.topic, "payload": m.payload.decode(), "qos": m.qos,
        "user": getattr(p, "UserProperty", None),
        "response": getattr(p, "ResponseTopic", None),
        "corr": getattr(p, "CorrelationData", b"").decode(),
        "expiry": getattr(p, "MessageExpiryInterval", None),
        "subid": getattr(p, "SubscriptionIdentifier", None),
    })

def on_connect(c, u, flags, rc, props=None):
    acks["connack"] = rc.value if hasattr(rc, "value") else rc

c = mqtt.Client(client_id="paho5", protocol=mqtt.MQTTv5)
c.on_message = on_message
c.on_connect = on_connect
c.connect("127.0.0.1", port, keepalive=30)
c.loop_start()
t0 = time.time()
while "connack" not in acks and time.time() - t0 < 5: time.sleep(0.02)
sp = Properties(PacketTypes.SUBSCRIBE); sp.SubscriptionIdentifier = 42
c.subscribe([("paho/#", SubscribeOptions(qos=2, noLocal=False))], properties=sp)
time.sleep(0.3)
pp = Properties(PacketTypes.PUBLISH)
pp.UserProperty = [("k", "v"), ("k2", "v2")]
pp.ResponseTopic = "paho/reply"
pp.CorrelationData = b"abc"
pp.MessageExpiryInterval = 120
info = c.publish("paho/req", "hello", qos=2, properties=pp)
info.wait_for_publish(5)
t0 = time.time()
while len(got) < 1 and time.time() - t0 < 5: time.sleep(0.02)
c.disconnect(); c.loop_stop()
print(json.dumps({"connack": acks.get("connack"), "got": got}))
`;

describe.skipIf(!hasPaho && !required)('interop with Paho Python (MQTT 5)', () => {
  it('round-trips properties and subscription identifiers at QoS 2', async () => {
    const tb = await startBroker();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsm-paho-'));
    const script = path.join(dir, 'paho5.py');
    fs.writeFileSync(script, SCRIPT);
    const { spawn } = await import('node:child_process');
    const child = spawn(PY, [script, String(tb.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code, err).toBe(0);
    const result = JSON.parse(out.trim());
    expect(result.connack).toBe(0);
    expect(result.got).toHaveLength(1);
    const m = result.got[0];
    expect(m.topic).toBe('paho/req');
    expect(m.payload).toBe('hello');
    expect(m.qos).toBe(2);
    expect(m.user).toEqual([['k', 'v'], ['k2', 'v2']]);
    expect(m.response).toBe('paho/reply');
    expect(m.corr).toBe('abc');
    expect(m.expiry).toBeGreaterThan(100);
    expect(m.expiry).toBeLessThanOrEqual(120);
    expect(m.subid).toEqual([42]);
  });
});
