/**
 * Captures what older helm 3 releases store, for the unit tests of the content proof's version rules
 * (test/unit/chart/old-helm-captures.test.ts): starts the harness control plane, packages a few charts
 * with dependencies (umbrella: aliases, conditions, tags, import-values, library chart, globals; imports
 * and strings: import-values precedence; legacy: apiVersion v1 requirements) with helm 4, and one made by
 * hand (bom: files with a UTF-8 byte order mark), really installs each with every given helm binary,
 * and writes the stored release (`chart` and `config` as Helm encoded them; manifest, hooks and notes
 * dropped) to test/fixtures/old-helm/, with the chart tarballs and an index (manifest.json). Only dummy
 * values go in (`fixture-dummy-…`), checked as in capture-release-fixtures.ts.
 *
 * Also charts with duplicate dependency names (twins: one chart under its name and two aliases, in two
 * versions; dupes, made by hand since helm 3.14+ refuses it: one name twice without alias) and a chart
 * whose versions are not strict semver (loose: `1.0`, a subchart `2`). An install that helm refuses is
 * recorded in the index (`refused`) instead of failing the run.
 *
 *   node scripts/capture-old-helm-fixtures.ts [--out DIR] [--append] [--only twins,dupes] /tmp/oldhelm/v3.6.3/helm …
 *
 * --out writes elsewhere than test/fixtures/old-helm/ (a scratch copy to check many versions); --append
 * keeps DIR's tarballs and index and adds captures to them (only missing tarballs are packaged: helm
 * package stamps the time, so repackaging would change every committed tarball); --only installs just
 * those charts (or named installs: nulls). Without helm arguments:
 * .tools/bin/helm3-old (scripts/tools.sh). Build another version like tools.sh build_helm does (a go.mod
 * requiring helm.sh/helm/v3 at that version, `go build …/cmd/helm`).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureNamespace } from '../test/harness/controlplane.ts';
import { helmEnv } from '../test/harness/helm.ts';
import { scratchDir } from '../test/harness/charts.ts';
import { REPO_ROOT, toolPath } from '../test/harness/tools.ts';
import { checkConfig } from './fixture-values.ts';
import { chartOnly, helmVersion, readStoredRelease, runHelm, withControlPlane, writeCapture } from './helm-capture.ts';
import { packageDir, writeChart, type UmbrellaSpec } from '../test/harness/umbrella.ts';
import { tgz } from '../test/unit/chart/tar-writer.ts';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'old-helm');

/** One entry of test/fixtures/old-helm/manifest.json; the unit test reads the same shape. */
export interface OldHelmCapture {
  file: string;
  /** `helm version --short` of the binary that installed it. */
  helm: string;
  /** The .tgz (relative to test/fixtures/old-helm/) it was installed from. */
  chart: string;
  set: Record<string, string>;
  /** Revision 2 only: made by `helm upgrade --reuse-values` from this capture of revision 1. */
  previous?: string;
}

/** An install the helm refused (the chart is invalid for it): recorded, not captured. */
export interface OldHelmRefusal {
  helm: string;
  chart: string;
  /** The first line of helm's error. */
  error: string;
}

/** test/fixtures/old-helm/manifest.json. */
export interface OldHelmManifest {
  generatedBy: string;
  captures: OldHelmCapture[];
  refused?: OldHelmRefusal[];
}

const leaf = { name: 'leaf', version: '0.3.0', values: { config: { level: 'info', nested: { a: 1 } }, global: { region: 'leaf-default', tier: { name: 'leaf' } } } };
const common = { name: 'common', version: '2.1.0', library: true, values: { exports: { defaults: { labels: { team: 'lib' } } } } };
const cache = { name: 'cache', version: '0.5.0', values: { size: 128, enabled: true } };
const cacheNext = { name: 'cache', version: '0.6.0', values: { size: 256, enabled: true, exports: { tuning: { ttl: 60 } } } };
const lib = { name: 'lib', version: '1.0.0', library: true, values: { exports: { defaults: { labels: { team: 'lib', tier: 'x' } }, data: { port: 8080, proto: 'tcp', nested: { k: 'lib', n: null } } } } };
const app = { name: 'app', version: '1.0.0', values: { exports: { more: { extra: 'e', port: 7070 } }, cfg: { a: 1, b: null, n: { z: 2 } } } };
const precedence = { port: 9090, nested: { k: 'parent', m: null }, proto: null, importedDefaults: { labels: { team: 'parent' } }, appCfg: { a: 'parent' }, global: { gk: 'p', gt: { p: 1 } } };

const charts: UmbrellaSpec[] = [
  {
    name: 'umbrella',
    version: '1.0.0',
    lock: true,
    values: { replicas: 2, global: { region: 'eu', tier: { size: 'm' } }, backend: { enabled: true, replicas: 3, removeMe: null }, cacheA: { enabled: false }, importedDefaults: { keep: 'parent wins' } },
    dependencies: [
      {
        chart: { name: 'backend', version: '1.2.0', values: { enabled: true, replicas: 1, removeMe: 'default', image: { tag: 'v1' }, exports: { data: { port: 8080, proto: 'tcp' } } }, dependencies: [{ chart: leaf, importValues: [{ child: 'config', parent: 'leafConfig' }], form: 'tgz' }] },
        condition: 'backend.enabled',
        importValues: ['data'],
      },
      { chart: cache, alias: 'cacheA', condition: 'cacheA.enabled', tags: ['optional'], form: 'tgz' },
      { chart: cache, alias: 'cacheB', tags: ['optional'] },
      { chart: common, importValues: [{ child: 'exports.defaults', parent: 'importedDefaults' }], form: 'tgz' },
    ],
  },
  { name: 'imports', version: '1.0.0', values: precedence, dependencies: [{ chart: app, importValues: ['more', { child: 'cfg', parent: 'appCfg' }], form: 'tgz' }, { chart: lib, importValues: ['data', { child: 'exports.defaults', parent: 'importedDefaults' }], form: 'tgz' }] },
  { name: 'strings', version: '1.0.0', values: precedence, dependencies: [{ chart: app, importValues: ['more'], form: 'tgz' }, { chart: lib, importValues: ['data'], form: 'tgz' }] },
  // apiVersion v1: requirements.yaml and requirements.lock (not among the stored files before helm 3.0.2).
  {
    name: 'legacy',
    version: '0.9.0',
    apiVersion: 'v1',
    lock: true,
    values: { web: { port: 80 } },
    dependencies: [{ chart: { name: 'web', version: '1.0.0', values: { port: 8080, enabled: true } }, condition: 'web.enabled' }, { chart: { name: 'db', version: '1.0.0', values: { enabled: false } }, condition: 'db.enabled' }],
  },
  // One chart name three times: under its own name, and aliased in the same and in a newer version (the
  // version constraint picks the subchart, processDependencyEnabled keeps the unreferenced ones).
  {
    name: 'twins',
    version: '1.0.0',
    values: { copy: { size: 64 }, large: { enabled: true } },
    dependencies: [
      { chart: cache, form: 'tgz' },
      { chart: cache, alias: 'copy', form: 'tgz' },
      { chart: cacheNext, alias: 'large', condition: 'large.enabled', importValues: ['tuning'], form: 'tgz' },
    ],
  },
  // Versions that are not strict semver: Masterminds' NewVersion (every Helm) reads `1.0` as 1.0.0 and `2` as 2.0.0.
  { name: 'loose', version: '1.0', values: { sub: { enabled: true } }, dependencies: [{ chart: { name: 'sub', version: '2', values: { enabled: true, port: 1 } }, condition: 'sub.enabled' }] },
];

/**
 * Each is installed; with `reuse`, then upgraded with --reuse-values and these values (revision 2 captured
 * too). With `mayRefuse`, helm's refusal to install is recorded instead of failing the run.
 */
const installs: { chart: string; name?: string; set: Record<string, string>; reuse?: Record<string, string>; mayRefuse?: boolean }[] = [
  { chart: 'umbrella', set: {} },
  { chart: 'umbrella', set: { 'tags.optional': 'false', 'cacheA.enabled': 'true' } },
  { chart: 'umbrella', set: { 'global.region': 'fixture-dummy-region', 'global.token': 'fixture-dummy-token', 'backend.replicas': '5' }, reuse: { 'backend.image.tag': 'fixture-dummy-v9' } },
  { chart: 'imports', set: {} },
  { chart: 'strings', set: {} },
  { chart: 'legacy', set: {} },
  { chart: 'bom', set: {}, reuse: { a: '2' } },
  // A user null for a key the chart has no default for, carried over by --reuse-values: removed by helm with
  // "fix null merge" (3.19.5-3.20.0, 4.0-4.1.2), kept by the others.
  { chart: 'umbrella', name: 'nulls', set: { 'backend.noDefault': 'null' }, reuse: { replicas: '4' } },
  { chart: 'twins', set: {} },
  { chart: 'twins', set: { 'large.enabled': 'false' } },
  { chart: 'dupes', set: {}, mayRefuse: true },
  { chart: 'loose', set: {} },
];

const BOM = '\ufeff';
/**
 * A chart whose helper template, NOTES.txt and README begin with a UTF-8 byte order mark: made by hand,
 * since helm package (3.3+) trims it. Helm 3.0-3.2 stored the mark (a manifest template starting with one
 * fails to install there, so the manifest has none).
 */
const bomChart = tgz([
  { name: 'bom/Chart.yaml', data: `${BOM}apiVersion: v2\nname: bom\nversion: 0.1.0\n` },
  { name: 'bom/values.yaml', data: `${BOM}a: 1\n` },
  { name: 'bom/templates/_helpers.tpl', data: `${BOM}{{- define "bom.x" -}}x{{- end -}}\n` },
  { name: 'bom/templates/NOTES.txt', data: `${BOM}notes\n` },
  { name: 'bom/templates/cm.yaml', data: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-bom\ndata:\n  a: "{{ .Values.a }}"\n' },
  { name: 'bom/README.md', data: `${BOM}# readme\n` },
]);

const cm = (chart: string): string => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-${chart}\ndata:\n  values: {{ toJson .Values | quote }}\n`;
/**
 * The same dependency name twice without alias, in two versions: helm package refuses it, as does every
 * helm since 3.14 (Metadata.Validate, helm/helm 6a4035aea: "more than one dependency with name or alias");
 * older helm installed it. Made by hand.
 */
const dupesChart = tgz([
  {
    name: 'dupes/Chart.yaml',
    data: 'apiVersion: v2\nname: dupes\nversion: 0.1.0\ndependencies:\n- name: cache\n  version: 0.5.0\n  repository: https://charts.example.invalid\n- name: cache\n  version: 0.6.0\n  repository: https://charts.example.invalid\n  condition: cache.enabled\n',
  },
  { name: 'dupes/values.yaml', data: 'cache:\n  size: 1\n' },
  { name: 'dupes/templates/cm.yaml', data: cm('dupes') },
  { name: 'dupes/charts/cache-0.5.0/Chart.yaml', data: 'apiVersion: v2\nname: cache\nversion: 0.5.0\n' },
  { name: 'dupes/charts/cache-0.5.0/values.yaml', data: 'size: 128\nold: true\n' },
  { name: 'dupes/charts/cache-0.5.0/templates/cm.yaml', data: cm('old') },
  { name: 'dupes/charts/cache-0.6.0/Chart.yaml', data: 'apiVersion: v2\nname: cache\nversion: 0.6.0\n' },
  { name: 'dupes/charts/cache-0.6.0/values.yaml', data: 'size: 256\nnew: true\n' },
  { name: 'dupes/charts/cache-0.6.0/templates/cm.yaml', data: cm('new') },
]);
/** Charts made by hand, by the name `installs` uses. */
const handmade: Record<string, { file: string; bytes: Buffer }> = {
  bom: { file: 'charts/bom-0.1.0.tgz', bytes: bomChart },
  dupes: { file: 'charts/dupes-0.1.0.tgz', bytes: dupesChart },
};


/** `[--out DIR] [--append] [--only CHART,…] helm…` */
function parseArgs(argv: string[]): { out: string; append: boolean; only: Set<string> | undefined; helms: string[] } {
  let out = FIXTURES;
  let append = false;
  let only: Set<string> | undefined;
  const helms: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--out') out = resolve(argv[++i] ?? '');
    else if (a === '--append') append = true;
    else if (a === '--only') only = new Set((argv[++i] ?? '').split(','));
    else helms.push(a);
  }
  if (!helms.length) helms.push(toolPath('helm3-old'));
  return { out, append, only, helms };
}

async function main(): Promise<void> {
  const { out, append, only, helms } = parseArgs(process.argv.slice(2));
  await withControlPlane(async (cp) => {
    const index = join(out, 'manifest.json');
    const kept: OldHelmManifest = append && existsSync(index) ? (JSON.parse(readFileSync(index, 'utf8')) as OldHelmManifest) : { generatedBy: '', captures: [] };
    if (!append) rmSync(out, { recursive: true, force: true });
    mkdirSync(join(out, 'charts'), { recursive: true });
    const tarballs = new Map<string, string>();
    for (const spec of charts) {
      const file = `charts/${spec.name}-${spec.version}.tgz`;
      tarballs.set(spec.name, file);
      if (existsSync(join(out, file))) continue;
      const pkg = await packageDir(await writeChart(scratchDir('old-helm-src'), spec), scratchDir('old-helm-out'));
      copyFileSync(pkg.path, join(out, file));
    }
    for (const [name, { file, bytes }] of Object.entries(handmade)) {
      tarballs.set(name, file);
      if (!existsSync(join(out, file))) writeFileSync(join(out, file), bytes);
    }
    const captures: OldHelmCapture[] = [...kept.captures];
    const refused: OldHelmRefusal[] = [...(kept.refused ?? [])];
    // Release names go on from the kept captures' (r1, r2, …: part of each file name).
    let n = Math.max(0, ...captures.map((c) => Number(/-r(\d+)\.v\d+\.json$/.exec(c.file)?.[1] ?? 0)));
    for (const helm of helms) {
      const { version, tag = `helm${n}` } = helmVersion(helm);
      const ns = `old-helm-${tag.replaceAll('.', '-')}`;
      await ensureNamespace(cp, ns);
      const env = helmEnv(cp, 3);
      for (const i of installs) {
        const label = i.name ?? i.chart;
        if (only && !only.has(label)) continue;
        const chart = tarballs.get(i.chart) as string;
        const release = `r${++n}`;
        const sets = (set: Record<string, string>): string[] => Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
        try {
          await runHelm(helm, ['install', release, join(out, chart), '--namespace', ns, ...sets(i.set)], env);
        } catch (err) {
          if (!i.mayRefuse) throw err;
          const error = (err instanceof Error ? err.message : String(err)).split('\n')[0]?.replace(/^.*?: Error: /, 'Error: ') ?? '';
          refused.push({ helm: version, chart, error });
          process.stderr.write(`${version} refused ${chart}: ${error}\n`);
          continue;
        }
        const capture = async (revision: number, previous?: string): Promise<string> => {
          const { release: rel } = await readStoredRelease(cp, ns, release, revision);
          checkConfig(rel['config'] ?? {}, release);
          const file = `${tag}-${label}-${release}.v${revision}.json`;
          writeCapture(out, file, chartOnly(rel));
          captures.push({ file, helm: version, chart, set: revision === 1 ? i.set : { ...i.set, ...i.reuse }, ...(previous ? { previous } : {}) });
          return file;
        };
        const first = await capture(1);
        if (i.reuse) {
          await runHelm(helm, ['upgrade', release, join(out, chart), '--namespace', ns, '--reuse-values', ...sets(i.reuse)], env);
          await capture(2, first);
        }
      }
    }
    const manifest: OldHelmManifest = { generatedBy: 'scripts/capture-old-helm-fixtures.ts', captures, ...(refused.length ? { refused } : {}) };
    writeFileSync(index, `${JSON.stringify(manifest, null, 2)}\n`);
  });
}

await main();
