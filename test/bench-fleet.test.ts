/**
 * The fleet benchmark's pieces that decide whether 100,000 connections can be made at all
 * (issue 17): distinct loopback source addresses, and the --connections knob.
 */
import { describe, expect, it } from 'vitest';
import { sourceAddress } from './bench/loadgen/source-address.js';
import { parseOptions } from './bench/options.js';

describe('bench fleet', () => {
  it('gives each of 100,000 connections its own 127.0.0.0/8 source address, none of them 127.0.0.1', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const a = sourceAddress(i);
      const octets = a.split('.').map(Number);
      expect(octets[0]).toBe(127);
      for (const o of octets) expect(o >= 0 && o <= 255).toBe(true);
      seen.add(a);
    }
    expect(seen.size).toBe(100_000);
    expect(seen.has('127.0.0.1')).toBe(false);
  });

  it('--connections sets the fleet size and refuses what is not a positive whole number', () => {
    expect(parseOptions(['--connections', '20000'], ['idle-100k']).connections).toBe(20000);
    expect(parseOptions([], ['idle-100k']).connections).toBeUndefined();
    expect(() => parseOptions(['--connections', '0'], [])).toThrow(/--connections needs a positive whole number/);
    expect(() => parseOptions(['--connections', '1.5'], [])).toThrow(/positive whole number/);
  });
});
