/**
 * Values files that go-yaml v2 (what Helm reads them with, through sigs.k8s.io/yaml) reads differently from the
 * YAML 1.1 schema of the `yaml` package, installed by every tested helm: the content proof must read them as
 * Helm does (src/chart/go-yaml.ts). Before it did, every release of `yaml-corners` was a Mismatch (a false
 * alarm: the stored values are the published ones, read by Helm's rules) and the two others were unreadable.
 *
 * - yaml-corners: `<<` after explicit keys (Helm: the merge wins), `0o644`, `1e_3`, a float that overflows, hex
 *   beyond 64 bits, `!!float`, `!!binary`, `!!set`, `!!omap`, float map keys; a vendored subchart whose
 *   values.yaml has the same (Helm before 3.13 stores them coalesced into the parent's values).
 * - yaml-trailing-separator: a values.yaml that ends with `---` (one document and an empty one: the same to
 *   Helm 3 and 4).
 * - yaml-multidoc: a values.yaml of two documents, which Helm 3 (the first) and Helm 4 (both, merged; helm/helm
 *   92087f6e3, 4.0.0) store differently: each release is proven with its own major's reading.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { scratchDir, sha256Digest } from '../harness/charts.ts';
import { tgz as tarGz } from '../unit/chart/tar-writer.ts';
import { ensureNamespace } from '../harness/controlplane.ts';
import { testEnv, uniqueNamespace } from '../harness/env.ts';
import { majorOf, runHelmBinary } from '../harness/helm-proof.ts';
import { HELM_SHORT, helmHomes, PACKAGER, scanCorpus, startCorpusRepo, type CorpusRepo, type Served } from '../harness/chart-corpus.ts';
import { HELM_PROOF_BINARIES } from '../harness/tools.ts';

const env = testEnv();
const cluster = env.cluster;
const prefix = uniqueNamespace('e2e-yaml').slice(0, 40);
const work = scratchDir('helm-yaml');
const home = helmHomes(work, cluster);

const CORNERS = `defaults: &defaults
  replicas: 1
  mode: 0o644
app:
  replicas: 3
  <<: *defaults
both:
  <<: [{a: 1}, {a: 2, b: 2}]
  b: 3
  <<: {b: 4}
scalars:
  oct: 0O17
  exp: 1e_3
  big: 1e400
  hex: 0x1FFFFFFFFFFFFFFFF
  flt: !!float 3
  bin: !!binary aGVsbG8=
  set: !!set {a, b}
  omap: !!omap [a: 1, b: 2]
keys:
  1e6: a
  3.14159265358979: b
`;

const CHARTS: Record<string, Record<string, string>> = {
  'yaml-corners': {
    'Chart.yaml': 'apiVersion: v2\nname: yaml-corners\nversion: 1.0.0\ndependencies:\n  - name: sub\n    version: 0.1.0\n',
    'values.yaml': CORNERS,
    'templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  replicas: {{ .Values.app.replicas | quote }}\n',
    'charts/sub/Chart.yaml': 'apiVersion: v2\nname: sub\nversion: 0.1.0\n',
    'charts/sub/values.yaml': CORNERS,
    'charts/sub/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-sub\ndata:\n  replicas: {{ .Values.app.replicas | quote }}\n',
  },
  'yaml-trailing-separator': {
    'Chart.yaml': 'apiVersion: v2\nname: yaml-trailing-separator\nversion: 1.0.0\n',
    'values.yaml': '# one document, then an empty one\nreplicas: 1\n---\n',
    'templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  replicas: {{ .Values.replicas | quote }}\n',
  },
  // Floats in Chart.yaml's string fields: Helm stores them as Go writes a float32 into a string ("2.0231012e+07").
  'yaml-metadata-numbers': {
    'Chart.yaml': 'apiVersion: v2\nname: yaml-metadata-numbers\nversion: 1.0.0\nappVersion: 20231012.1\ndescription: 1e6\nkeywords: [1.5, 2]\nannotations:\n  x: 1.5e7\n  num: 12345678901\n',
    'values.yaml': 'replicas: 1\n',
    'templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  app: {{ .Chart.AppVersion | quote }}\n',
  },
  'yaml-multidoc': {
    'Chart.yaml': 'apiVersion: v2\nname: yaml-multidoc\nversion: 1.0.0\n',
    'values.yaml': 'a: 1\nb: {x: 1}\n---\nb: {z: 2}\nc: 3\n',
    'templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  b: {{ .Values.b | toJson | quote }}\n',
  },
};

let server: CorpusRepo;
const served: Served[] = [];

before(async () => {
  server = await startCorpusRepo(work);
  for (const [id, files] of Object.entries(CHARTS)) {
    const src = join(work, 'src', id);
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(src, name)), { recursive: true });
      writeFileSync(join(src, name), text);
    }
    const dir = join(server.dir, id);
    mkdirSync(dir, { recursive: true });
    if (id === 'yaml-metadata-numbers') {
      // Tarred as a chart's own build might tar it: `helm package` would rewrite Chart.yaml from Helm's struct
      // (the floats already as Go's strings), hiding how Helm reads the file at install.
      writeFileSync(join(dir, `${id}-1.0.0.tgz`), tarGz(Object.entries(files).map(([name, text]) => ({ name: `${id}/${name}`, data: text }))));
    } else {
      await runHelmBinary(home(`package-${id}`), PACKAGER, ['package', src, '--destination', dir]);
    }
    await runHelmBinary(home(`index-${id}`), PACKAGER, ['repo', 'index', dir, '--url', `${server.url}/${id}`]);
    const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz')) ?? '';
    const index = parse(readFileSync(join(dir, 'index.yaml'), 'utf8')) as { entries: Record<string, { digest: string }[]> };
    const digest = sha256Digest(readFileSync(join(dir, tgz)));
    assert.equal(`sha256:${index.entries[id]?.[0]?.digest}`, digest);
    served.push({ repo: id, digest, url: `${server.url}/${id}` });
  }
});

after(async () => {
  await server?.close();
});


describe('values files read by go-yaml v2 rules, installed by every tested helm', () => {
  it('every chart is Verified from every helm, yaml-multidoc (stored differently by Helm 3 and 4) with each major\'s reading', async (t) => {
    const installs = served.flatMap((s) => HELM_PROOF_BINARIES.map((helm) => ({ s, helm, namespace: `${prefix}-${s.repo.slice(5, 13)}-${HELM_SHORT[helm]}` })));
    await Promise.all(
      installs.map(async ({ s, helm, namespace }) => {
        await ensureNamespace(cluster, namespace);
        await runHelmBinary(home(namespace), helm, ['install', s.repo, s.repo, '--repo', s.url, '--version', '1.0.0', '--namespace', namespace]);
      }),
    );
    // What each helm stored for the two-document values.yaml: the first document (Helm 3) or both merged (Helm 4).
    for (const { s, helm, namespace } of installs.filter((x) => x.s.repo === 'yaml-multidoc')) {
      const all = JSON.parse(await runHelmBinary(home(namespace), helm, ['get', 'values', s.repo, '--all', '--namespace', namespace, '-o', 'json'])) as Record<string, unknown>;
      assert.deepEqual(all, majorOf(helm) === 3 ? { a: 1, b: { x: 1 } } : { a: 1, b: { x: 1, z: 2 }, c: 3 }, `${helm} stores the documents as its loader reads them`);
    }
    // What each helm stored for a float appVersion: Go's float32 text, which a faithful reading must match.
    for (const { helm, namespace } of installs.filter((x) => x.s.repo === 'yaml-metadata-numbers')) {
      const list = JSON.parse(await runHelmBinary(home(namespace), helm, ['list', '--namespace', namespace, '-o', 'json'])) as { app_version?: string }[];
      assert.equal(list[0]?.app_version, '2.0231012e+07', `${helm} stores appVersion as Go writes a float32`);
    }

    const { scan, rows } = await scanCorpus({ cluster, work, repositories: served, prefix, home: 'yaml-home', timeoutMs: 120_000 });
    for (const { s, helm, namespace } of installs) {
      const r = rows.get(`${namespace}/${s.repo}`);
      t.diagnostic(`${s.repo} ${helm}: ${r?.origin.match} ${r?.origin.message ?? ''}`);
    }
    t.diagnostic(`scan exit ${scan.code}: ${scan.stderr.trim().slice(0, 400)}`);

    for (const { s, helm, namespace } of installs) {
      const r = rows.get(`${namespace}/${s.repo}`);
      assert.deepEqual([r?.origin.match, r?.origin.repository, r?.origin.tarballDigest], ['Verified', s.repo, s.digest], `${s.repo} ${helm}: ${r?.origin.message}`);
      if (s.repo === 'yaml-multidoc') assert.equal(/YAML documents merged, as Helm 4 loads them/.test(r?.origin.message ?? ''), majorOf(helm) === 4, `${s.repo} ${helm}: ${r?.origin.message}`);
    }
    assert.equal(scan.code, 0, scan.stderr);
  });
});
