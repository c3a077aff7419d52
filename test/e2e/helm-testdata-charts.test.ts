/**
 * Differential test of the content proof on the charts Helm's maintainers wrote to test dependency processing
 * (conditions, tags, aliases, import-values, globals, nested subcharts, v1 requirements): `pkg/chartutil/testdata`
 * of helm.sh/helm/v3 and `pkg/chart/v2/util/testdata` of helm.sh/helm/v4 (scripts/tools.sh helm-testdata).
 * Every synthesized chart elsewhere (test/harness/umbrella.ts) is ours; these are not.
 *
 * Each chart directory `helm package` accepts (and the two tarballs the maintainers packed with tar) is served
 * from a real HTTP chart repository of its own (two charts are both `chart-with-dependency-aliased-twice 1.0.0`,
 * eight are `frobnitz 1.2.3`: content must tell them apart), installed from it by every tested helm into a
 * namespace of its own, with user values for the charts about conditions and tags (VARIANTS), and one
 * `chartorigin scan -A` must find every stored release Verified with that repository's tarball digest, failed
 * ones (helm stored them before the API server refused an object) included. Installs helm itself refuses are
 * listed with the reason (EXPECTED_HELM_FAILURES) and the list is asserted to be exactly what happened. Copies of
 * a few releases are tampered with in their Secret as an attacker would (a stored value, a template): Mismatch.
 *
 * Found here: Helm 3 stores chart-with-import-from-aliased-dependencies without the second alias's imports
 * (src/chart/helm-install.ts RewrittenImports); the proof called every Helm 3 release of it a Mismatch.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { scratchDir, sha256Digest } from '../harness/charts.ts';
import { ensureNamespace } from '../harness/controlplane.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { runHelmBinary } from '../harness/helm-proof.ts';
import { assertTampered, dependencyNeeds, expectedVerdict, HELM_SHORT, helmHomes, indexOneChart, PACKAGER, pool, scanCorpus, startCorpusRepo, tamperAll, templateTamper, verdict, type CorpusRepo, type HelmFailure, type TamperCase } from '../harness/chart-corpus.ts';
import { helmTestdata, HELM_PROOF_BINARIES, type HelmBinaryName, type HelmTestdataMajor } from '../harness/tools.ts';

const env = testEnv();
const cluster = env.cluster;
const prefix = uniqueNamespace('e2e-htd').slice(0, 40);
const work = scratchDir('helm-testdata');
const installHome = helmHomes(work, cluster);
/** Concurrent helm installs: the machine has 2 cores and helm is mostly waiting on the API server. */
const PARALLEL = 4;

/**
 * Chart directories `helm package` refuses: the loader's own name checks (these three exist to test them).
 */
const EXPECTED_PACKAGE_REFUSALS: Record<string, RegExp> = {
  dotdotname: /chart\.metadata\.name "\.\." is not allowed/,
  dotname: /chart\.metadata\.name "\." is not allowed/,
  slashinname: /chart\.metadata\.name "a\/\.\.\/b" is invalid/,
};

/**
 * Installs that fail in helm itself (rendering or the API server), with why. Asserted to be exactly the
 * failures that happened, so that a chart that starts (or stops) installing is noticed.
 */
const EXPECTED_HELM_FAILURES: readonly HelmFailure[] = [
  ...['dependent-chart-alias', 'dependent-chart-helmignore', 'dependent-chart-no-requirements-yaml', 'dependent-chart-with-all-in-requirements-yaml', 'dependent-chart-with-mixed-requirements-yaml', 'frobnitz', 'frobnitz-1-2-3', 'frobnitz-backslash-1-2-3'].map(
    (chart): HelmFailure => ({
      chart,
      helms: HELM_PROOF_BINARIES,
      error: /YAML parse error on frobnitz(_backslash)?\/templates\/template\.tpl: error unmarshaling JSON: .*cannot unmarshal string into Go value of type (releaseutil|util)\.SimpleHead/,
      why: 'templates/template.tpl renders "Hello world", which is no Kubernetes object: helm refuses the manifest before it stores a release (the frobnitz charts test loading and dependency processing, never rendering)',
      stored: false,
    }),
  ),
  {
    chart: 'three-level-dependent-chart-umbrella',
    helms: HELM_PROOF_BINARIES,
    error: /umbrella\/charts\/app4\/templates\/service\.yaml:1:4.*include "library\.service"/s,
    why: 'the apps include "library.service", which the library chart never defines (its templates/service.yaml is a plain template): rendering fails before a release is stored',
    stored: false,
  },
  {
    chart: 'chart-with-dependency-aliased-twice',
    helms: HELM_PROOF_BINARIES,
    error: /cannot unmarshal object into Go struct field ConfigMap\.data of type string|\.data\.global: expected string/,
    why: 'the ConfigMaps put the whole values (global: {} among them) under data, which takes strings only: the API server refuses them after helm stored the release',
    stored: true,
  },
  {
    chart: 'import-values-from-enabled-subchart-parent-chart',
    helms: HELM_PROOF_BINARIES,
    error: /HorizontalPodAutoscaler\.autoscaling "import-values-from-enabled-subchart-parent-chart-autoscaler" is invalid: \[spec\.minReplicas: Invalid value: 0/,
    why: "the parent's own resources.autoscaler (minReplicas 0, maxReplicas 0) wins over the values imported from prod, and the API server refuses such an autoscaler after helm stored the release",
    stored: true,
  },
  {
    chart: 'subpop',
    helms: HELM_PROOF_BINARIES,
    error: /failed to install CRD crds\/crdA\.yaml: .*no matches for kind "CustomResourceDefinition" in version "apiextensions\.k8s\.io\/v1beta1"/,
    why: "subchart1's crds/crdA.yaml is an apiextensions.k8s.io/v1beta1 CRD, which Kubernetes stopped serving in 1.22",
    stored: false,
    // --skip-crds only leaves crds/ out of what is applied: the chart Helm stores keeps crds/crdA.yaml. Helm
    // then stores the release and applies the templates, and the API server refuses subchart1's Role (its
    // rule has no apiGroups): the release is stored with status failed.
    retry: { flags: ['--skip-crds'], error: /Role\.rbac\.authorization\.k8s\.io "subchart1-role" is invalid: rules\[0\]\.apiGroups: Required value/ },
  },
];
/**
 * Installs with user values too, for the charts written to test enablement: conditions and tags read from the
 * release's own values (the proof reads only their booleans). Each is a row of its own, `<chart> --set …`.
 */
const VARIANTS: { chart: string; set: Record<string, string> }[] = [
  // subchart1 (front-end) disabled by its tag, subchart2 (back-end) enabled by its: the imports from subchart1 are gone.
  { chart: 'subpop', set: { 'tags.front-end': 'false', 'tags.back-end': 'true' } },
  // A condition wins over the tags: subchart1 on although its tag is off; the alias of subchart2 on.
  { chart: 'subpop', set: { 'tags.front-end': 'false', 'subchart1.enabled': 'true', 'subchart2alias.enabled': 'true' } },
  // The chart this testdata is named for: dev enabled, prod disabled, by tags; then by conditions over the tags.
  { chart: 'import-values-from-enabled-subchart-parent-chart', set: { 'tags.dev': 'true', 'tags.prod': 'false' } },
  { chart: 'import-values-from-enabled-subchart-parent-chart', set: { 'dev.enabled': 'true', 'prod.enabled': 'false' } },
];
const rowName = (chart: string, set: Record<string, string>): string => (Object.keys(set).length ? `${chart} --set ${Object.entries(set).map(([k, v]) => `${k}=${v}`).join(',')}` : chart);

/** The failure expected for a row: its own entry, else its chart's (a `--set` variant fails as the chart does). */
function expectedFailure(row: string, helm: HelmBinaryName): HelmFailure | undefined {
  const own = EXPECTED_HELM_FAILURES.find((f) => f.chart === row && f.helms.includes(helm));
  return own ?? EXPECTED_HELM_FAILURES.find((f) => row.startsWith(`${f.chart} --set `) && f.helms.includes(helm));
}

/**
 * Charts whose dependencies are neither vendored under charts/ nor `file://`: they would need the network
 * (`helm dependency build` against their repository), so they are not packaged. None in these helm versions:
 * every testdata chart vendors its dependencies (the https://example.com/charts ones included), and the one
 * with `file://` dependencies (import-values-from-enabled-subchart) has them built into charts/ already.
 */
const EXPECTED_NEEDS_NETWORK: string[] = [];

interface CorpusChart {
  /** Repository, release and row name: the path in testdata with '/', '_' and '.' as '-'. */
  id: string;
  /** Where it came from: `v3:frobnitz`, `v4:frobnitz` (identical copies are one chart). */
  sources: string[];
  /** A chart directory, or a tarball the maintainers packed themselves (genfrob.sh). */
  dir?: string;
  tgz?: string;
}

interface Packaged {
  chart: CorpusChart;
  name: string;
  version: string;
  digest: string;
  repoUrl: string;
}

const slug = (s: string): string => s.replace(/[/_.]+/g, '-').replace(/-tgz$/, '').toLowerCase();

/** Files of a directory, sorted, with their bytes: a content hash that finds the v3/v4 copies that are equal. */
function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else h.update(`${relative(dir, p)}\0`).update(readFileSync(p)).update('\0');
    }
  };
  walk(dir);
  return h.digest('hex');
}

/**
 * Chart directories of a testdata folder: every folder with a Chart.yaml that is not a vendored subchart
 * (under a `charts/` folder); and the .tgz at its top (packed by tar, not by helm).
 */
function discover(root: string, major: HelmTestdataMajor): { rel: string; dir?: string; tgz?: string; major: HelmTestdataMajor }[] {
  const found: { rel: string; dir?: string; tgz?: string; major: HelmTestdataMajor }[] = [];
  const walk = (d: string): void => {
    const rel = relative(root, d);
    if (rel.split('/').includes('charts')) return;
    const entries = readdirSync(d, { withFileTypes: true });
    if (entries.some((e) => e.isFile() && e.name === 'Chart.yaml')) found.push({ rel, dir: d, major });
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name));
  };
  walk(root);
  for (const f of readdirSync(root)) if (f.endsWith('.tgz') && statSync(join(root, f)).isFile()) found.push({ rel: f, tgz: join(root, f), major });
  return found;
}

function corpus(): { charts: CorpusChart[]; versions: Record<HelmTestdataMajor, string> } {
  const byHash = new Map<string, CorpusChart>();
  const versions = {} as Record<HelmTestdataMajor, string>;
  for (const major of ['v3', 'v4'] as const) {
    const { dir, version } = helmTestdata(major);
    versions[major] = version;
    for (const f of discover(dir, major)) {
      const hash = f.dir ? treeHash(f.dir) : sha256Digest(readFileSync(f.tgz ?? ''));
      const same = byHash.get(hash);
      if (same) same.sources.push(`${major}:${f.rel}`);
      else byHash.set(hash, { id: slug(f.rel), sources: [`${major}:${f.rel}`], ...(f.dir ? { dir: f.dir } : { tgz: f.tgz }) });
    }
  }
  const charts = [...byHash.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  // Same path, different content in v3 and v4: both kept, told apart by source.
  for (const c of charts) if (charts.filter((o) => o.id === c.id).length > 1) c.id = `${c.id}-${c.sources[0]?.slice(0, 2)}`;
  return { charts, versions };
}

const releaseName = (id: string): string => id.slice(0, 53).replace(/-+$/, '');

interface Install {
  chart: Packaged;
  /** The table row: the chart id, with the --set values of a variant. */
  row: string;
  set: Record<string, string>;
  helm: HelmBinaryName;
  namespace: string;
  release: string;
  extra: readonly string[];
  error?: string;
}

async function installFromRepo(p: Packaged, set: Record<string, string>, helm: HelmBinaryName, namespace: string, extra: readonly string[] = []): Promise<Install> {
  const release = releaseName(p.chart.id);
  const base = { chart: p, row: rowName(p.chart.id, set), set, helm, namespace, release, extra };
  await ensureNamespace(cluster, namespace);
  const sets = Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
  try {
    await runHelmBinary(installHome(`${namespace}${extra.join('')}`), helm, ['install', release, p.name, '--repo', p.repoUrl, '--version', p.version, '--namespace', namespace, ...sets, ...extra]);
    return base;
  } catch (err) {
    return { ...base, error: (err as Error).message };
  }
}

/** Installs; when helm fails as expected and the failure names flags that get it through, installs again with them. */
async function installWithRetry(p: Packaged, set: Record<string, string>, helm: HelmBinaryName, namespace: string): Promise<{ first: Install; retried?: Install }> {
  const first = await installFromRepo(p, set, helm, namespace);
  const retry = first.error ? expectedFailure(first.row, helm)?.retry : undefined;
  if (!retry) return { first };
  // A failed install may leave a failed release behind: the retry goes into a namespace of its own.
  return { first, retried: await installFromRepo(p, set, helm, `${namespace}-r`, retry.flags) };
}

const TAMPER_CASES: TamperCase[] = [
  {
    // A value subchart1 imported into the parent (import-values child SC1data → parent overridden-chart1).
    chart: 'subpop',
    helm: 'helm3-old',
    what: 'an imported value',
    edit: (c) => {
      (c.values['overridden-chart1'] as Record<string, unknown>)['SC1int'] = 7;
    },
    differs: ['values'],
  },
  {
    chart: 'chart-with-import-from-aliased-dependencies',
    helm: 'helm4-latest',
    what: 'a value imported through an aliased dependency',
    edit: (c) => {
      (c.values['foo-defaults'] as Record<string, unknown>)['defaultValue'] = '43';
    },
    differs: ['values'],
  },
  templateTamper('import-values-from-enabled-subchart-parent-chart', 'helm3-latest', 'templates/autoscaler.yaml'),
];

let server: CorpusRepo;
let packaged: Packaged[] = [];
const packageRefusals: Record<string, string> = {};
const needsNetwork: string[] = [];
const dependencyBuilds: string[] = [];
let versions: Record<HelmTestdataMajor, string>;

before(async () => {
  const found = corpus();
  versions = found.versions;
  server = await startCorpusRepo(work);
  const results = await pool(PARALLEL, found.charts.map((chart) => async (): Promise<Packaged | undefined> => {
    const dir = join(server.dir, chart.id);
    mkdirSync(dir, { recursive: true });
    if (chart.dir) {
      const needs = dependencyNeeds(chart.dir);
      if (needs.network.length) {
        needsNetwork.push(`${chart.id}: ${needs.network.join(', ')}`);
        return undefined;
      }
      if (needs.build) {
        dependencyBuilds.push(chart.id);
        await runHelmBinary(installHome(`build-${chart.id}`), PACKAGER, ['dependency', 'build', chart.dir]);
      }
      try {
        await runHelmBinary(installHome(`package-${chart.id}`), PACKAGER, ['package', chart.dir, '--destination', dir]);
      } catch (err) {
        packageRefusals[chart.id] = (err as Error).message;
        return undefined;
      }
    } else {
      copyFileSync(chart.tgz ?? '', join(dir, basename(chart.tgz ?? '')));
    }
    const repoUrl = `${server.url}/${chart.id}`;
    return { chart, ...(await indexOneChart(installHome(`index-${chart.id}`), dir, repoUrl, chart.id)), repoUrl };
  }));
  packaged = results.filter((p): p is Packaged => p !== undefined);
});

after(async () => {
  await server?.close();
});

describe("Helm's own dependency-processing test charts, installed by every tested helm, are Verified", () => {
  it('packages every testdata chart helm accepts; installs it with each helm; one scan proves every release; tampered copies are Mismatch', async (t) => {
    assert.deepEqual(Object.keys(packageRefusals).sort(), Object.keys(EXPECTED_PACKAGE_REFUSALS).sort(), 'helm package refused exactly the expected charts');
    for (const [id, re] of Object.entries(EXPECTED_PACKAGE_REFUSALS)) assert.match(packageRefusals[id] ?? '', re, id);
    assert.deepEqual(needsNetwork, EXPECTED_NEEDS_NETWORK, 'charts whose dependencies would need the network');
    assert.deepEqual(dependencyBuilds, [], 'no chart needed helm dependency build: every file:// dependency is vendored');
    // The corpus must hold what it is here for: if helm renames or drops these, the test says so.
    for (const id of ['subpop', 'frobnitz', 'three-level-dependent-chart-umbrella', 'dependent-chart-alias', 'import-values-from-enabled-subchart-parent-chart', 'chart-with-dependency-aliased-twice', 'chart-with-import-from-aliased-dependencies']) {
      assert.ok(packaged.some((p) => p.chart.id === id), `${id} is packaged`);
    }

    const cases = packaged.flatMap((p) => [{ p, set: {} }, ...VARIANTS.filter((v) => v.chart === p.chart.id).map((v) => ({ p, set: v.set }))]);
    assert.equal(cases.length, packaged.length + VARIANTS.length, 'every variant names a packaged chart');
    const jobs: (() => Promise<{ first: Install; retried?: Install }>)[] = [];
    cases.forEach(({ p, set }, i) => {
      for (const helm of HELM_PROOF_BINARIES) jobs.push(() => installWithRetry(p, set, helm, `${prefix}-${i}-${HELM_SHORT[helm]}`));
    });
    TAMPER_CASES.forEach((c, i) => {
      const p = packaged.find((x) => x.chart.id === c.chart);
      assert.ok(p, `tamper case ${c.chart} is packaged`);
      jobs.push(() => installWithRetry(p, {}, c.helm, `${prefix}-t${i}`));
    });
    const started = performance.now();
    const installs = await pool(PARALLEL, jobs);
    const installMs = Math.round(performance.now() - started);
    const plain = installs.slice(0, installs.length - TAMPER_CASES.length);
    const tampered = installs.slice(plain.length).map((x) => x.retried ?? x.first);
    const tamperedCases = TAMPER_CASES.map((c, i) => ({ c, namespace: (tampered[i] as Install).namespace, release: (tampered[i] as Install).release }));
    const tamperErrors = await tamperAll(cluster, tamperedCases);

    const { scan, ms: scanMs, rows } = await scanCorpus({ cluster, work, repositories: packaged.map((p) => ({ repo: p.chart.id, url: p.repoUrl })), prefix, home: 'htd-home', timeoutMs: 180_000 });
    assert.equal(scan.code, 0, scan.stderr);

    // The table chart × helm: Verified means from the chart's own repository with the served tarball's digest.
    const cellOf = (x: Install): string => {
      const r = rows.get(`${x.namespace}/${x.release}`);
      return `${verdict(r, { repository: x.chart.chart.id, digest: x.chart.digest }, x.error)}${r && x.extra.length ? ` (${x.extra.join(' ')})` : ''}`;
    };
    const cell = (x: { first: Install; retried?: Install }): string => cellOf(x.retried ?? x.first);
    const table = cases.map(({ p, set }) => {
      const row = rowName(p.chart.id, set);
      return [row, ...HELM_PROOF_BINARIES.map((h) => cell(plain.find((x) => x.first.row === row && x.first.helm === h) ?? { first: { chart: p, row, set, helm: h, namespace: '', release: '', extra: [], error: 'not run' } }))];
    });
    t.diagnostic(`helm testdata ${versions.v3} and ${versions.v4}: ${packaged.length} charts (+${VARIANTS.length} with --set), ${plain.length} installs (+${TAMPER_CASES.length} to tamper with) in ${installMs} ms, scan in ${scanMs} ms`);
    t.diagnostic(['chart', ...HELM_PROOF_BINARIES].join(' | '));
    for (const row of table) t.diagnostic(row.join(' | '));
    const failed = plain.filter((x) => x.first.error).map((x) => x.first);
    for (const e of tamperErrors) t.diagnostic(`tamper failed: ${e}`);
    for (const x of [...failed, ...plain.flatMap((p) => (p.retried?.error ? [p.retried] : []))]) t.diagnostic(`helm failed: ${x.row} ${x.helm} ${x.extra.join(' ')}: ${(x.error ?? '').replace(/^.*?Error: /s, '').replaceAll('\n', ' / ')}`);

    const rowNames = table.map((r) => r[0] ?? '');
    assert.deepEqual(failed.map((x) => `${x.row} ${x.helm}`).sort(), rowNames.flatMap((row) => HELM_PROOF_BINARIES.filter((h) => expectedFailure(row, h)).map((h) => `${row} ${h}`)).sort(), 'exactly the expected installs fail in helm itself');
    for (const x of failed) assert.match(x.error ?? '', expectedFailure(x.row, x.helm)?.error ?? /^$/, `${x.row} ${x.helm}`);
    for (const x of plain) {
      const expected = x.retried && expectedFailure(x.first.row, x.first.helm)?.retry?.error;
      if (!x.retried) continue;
      if (expected) assert.match(x.retried.error ?? '', expected, `${x.first.row} ${x.first.helm} ${x.retried.extra.join(' ')}`);
      else assert.equal(x.retried.error, undefined, `${x.first.row} ${x.first.helm} ${x.retried.extra.join(' ')}`);
    }
    const expectedTable = rowNames.map((row) => [row, ...HELM_PROOF_BINARIES.map((h) => expectedVerdict(expectedFailure(row, h)))]);
    assert.deepEqual(table, expectedTable, 'every release helm stored is Verified from its own repository with the served digest');

    assert.deepEqual(tamperErrors, [], 'every tamper case has a stored release to edit');
    for (const [i, c] of TAMPER_CASES.entries()) {
      const f = expectedFailure(c.chart, c.helm);
      const still = f?.retry ? f.retry.error : f?.error;
      assert.match((tampered[i] as Install).error ?? '', still ?? /^$/, `tamper case ${c.chart} ${c.helm}: helm says what it says for the untouched copy`);
    }
    assertTampered(rows, tamperedCases);
  });
});
