/**
 * strftime: the conversions glibc's strftime(3) gives in the C locale, checked against
 * known dates (UTC) and, where the machine has it, against date(1).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { strftime, strftimeOne } from '../src/text/strftime.js';

// Thursday 2009-01-01 03:04:05 UTC; day 1 of the year; ISO week 2009-W01.
const d1 = new Date(Date.UTC(2009, 0, 1, 3, 4, 5));
// Sunday 2010-01-03 15:16:17 UTC; ISO week belongs to 2009 (W53).
const d2 = new Date(Date.UTC(2010, 0, 3, 15, 16, 17));
// Monday 2024-12-30: ISO week 1 of 2025.
const d3 = new Date(Date.UTC(2024, 11, 30, 0, 0, 0));

describe('strftime (UTC)', () => {
  const u = { utc: true };
  it('formats dates and times', () => {
    expect(strftime('%Y-%m-%d %H:%M:%S', d1, u)).toBe('2009-01-01 03:04:05');
    expect(strftime('%F %T %R %D', d1, u)).toBe('2009-01-01 03:04:05 03:04 01/01/09');
    expect(strftime('%a %A %b %B %h', d1, u)).toBe('Thu Thursday Jan January Jan');
    expect(strftime('%c', d1, u)).toBe('Thu Jan  1 03:04:05 2009');
    expect(strftime('%e|%k|%l|%I|%p|%P|%r', d2, u)).toBe(' 3|15| 3|03|PM|pm|03:16:17 PM');
    expect(strftime('%j %u %w %C %y %s', d2, u)).toBe('003 7 0 20 10 1262531777');
    expect(strftime('%x %X %n%t%%', d1, u)).toBe('01/01/09 03:04:05 \n\t%');
  });
  it('numbers weeks as %U, %W, %V, %G and %g do', () => {
    expect(strftime('%U %W %V %G %g', d1, u)).toBe('00 00 01 2009 09');
    expect(strftime('%U %W %V %G %g', d2, u)).toBe('01 00 53 2009 09');
    expect(strftime('%U %W %V %G %g', d3, u)).toBe('52 53 01 2025 25');
  });
  it('zone conversions in UTC', () => {
    expect(strftime('%z %Z', d1, u)).toBe('+0000 GMT');
  });
  it('keeps unknown conversions and a trailing % as written', () => {
    expect(strftime('%q %E %O %', d1, u)).toBe('%q %E %O %');
    expect(strftimeOne('q', d1, u)).toBe('%q');
    expect(strftimeOne('Y', d1, u)).toBe('2009');
  });
});

const haveDate = spawnSync('date', ['--version']).status === 0;

describe.skipIf(!haveDate)('strftime agrees with date(1) in the local zone', () => {
  it('for every conversion, at several instants', () => {
    const conversions = 'aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ%'.split('');
    for (const ms of [d1.getTime(), d2.getTime(), d3.getTime(), Date.UTC(2021, 6, 4, 23, 59, 59)]) {
      const fmt = conversions.map((c) => `%${c}`).join('|');
      const r = spawnSync('date', ['-d', `@${ms / 1000}`, `+${fmt}`], { env: { ...process.env, LC_ALL: 'C' } });
      expect(strftime(fmt, new Date(ms))).toBe(r.stdout.toString().replace(/\n$/, ''));
    }
  });
});
