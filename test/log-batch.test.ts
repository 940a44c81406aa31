/**
 * Log lines to stderr and stdout go out once per event-loop turn (issue 17: a connect
 * storm logs two lines per client), in order, bounded, and nothing pending is lost when
 * the process exits.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { batchedSink } from '../src/broker/log.js';

describe('batched log sinks', () => {
  it('writes the lines of one turn together, in order, at the end of the turn', async () => {
    const out: string[] = [];
    const sink = batchedSink((t) => out.push(t));
    sink.write(0, 'one');
    sink.write(0, 'two');
    sink.write(0, 'three');
    expect(out).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(out).toEqual(['one\ntwo\nthree\n']);
    sink.write(0, 'four');
    await new Promise((r) => setImmediate(r));
    expect(out).toEqual(['one\ntwo\nthree\n', 'four\n']);
  });

  it('writes at once rather than hold more than 64 KB', () => {
    const out: string[] = [];
    const sink = batchedSink((t) => out.push(t));
    const line = 'x'.repeat(1000);
    for (let i = 0; i < 70; i++) sink.write(0, line);
    expect(out.length).toBe(1);
    expect(out[0]!.length).toBeGreaterThan(64 * 1024);
  });

  it('loses nothing pending when the process exits in the same turn', () => {
    const log = pathToFileURL(path.resolve('dist/broker/log.js')).href;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(log)}); m.stderrSink.write(0, 'last words'); process.exit(3);`], { encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toBe('last words\n');
  });
});
