/**
 * Loading a chart with its subcharts the way Helm's loader does, and refusing archives of archives that
 * would multiply work.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { readChartTree } from '../../../src/chart/chart-tree.ts';
import { chartContentFromFiles, valuesReadingsOf } from '../../../src/chart/content.ts';
import { tgz } from './tar-writer.ts';
import { rejects } from '../../support/repo-errors.ts';

const sub = tgz([
  { name: 'sub/Chart.yaml', data: 'apiVersion: v2\nname: sub\nversion: 1.0.0\n' },
  { name: 'sub/values.yaml', data: 'x: 1\n' },
]);

describe('readChartTree', () => {
  it('subcharts as .tgz and directories; _ and . entries skipped; charts/*.prov kept as a file; v1 requirements folded; apiVersion defaults to v1', () => {
    const { content, tree } = readChartTree(
      tgz([
        { name: 'top/Chart.yaml', data: 'name: top\nversion: 0.1.0\ndescription: "two\\nlines"\n' },
        { name: 'top/requirements.yaml', data: 'dependencies:\n- name: sub\n  version: 1.0.0\n- name: dir\n  version: ">=0.1"\n' },
        { name: 'top/charts/sub-1.0.0.tgz', data: sub },
        { name: 'top/charts/sub-1.0.0.tgz.prov', data: 'signature' },
        { name: 'top/charts/dir/Chart.yaml', data: 'apiVersion: v2\nname: dir\nversion: 0.2.0\n' },
        { name: 'top/charts/_skipped/Chart.yaml', data: 'not: a chart' },
        { name: 'top/charts/.hidden/Chart.yaml', data: 'not: a chart' },
        { name: 'top/values-prod.yaml', data: 'x: 2\n' },
      ]),
    );
    assert.deepEqual(tree.yamlFiles, { 'values-prod.yaml': 'x: 2\n' }, 'kept for transformations such as Flux valuesFiles');
    assert.deepEqual(tree.subcharts.map((c) => c.metadata.name), ['sub', 'dir']);
    assert.equal(tree.metadata['apiVersion'], 'v1');
    assert.deepEqual(tree.metadata.dependencies?.map((d) => d.name), ['sub', 'dir']);
    assert.deepEqual(content.files.map((f) => f.name).sort(), ['charts/sub-1.0.0.tgz.prov', 'requirements.yaml', 'values-prod.yaml']);
    assert.deepEqual(tree.subcharts[0]?.values, Object.assign(Object.create(null), { x: 1 }));
  });

  it('Chart.yaml and values.yaml are read once per archive; the tree gets its own copies, so changing one leaves the other', () => {
    const chartYaml = Buffer.from('apiVersion: v2\nname: top\nversion: 0.1.0\n');
    const valuesYaml = Buffer.from('image:\n  tag: "1.0"\nlist: [1, 2]\n');
    const { content, tree } = readChartTree(tgz([
      { name: 'top/Chart.yaml', data: chartYaml },
      { name: 'top/values.yaml', data: valuesYaml },
    ]));
    assert.deepEqual(JSON.parse(JSON.stringify(tree.values)), JSON.parse(JSON.stringify(content.values)));
    assert.equal(tree.metadata.name, (content.metadata as { name: string }).name);
    // One read: both are the memo's reading of the same bytes…
    const files = new Map([['Chart.yaml', chartYaml], ['values.yaml', valuesYaml]]);
    assert.equal(valuesReadingsOf(valuesYaml, 'v'), valuesReadingsOf(valuesYaml, 'v'), 'the same bytes are read once');
    assert.notEqual(valuesReadingsOf(Buffer.from(valuesYaml), 'v'), valuesReadingsOf(valuesYaml, 'v'), 'equal bytes elsewhere are read on their own');
    assert.equal(chartContentFromFiles(files, 'x').values, valuesReadingsOf(valuesYaml, 'v').helm3);
    // …and the tree, which dependency processing changes, holds a copy.
    assert.notEqual(tree.values, content.values);
    (tree.values as Record<string, unknown>)['image'] = 'changed';
    assert.deepEqual(JSON.parse(JSON.stringify(content.values)), { image: { tag: '1.0' }, list: [1, 2] });
  });

  it("one subchart's Chart.yaml files shortening then lengthening dependencies: refused, as Go's decoder would reuse the dropped entries", () => {
    const deps = (names: string[]): string => `dependencies:\n${names.map((n) => `- name: ${n}\n  version: 1.0.0\n  condition: ${n}.on\n`).join('')}`;
    const archive = (third: string[]): Uint8Array =>
      tgz([
        { name: 'top/Chart.yaml', data: 'apiVersion: v2\nname: top\nversion: 0.1.0\ndependencies:\n- name: db\n  version: 2.0.0\n' },
        { name: 'top/charts/db/Chart.yaml', data: `apiVersion: v1\nname: db\nversion: 1.0.0\n${deps(['a', 'b', 'c'])}` },
        { name: 'top/charts/db/Chart.yaml', data: `apiVersion: v1\nname: db\nversion: 2.0.0\n${deps(['a'])}` },
        { name: 'top/charts/db/requirements.yaml', data: deps(third) },
      ]);
    // Longer again after shorter: Go would decode b and c into the first document's hidden entries.
    assert.throws(() => readChartTree(archive(['a', 'b', 'c'])), /shorten and then lengthen dependencies/);
    // Not longer than the shortest: what Go does is what the model does.
    const { tree } = readChartTree(archive(['a']));
    assert.deepEqual(tree.subcharts[0]?.metadata.dependencies?.map((d) => [d.name, d.condition]), [['a', 'a.on']]);
    assert.equal(tree.subcharts[0]?.metadata.version, '2.0.0');
  });

  it('one decompression budget for the whole tree', () => {
    const big = tgz([
      { name: 'sub/Chart.yaml', data: 'apiVersion: v2\nname: sub\nversion: 1.0.0\n' },
      { name: 'sub/blob', data: Buffer.alloc(6000) },
    ]);
    const parent = tgz([
      { name: 'top/Chart.yaml', data: 'apiVersion: v2\nname: top\nversion: 0.1.0\n' },
      { name: 'top/charts/a.tgz', data: big },
      { name: 'top/charts/b.tgz', data: big },
    ]);
    // Each archive alone fits in 12,000 bytes; the tree does not.
    rejects(() => readChartTree(parent, { maxTotalBytes: 12_000 }), 'too_large', /decompress/);
  });
});
