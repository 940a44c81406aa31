/** The hand encoder gives exactly mqtt-packet's bytes for the packets it takes on. */
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { encodeSimple } from '../src/protocol/simple-encoder.js';

const cases: [string, object, number][] = [
  ['3.1.1 minimal', { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c', clean: true, keepalive: 60 }, 4],
  ['3.1.1 persistent, user and password', { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'id-ü', clean: false, keepalive: 0, username: 'u', password: Buffer.from('p\u0000w') }, 4],
  ['3.1 with will', { cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'mosq-abc', clean: true, keepalive: 30, will: { topic: 'w/t', payload: Buffer.from('bye'), qos: 2, retain: true } }, 3],
  ['3.1.1 will qos 1 string payload', { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'x', clean: true, keepalive: 10, will: { topic: 'w', payload: 'gone', qos: 1, retain: false }, username: 'name' }, 4],
  ['3.1.1 long client id', { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'x'.repeat(300), clean: true, keepalive: 65535 }, 4],
  ['disconnect 3.1.1', { cmd: 'disconnect' }, 4],
  ['pingreq 5', { cmd: 'pingreq' }, 5],
  ['pingreq', { cmd: 'pingreq' }, 4],
  ['publish qos 0', { cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 0, retain: false, dup: false }, 4],
  ['publish qos 2 retained dup, string payload', { cmd: 'publish', topic: 'ü', payload: 'hello', qos: 2, retain: true, dup: true, messageId: 300 }, 3],
  ['puback', { cmd: 'puback', messageId: 513 }, 4],
  ['pubrec', { cmd: 'pubrec', messageId: 1 }, 4],
  ['pubrel', { cmd: 'pubrel', messageId: 65535 }, 4],
  ['pubcomp', { cmd: 'pubcomp', messageId: 7 }, 4],
  // MQTT 5 CONNECT and PUBLISH: written here so that user properties keep their order;
  // with one value per name the bytes are mqtt-packet's.
  ['5 connect minimal', { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'c', clean: true, keepalive: 60 }, 5],
  ['5 connect with properties, will properties, user and password', { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'id', clean: false, keepalive: 5, username: 'u', password: Buffer.from('pw'), properties: { sessionExpiryInterval: 300, receiveMaximum: 10, requestProblemInformation: false, userProperties: { k: 'v' } }, will: { topic: 'w', payload: Buffer.from('bye'), qos: 1, retain: true, properties: { willDelayInterval: 5, contentType: 'ct', userProperties: { a: 'b' } } } }, 5],
  ['5 publish, no properties', { cmd: 'publish', topic: 'a/b', payload: Buffer.from('x'), qos: 0, retain: false, dup: false }, 5],
  ['5 publish qos 1 with properties', { cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, retain: true, dup: false, messageId: 5, properties: { payloadFormatIndicator: true, messageExpiryInterval: 60, responseTopic: 'r', correlationData: Buffer.from([1, 2]), userProperties: { a: '1', b: '2' }, contentType: 'c' } }, 5],
];

describe('simple encoder', () => {
  for (const [name, packet, version] of cases) {
    it(name, () => {
      const ours = encodeSimple(packet as never, version);
      expect(ours).toBeDefined();
      expect(ours!.toString('hex')).toBe((mqttPacket.generate(packet as never, { protocolVersion: version }) as Buffer).toString('hex'));
    });
  }

  it('writes MQTT 5 user properties in the order given, a repeated name included', () => {
    const ours = encodeSimple({ cmd: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false, properties: { userProperties: [['a', '1'], ['b', '2'], ['a', '3']] } } as never, 5)!;
    const up = (k: string, v: string): string => `2600${'01'}${Buffer.from(k).toString('hex')}0001${Buffer.from(v).toString('hex')}`;
    expect(ours.toString('hex')).toBe(`3019000174${'15'}${up('a', '1')}${up('b', '2')}${up('a', '3')}`);
  });

  it('leaves MQTT 5 packets (but PINGREQ, CONNECT and PUBLISH) and the rest to mqtt-packet', () => {
    expect(encodeSimple({ cmd: 'disconnect', reasonCode: 4 } as never, 5)).toBeUndefined();
    expect(encodeSimple({ cmd: 'disconnect' } as never, 5)).toBeUndefined();
    expect(encodeSimple({ cmd: 'puback', messageId: 1, reasonCode: 0x87 } as never, 5)).toBeUndefined();
    expect(encodeSimple({ cmd: 'subscribe', messageId: 1, subscriptions: [] } as never, 4)).toBeUndefined();
  });
});
