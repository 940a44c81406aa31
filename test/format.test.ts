/**
 * The -F formatter and the -v / payload-only output, as pure functions over a packet:
 * Mosquitto's field widths, flags, escapes, absent properties and JSON layout.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/cli/client-config.js';
import { compileFormat, MessagePrinter } from '../src/cli/output-format.js';
import type { PublishPacket } from '../src/protocol/index.js';

function packet(over: Partial<PublishPacket> = {}): PublishPacket {
  return { cmd: 'publish', topic: 'a/b', payload: Buffer.from('props'), qos: 1, retain: true, dup: false, messageId: 7, ...over };
}

function fmt(format: string, p = packet(), extra: { eol?: boolean; pretty?: boolean } = {}): string {
  return new MessagePrinter({ format, verbose: false, eol: extra.eol ?? false, pretty: extra.pretty ?? false }).render(p).toString('utf8');
}

const v5 = packet({
  properties: {
    contentType: 'text/plain',
    userProperties: [['k1', 'v1'], ['k2', 'v2'], ['k2', 'v3']],
    responseTopic: 'rt',
    correlationData: Buffer.from('cd'),
    payloadFormatIndicator: true,
    messageExpiryInterval: 42,
    topicAlias: 3,
    subscriptionIdentifier: 9,
  },
});

describe('-F message parameters', () => {
  it('prints topic, payload, QoS, retain, length, mid and hex', () => {
    expect(fmt('%t|%p|%q|%r|%l|%m|%x|%X|%%')).toBe('a/b|props|1|1|5|7|70726f7073|70726F7073|%');
  });
  it('prints MQTT 5 properties', () => {
    expect(fmt('%C|%D|%E|%F|%P|%R|%A|%S', v5)).toBe('text/plain|cd|42|1|k1:v1 k2:v2 k2:v3|rt|3|9');
  });
  it('applies widths, precision and flags as Mosquitto does', () => {
    expect(fmt('%6t|%-6t|%.1t|%5.2t|%05l|%-4l|%04m')).toBe('   a/b|a/b   |a|   a/|00005|5   |0007');
    // Payload widths cut and pad; hex widths show min(length, width)/2 bytes.
    expect(fmt('%3p|%8p|%-8p|%08p')).toBe('pro|   props|props   |000props');
    expect(fmt('%4x|%8x|%-8X|%010x|%.2x')).toBe('7072|    7072|7072    |0000007072|70726f7073');
  });
  it('fills the field of an absent property, except the response topic', () => {
    expect(fmt('%5A|%5S|%5E|%05E|%5F|%5C|%5R|%5D|%5P')).toBe('     |     |     |00000|     |     |||');
  });
  it('expands escapes and @ time codes', () => {
    expect(fmt('a\\tb\\\\c\\0d\\ee\\nf\\rg\\vh\\a@@')).toBe('a\tb\\c\0d\x1be\nf\rg\x0bh\x07@');
    expect(fmt('@Y|@q|@N')).toMatch(/^\d{4}\|%q\|\d{9}$/);
    expect(fmt('%I|%U')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}\|\d+\.\d{9}$/);
  });
  it('appends the end of line unless -N', () => {
    expect(fmt('%t', packet(), { eol: true })).toBe('a/b\n');
  });
});

describe('-F format errors', () => {
  const bad: [string, string][] = [
    ['end%', 'Error: Incomplete format specifier.\n'],
    ['x@', 'Error: Incomplete format specifier.\n'],
    ['%5', 'Error: Incomplete format specifier.\n'],
    ['end\\', 'Error: Incomplete escape specifier.\n'],
    ['%z', "Error: Invalid format specifier 'z'.\n"],
    ['%0-5l', "Error: Invalid format specifier '-'.\n"],
    ['\\q', "Error: Invalid escape specifier 'q'.\n"],
  ];
  for (const [format, message] of bad) {
    it(`rejects '${format}'`, () => {
      let err: unknown;
      try {
        compileFormat(format);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).text).toBe(message);
    });
  }
});

describe('JSON output', () => {
  const tst = /^\{"tst":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z[+-]\d{4}",/;
  it('%j escapes the payload like cJSON and lists MQTT 5 properties', () => {
    const out = fmt('%j', packet({ payload: Buffer.from('q"\\\t\n\x01é'), properties: { contentType: 'c', payloadFormatIndicator: false } }));
    expect(out).toMatch(tst);
    expect(out.replace(tst, '{')).toBe(
      '{"topic":"a/b","qos":1,"retain":1,"payloadlen":8,"mid":7,"properties":{"content-type":"c","payload-format-indicator":0},' +
        '"payload":"q\\"\\\\\\t\\n\\u0001é"}',
    );
  });
  it('%J embeds a JSON payload re-serialised; --pretty lays it out with tabs', () => {
    const p = packet({ qos: 0, retain: false, payload: Buffer.from('{"a": [1, 2.5, {"b": null}], "c": {}, "e": 1e3}') });
    expect(fmt('%J', p).replace(tst, '{')).toBe('{"topic":"a/b","qos":0,"retain":0,"payloadlen":47,"payload":{"a":[1,2.5,{"b":null}],"c":{},"e":1000}}');
    const pretty = fmt('%J', p, { pretty: true });
    expect(pretty.split('\n').slice(2).join('\n')).toBe(
      '\t"topic":\t"a/b",\n\t"qos":\t0,\n\t"retain":\t0,\n\t"payloadlen":\t47,\n\t"payload":\t{\n' +
        '\t\t"a":\t[1, 2.5, {\n\t\t\t\t"b":\tnull\n\t\t\t}],\n\t\t"c":\t{\n\t\t},\n\t\t"e":\t1000\n\t}\n}',
    );
  });
  it('%J reports a payload that is not JSON', () => {
    const printer = new MessagePrinter({ format: '%J', verbose: false, eol: true, pretty: false });
    const topics: string[] = [];
    printer.onJsonError = (t) => topics.push(t);
    expect(printer.render(packet({ payload: Buffer.from('not json') })).toString()).toBe('\n');
    expect(topics).toEqual(['a/b']);
  });
});

describe('-v and payload-only output', () => {
  const v = new MessagePrinter({ verbose: true, eol: true, pretty: false });
  const plain = new MessagePrinter({ verbose: false, eol: true, pretty: false });
  it('prints "topic payload", and "(null)" for an empty payload', () => {
    expect(v.render(packet()).toString()).toBe('a/b props\n');
    expect(v.render(packet({ payload: Buffer.alloc(0) })).toString()).toBe('a/b (null)\n');
  });
  it('prints the payload bytes unchanged, and nothing for an empty one', () => {
    const bin = Buffer.from([0, 255, 10, 128]);
    expect(plain.render(packet({ payload: bin }))).toEqual(Buffer.concat([bin, Buffer.from('\n')]));
    expect(plain.render(packet({ payload: Buffer.alloc(0) })).length).toBe(0);
  });
});
