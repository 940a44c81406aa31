/**
 * The hand-written PUBLISH encoder of the fan-out path must produce exactly the bytes
 * mqtt-packet generates, and patching the packet id must touch only those two bytes.
 */
import { describe, expect, it } from 'vitest';
import mqttPacket from 'mqtt-packet';
import { encodeAck, encodePublish, publishIdOffset, withMessageId } from '../src/protocol/index.js';

const topics = ['a', 'a/b/c', 'caf\u00e9/\u6771\u4eac/\u{1F600}', 't'.repeat(300)];
const sizes = [0, 1, 100, 127 - 7, 16_384, 2_097_152];

describe('encodePublish', () => {
  for (const version of [3, 4] as const) {
    for (const qos of [0, 1, 2] as const) {
      it(`matches mqtt-packet for MQTT ${version === 3 ? '3.1' : '3.1.1'} QoS ${qos}`, () => {
        for (const topic of topics) {
          for (const size of sizes) {
            const payload = Buffer.alloc(size, 0x5a);
            for (const [retain, dup] of [
              [false, false],
              [true, false],
              [false, qos > 0],
            ] as const) {
              const mid = qos > 0 ? 0x1234 : 0;
              const ours = encodePublish(topic, payload, qos, retain, dup, mid, version);
              const theirs = mqttPacket.generate(
                { cmd: 'publish', topic, payload, qos, retain, dup, messageId: qos > 0 ? mid : undefined },
                { protocolVersion: version },
              );
              expect(Buffer.compare(ours, theirs), `${topic.slice(0, 10)} ${size} r${retain} d${dup}`).toBe(0);
            }
          }
        }
      });
    }
  }

  it('writes an MQTT 5 PUBLISH with an empty property length', () => {
    const ours = encodePublish('v5/t', Buffer.from('x'), 1, false, false, 7, 5);
    const theirs = mqttPacket.generate(
      { cmd: 'publish', topic: 'v5/t', payload: Buffer.from('x'), qos: 1, retain: false, dup: false, messageId: 7 },
      { protocolVersion: 5 },
    );
    expect(Buffer.compare(ours, theirs)).toBe(0);
  });
});

describe('withMessageId', () => {
  it('patches the packet id and DUP flag of a copy, leaving the original alone', () => {
    const topic = 'caf\u00e9/x';
    const base = encodePublish(topic, Buffer.alloc(200, 1), 2, true, false, 0, 4);
    const off = publishIdOffset(base);
    const copy = withMessageId(base, off, 65535, true);
    const parsed: mqttPacket.IPublishPacket[] = [];
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p) => parsed.push(p as mqttPacket.IPublishPacket));
    parser.parse(copy);
    expect(parsed[0].messageId).toBe(65535);
    expect(parsed[0].dup).toBe(true);
    expect(parsed[0].retain).toBe(true);
    expect(parsed[0].topic).toBe(topic);
    expect(base.readUInt16BE(off)).toBe(0);
    expect(base[0] & 8).toBe(0);
    // Clearing DUP on a copy of a DUP packet.
    expect(withMessageId(copy, off, 1, false)[0] & 8).toBe(0);
  });
});

describe('encodeAck', () => {
  it.each(['puback', 'pubrec', 'pubrel', 'pubcomp'] as const)('%s matches mqtt-packet', (cmd) => {
    const theirs = mqttPacket.generate({ cmd, messageId: 513 } as mqttPacket.Packet, { protocolVersion: 4 });
    expect(Buffer.compare(encodeAck(cmd, 513), theirs)).toBe(0);
  });
});
