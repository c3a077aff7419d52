/**
 * Releases really installed by older helm (3.0.1, 3.1.1, 3.2.4, 3.6.3, 3.12.3, 3.13.0, 3.13.3, 3.19.5,
 * 4.0.5), captured with scripts/capture-old-helm-fixtures.ts, against the tarballs they were installed
 * from: the content proof reproduces each, the version rules that reproduce it are exactly the ones read
 * from that helm's source, and an edited value is still a Mismatch. Before these rules, every capture of a
 * chart with subcharts by 3.0-3.12, the 3.0.1 v1 chart, the byte-order-mark chart by 3.0-3.2 and the
 * 3.13.0 import-values ones were false Mismatches. 3.13.3, 3.19.5 and 4.0.5 stand for the rules no CI
 * binary checks (3.13.1-3.17.0, 3.19.5-3.20.0, 4.0-4.1.2); the matrix of every release line's latest
 * patch that they were picked from is in docs/operations.md ("Helm versions checked").
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readChartTree } from '../../../src/chart/chart-tree.ts';
import { fingerprintChart, metadataDigest, valuesDigest } from '../../../src/chart/fingerprint.ts';
import { tokenizeGlobals } from '../../../src/chart/global-tokens.ts';
import { chartFromJson, HELM_BEHAVIOURS, helmProcessChart, reusedValues, treeJson } from '../../../src/chart/helm-install.ts';
import { releaseFromJson, storedValuesFromJson } from '../../../src/decode/decode.ts';
import { proofInputsOf } from '../../../src/decode/proof-inputs.ts';
import { proveContent, type PublishedForProof } from '../../../src/resolve/proof.ts';
import type { OldHelmManifest } from '../../../scripts/capture-old-helm-fixtures.ts';
import { FIXTURES } from '../helpers.ts';

const DIR = `${FIXTURES}old-helm/`;
type Stored = { chart: { values: Record<string, unknown>; templates: { name: string; data: string }[]; files: { name: string; data: string }[] | null } };
const table = (v: unknown): Record<string, unknown> => v as Record<string, unknown>;
const manifest = JSON.parse(readFileSync(`${DIR}manifest.json`, 'utf8')) as OldHelmManifest;
type OldHelmCapture = OldHelmManifest['captures'][number];

const NEWER = ['helm 4.2+', 'helm 4.1.3+', 'helm 4.0-4.1.2', 'helm 3.20.1+', 'helm 3.19.5-3.20.0', 'helm 3.17.1-3.19.4', 'helm 3.13.1-3.17.0'];
/** The rules that reproduce each capture (metadata and values), by chart and the helm that installed it. */
const ALL_BEFORE_3_1_2 = [...NEWER, 'helm 3.13.0', 'helm 3.8.2-3.12', 'helm 3.7-3.8.1', 'helm 3.2-3.6', 'helm 3.1.2-3.1.3'];
const ALL = [...ALL_BEFORE_3_1_2, 'helm 3.0-3.1.1'];
// --reuse-values (revision 2 of the umbrella with user globals): 3.2-3.12 share one result here.
const OLD_REUSE = ['helm 3.8.2-3.12', 'helm 3.7-3.8.1', 'helm 3.2-3.6', 'helm 3.1.2-3.1.3'];
// Since 3.13 (user globals no longer stored); 4.2+ drops the chart's own null defaults when coalescing.
const NEW_REUSE = ['helm 4.1.3+', 'helm 4.0-4.1.2', 'helm 3.20.1+', 'helm 3.19.5-3.20.0', 'helm 3.17.1-3.19.4', 'helm 3.13.1-3.17.0', 'helm 3.13.0'];
// A user null for a key without default carried over by --reuse-values: kept except by "fix null merge" and 4.2+.
const KEPT_NULL = ['helm 4.1.3+', 'helm 3.20.1+', 'helm 3.17.1-3.19.4', 'helm 3.13.1-3.17.0', 'helm 3.13.0'];
/** What helm 3.13.1 and later store reproduces with every rule since 3.13.1 (3.13.0 differs with import-values). */
const NEWER_CHARTS: Record<string, string[]> = {
  umbrella: [...NEWER, 'helm 3.13.0'],
  'umbrella globals': [...NEWER, 'helm 3.13.0'],
  'umbrella globals reuse': NEW_REUSE,
  nulls: [...NEWER, 'helm 3.13.0'],
  imports: NEWER,
  strings: NEWER,
  legacy: ALL_BEFORE_3_1_2,
  bom: ALL,
  'bom reuse': ALL,
  loose: ALL,
};
const EXPECTED: Record<string, Record<string, string[]>> = {
  // 3.0-3.1.1 kept disabled dependencies in the metadata; before 3.2 CoalesceTables kept nulls; 3.0.0-3.0.1
  // did not store a v1 chart's requirements.yaml/requirements.lock among its files.
  'v3.0.1': { umbrella: ['helm 3.0-3.1.1'], 'umbrella globals': ['helm 3.0-3.1.1'], imports: ['helm 3.1.2-3.1.3', 'helm 3.0-3.1.1'], strings: ['helm 3.1.2-3.1.3', 'helm 3.0-3.1.1'], legacy: ['helm 3.0-3.1.1'], bom: ALL , 'umbrella globals reuse': ['helm 3.0-3.1.1'], 'bom reuse': ALL, dupes: ALL, loose: ALL },
  'v3.1.1': { umbrella: ['helm 3.0-3.1.1'], 'umbrella globals': ['helm 3.0-3.1.1'], imports: ['helm 3.1.2-3.1.3', 'helm 3.0-3.1.1'], strings: ['helm 3.1.2-3.1.3', 'helm 3.0-3.1.1'], legacy: ['helm 3.0-3.1.1'], bom: ALL , 'umbrella globals reuse': ['helm 3.0-3.1.1'], 'bom reuse': ALL },
  'v3.2.4': { umbrella: ['helm 3.2-3.6', 'helm 3.1.2-3.1.3'], 'umbrella globals': ['helm 3.2-3.6'], imports: ['helm 3.8.2-3.12', 'helm 3.7-3.8.1', 'helm 3.2-3.6'], strings: ['helm 3.7-3.8.1', 'helm 3.2-3.6'], legacy: ALL_BEFORE_3_1_2, bom: ALL , 'umbrella globals reuse': OLD_REUSE, 'bom reuse': ALL },
  'v3.6.3': { umbrella: ['helm 3.2-3.6', 'helm 3.1.2-3.1.3'], 'umbrella globals': ['helm 3.2-3.6'], imports: ['helm 3.8.2-3.12', 'helm 3.7-3.8.1', 'helm 3.2-3.6'], strings: ['helm 3.7-3.8.1', 'helm 3.2-3.6'], legacy: ALL_BEFORE_3_1_2, bom: ALL , 'umbrella globals reuse': OLD_REUSE, 'bom reuse': ALL },
  'v3.12.3': { umbrella: ['helm 3.8.2-3.12', 'helm 3.7-3.8.1'], 'umbrella globals': ['helm 3.8.2-3.12', 'helm 3.7-3.8.1'], imports: ['helm 3.8.2-3.12', 'helm 3.7-3.8.1', 'helm 3.2-3.6'], strings: ['helm 3.8.2-3.12'], legacy: ALL_BEFORE_3_1_2, bom: ALL , 'umbrella globals reuse': OLD_REUSE, 'bom reuse': ALL, dupes: ALL, loose: ALL },
  // 3.13.0 differs from 3.13.1 only where a parent value meets an imported one.
  'v3.13.0': { umbrella: [...NEWER, 'helm 3.13.0'], 'umbrella globals': [...NEWER, 'helm 3.13.0'], imports: ['helm 3.13.0'], strings: ['helm 3.13.0'], legacy: ALL_BEFORE_3_1_2, bom: ALL , 'umbrella globals reuse': NEW_REUSE, 'bom reuse': ALL },
  // 3.13.1-3.17.0 (3.13.3 checked; 3.14.4, 3.15.4, 3.16.4 stored the same); the last to install `dupes`.
  'v3.13.3': { ...NEWER_CHARTS, 'nulls reuse': KEPT_NULL, dupes: ALL },
  // 3.19.5 carries 3.20.0's "fix null merge" (578564ee2): the user's null is gone after --reuse-values.
  'v3.19.5': { ...NEWER_CHARTS, 'nulls reuse': ['helm 4.0-4.1.2', 'helm 3.19.5-3.20.0'] },
  // 4.0-4.1.2 (no CI binary: 4.1.4 is 4.1.3+); a release Helm 4 marks is proven with Helm 4's rules only.
  'v4.0.5': { ...NEWER_CHARTS, 'nulls reuse': ['helm 4.0-4.1.2', 'helm 3.19.5-3.20.0'] },
};

function load(c: OldHelmCapture, edit?: (release: Stored) => void) {
  const release = JSON.parse(readFileSync(`${DIR}${c.file}`, 'utf8')) as Stored;
  edit?.(release);
  const record = releaseFromJson(JSON.stringify(release), c.file, 'Secret', 'old-helm');
  const { content, tree } = readChartTree(readFileSync(`${DIR}${c.chart}`));
  const published: PublishedForProof = { fingerprint: fingerprintChart(content), tree: treeJson(tree) };
  return { record, published };
}

/** The chart or named install of a capture (file `<helm>-<label>-r<n>.v<revision>.json`). */
const labelOf = (c: OldHelmCapture): string => /^v[\d.]+-(\w+)-r\d+\.v\d+\.json$/.exec(c.file)?.[1] ?? '';
const versionOf = (helm: string): string => /^v\d+\.\d+\.\d+/.exec(helm)?.[0] ?? '';
/** Helm before 3.13 (the rules with sharedChartValues) stored the user's globals in the chart's values. */
const SHARED_VALUES = new Set(['v3.0.1', 'v3.1.1', 'v3.2.4', 'v3.6.3', 'v3.12.3']);

describe('releases stored by older helm (real captures)', () => {
  it('cover 3.0.1 to 4.0.5, every chart, and user globals', () => {
    const seen = new Set(manifest.captures.map((c) => `${versionOf(c.helm)} ${c.chart}`));
    for (const v of Object.keys(EXPECTED)) for (const chart of ['umbrella', 'imports', 'strings', 'legacy', 'bom']) assert.ok([...seen].some((s) => s.startsWith(`${v} charts/${chart}-`)), `${v} ${chart}`);
    assert.ok(manifest.captures.some((c) => c.set['global.token']));
  });

  it('one dependency name twice without alias: installed by helm before 3.14, refused since (6a4035aea)', () => {
    const dupes = (c: { chart: string }): boolean => c.chart.includes('/dupes-');
    const installed = manifest.captures.filter(dupes).map((c) => versionOf(c.helm));
    const refused = (manifest.refused ?? []).filter(dupes);
    assert.ok(installed.length > 0 && refused.length > 0);
    for (const v of installed) assert.ok(SHARED_VALUES.has(v) || v.startsWith('v3.13.'), v);
    for (const r of refused) {
      assert.ok(!SHARED_VALUES.has(versionOf(r.helm)) && !versionOf(r.helm).startsWith('v3.13.'), r.helm);
      assert.match(r.error, /more than one dependency with name or alias "cache"/);
    }
  });

  for (const c of manifest.captures) {
    it(`${c.file} (${c.helm}, --set ${JSON.stringify(c.set)})`, async () => {
      const { record, published } = load(c);
      // Revision 2 of an upgrade with --reuse-values: the proof reads revision 1 as the controller does.
      const previous = c.previous ? storedValuesFromJson(readFileSync(`${DIR}${c.previous}`), c.previous) : undefined;
      const proof = await proveContent(record, published, { previous: async (n) => (n === 1 ? previous : undefined) });
      assert.deepEqual(proof.differences, []);
      const version = versionOf(c.helm);
      // 3.19.5 and 4.0.5 removed the carried-over user null: revision 2 is what a fresh install stores, no reuse note.
      const reuseVisible = !(labelOf(c) === 'nulls' && ['v3.19.5', 'v4.0.5'].includes(version));
      if (previous && c.chart.includes('umbrella') && reuseVisible) assert.match(proof.accounted.join('; '), /values carried over by --reuse-values from revision 1/);
      const chart = /charts\/(\w+)-/.exec(c.chart)?.[1] ?? '';
      const processing: Record<string, RegExp> = { legacy: /requirements\.yaml folded into metadata/, dupes: /subchart values coalesced/, loose: /subchart values coalesced/ };
      if (chart !== 'bom') assert.match(proof.accounted.join('; '), processing[chart] ?? /import-values applied/);
      const bomKept = chart === 'bom' && ['v3.0.1', 'v3.1.1', 'v3.2.4'].includes(versionOf(c.helm));
      assert.equal(proof.accounted.some((a) => a.includes('UTF-8 byte order mark kept in templates/NOTES.txt, templates/_helpers.tpl, files/README.md (Helm before 3.3)')), bomKept);
      const inputs = proofInputsOf(record);
      assert.ok(inputs);
      const userGlobals = c.set['global.token'] !== undefined;
      assert.equal(inputs.globalsValuesDigest !== undefined, userGlobals, 'a keyed-hash digest only when the user set globals');
      assert.equal(proof.accounted.some((a) => /user globals .* keyed hash/.test(a)), userGlobals && SHARED_VALUES.has(version));
      assert.equal(proof.accounted.some((a) => /requirements\.yaml\/requirements\.lock not among the stored files/.test(a)), chart === 'legacy' && version === 'v3.0.1');
      // Helm 3 and 4 stored these; the Helm 2 rule (major 2) is checked on its own captures (helm2to3.test.ts).
      const reproducing = HELM_BEHAVIOURS.filter((b) => b.major !== 2).filter((b) => {
        const base = previous ? reusedValues(previous.values, previous.config, b) : undefined;
        const parts = helmProcessChart(chartFromJson(published.tree), inputs.conditionValues, b, base);
        if (metadataDigest(parts.metadata) !== record.fingerprint.metadata) return false;
        if (valuesDigest(parts.values) === record.fingerprint.values) return true;
        return b.sharedChartValues && inputs.globalsValuesDigest === valuesDigest(tokenizeGlobals(parts.values));
      }).map((b) => b.id);
      assert.deepEqual(reproducing, EXPECTED[version]?.[`${labelOf(c)}${userGlobals ? ' globals' : ''}${previous ? ' reuse' : ''}`]);
    });
  }

  it('an edited value, subchart default, stored user global or template is still a Mismatch', async () => {
    const plain = manifest.captures.find((c) => c.helm.startsWith('v3.12.') && c.chart.includes('umbrella') && Object.keys(c.set).length === 0);
    const globals = manifest.captures.find((c) => c.helm.startsWith('v3.12.') && c.set['global.token']);
    assert.ok(plain && globals);
    const edits: [typeof plain, (r: Stored) => void][] = [
      [plain, (r) => void (r.chart.values['replicas'] = 3)],
      [plain, (r) => void (table(r.chart.values['backend'])['removeMe'] = null)],
      [plain, (r) => void delete table(r.chart.values['cacheA'])['size']],
      [globals, (r) => void (table(table(r.chart.values['backend'])['global'])['token'] = 'fixture-dummy-other')],
      [globals, (r) => void (table(r.chart.values['global'])['region'] = 'us')],
    ];
    for (const [c, edit] of edits) {
      const { record, published } = load(c, edit);
      const proof = await proveContent(record, published);
      assert.deepEqual(proof.differences, ['values'], `${c.file}: ${edit.toString()}`);
    }
    // Helm 3.0.1's v1 chart: the missing requirements files are explained, an edited template is not.
    const legacy = manifest.captures.find((c) => c.helm.startsWith('v3.0.1') && c.chart.includes('legacy'));
    assert.ok(legacy);
    const edited = load(legacy, (r) => void ((r.chart.templates[0] as { data: string }).data = Buffer.from('kind: Secret\n').toString('base64')));
    assert.deepEqual((await proveContent(edited.record, edited.published)).differences, ['templates/configmap.yaml', 'files/requirements.lock', 'files/requirements.yaml'], 'every difference named');
    const added = load(legacy, (r) => void (r.chart.files = [...(r.chart.files ?? []), { name: 'requirements.yaml', data: Buffer.from('dependencies: []\n').toString('base64') }]));
    assert.deepEqual((await proveContent(added.record, added.published)).differences, ['files/requirements.lock', 'files/requirements.yaml'], 'present but different: named');
    // Helm 3.2.4 kept the byte order marks: explained; another README (with its mark) is not.
    const bom = manifest.captures.find((c) => c.helm.startsWith('v3.2.4') && c.chart.includes('bom'));
    assert.ok(bom);
    const readme = load(bom, (r) => {
      (r.chart.files?.[0] as { data: string }).data = Buffer.from('\ufeff# edited\n').toString('base64');
    });
    assert.deepEqual((await proveContent(readme.record, readme.published)).differences, ['templates/NOTES.txt', 'templates/_helpers.tpl', 'files/README.md']);
  });
});
