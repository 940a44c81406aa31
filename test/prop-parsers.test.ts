/**
 * Property-based (fast-check): the config parser and the password-file parsers take any
 * input without crashing, and every refusal is one line in Mosquitto's form.
 * - mosquitto.conf text made of real option names with random values, garbage lines,
 *   comments and odd whitespace: parseConfigText returns, or throws a ConfigError whose
 *   first line is the refusal (`Error: ...`, one line) followed at most by Mosquitto's
 *   locator line `Error found at FILE:LINE.`; nothing else is thrown.
 * - password files: the broker's parser (auth/password-file.ts) never throws, and each
 *   diagnostic is one line that never quotes a password field; the passwd tool's parser
 *   (passwd/file.ts) accepts or names one line number within the file.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/broker/config/errors.js';
import { KNOWN_OPTIONS, parseConfigText } from '../src/broker/config/parse.js';
import { parsePasswordFile } from '../src/broker/auth/password-file.js';
import { parsePasswdText } from '../src/passwd/file.js';

const word = fc.oneof(
  fc.constantFrom('true', 'false', '0', '1', '-1', '1883', '65536', '99999999999999999999', '', ' ', 'x', '/nonexistent/x', 'ipv4', 'all', 'websockets', '#', '$SYS/#', 'in', 'out', 'both', '\t', 'é', '\u0000'),
  fc.string({ maxLength: 12 }),
  fc.integer().map(String),
);
const optionLine = fc
  .tuple(fc.constantFrom(...KNOWN_OPTIONS.filter((o) => o !== 'include_dir')), fc.array(word, { maxLength: 4 }), fc.constantFrom(' ', '\t', '  '))
  .map(([name, values, sep]) => [name, ...values].join(sep));
const configLine = fc.oneof(
  { weight: 6, arbitrary: optionLine },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom('# a comment', '', '   ', '\r', 'listener 0', 'connection b', 'address 127.0.0.1:1') },
);
const configText = fc.array(configLine, { maxLength: 12 }).map((l) => l.join('\n'));

describe('config parser (fast-check)', () => {
  it('never crashes on any mosquitto.conf: it returns, or refuses in one line (and the locator)', () => {
    fc.assert(
      fc.property(configText, (text) => {
        try {
          parseConfigText(text, 'fuzz.conf', { hostname: 'host' });
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          const lines = (err as ConfigError).lines;
          expect(lines.length).toBeGreaterThanOrEqual(1);
          expect(lines.length).toBeLessThanOrEqual(2);
          for (const l of lines) expect(l).not.toMatch(/\n/);
          expect(lines[0]).toMatch(/^Error/);
          if (lines.length === 2) expect(lines[1]).toMatch(/^Error found at fuzz\.conf:\d+\.$/);
          for (const m of (err as ConfigError).before) expect(m.text).not.toMatch(/\n/);
        }
      }),
      { numRuns: 1500 },
    );
  });
});

const field = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('$6$', '$7$', '$7$101$', '$7$x$abc$def', '$6$c2FsdA==$aGFzaA==', '$2b$10$', 'plain'));
const pwLine = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), field).map(([u, f]) => `${u}:${f}`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom('# comment', '', '  \r', ':nouser') },
);
const pwText = fc.array(pwLine, { maxLength: 10 }).map((l) => l.join('\n'));

describe('password-file parsers (fast-check)', () => {
  it("the broker's never throws; each diagnostic is one line and quotes no password field", () => {
    fc.assert(
      fc.property(pwText, (text) => {
        const r = parsePasswordFile(text, '/etc/pw');
        for (const d of r.diagnostics) {
          expect(d.message).not.toMatch(/[\r\n]/);
          expect(d.message).toMatch(/^(Error|Warning): /);
        }
        // No field after a colon (a hash, or a password in a plain file) appears in a message;
        // one that is also (part of) a username of the file may, as that user's name.
        const names = text.split('\n').map((l) => l.trimStart()).filter((l) => l.indexOf(':') > 0).map((l) => l.slice(0, l.indexOf(':')));
        const secrets = text
          .split('\n')
          .map((l) => l.slice(l.indexOf(':') + 1).trim())
          .filter((s) => s.length >= 6 && !names.some((n) => n.includes(s)));
        for (const d of r.diagnostics) for (const s of secrets) expect(d.message.includes(s)).toBe(false);
      }),
      { numRuns: 1500 },
    );
  });

  it("the passwd tool's accepts, or names one line of the file", () => {
    fc.assert(
      fc.property(pwText, (text) => {
        const r = parsePasswdText(text);
        if (!r.ok) {
          expect(Number.isInteger(r.line)).toBe(true);
          expect(r.line).toBeGreaterThanOrEqual(1);
          expect(r.line).toBeLessThanOrEqual(text.split('\n').length);
        }
      }),
      { numRuns: 1500 },
    );
  });
});
