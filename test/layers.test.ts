/**
 * The layer rules of DESIGN.md, checked on the import graph of src/ by dependency-cruiser
 * with the rules in .dependency-cruiser.json: protocol imports nothing of ours, net only
 * protocol, client only net and protocol, nothing imports cli, only the composition root
 * (broker.ts) names the Broker class and builds its concrete parts, plugins reach the
 * broker's state only through the contract, the contract (broker/core.ts) is a leaf, and
 * there are no import cycles, type-only imports included.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cruise, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

interface RuleFile {
  forbidden: { name: string }[];
  options: Record<string, unknown>;
}

const config = JSON.parse(fs.readFileSync('.dependency-cruiser.json', 'utf8')) as RuleFile;

let cruised: Promise<ICruiseResult> | undefined;

/** The graph of src/, cruised once for both tests. */
function cruiseSrc(): Promise<ICruiseResult> {
  return (cruised ??= cruiseOnce());
}

async function cruiseOnce(): Promise<ICruiseResult> {
  const { tsConfig: _cliOnly, ...options } = config.options;
  const result = await cruise(
    ['src'],
    { ...options, validate: true, ruleSet: { forbidden: config.forbidden } as never },
    undefined,
    { tsConfig: extractTSConfig('tsconfig.json') },
  );
  return result.output as ICruiseResult;
}

/** One line per violation: the rule, the import, and for a cycle every file in it. */
function describeViolation(v: IViolation): string {
  const cycle = v.cycle !== undefined ? `: ${[v.from, ...v.cycle.map((c) => c.name)].join(' -> ')}` : '';
  return `${v.rule.name}: ${v.from} imports ${v.to}${cycle}`;
}

describe('layers (DESIGN.md)', () => {
  it('holds for every import in src/, and there are no cycles', async () => {
    const result = await cruiseSrc();
    // The rules ran over the whole tree: the contract and the composition root are in it.
    const modules = result.modules.map((m) => m.source);
    expect(modules).toContain('src/broker/core.ts');
    expect(modules).toContain('src/broker/broker.ts');
    expect(modules.length).toBeGreaterThan(100);
    expect(result.summary.violations.map(describeViolation)).toEqual([]);
  }, 60_000);

  it('sees type-only imports, so a type-only cycle would be reported', async () => {
    const result = await cruiseSrc();
    const handler = result.modules.find((m) => m.source === 'src/broker/handlers/pingreq.ts');
    expect(handler).toBeDefined();
    // handlers import the contract for its types only; the graph must still have the edge.
    expect(handler!.dependencies.map((d) => d.resolved)).toContain('src/broker/core.ts');
  }, 60_000);
});
