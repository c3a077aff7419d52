/**
 * Property: for any combination of the features Helm processes at install time, chartorigin's
 * reproduction equals what a real helm stores. fast-check draws the chart (apiVersion, subcharts as
 * directories or .tgz, nesting, aliases, conditions, tags, import-values forms, library charts, globals,
 * nulls in values) and the `--set` toggles, with a fixed seed; each run packages with helm and installs
 * with one of the five tested helm binaries (`--dry-run`). Bounded to 35 runs (about 50 s on 2 cores).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { proveContent } from '../../src/resolve/proof.ts';
import { scratchDir } from '../harness/charts.ts';
import { ensureNamespace } from '../harness/controlplane.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { dryRunInstall, publishedOf } from '../harness/helm-proof.ts';
import { HELM_PROOF_BINARIES as HELM_BINARIES } from '../harness/tools.ts';
import { packageDir, writeChart, type DependencySpec, type SubchartSpec, type UmbrellaSpec } from '../harness/umbrella.ts';

const env = testEnv();
const cluster = env.cluster;
const ns = uniqueNamespace('e2e-proofprop');

const scalar = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.boolean(), fc.constantFrom('a', 'b', 'on'), fc.constant(null));
const table = (depth: number): fc.Arbitrary<Record<string, unknown>> =>
  fc.dictionary(fc.constantFrom('k1', 'k2', 'k3', 'enabled'), depth > 0 ? fc.oneof(scalar, table(depth - 1)) : scalar, { maxKeys: 3 });

const subchart = (name: string, nested: boolean): fc.Arbitrary<SubchartSpec> =>
  fc.record({
    values: table(2),
    global: fc.option(table(1), { nil: undefined }),
    library: fc.boolean(),
    child: nested ? fc.option(subchart(`${name}leaf`, false), { nil: undefined }) : fc.constant(undefined),
    childImport: fc.boolean(),
  }).map(({ values, global, library, child, childImport }) => ({
    name,
    version: '1.0.0',
    library,
    values: { ...values, exports: { shared: { fromChild: name } }, ...(global ? { global } : {}) },
    dependencies: child ? [{ chart: child, importValues: childImport ? [{ child: 'exports.shared', parent: 'leafShared' }] : undefined, form: 'tgz' as const }] : undefined,
  }));

const dependency = (name: string): fc.Arbitrary<DependencySpec> =>
  fc.record({
    chart: subchart(name, true),
    alias: fc.option(fc.constant(`${name}x`), { nil: undefined }),
    condition: fc.boolean(),
    tags: fc.subarray(['t1', 't2']),
    importValues: fc.constantFrom(undefined, 'short', 'long'),
    form: fc.constantFrom('dir' as const, 'tgz' as const),
  }).map(({ chart, alias, condition, tags, importValues, form }) => ({
    chart,
    alias,
    condition: condition ? `${alias ?? name}.enabled` : undefined,
    tags: tags.length ? tags : undefined,
    importValues: importValues === 'short' ? ['shared'] : importValues === 'long' ? [{ child: 'exports.shared', parent: `from${name}` }] : undefined,
    form,
  }));

const umbrella: fc.Arbitrary<UmbrellaSpec> = fc
  .record({
    apiVersion: fc.constantFrom('v1' as const, 'v2' as const),
    values: table(2),
    global: fc.option(table(2), { nil: undefined }),
    deps: fc.subarray(['alpha', 'beta', 'gamma'], { minLength: 1 }).chain((names) => fc.tuple(...names.map(dependency))),
  })
  .map(({ apiVersion, values, global, deps }) => ({ name: 'prop', version: '0.1.0', apiVersion, values: { ...values, ...(global ? { global } : {}) }, dependencies: deps }));

// User globals too: Helm < 3.13 stored them in the subcharts' values (compared by keyed hash).
const toggles = fc.dictionary(fc.constantFrom('alpha.enabled', 'alphax.enabled', 'beta.enabled', 'betax.enabled', 'gamma.enabled', 'tags.t1', 'tags.t2', 'global.k1', 'global.k2.k3'), fc.constantFrom('true', 'false', 'u1'), { maxKeys: 3 });

before(async () => {
  await ensureNamespace(cluster, ns);
});

describe('content proof property (fast-check, fixed seed, real helm)', () => {
  it('any feature combination: the reproduction equals what helm stored', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(umbrella, toggles, fc.constantFrom(...HELM_BINARIES), async (spec, set, helm) => {
        const dir = await writeChart(scratchDir('prop-src'), spec);
        const pkg = await packageDir(dir, scratchDir('prop-out'));
        const record = await dryRunInstall(cluster, helm, ns, `prop${++n}`, pkg.path, set);
        const proof = await proveContent(record, publishedOf(pkg.bytes));
        assert.deepEqual(proof.differences, [], `${helm} --set ${JSON.stringify(set)}`);
      }),
      { seed: 20261130, numRuns: 35, endOnFailure: true },
    );
  });
});
