// The load generator process: receives one scenario over IPC, runs it against the broker's
// port, reports phase marks and the result, and exits. Bounded: it exits by itself.
import type { GenMessage, GenResult, GenSpec, MarkMessage } from '../protocol.js';
import { runAuth } from './auth.js';
import { runFleet } from './fleet.js';
import { runFlow } from './flow.js';
import { runIdle } from './idle.js';
import { runRetained } from './retained.js';

// The fleet scenarios (100,000 connections on a slow machine) take longest.
const HARD_LIMIT_MS = 20 * 60 * 1000;

function send(msg: GenMessage): void {
  process.send?.(msg);
}

function mark(name: MarkMessage['name']): void {
  send({ type: 'mark', name });
}

function run(spec: GenSpec): Promise<GenResult> {
  switch (spec.kind) {
    case 'flow':
      return runFlow(spec, mark);
    case 'idle':
      return runIdle(spec, mark);
    case 'retained':
      return runRetained(spec, mark);
    case 'auth':
      return runAuth(spec, mark);
    case 'fleet':
      return runFleet(spec, mark);
  }
}

const guard = setTimeout(() => {
  send({ type: 'error', message: 'load generator hard time limit reached' });
  process.exit(2);
}, HARD_LIMIT_MS);
guard.unref();

process.once('message', (spec: GenSpec) => {
  run(spec).then(
    (result) => process.send?.({ type: 'result', result } satisfies GenMessage, () => process.exit(0)),
    (err: unknown) =>
      process.send?.({ type: 'error', message: (err as Error).message } satisfies GenMessage, () => process.exit(1)),
  );
});
process.on('disconnect', () => process.exit(0));
