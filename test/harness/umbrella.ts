/**
 * Charts with dependencies, written as source directories from a small spec and packaged by a real helm:
 * the inputs of the content-proof tests (test/e2e/helm-processing.test.ts). Every feature of Helm's
 * install-time processing can be switched on: nested subcharts (as directories or .tgz in charts/),
 * aliases, conditions, tags, import-values in both forms, library charts, globals, apiVersion v1
 * requirements, Chart.lock, binary files and .helmignore.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { helmHome, scratchDir, sha256Digest } from './charts.ts';
import { toolPath, type HelmBinaryName } from './tools.ts';

export interface SubchartSpec {
  name: string;
  version: string;
  values?: Record<string, unknown>;
  library?: boolean;
  /** Changes its ConfigMap template (a different chart under the same name+version). */
  templateVariant?: string;
  dependencies?: DependencySpec[];
}

export interface DependencySpec {
  chart: SubchartSpec;
  alias?: string;
  condition?: string;
  tags?: string[];
  importValues?: unknown[];
  /** How the subchart sits in charts/: a directory (default) or a packaged .tgz. */
  form?: 'dir' | 'tgz';
}

export interface UmbrellaSpec extends SubchartSpec {
  apiVersion?: 'v1' | 'v2';
  description?: string;
  /** Writes Chart.lock (requirements.lock for v1). */
  lock?: boolean;
  /** Adds files/blob.bin (bytes 0..255) and a .helmignore that drops *.tmp and scratch/. */
  binaryAndIgnore?: boolean;
}

function run(helm: HelmBinaryName, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(toolPath(helm), args, { env: helmHome('helm4').env, cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${helm} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

function dependencyEntry(d: DependencySpec): Record<string, unknown> {
  return {
    name: d.chart.name,
    version: d.chart.version,
    repository: 'https://charts.example.invalid',
    ...(d.alias ? { alias: d.alias } : {}),
    ...(d.condition ? { condition: d.condition } : {}),
    ...(d.tags ? { tags: d.tags } : {}),
    ...(d.importValues ? { 'import-values': d.importValues } : {}),
  };
}

const CONFIGMAP = (variant: string | undefined): string =>
  [
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata:',
    '  name: {{ printf "%s-%s" .Release.Name .Chart.Name | lower | trunc 63 }}',
    'data:',
    '  values: {{ toJson .Values | quote }}',
    ...(variant ? [`  variant: ${JSON.stringify(variant)}`] : []),
    '',
  ].join('\n');

/** Writes the chart source directory `<parent>/<name>` and returns its path. Subcharts in .tgz form are packaged by `helm`. */
export async function writeChart(parent: string, spec: UmbrellaSpec, helm: HelmBinaryName = 'helm4'): Promise<string> {
  const dir = join(parent, spec.name);
  mkdirSync(join(dir, 'templates'), { recursive: true });
  const v1 = spec.apiVersion === 'v1';
  const deps = spec.dependencies ?? [];
  const chartYaml: Record<string, unknown> = {
    apiVersion: v1 ? 'v1' : 'v2',
    name: spec.name,
    version: spec.version,
    description: spec.description ?? `test chart ${spec.name}`,
    ...(spec.library ? { type: 'library' } : {}),
    ...(!v1 && deps.length ? { dependencies: deps.map(dependencyEntry) } : {}),
  };
  writeFileSync(join(dir, 'Chart.yaml'), stringify(chartYaml));
  if (v1 && deps.length) writeFileSync(join(dir, 'requirements.yaml'), stringify({ dependencies: deps.map(dependencyEntry) }));
  if (spec.lock && deps.length) {
    const lock = { dependencies: deps.map((d) => ({ name: d.chart.name, repository: 'https://charts.example.invalid', version: d.chart.version })), digest: `sha256:${'ab'.repeat(32)}`, generated: '2026-01-02T03:04:05.123456789Z' };
    writeFileSync(join(dir, v1 ? 'requirements.lock' : 'Chart.lock'), stringify(lock));
  }
  writeFileSync(join(dir, 'values.yaml'), spec.values && Object.keys(spec.values).length ? stringify(spec.values) : '');
  if (spec.library) {
    writeFileSync(join(dir, 'templates', '_helpers.tpl'), `{{- define "${spec.name}.label" -}}\nlib: ${spec.name}\n{{- end -}}\n`);
  } else {
    writeFileSync(join(dir, 'templates', 'configmap.yaml'), CONFIGMAP(spec.templateVariant));
  }
  if (spec.binaryAndIgnore) {
    mkdirSync(join(dir, 'files'), { recursive: true });
    writeFileSync(join(dir, 'files', 'blob.bin'), Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
    writeFileSync(join(dir, '.helmignore'), '*.tmp\nscratch/\n');
    writeFileSync(join(dir, 'notes.tmp'), 'ignored by .helmignore\n');
    mkdirSync(join(dir, 'scratch'), { recursive: true });
    writeFileSync(join(dir, 'scratch', 'x.txt'), 'ignored by .helmignore\n');
  }
  if (deps.length) {
    const charts = join(dir, 'charts');
    mkdirSync(charts, { recursive: true });
    const written = new Set<string>();
    for (const d of deps) {
      const key = `${d.chart.name}-${d.chart.version}`;
      if (written.has(key)) continue; // an aliased chart used twice ships once
      written.add(key);
      if (d.form === 'tgz') {
        const src = await writeChart(scratchDir('subchart-src'), d.chart, helm);
        await run(helm, ['package', src, '--destination', charts]);
      } else {
        await writeChart(charts, d.chart, helm);
      }
    }
  }
  return dir;
}

export interface PackagedUmbrella {
  path: string;
  bytes: Buffer;
  digest: string;
}

/** `helm package` of a chart source directory into `outDir`. */
export async function packageDir(dir: string, outDir: string, helm: HelmBinaryName = 'helm4'): Promise<PackagedUmbrella> {
  mkdirSync(outDir, { recursive: true });
  const out = await run(helm, ['package', dir, '--destination', outDir]);
  const path = /saved it to: (.+\.tgz)/.exec(out)?.[1]?.trim();
  if (!path) throw new Error(`helm package printed no path: ${out}`);
  const bytes = readFileSync(path);
  return { path, bytes, digest: sha256Digest(bytes) };
}

/** `helm repo index` over a folder of packaged charts (for a static chart repository). */
export async function indexRepo(dir: string, url: string, helm: HelmBinaryName = 'helm4'): Promise<void> {
  await run(helm, ['repo', 'index', dir, '--url', url]);
}
