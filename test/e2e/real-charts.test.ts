/**
 * Differential test of the content proof on real-world charts, as their projects publish them in their own Go
 * modules (scripts/tools.sh real-charts: metrics-server, descheduler, external-dns, gatekeeper, kyverno, cilium at
 * pinned versions). They have what synthesized charts lack: values.yaml of thousands of lines with `~`, multi-line
 * strings and odd scalars, values.schema.json, crds/, files/ with dashboards and scripts, .helmignore, vendored
 * subcharts with conditions (kyverno's crds and grafana), an apiVersion v1 chart (descheduler).
 *
 * Each chart is packaged by helm 4.3 (`helm dependency build` first only when every dependency is local), served
 * from a real HTTP chart repository, installed from it by every tested helm, and one `chartorigin scan -A` must
 * find every stored release Verified with the served tarball's digest. kyverno is installed once more by each
 * helm with a user values file of anchors, merge keys and YAML 1.1 scalars (`yes`/`off` switching its
 * subcharts' conditions, globals that Helm before 3.13 stores in subchart values): nothing of it may reach the
 * scan's output. Copies of two releases are tampered with in their Secret (a stored value, a template):
 * Mismatch.
 *
 * Real charts name some cluster-wide objects without the release name (gatekeeper's webhooks and roles, cilium's
 * roles, metrics-server's APIService, kyverno's CRDs): two releases of such a chart cannot both create them. Those
 * charts (SHARED_OBJECTS) are installed by one helm after the other, each release adopting the objects of the
 * one before (Helm adopts an existing object whose meta.helm.sh annotations name the new release; the test
 * rewrites them); the other installs run in parallel. Every flag or value an install needs beyond that is listed
 * in INSTALL_CHOICES with why, and every chart not installed in SKIPPED: both are asserted to be exactly what
 * happened.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { scratchDir } from '../harness/charts.ts';
import { ensureNamespace, kubectl } from '../harness/controlplane.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { runHelmBinary } from '../harness/helm-proof.ts';
import { assertTampered, dependencyNeeds, expectedVerdict, HELM_SHORT, helmHomes, indexOneChart, PACKAGER, pool, scanCorpus, startCorpusRepo, tamperAll, templateTamper, verdict, type CorpusRepo, type HelmFailure, type TamperCase } from '../harness/chart-corpus.ts';
import { HELM_PROOF_BINARIES, realCharts, type HelmBinaryName, type RealChart } from '../harness/tools.ts';

const env = testEnv();
const cluster = env.cluster;
const prefix = uniqueNamespace('e2e-real').slice(0, 40);
const work = scratchDir('real-charts');
const home = helmHomes(work, cluster);
/** Installs at once (a chain of one chart with shared objects counts as one): 2 cores, helm mostly waits on the API server. */
const PARALLEL = 4;

/** The charts this test is about: if a pinned module stops shipping one, the test says so. */
const EXPECTED_CHARTS = ['cilium', 'descheduler', 'external-dns', 'gatekeeper', 'kyverno', 'kyverno-policies', 'metrics-server'];

/** Charts not installed, with why (asserted to be exactly the ones left out). */
const SKIPPED: Record<string, string> = {
  'kyverno-policies':
    "every template is a Kyverno ClusterPolicy, a kind whose CRD only the kyverno chart's templates create: helm refuses the manifest before it stores a release unless a kyverno release is installed alongside, which the one-release-at-a-time rule above rules out",
};

/** Flags and documented values some installs need on a bare API server (no controllers, no webhook servers), with why. */
const INSTALL_CHOICES: Record<string, { flags: string[]; why: string }> = {
  gatekeeper: {
    flags: ['--no-hooks', '--set', 'validatingWebhookCheckIgnoreFailurePolicy=Ignore'],
    why:
      'its pre-install (upgrade-crds) and post-install (label-namespace, probe-webhook) hooks are Jobs that helm waits for and no controller runs here; ' +
      'its namespace webhook fails closed and, with no webhook server, would refuse the namespaces the other charts install into while its objects exist',
  },
};

/**
 * Charts that create cluster-wide objects whose names do not depend on the release name: their installs run one
 * after another, each adopting what the one before created. Asserted to hold: an install of one of the other
 * charts that meets an object it does not own fails as an unexpected helm failure.
 */
const SHARED_OBJECTS: Record<string, string> = {
  cilium: 'ClusterRoles and ClusterRoleBindings cilium, cilium-operator',
  gatekeeper: 'webhook configurations, ClusterRole and ClusterRoleBinding gatekeeper-*',
  kyverno: 'the CRDs of its crds subchart (templates, not crds/)',
  'metrics-server': 'APIService v1beta1.metrics.k8s.io',
};

/** Installs that fail in helm itself, with why: asserted to be exactly the failures that happened. */
const EXPECTED_HELM_FAILURES: readonly HelmFailure[] = [];

const expectedFailure = (chart: string, helm: HelmBinaryName): HelmFailure | undefined => EXPECTED_HELM_FAILURES.find((f) => f.chart === chart && f.helms.includes(helm));

/**
 * A user values file for kyverno: anchors, a merge key, YAML 1.1 scalars (`yes` and `off` are booleans to Helm:
 * they turn the grafana subchart on and the crds subchart off through their conditions), octal, exponent, huge
 * integer, timestamp, `~`, multi-line and non-ASCII text, all under `global` too (Helm before 3.13 stores the
 * user's globals in the subcharts' values). USER_MARKER must never reach the scan's output.
 */
const USER_MARKER = 'chartorigin-user-value-5f0c2e';
const USER_VALUES = `# user values: anchors, merge keys and YAML 1.1 scalars
x-shared: &shared
  marker: ${USER_MARKER}
  octal: 0644
  exponent: 1e3
  huge: 123456789012345678901234
  when: 2001-12-14t21:59:43.10-05:00
  nothing: ~
  answer: yes
global:
  <<: *shared
  text: |
    multi-line ✓
    ünïcödé
grafana:
  enabled: yes
crds:
  install: off
admissionController:
  replicas: 1
  container:
    extraArgs:
      tokenKey: *shared
`;

interface Packaged {
  chart: RealChart;
  id: string;
  name: string;
  version: string;
  digest: string;
  repoUrl: string;
}

interface Install {
  chart: Packaged;
  /** The table row: the chart id, `+ values` for the user values file. */
  row: string;
  helm: HelmBinaryName;
  namespace: string;
  release: string;
  flags: readonly string[];
  error?: string;
  /** What handing its cluster-wide objects over to the next release said, when that failed. */
  handOverError?: string;
}

/** Installs from the chart's repository into a namespace of its own. */
async function installOne(p: Packaged, row: string, helm: HelmBinaryName, namespace: string, release: string, extra: readonly string[]): Promise<Install> {
  const flags = [...(INSTALL_CHOICES[p.id]?.flags ?? []), ...extra];
  const base: Install = { chart: p, row, helm, namespace, release, flags };
  await ensureNamespace(cluster, namespace);
  try {
    await runHelmBinary(home(namespace), helm, ['install', release, p.name, '--repo', p.repoUrl, '--version', p.version, '--namespace', namespace, ...flags]);
  } catch (err) {
    base.error = (err as Error).message;
  }
  return base;
}

/** Kinds the API server serves without a namespace (`kubectl api-resources --namespaced=false`). */
let clusterKinds = new Set<string>();

/**
 * Hands the cluster-wide objects of a stored release over to the next release of the same chart: Helm adopts
 * an existing object (instead of refusing it) when its meta.helm.sh/release-name and release-namespace
 * annotations name the release being installed.
 */
async function handOver(from: Install, to: { release: string; namespace: string }): Promise<void> {
  const manifest = await runHelmBinary(home(from.namespace), from.helm, ['get', 'manifest', from.release, '--namespace', from.namespace]);
  const docs = parseAllDocuments(manifest)
    .map((d) => d.toJS() as { kind?: string; metadata?: { namespace?: string } } | null)
    .filter((d) => d?.kind !== undefined && clusterKinds.has(d.kind) && !d.metadata?.namespace);
  if (!docs.length) return;
  const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs });
  await kubectl(cluster, ['annotate', '-f', '-', '--overwrite', `meta.helm.sh/release-name=${to.release}`, `meta.helm.sh/release-namespace=${to.namespace}`], { input: list, timeoutMs: 90_000 });
}

const TAMPER_CASES: TamperCase[] = [
  {
    // A stored value of external-dns (its values.schema.json is stored too and stays as published).
    chart: 'external-dns',
    helm: 'helm3-old',
    what: 'a stored value',
    edit: (c) => {
      const provider = c.values['provider'] as Record<string, unknown>;
      assert.equal(provider['name'], 'aws', "external-dns's default provider");
      provider['name'] = 'webhook';
    },
    differs: ['values'],
  },
  // A template of descheduler, an apiVersion v1 chart.
  templateTamper('descheduler', 'helm4-latest', 'templates/clusterrole.yaml'),
];

let server: CorpusRepo;
let packaged: Packaged[] = [];
const notPackaged: Record<string, string> = {};
const dependencyBuilds: string[] = [];
let found: RealChart[] = [];
let userValuesFile = '';

before(async () => {
  found = realCharts();
  userValuesFile = join(work, 'user-values.yaml');
  writeFileSync(userValuesFile, USER_VALUES);
  server = await startCorpusRepo(work);
  const results = await pool(2, found.map((chart) => async (): Promise<Packaged | undefined> => {
    const id = chart.name;
    if (SKIPPED[id]) {
      notPackaged[id] = 'skipped';
      return undefined;
    }
    // A copy: `helm dependency build` writes into the chart folder, and the cached copy stays as published.
    const src = join(work, 'src', id);
    cpSync(chart.dir, src, { recursive: true });
    const needs = dependencyNeeds(src);
    if (needs.network.length) {
      notPackaged[id] = `dependencies from the network: ${needs.network.join(', ')}`;
      return undefined;
    }
    if (needs.build) {
      dependencyBuilds.push(id);
      await runHelmBinary(home(`build-${id}`), PACKAGER, ['dependency', 'build', src]);
    }
    const dir = join(server.dir, id);
    mkdirSync(dir, { recursive: true });
    await runHelmBinary(home(`package-${id}`), PACKAGER, ['package', src, '--destination', dir]);
    const repoUrl = `${server.url}/${id}`;
    return { chart, id, ...(await indexOneChart(home(`index-${id}`), dir, repoUrl, id)), repoUrl };
  }));
  packaged = results.filter((p): p is Packaged => p !== undefined);
});

/** The last release of each chart with shared objects: it owns them when the file ends. */
const sharedOwners: Install[] = [];

after(async () => {
  // Uninstalled, so no cluster-wide object outlives the file: a later file's install of the same chart (cilium's
  // ClusterRoles) would be refused, and metrics-server's APIService, with no server behind it, slows every
  // discovery of helm and kubectl after it.
  for (const o of sharedOwners) await runHelmBinary(home(o.namespace), o.helm, ['uninstall', o.release, '--namespace', o.namespace, '--no-hooks']).catch(() => undefined);
  await server?.close();
});

describe('real-world charts from their projects, installed by every tested helm, are Verified', () => {
  it('packages each chart; installs it with each helm (kyverno also with a user values file); one scan proves every release; tampered copies are Mismatch', async (t) => {
    assert.deepEqual(found.map((c) => c.name), EXPECTED_CHARTS, 'the pinned modules ship exactly these charts');
    assert.deepEqual(notPackaged, Object.fromEntries(Object.keys(SKIPPED).map((id) => [id, 'skipped'])), 'only the listed charts are left out');
    assert.deepEqual(dependencyBuilds, [], 'no chart needed helm dependency build: kyverno vendors its subcharts');
    for (const id of Object.keys(INSTALL_CHOICES)) assert.ok(packaged.some((p) => p.id === id), `install choice for ${id}, which is packaged`);

    const kinds = await kubectl(cluster, ['api-resources', '--namespaced=false', '--no-headers']);
    clusterKinds = new Set(kinds.split('\n').map((l) => l.trim().split(/\s+/).at(-1) ?? '').filter(Boolean));
    assert.ok(clusterKinds.has('CustomResourceDefinition') && clusterKinds.has('ClusterRole'), 'cluster-scoped kinds listed');
    for (const id of Object.keys(SHARED_OBJECTS)) assert.ok(packaged.some((p) => p.id === id), `${id} (shared objects) is packaged`);

    // Every install: each helm; kyverno also with the user values (its crds subchart off: no shared objects); the tamper copies.
    type Job = { p: Packaged; row: string; helm: HelmBinaryName; namespace: string; release: string; extra: string[]; tamper?: TamperCase };
    const jobs: Job[] = [];
    packaged.forEach((p, i) => {
      for (const helm of HELM_PROOF_BINARIES) jobs.push({ p, row: p.id, helm, namespace: `${prefix}-${i}-${HELM_SHORT[helm]}`, release: `${p.id}-${HELM_SHORT[helm]}`, extra: [] });
      if (p.id === 'kyverno') for (const helm of HELM_PROOF_BINARIES) jobs.push({ p, row: `${p.id} + values`, helm, namespace: `${prefix}-${i}-${HELM_SHORT[helm]}-v`, release: `${p.id}-${HELM_SHORT[helm]}-v`, extra: ['-f', userValuesFile] });
    });
    for (const [j, c] of TAMPER_CASES.entries()) {
      const p = packaged.find((x) => x.id === c.chart);
      assert.ok(p, `tamper case ${c.chart} is packaged`);
      assert.equal(SHARED_OBJECTS[c.chart], undefined, `tamper case ${c.chart} installs alongside the others`);
      jobs.push({ p, row: `${p.id} (tampered)`, helm: c.helm, namespace: `${prefix}-t${j}`, release: `${p.id}-t`, extra: [], tamper: c });
    }
    // A chart with shared objects is one chain (its plain installs, in HELM_PROOF_BINARIES order); every other install is a unit of its own.
    const units: Job[][] = [];
    for (const j of jobs) {
      const chain = SHARED_OBJECTS[j.p.id] && j.extra.length === 0 ? units.find((u) => u[0]?.p.id === j.p.id && u[0].extra.length === 0) : undefined;
      if (chain) chain.push(j);
      else units.push([j]);
    }
    const started = performance.now();
    const installs = new Map<Job, Install>();
    const chainMs: string[] = [];
    // The longest chains first, so that they do not start last.
    await pool(
      PARALLEL,
      [...units].sort((a, b) => b.length - a.length).map((unit) => async () => {
        const unitStarted = performance.now();
        let owner: Install | undefined;
        for (const j of unit) {
          if (owner) {
            try {
              await handOver(owner, j);
            } catch (err) {
              owner.handOverError = (err as Error).message;
            }
          }
          const x = await installOne(j.p, j.row, j.helm, j.namespace, j.release, j.extra);
          installs.set(j, x);
          // A release helm stored owns the shared objects from now on (one refused before storing owns nothing).
          if (!x.error || expectedFailure(j.p.id, j.helm)?.stored) owner = x;
        }
        if (unit.length > 1) chainMs.push(`${unit[0]?.p.id} ${Math.round(performance.now() - unitStarted)} ms`);
        if (owner && SHARED_OBJECTS[owner.chart.id]) sharedOwners.push(owner);
      }),
    );
    const installMs = Math.round(performance.now() - started);
    const all = jobs.map((j) => installs.get(j) as Install);
    const tamperJobs = jobs.filter((j) => j.tamper);
    const tampered = tamperJobs.map((j) => ({ c: j.tamper as TamperCase, namespace: j.namespace, release: j.release }));
    const tamperErrors = await tamperAll(cluster, tampered);

    const { scan, ms: scanMs, rows } = await scanCorpus({ cluster, work, repositories: packaged.map((p) => ({ repo: p.id, url: p.repoUrl })), prefix, home: 'real-home', timeoutMs: 180_000 });
    assert.equal(scan.code, 0, scan.stderr);

    const plain = all.filter((x) => !x.row.endsWith('(tampered)'));
    const rowNames = [...new Set(plain.map((x) => x.row))];
    const table = rowNames.map((row) => [row, ...HELM_PROOF_BINARIES.map((h) => {
      const x = plain.find((y) => y.row === row && y.helm === h);
      return x ? verdict(rows.get(`${x.namespace}/${x.release}`), { repository: x.chart.id, digest: x.chart.digest }, x.error) : 'not run';
    })]);
    t.diagnostic(`${packaged.length} charts from ${new Set(packaged.map((p) => p.chart.module)).size} modules (${packaged.map((p) => `${p.id} ${p.version} from ${p.chart.module}@${p.chart.version}`).join(', ')}): ${all.length} installs in ${installMs} ms, scan in ${scanMs} ms`);
    t.diagnostic(`one-after-another chains: ${chainMs.join(', ')}`);
    t.diagnostic(['chart', ...HELM_PROOF_BINARIES].join(' | '));
    for (const row of table) t.diagnostic(row.join(' | '));
    for (const x of all.filter((y) => y.error)) t.diagnostic(`helm failed: ${x.row} ${x.helm}: ${(x.error ?? '').replace(/^.*?Error: /s, '').replaceAll('\n', ' / ').slice(0, 600)}`);
    for (const x of all.filter((y) => y.handOverError)) t.diagnostic(`hand-over failed: ${x.row} ${x.helm}: ${(x.handOverError ?? '').slice(0, 400)}`);
    for (const e of tamperErrors) t.diagnostic(`tamper failed: ${e}`);

    assert.deepEqual(all.filter((x) => x.handOverError).map((x) => `${x.row} ${x.helm}: ${x.handOverError}`), [], 'every hand-over of shared objects worked');
    assert.deepEqual(
      plain.filter((x) => x.error).map((x) => `${x.row} ${x.helm}`).sort(),
      plain.filter((x) => expectedFailure(x.chart.id, x.helm)).map((x) => `${x.row} ${x.helm}`).sort(),
      'exactly the expected installs fail in helm itself',
    );
    for (const x of plain.filter((y) => y.error)) assert.match(x.error ?? '', expectedFailure(x.chart.id, x.helm)?.error ?? /^$/, `${x.row} ${x.helm}`);
    const expectedTable = rowNames.map((row) => [row, ...HELM_PROOF_BINARIES.map((h) => expectedVerdict(expectedFailure(row.split(' ')[0] ?? '', h)))]);
    assert.deepEqual(table, expectedTable, 'every release helm stored is Verified from its own repository with the served digest');
    assert.deepEqual([...rowNames].sort(), [...packaged.map((p) => p.id), 'kyverno + values'].sort(), 'every packaged chart was installed, kyverno also with user values');

    // The user values reached Helm (its conditions read `yes`/`off`) but none of them reaches the output.
    assert.equal(scan.stdout.includes(USER_MARKER) || scan.stderr.includes(USER_MARKER), false, 'no user value in the scan output');
    for (const x of plain.filter((y) => y.row === 'kyverno + values')) {
      const stored = await runHelmBinary(home(x.namespace), x.helm, ['get', 'values', x.release, '--namespace', x.namespace, '-o', 'json']);
      const v = JSON.parse(stored) as { grafana?: { enabled?: unknown }; crds?: { install?: unknown }; global?: { octal?: unknown; exponent?: unknown; marker?: unknown } };
      assert.deepEqual([v.grafana?.enabled, v.crds?.install, v.global?.octal, v.global?.exponent, v.global?.marker], [true, false, 420, 1000, USER_MARKER], `${x.helm}: helm read the user values with YAML 1.1 rules`);
    }

    assert.deepEqual(tamperErrors, [], 'every tamper case has a stored release to edit');
    for (const j of tamperJobs) assert.equal(installs.get(j)?.error, undefined, `tamper copy ${j.tamper?.chart} ${j.tamper?.helm} installed`);
    assertTampered(rows, tampered);
  });
});
