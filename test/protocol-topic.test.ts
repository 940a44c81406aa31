import { describe, expect, it } from 'vitest';
import {
  isValidMqttString,
  isValidTopicFilter,
  isValidTopicName,
  topicMatches,
  MAX_TOPIC_BYTES,
} from '../src/protocol/index.js';

/** Decodes bytes as mqtt-packet does (Buffer.toString), so invalid UTF-8 arrives as U+FFFD. */
const fromWire = (bytes: number[]): string => Buffer.from(bytes).toString('utf8');

describe('isValidMqttString (MQTT-1.5.3)', () => {
  it('accepts ordinary and multi-byte UTF-8', () => {
    expect(isValidMqttString('a/b')).toBe(true);
    expect(isValidMqttString('caf\u00e9/\u6771\u4eac')).toBe(true);
    expect(isValidMqttString('emoji/\u{1F600}')).toBe(true);
    expect(isValidMqttString(fromWire([0xf0, 0x9f, 0x98, 0x80]))).toBe(true);
  });

  it('rejects U+0000 (MQTT-1.5.3-2)', () => {
    expect(isValidMqttString('a\u0000b')).toBe(false);
    expect(isValidMqttString(fromWire([0x61, 0x00]))).toBe(false);
  });

  it('rejects ill-formed UTF-8 as it arrives from the wire (MQTT-1.5.3-1)', () => {
    expect(isValidMqttString(fromWire([0x61, 0xff, 0x62]))).toBe(false); // invalid byte
    expect(isValidMqttString(fromWire([0xc3]))).toBe(false); // truncated sequence
    expect(isValidMqttString(fromWire([0xc0, 0xaf]))).toBe(false); // overlong '/'
    expect(isValidMqttString(fromWire([0xed, 0xa0, 0x80]))).toBe(false); // encoded surrogate
  });

  it('rejects lone surrogates', () => {
    expect(isValidMqttString('a\ud800')).toBe(false);
    expect(isValidMqttString('\udc00a')).toBe(false);
  });
});

describe('isValidTopicName (PUBLISH)', () => {
  it('accepts names, including empty levels and $ topics', () => {
    for (const t of ['a', 'a/b/c', '/', '/a', 'a/', 'a//b', '$SYS/broker', ' spaced ']) {
      expect(isValidTopicName(t), t).toBe(true);
    }
  });

  it('rejects empty names and any wildcard (MQTT-3.3.2-2, MQTT-4.7.3-1)', () => {
    for (const t of ['', '+', '#', 'a/+', 'a/#', 'a+b', 'a#']) expect(isValidTopicName(t), t).toBe(false);
  });

  it('rejects U+0000 and invalid UTF-8', () => {
    expect(isValidTopicName('a\u0000')).toBe(false);
    expect(isValidTopicName(fromWire([0x61, 0x2f, 0xfe]))).toBe(false);
  });

  it('allows exactly 65535 bytes and no more (MQTT-1.5.3, MQTT-4.7.3-3)', () => {
    expect(isValidTopicName('a'.repeat(MAX_TOPIC_BYTES))).toBe(true);
    expect(isValidTopicName('a'.repeat(MAX_TOPIC_BYTES + 1))).toBe(false);
    // Counted in bytes, not characters: 3-byte characters reach the limit sooner.
    const three = '\u6771'.repeat(21845); // 65535 bytes
    expect(isValidTopicName(three)).toBe(true);
    expect(isValidTopicName(three + 'a')).toBe(false);
    const four = '\u{1F600}'.repeat(16384); // 65536 bytes in 32768 UTF-16 units
    expect(isValidTopicName(four)).toBe(false);
  });
});

describe('isValidTopicFilter (SUBSCRIBE)', () => {
  it('accepts wildcards in their places (MQTT-4.7.1-2, MQTT-4.7.1-3)', () => {
    for (const f of ['#', '+', 'a/#', 'a/+', '+/b', '+/+', 'a/+/c/#', '/#', '+/', '/+/', '$SYS/#', 'a//+']) {
      expect(isValidTopicFilter(f), f).toBe(true);
    }
  });

  it("rejects '#' not last or not a whole level", () => {
    for (const f of ['#/a', 'a/#/b', 'a#', 'a/b#', '##', 'a/#/']) expect(isValidTopicFilter(f), f).toBe(false);
  });

  it("rejects '+' that is not a whole level", () => {
    for (const f of ['a+', '+a', 'a/b+', 'a/+b/c', '++', 'a/++']) expect(isValidTopicFilter(f), f).toBe(false);
  });

  it('rejects empty, U+0000, invalid UTF-8 and over-long filters', () => {
    expect(isValidTopicFilter('')).toBe(false);
    expect(isValidTopicFilter('a/\u0000/#')).toBe(false);
    expect(isValidTopicFilter(fromWire([0x2b, 0x2f, 0xff]))).toBe(false);
    expect(isValidTopicFilter('a'.repeat(MAX_TOPIC_BYTES))).toBe(true);
    expect(isValidTopicFilter('a'.repeat(MAX_TOPIC_BYTES - 1) + '/#')).toBe(false);
  });
});

describe('topicMatches', () => {
  const yes: [string, string][] = [
    ['a/b', 'a/b'],
    ['#', 'a'],
    ['#', 'a/b/c'],
    ['#', '/'],
    ['a/#', 'a/b'],
    ['a/#', 'a/b/c'],
    ['a/#', 'a'], // '#' also matches the parent level (MQTT-4.7.1-2)
    ['a/#', 'a/'],
    ['a/+', 'a/b'],
    ['a/+', 'a/'], // '+' matches an empty level
    ['+/b', 'a/b'],
    ['+/+', '/'],
    ['/+', '/a'],
    ['+', 'a'],
    ['a/+/c', 'a/b/c'],
    ['a/+/#', 'a/b'],
    ['a/+/#', 'a/b/c/d'],
    ['+/#', 'a'],
    ['$SYS/#', '$SYS/broker/uptime'],
    ['$SYS/+/uptime', '$SYS/broker/uptime'],
    ['$SYS/broker/uptime', '$SYS/broker/uptime'],
  ];
  const no: [string, string][] = [
    ['a/b', 'a/c'],
    ['a/b', 'a'],
    ['a', 'a/b'],
    ['a/+', 'a'],
    ['a/+', 'a/b/c'],
    ['+', 'a/b'],
    ['+', '/'],
    ['a/#', 'ab'],
    ['a/b/#', 'a'],
    ['ab', 'a'],
    ['a', 'ab'],
    ['A', 'a'], // case sensitive (MQTT-4.7.3-4)
    // MQTT-4.7.2-1: a leading wildcard does not match a topic beginning with '$'.
    ['#', '$SYS/broker/uptime'],
    ['+/broker/uptime', '$SYS/broker/uptime'],
    ['+/#', '$SYS/x'],
    ['#', '$foo'],
    ['+', '$foo'],
  ];
  it.each(yes)('%s matches %s', (f, t) => expect(topicMatches(f, t)).toBe(true));
  it.each(no)('%s does not match %s', (f, t) => expect(topicMatches(f, t)).toBe(false));

  it("the $ rule only applies to the first character of the topic", () => {
    expect(topicMatches('#', 'a/$b')).toBe(true);
    expect(topicMatches('a/+', 'a/$b')).toBe(true);
  });
});
