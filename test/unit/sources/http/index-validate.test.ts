/**
 * Entries Helm's loadIndex leaves out (chart Metadata.Validate) are left out by both index parsers — the
 * whole parse (parseIndex, YAML and JSON) and the chart-by-chart one (lazyIndex) — and their valid
 * neighbours stay. The cases and what Helm does with each are in test/support/index-entry-cases.ts;
 * test/integration/sources/http/index-validate-helm.test.ts checks the same bytes against helm itself.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { load, FAILSAFE_SCHEMA } from 'js-yaml';
import { parseIndex, scalar, type IndexParseOptions } from '../../../../src/sources/http/index-parse.ts';
import { lazyIndex } from '../../../../src/sources/http/index-lazy.ts';
import { indexEntryProblem, type IndexEntryProblem } from '../../../../src/chart/metadata-validate.ts';
import { isHelmChartVersion } from '../../../../src/chart/version.ts';
import type { ChartVersionEntry } from '../../../../src/model/repository.ts';
import { ENTRY_CASES, expectedListing, indexJson, indexYaml, pair, type EntryCase } from '../../../support/index-entry-cases.ts';

const opts: IndexParseOptions = { repository: 'main', repoUrl: 'https://charts.example.com/main' };

function listing(index: Iterable<[string, ChartVersionEntry[]]>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [chart, versions] of index) out.set(chart, versions.map((e) => pair(e.version, e.appVersion)).sort());
  return out;
}

/** Every chart the lazy index answers for, as the whole parse lists it. */
function lazyListing(bytes: Buffer): Map<string, ChartVersionEntry[]> {
  const lazy = lazyIndex(bytes, opts, 0);
  assert.ok(lazy, 'the index takes the lazy path');
  const out = new Map<string, ChartVersionEntry[]>();
  for (const chart of lazy.keys()) {
    const versions = lazy.get(chart);
    if (versions) out.set(chart, versions);
  }
  return out;
}

describe('index entries Helm leaves out', () => {
  const yaml = Buffer.from(indexYaml(ENTRY_CASES));
  const expected = expectedListing(ENTRY_CASES);

  it('the whole parse of the YAML keeps exactly what Helm keeps', () => {
    assert.deepEqual(listing(parseIndex(yaml, opts)), expected);
  });

  it('the whole parse of the same index as JSON keeps the same', () => {
    assert.deepEqual(listing(parseIndex(Buffer.from(indexJson(ENTRY_CASES)), opts)), expected);
  });

  it('the lazy parse gives every chart exactly as the whole parse does', () => {
    const whole = parseIndex(yaml, opts);
    const lazy = lazyListing(yaml);
    assert.deepEqual(lazy, whole);
    assert.equal(lazy.has('gone'), false, 'a chart whose entries are all invalid lists nothing');
  });

  it('keeps the first valid occurrence of a repeated version', () => {
    const app = parseIndex(yaml, opts).get('app') ?? [];
    assert.deepEqual(app.filter((e) => e.version === '7.0.0').map((e) => e.appVersion), ['valid']);
  });

  it('orders what it keeps newest first', () => {
    const versions = (parseIndex(yaml, opts).get('app') ?? []).map((e) => e.version);
    assert.deepEqual(versions.slice(0, 4), ['017.0.0', '7.0.0', '3', '2.3.0-A.-']);
  });

  // One case at a time, next to a valid entry: the verdict of each, whatever the others do.
  for (const c of ENTRY_CASES) {
    if (c.chart !== 'app' || c.shows) continue;
    it(`${c.keep ? 'keeps' : 'leaves out'} ${c.what}`, () => {
      const alone: EntryCase[] = [{ what: 'neighbour', chart: 'app', yaml: '{name: app, version: 0.0.1}', keep: true }, c];
      const want = expectedListing(alone).get('app');
      const bytes = Buffer.from(indexYaml(alone));
      assert.deepEqual(listing(parseIndex(bytes, opts)).get('app'), want, 'YAML');
      assert.deepEqual(listing(parseIndex(Buffer.from(indexJson(alone)), opts)).get('app'), want, 'JSON');
      assert.deepEqual(listing(lazyListing(bytes)).get('app'), want, 'lazy');
    });
  }
});

describe('indexEntryProblem', () => {
  const fromYaml = (text: string): Record<string, unknown> => load(text, { schema: FAILSAFE_SCHEMA }) as Record<string, unknown>;
  const problem = (text: string): IndexEntryProblem | undefined => indexEntryProblem(fromYaml(text), (v) => scalar(v, true));

  it('names the first check that fails, in the order Helm runs them', () => {
    assert.equal(problem('{name: app, version: 1.0.0}'), undefined);
    assert.equal(problem('{version: latest, type: foo}'), 'no_name');
    assert.equal(problem('{name: .., version: latest}'), 'name_not_allowed');
    assert.equal(problem('{name: a/b, version: latest}'), 'name_not_a_base_name');
    assert.equal(problem('{name: app, version: ~, type: foo}'), 'no_version');
    assert.equal(problem('{name: app, version: latest, type: foo}'), 'version_not_semver');
    assert.equal(problem('{name: app, version: 1.0.0, type: foo, maintainers: [~]}'), 'unknown_type');
    assert.equal(problem('{name: app, version: 1.0.0, maintainers: [null], dependencies: [~]}'), 'null_maintainer');
    assert.equal(problem('{name: app, version: 1.0.0, dependencies: [{name: a}, ""]}'), 'null_dependency');
    assert.equal(problem('{name: app, version: 1.0.0, dependencies: [{name: a, alias: "a/b"}]}'), 'alias_characters');
  });

  it('reads JSON values as JSON: the string "~" is a name, null is none', () => {
    const json = (v: Record<string, unknown>): IndexEntryProblem | undefined => indexEntryProblem(v, (x) => scalar(x, false));
    assert.equal(json({ name: '~', version: '1.0.0', maintainers: [{ name: 'm' }] }), undefined);
    assert.equal(json({ name: null, version: '1.0.0' }), 'no_name');
    assert.equal(json({ name: 'app', version: '1.0.0', dependencies: [null] }), 'null_dependency');
    assert.equal(json({ name: 'app', version: '1.0.0', type: null }), undefined);
  });

  it('leaves to the rest of the parser what makes Helm refuse the whole index', () => {
    // A mapping as a maintainer's place or a string as the dependency list: Helm cannot decode the index at all.
    assert.equal(problem('{name: app, version: 1.0.0, maintainers: [someone], dependencies: none}'), undefined);
  });
});

describe('isHelmChartVersion (Masterminds/semver NewVersion)', () => {
  it('accepts the lenient forms Helm accepts', () => {
    for (const v of ['1.0.0', 'v1.2', '1', '0.0.0', '017.0.0', '1.0.0-0', '1.0.0-0a', '1.0.0-rc.1+build.01', '1.0.0+a-b', '18446744073709551615.0.0', `1.0.0-${'a'.repeat(250)}`]) {
      assert.equal(isHelmChartVersion(v), true, v);
    }
  });

  it('refuses what NewVersion refuses', () => {
    for (const v of ['', 'latest', ' 1.0.0', '1.0.0 ', '1.0.0\n', 'V1.0.0', 'v', '1.', '1..0', '1.0.0.0', '1.0.0-', '1.0.0-a..b', '1.0.0-01', '1.0.0-rc.00', '1.0.0+', '1.0.0+a..b', '1.0.0-x_y', '1.0.0+é', '18446744073709551616.0.0', '1.99999999999999999999.0', `1.0.0-${'a'.repeat(251)}`]) {
      assert.equal(isHelmChartVersion(v), false, JSON.stringify(v));
    }
  });
});

describe('fuzz: what the parsers keep is exactly the entries without an invalid field', () => {
  // Each field's spellings, valid (true) or not; an entry is kept when all of its fields are valid.
  const variants = {
    name: [['name: app', true], ['name: other', true], ['name: "\\t"', true], ['name: ~', false], ['name: a/b', false], ['name: ..', false], ['name: "\\u200b"', false], ['', false]],
    version: [['', true], ['-01', false], ['-rc.1', true], ['+b.01', true], ['_1', false]],
    type: [['', true], ['type: library', true], ['type: ~', true], ['type: foo', false]],
    maintainers: [['', true], ['maintainers: [{name: m}]', true], ['maintainers: [~]', false]],
    dependencies: [['', true], ['dependencies: [{name: d, alias: ok_1}, {name: d}]', true], ['dependencies: [{name: d, alias: a.b}]', false], ['dependencies: [~]', false]],
  } as const;
  const pick = <T>(list: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...list);
  const entry = fc.record({ name: pick(variants.name), version: pick(variants.version), type: pick(variants.type), maintainers: pick(variants.maintainers), dependencies: pick(variants.dependencies) });

  it('in the whole and the lazy parse alike', () => {
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 12 }), (entries) => {
        const want: string[] = [];
        const items = entries.map((e, i) => {
          const version = `1.${i}.0${e.version[0]}`;
          if (e.name[1] && e.version[1] && e.type[1] && e.maintainers[1] && e.dependencies[1]) want.push(version);
          const fields = [e.name[0], `version: ${version}`, e.type[0], e.maintainers[0], e.dependencies[0]].filter((f) => f !== '');
          return `  - ${fields.join('\n    ')}\n`;
        });
        const bytes = Buffer.from(`apiVersion: v1\nentries:\n  app:\n${items.join('')}  other:\n  - name: other\n    version: 1.0.0\n`);
        const whole = parseIndex(bytes, opts);
        assert.deepEqual((whole.get('app') ?? []).map((e) => e.version).sort(), want.sort());
        assert.deepEqual(lazyListing(bytes), whole);
      }),
      { seed: 20261201, numRuns: 300 },
    );
  });
});
