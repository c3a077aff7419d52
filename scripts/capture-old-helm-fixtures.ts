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
 *   node scripts/capture-old-helm-fixtures.ts /tmp/oldhelm/v3.6.3/helm /tmp/oldhelm/v3.12.3/helm …
 *
 * Without arguments: .tools/bin/helm3-old (scripts/tools.sh). Build another version like tools.sh
 * build_helm does (a go.mod requiring helm.sh/helm/v3 at that version, `go build …/cmd/helm`).
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureNamespace, kubectl, startControlPlane } from '../test/harness/controlplane.ts';
import { helmEnv } from '../test/harness/helm.ts';
import { onInterrupt, stopAll } from '../test/harness/processes.ts';
import { scratchDir } from '../test/harness/charts.ts';
import { REPO_ROOT, toolPath } from '../test/harness/tools.ts';
import { isObject } from '../src/util/guards.ts';
import { checkConfig } from './fixture-values.ts';
import { unwrapHelmString } from '../src/decode/decode.ts';
import { packageDir, writeChart, type UmbrellaSpec } from '../test/harness/umbrella.ts';
import { tgz } from '../test/unit/chart/tar-writer.ts';

const OUT = join(REPO_ROOT, 'test', 'fixtures', 'old-helm');

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

const leaf = { name: 'leaf', version: '0.3.0', values: { config: { level: 'info', nested: { a: 1 } }, global: { region: 'leaf-default', tier: { name: 'leaf' } } } };
const common = { name: 'common', version: '2.1.0', library: true, values: { exports: { defaults: { labels: { team: 'lib' } } } } };
const cache = { name: 'cache', version: '0.5.0', values: { size: 128, enabled: true } };
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
];

/** Each is installed; with `reuse`, then upgraded with --reuse-values and these values (revision 2 captured too). */
const installs: { chart: string; set: Record<string, string>; reuse?: Record<string, string> }[] = [
  { chart: 'umbrella', set: {} },
  { chart: 'umbrella', set: { 'tags.optional': 'false', 'cacheA.enabled': 'true' } },
  { chart: 'umbrella', set: { 'global.region': 'fixture-dummy-region', 'global.token': 'fixture-dummy-token', 'backend.replicas': '5' }, reuse: { 'backend.image.tag': 'fixture-dummy-v9' } },
  { chart: 'imports', set: {} },
  { chart: 'strings', set: {} },
  { chart: 'legacy', set: {} },
  { chart: 'bom', set: {}, reuse: { a: '2' } },
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


function run(helm: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(helm, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${helm} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout)));
  });
}

async function main(): Promise<void> {
  const helms = process.argv.slice(2);
  if (!helms.length) helms.push(toolPath('helm3-old'));
  const cp = await startControlPlane();
  onInterrupt(async () => {
    await cp.stop();
    await stopAll();
  });
  try {
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(join(OUT, 'charts'), { recursive: true });
    const tarballs = new Map<string, string>();
    for (const spec of charts) {
      const pkg = await packageDir(await writeChart(scratchDir('old-helm-src'), spec), scratchDir('old-helm-out'));
      const file = `charts/${spec.name}-${spec.version}.tgz`;
      copyFileSync(pkg.path, join(OUT, file));
      tarballs.set(spec.name, file);
    }
    writeFileSync(join(OUT, 'charts', 'bom-0.1.0.tgz'), bomChart);
    tarballs.set('bom', 'charts/bom-0.1.0.tgz');
    const captures: OldHelmCapture[] = [];
    let n = 0;
    for (const helm of helms) {
      const version = execFileSync(helm, ['version', '--short'], { encoding: 'utf8' }).trim();
      const tag = /^v\d+\.\d+\.\d+/.exec(version)?.[0] ?? `helm${n}`;
      const ns = `old-helm-${tag.replaceAll('.', '-')}`;
      await ensureNamespace(cp, ns);
      const env = helmEnv(cp, 3);
      for (const i of installs) {
        const chart = tarballs.get(i.chart) as string;
        const release = `r${++n}`;
        const sets = (set: Record<string, string>): string[] => Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
        await run(helm, ['install', release, join(OUT, chart), '--namespace', ns, ...sets(i.set)], env);
        const capture = async (revision: number, previous?: string): Promise<string> => {
          const obj = JSON.parse(await kubectl(cp, ['get', 'secret', `sh.helm.release.v1.${release}.v${revision}`, '-n', ns, '-o', 'json'])) as { data?: { release?: string } };
          const rel = JSON.parse(unwrapHelmString(Buffer.from(obj.data?.release ?? '', 'base64').toString('latin1'), `release ${release}`).toString('utf8')) as Record<string, unknown>;
          checkConfig(rel['config'] ?? {}, release);
          // What the proof reads; the rendered manifest, hooks and notes are not part of the chart.
          delete rel['manifest'];
          delete rel['hooks'];
          if (isObject(rel['info'])) delete rel['info']['notes'];
          const file = `${tag}-${i.chart}-${release}.v${revision}.json`;
          writeFileSync(join(OUT, file), `${JSON.stringify(rel, null, 1)}\n`);
          captures.push({ file, helm: version, chart, set: revision === 1 ? i.set : { ...i.set, ...i.reuse }, ...(previous ? { previous } : {}) });
          process.stderr.write(`captured ${file}\n`);
          return file;
        };
        const first = await capture(1);
        if (i.reuse) {
          await run(helm, ['upgrade', release, join(OUT, chart), '--namespace', ns, '--reuse-values', ...sets(i.reuse)], env);
          await capture(2, first);
        }
      }
    }
    writeFileSync(join(OUT, 'manifest.json'), `${JSON.stringify({ generatedBy: 'scripts/capture-old-helm-fixtures.ts', captures }, null, 2)}\n`);
  } finally {
    await cp.stop();
  }
}

await main();
