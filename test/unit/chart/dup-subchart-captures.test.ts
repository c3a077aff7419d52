/**
 * A chart depending on one subchart in two versions under two aliases (test/harness/dup-subchart.ts), as each
 * tested helm really stored it (captured by scripts/capture-dup-subchart-fixtures.ts): `helm package` writes both
 * versions under `charts/db/`, the same paths twice, in either order. Helm's loader reads that directory as one
 * chart (every Chart.yaml decoded into one Metadata, the last values.yaml), so only the alias whose version range
 * matches the merged version gets a chart. Before src/chart/archive.ts duplicableEntry the archive was refused
 * (`appears twice`): every release of it was unverifiable, never Verified. The chart tarred as built (two .tgz
 * under charts/, no duplicate) was already read; it is here to keep it so.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readChartFiles } from '../../../src/chart/archive.ts';
import { readChartTree } from '../../../src/chart/chart-tree.ts';
import { fingerprintChart } from '../../../src/chart/fingerprint.ts';
import { treeJson } from '../../../src/chart/helm-install.ts';
import { releaseFromJson } from '../../../src/decode/decode.ts';
import { proveContent, type PublishedForProof } from '../../../src/resolve/proof.ts';
import { DUP_SUBCHART_TARBALLS, type DupSubchartCapture } from '../../../scripts/capture-dup-subchart-fixtures.ts';
import { FIXTURES } from '../helpers.ts';
import { tgz } from './tar-writer.ts';
import { rejects } from '../../support/repo-errors.ts';

const DIR = `${FIXTURES}dup-subchart/`;
type Stored = { chart: { values: Record<string, unknown>; templates: { name: string; data: string }[] } };
const manifest = JSON.parse(readFileSync(`${DIR}manifest.json`, 'utf8')) as { captures: DupSubchartCapture[] };
const version = (c: DupSubchartCapture): string => /^v\d+\.\d+\.\d+/.exec(c.helm)?.[0] ?? '';

async function prove(c: DupSubchartCapture, edit?: (release: Stored) => void) {
  const release = JSON.parse(readFileSync(`${DIR}${c.file}`, 'utf8')) as Stored;
  edit?.(release);
  const record = releaseFromJson(JSON.stringify(release), c.file, 'Secret', 'dupsub');
  const { content, tree } = readChartTree(readFileSync(`${DIR}${c.chart}`));
  const published: PublishedForProof = { fingerprint: fingerprintChart(content), tree: treeJson(tree) };
  return proveContent(record, published);
}

describe('one subchart in two versions under two aliases (real helm package output, real captures)', () => {
  it('covers every tested helm and every tarball', () => {
    assert.deepEqual([...new Set(manifest.captures.map(version))].sort(), ['v3.12.3', 'v3.17.2', 'v3.22.0', 'v4.1.4', 'v4.3.2']);
    for (const t of DUP_SUBCHART_TARBALLS) assert.equal(manifest.captures.filter((c) => c.chart === t).length, 5, t);
  });

  it('helm package wrote charts/db/ twice; the tree merges it as Helm does, in tar order', () => {
    for (const [file, first, last] of [
      ['packaged-1.0.0-2.0.0.tgz', '1.0.0', '2.0.0'],
      ['packaged-2.0.0-1.0.0.tgz', '2.0.0', '1.0.0'],
    ] as const) {
      const bytes = readFileSync(`${DIR}${file}`);
      // The strict parent-files reader still refuses the second copy (no caller reads subchart files through it).
      rejects(() => readChartFiles(bytes, { subcharts: true }), 'invalid_archive', /"charts\/db\/Chart\.yaml" appears twice/);
      const { content, tree } = readChartTree(bytes);
      assert.deepEqual(content.templates.map((t) => t.name), ['templates/cm.yaml'], file);
      assert.equal(tree.subcharts.length, 1, `${file}: one db chart, loaded from both copies`);
      const db = tree.subcharts[0];
      assert.ok(db);
      // Every Chart.yaml decoded into one Metadata: the later one's fields win, the earlier one's other fields stay
      // (1.0.0's keywords and its dependency on leaf, which 2.0.0 does not declare), as encoding/json decodes.
      assert.equal(db.metadata.version, last, file);
      assert.equal(db.metadata['description'], last === '2.0.0' ? 'new db' : 'old db', file);
      assert.deepEqual(db.metadata['keywords'], ['old'], file);
      assert.deepEqual(db.metadata.dependencies?.map((d) => d.name), ['leaf'], file);
      assert.deepEqual(db.subcharts.map((s) => s.metadata.name), ['leaf'], file);
      // The last values.yaml replaces the first.
      assert.equal(db.values?.['image'], last === '2.0.0' ? 'db-new' : 'db-old', `${file}: values of ${last}, not of ${first}`);
    }
  });

  it('the chart tarred as built loads both versions as two charts', () => {
    const { tree } = readChartTree(readFileSync(`${DIR}as-built.tgz`));
    assert.deepEqual(tree.subcharts.map((s) => `${s.metadata.name}@${s.metadata.version}`).sort(), ['db@1.0.0', 'db@2.0.0']);
  });

  for (const c of manifest.captures) {
    it(`${c.helm} ${c.chart}: Verified; an edited value or template is a Mismatch`, async () => {
      const proof = await prove(c);
      assert.equal(proof.unverifiable, undefined, c.file);
      assert.deepEqual(proof.differences, [], c.file);
      assert.match(proof.accounted.join('; '), /alias db→dbold, db→dbnew/, c.file);
      const value = await prove(c, (r) => {
        r.chart.values['top'] = 2;
      });
      assert.ok(value.differences.includes('values'), `${c.file}: ${value.differences.join(', ')}`);
      const template = await prove(c, (r) => {
        const t = r.chart.templates[0];
        assert.ok(t);
        t.data = Buffer.from(`${Buffer.from(t.data, 'base64').toString('utf8')}\n# edited\n`).toString('base64');
      });
      assert.ok(template.differences.includes('templates/cm.yaml'), `${c.file}: ${template.differences.join(', ')}`);
    });
  }
});

describe('duplicate paths Helm\'s loader would merge but `helm package` never writes stay refused', () => {
  const chart = [
    { name: 'top/Chart.yaml', data: 'apiVersion: v2\nname: top\nversion: 0.1.0\n' },
    { name: 'top/charts/db/Chart.yaml', data: 'apiVersion: v2\nname: db\nversion: 1.0.0\n' },
  ];
  const sub = tgz([{ name: 'sub/Chart.yaml', data: 'apiVersion: v2\nname: sub\nversion: 1.0.0\n' }]);
  for (const [what, extra] of [
    ['a parent file', [{ name: 'top/values.yaml', data: 'a: 1\n' }, { name: 'top/values.yaml', data: 'a: 2\n' }]],
    ['a parent template', [{ name: 'top/templates/a.yaml', data: 'a' }, { name: 'top/templates/a.yaml', data: 'b' }]],
    ['a subchart archive', [{ name: 'top/charts/sub-1.0.0.tgz', data: sub }, { name: 'top/charts/sub-1.0.0.tgz', data: sub }]],
    ['a provenance file (stored as a parent file)', [{ name: 'top/charts/sub.prov', data: 'a' }, { name: 'top/charts/sub.prov', data: 'b' }]],
  ] as const) {
    it(what, () => {
      rejects(() => readChartTree(tgz([...chart, ...extra])), 'invalid_archive', /appears twice/);
    });
  }
  it('a subchart directory file twice is read (the later values.yaml wins)', () => {
    const { tree } = readChartTree(tgz([...chart, { name: 'top/charts/db/values.yaml', data: 'a: 1\n' }, { name: 'top/charts/db/values.yaml', data: 'a: 2\n' }]));
    assert.deepEqual({ ...tree.subcharts[0]?.values }, { a: 2 });
  });
});
