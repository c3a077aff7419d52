/**
 * Values files read as Helm reads them (sigs.k8s.io/yaml over go-yaml v2). Each expected value below is what
 * sigs.k8s.io/yaml v1.6.0 (Helm 3.22, 4.x) and v1.3.0 (Helm 3.12) Unmarshal into map[string]interface{} and
 * json.Marshal printed for the same bytes (a differential run against both; the `yaml` package's YAML 1.1 schema,
 * used before, differed on every case here).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readChartTree } from '../../../src/chart/chart-tree.ts';
import { ChartContentError, helmValuesReadings, parseChartYaml, parseHelmYaml } from '../../../src/chart/content.ts';
import { fingerprintChart } from '../../../src/chart/fingerprint.ts';
import { treeJson } from '../../../src/chart/helm-install.ts';
import type { ReleaseRecord } from '../../../src/model/release.ts';
import { proveContent } from '../../../src/resolve/proof.ts';
import { tgz } from './tar-writer.ts';

const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('values.yaml read by go-yaml v2 rules', () => {
  it('`<<` applies where it stands: a merge after a key writes over it, a later merge over an earlier one', () => {
    const text = `defaults: &defaults
  replicas: 1
  mode: 0o644
app:
  replicas: 3
  <<: *defaults
both:
  <<: [{a: 1}, {a: 2, b: 2}]
  b: 3
  <<: {b: 4}
before:
  <<: *defaults
  replicas: 5
`;
    // YAML 1.1's merge spec (and the yaml package) keeps app.replicas 3 and both.b 3; Helm stores 1 and 4.
    assert.deepEqual(json(parseHelmYaml(text, 'values.yaml')), {
      defaults: { replicas: 1, mode: 420 },
      app: { replicas: 1, mode: 420 },
      both: { a: 1, b: 4 },
      before: { replicas: 5, mode: 420 },
    });
  });

  it('numbers as strconv.ParseInt/ParseUint base 0 (underscores removed) and ParseFloat read them; what overflows stays text', () => {
    const text = `oct: 0O17
oct2: 0o644
neg: -0o7
exp: 1e_3
legacy: 0644
big: 1e400
hex: 0x1FFFFFFFFFFFFFFFF
u64: 18446744073709551615
version: 1.2.3
nine: 0999
`;
    assert.deepEqual(json(parseHelmYaml(text, 'values.yaml')), { oct: 15, oct2: 420, neg: -7, exp: 1000, legacy: 420, big: '1e400', hex: '0x1FFFFFFFFFFFFFFFF', u64: 18446744073709552000, version: '1.2.3', nine: 999 });
  });

  it('explicit tags: !!float of an int, !!binary decoded to text, !!set and !!omap as plain collections', () => {
    const text = `flt: !!float 3
bin: !!binary aGVsbG8=
set: !!set {a, b}
omap: !!omap [a: 1, b: 2]
custom: !thing 12
str: !!str 0644
`;
    assert.deepEqual(json(parseHelmYaml(text, 'values.yaml')), { flt: 3, bin: 'hello', set: { a: null, b: null }, omap: [{ a: 1 }, { b: 2 }], custom: '12', str: '0644' });
  });

  it('map keys as sigs.k8s.io/yaml writes them: floats with float32 precision in %g form', () => {
    const text = `1e6: a
0.0001: b
0.00001: c
3.14159265358979: d
1234567.0: g
-2.5e-7: h
0x10: i
yes: j
`;
    assert.deepEqual(json(parseHelmYaml(text, 'values.yaml')), { '1e+06': 'a', '0.0001': 'b', '1e-05': 'c', '3.1415927': 'd', '1.234567e+06': 'g', '-2.5e-07': 'h', '16': 'i', true: 'j' });
  });

  it('a null key or ±Inf fails only when it is still there at the end (as Go converts the whole document to JSON)', () => {
    assert.deepEqual(json(parseHelmYaml('a:\n  ~: 1\n  x: .inf\na: 2\n', 'values.yaml')), { a: 2 });
    assert.throws(() => parseHelmYaml('a:\n  ~: 1\n', 'values.yaml'), (e: unknown) => e instanceof ChartContentError && /unsupported map key/.test(e.message));
    assert.throws(() => parseHelmYaml('a: .inf\n', 'values.yaml'), (e: unknown) => e instanceof ChartContentError && /unsupported value: \+Inf/.test(e.message));
  });

  it('an alias of an anchor that contains it, and a billion laughs, are errors', () => {
    assert.throws(() => parseHelmYaml('a: &a [*a]\n', 'values.yaml'), ChartContentError);
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) laughs.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    assert.throws(() => parseHelmYaml(`${laughs.join('\n')}\n`, 'values.yaml'), (e: unknown) => e instanceof ChartContentError && /aliases/.test(e.message));
  });
});

describe('a values.yaml of several YAML documents', () => {
  it('a trailing `---` means the same to Helm 3 (first document) and Helm 4 (all merged)', () => {
    assert.deepEqual(json(helmValuesReadings('a: 1\n---\n', 'values.yaml')), { helm3: { a: 1 } });
    assert.deepEqual(json(helmValuesReadings('---\na: 1\n---\n# nothing\n', 'values.yaml')), { helm3: { a: 1 } });
  });

  it('documents that add to the first: Helm 3 reads the first, Helm 4 all of them merged (MergeMaps)', () => {
    // What helm 3.22.0 and helm 4.3.2 stored for this file (test/e2e/helm-yaml.test.ts checks it with every tested helm).
    assert.deepEqual(json(helmValuesReadings('a: 1\nb: {x: 1, l: [1]}\n---\nb: {z: 2, l: [2]}\nc: 3\n', 'values.yaml')), { helm3: { a: 1, b: { x: 1, l: [1] } }, helm4: { a: 1, b: { x: 1, z: 2, l: [2] }, c: 3 } });
  });

  it('documents Helm 4 cannot load (`--- text`, a document that is no map): only Helm 3 installs the chart, one reading', () => {
    assert.deepEqual(json(helmValuesReadings('a: 1\n--- {b: 2}\n', 'values.yaml')), { helm3: { a: 1 } });
    assert.deepEqual(json(helmValuesReadings('a: 1\n---\n- b\n', 'values.yaml')), { helm3: { a: 1 } });
  });

  it('Chart.yaml and other files: the first document, as sigs.k8s.io/yaml Unmarshal', () => {
    assert.deepEqual(json(parseHelmYaml('name: x\n---\nname: y\n', 'Chart.yaml')), { name: 'x' });
  });

  it('the proof reads each major\'s values: a Helm 3 release (first document) and a Helm 4 one (merged) are proven, other values are not', async () => {
    const bytes = tgz([
      { name: 'docs/Chart.yaml', data: 'apiVersion: v2\nname: docs\nversion: 1.0.0\n' },
      { name: 'docs/values.yaml', data: 'a: 1\nb: {x: 1}\n---\nb: {z: 2}\nc: 3\n' },
      { name: 'docs/templates/cm.yaml', data: 'kind: ConfigMap\n' },
    ]);
    const { content, tree } = readChartTree(bytes);
    const published = { fingerprint: fingerprintChart(content), tree: treeJson(tree) };
    const record = (values: unknown, helmMajor: 3 | 4 | undefined): ReleaseRecord => ({
      release: { name: 'docs', namespace: 'apps', revision: 1, status: 'deployed', storage: 'Secret' },
      chart: { name: 'docs', version: '1.0.0', deprecated: false },
      fingerprint: fingerprintChart({ ...content, values }),
      ...(helmMajor ? { helmMajor } : {}),
    });
    const helm3 = { a: 1, b: { x: 1 } };
    const helm4 = { a: 1, b: { x: 1, z: 2 }, c: 3 };
    assert.deepEqual(await proveContent(record(helm3, undefined), published), { differences: [], accounted: [] });
    const four = await proveContent(record(helm4, 4), published);
    assert.deepEqual(four.differences, []);
    assert.match(four.accounted.join('; '), /values\.yaml's YAML documents merged, as Helm 4 loads them/);
    // Values neither Helm reads from the file stay a difference, whoever wrote the release.
    assert.deepEqual((await proveContent(record({ ...helm4, c: 4 }, undefined), published)).differences, ['values']);
    assert.deepEqual((await proveContent(record({ ...helm4, c: 4 }, 4), published)).differences, ['values']);
    // A Helm 4 release storing Helm 3's reading: no fresh Helm 4 install stores that (a release edited to drop
    // what a later document sets), so the fast path's equality with the fingerprint proves nothing for it.
    assert.deepEqual((await proveContent(record(helm3, 4), published)).differences, ['values']);
  });

  it('a later document that does not decode makes the file one Helm 4 cannot load: Helm 3\'s reading only', () => {
    assert.deepEqual(json(helmValuesReadings('a: 1\n---\na: 2\n---\nb: .nan\n', 'values.yaml')), { helm3: { a: 1 } });
    assert.deepEqual(json(helmValuesReadings('a: 1\n---\na: 2\n---\n: : bad: [\n', 'values.yaml')), { helm3: { a: 1 } });
  });
});

describe('Chart.yaml as Helm stores it (its Metadata struct)', () => {
  it('a float in a string field is written as Go writes a float32 into a string; ints, import-values and bools keep their form', () => {
    // What helm 4.3.2 `helm show chart` printed for this Chart.yaml (test/e2e/helm-yaml.test.ts installs it).
    const text = 'apiVersion: v2\nname: numbers\nversion: 1.0.0\nappVersion: 20231012.1\ndescription: 1e6\nkeywords: [1.5, 2, x]\nannotations:\n  x: 1.5e7\n  num: 12345678901\nmaintainers:\n  - name: 2.5\ndependencies:\n  - name: sub\n    version: 0.1.0\n    alias: 3.0\n    enabled: true\n    import-values: [1.5]\n';
    const m = parseChartYaml(text, 'Chart.yaml') as Record<string, unknown>;
    assert.equal(m['appVersion'], '2.0231012e+07');
    assert.equal(m['description'], '1e+06');
    assert.deepEqual(m['keywords'], ['1.5', 2, 'x']);
    assert.deepEqual(m['annotations'], { x: '1.5e+07', num: 12345678901 });
    assert.deepEqual(m['maintainers'], [{ name: '2.5' }]);
    assert.deepEqual(m['dependencies'], [{ name: 'sub', version: '0.1.0', alias: '3', enabled: true, 'import-values': [1.5] }]);
    // A Chart.yaml without numbers is read once.
    assert.deepEqual(parseChartYaml('name: x\nversion: v\n', 'Chart.yaml'), { name: 'x', version: 'v' });
  });
});

describe('aliases, resolved once per document', () => {
  it('an alias names the latest node anchored with its name before it', () => {
    assert.deepEqual(json(parseHelmYaml('a: &x 1\nb: *x\nc: &x {k: v}\nd: *x\ne: {<<: *x, j: w}\n', 'values.yaml')), { a: 1, b: 1, c: { k: 'v' }, d: { k: 'v' }, e: { k: 'v', j: 'w' } });
  });

  it('the alias budget is the whole file\'s: documents each under it cannot add up past it', () => {
    const doc = ['a: &a [1,2,3,4,5,6,7,8,9,10]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]', 'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]'].join('\n');
    assert.doesNotThrow(() => parseHelmYaml(doc, 'values.yaml'), 'one document of ~10,000 aliased nodes is read');
    // Each document adds a key of its own: read whole, Helm 4's merged reading would differ from the first.
    const readings = helmValuesReadings(Array.from({ length: 20 }, (_, i) => `${doc}\nk${i}: ${i}`).join('\n---\n'), 'values.yaml');
    // The first document still reads; past the budget Helm 4's reading is not offered (its documents failed).
    assert.equal(readings.helm4, undefined);
    assert.equal((readings.helm3 as { d: unknown[] }).d.length, 9);
  });
});
