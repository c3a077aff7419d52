/**
 * A chart archive with its subcharts, loaded the way Helm's loader does (pkg/chart/loader/load.go
 * LoadFiles), for install-time processing: `charts/<name>.tgz` archives and `charts/<name>/` directories,
 * nested; entries starting with `_` or `.` skipped; requirements.yaml folded into the metadata; a missing
 * apiVersion read as v1; metadata strings sanitised as Metadata.Validate does.
 */
import { DEFAULT_ARCHIVE_LIMITS, readChartFiles, type ArchiveLimits } from './archive.ts';
import { chartContentFromFiles, ChartContentError, chartYamlOf, parseHelmYaml, valuesReadingsOf, type ChartContent } from './content.ts';
import { deepCopy, isTable, newTable, type Table } from './coalesce.ts';
import { sanitizeString } from './fingerprint.ts';
import type { HelmChart, HelmDependency, HelmMetadata } from './helm-install.ts';
import { RepoError } from '../model/repository.ts';
import { scalarString, type JsonObject } from '../util/guards.ts';

const decoder = new TextDecoder('utf-8');

/** Subcharts nest rarely beyond 3 levels; the caps stop an archive of archives from multiplying work. */
const MAX_DEPTH = 8;
const MAX_CHARTS = 500;
/** Extra YAML files of the parent kept for transformations (Flux valuesFiles); beyond this, none are. */
export const YAML_FILES_MAX_BYTES = 256 * 1024;
const NOT_EXTRA = new Set(['Chart.yaml', 'values.yaml', 'requirements.yaml', 'requirements.lock', 'Chart.lock']);

export interface PublishedChartFiles {
  /** The parent chart as Helm stores it before processing (templates, files, schema, lock). */
  content: ChartContent;
  /** The parent with its subcharts, for dependency processing. */
  tree: HelmChart;
}

/** A chart .tgz → parent content and chart tree. Errors are RepoError `invalid_archive` / `too_large`. */
export function readChartTree(bytes: Uint8Array, limits?: ArchiveLimits): PublishedChartFiles {
  const repo = limits?.repository ?? 'archive';
  const where = `chart archive from ${repo}`;
  const budget = { charts: 0 };
  // One decompression budget for the whole tree (Helm's 100 MiB per chart would multiply with nesting).
  let remaining = limits?.maxTotalBytes ?? DEFAULT_ARCHIVE_LIMITS.maxTotalBytes;
  const read = (b: Uint8Array): Map<string, Uint8Array> => {
    if (remaining <= 0) throw new RepoError(repo, 'too_large', `${where}: subcharts decompress to more than ${limits?.maxTotalBytes ?? DEFAULT_ARCHIVE_LIMITS.maxTotalBytes} bytes in total`);
    const files = readChartFiles(b, { ...limits, subcharts: true, maxTotalBytes: remaining });
    for (const data of files.values()) remaining -= data.byteLength;
    return files;
  };
  try {
    const files = read(bytes);
    const content = chartContentFromFiles(files, where);
    const tree = loadTree(files, where, read, 0, budget);
    const yamlFiles = extraYaml(files);
    if (yamlFiles) tree.yamlFiles = yamlFiles;
    return { content, tree };
  } catch (err) {
    if (err instanceof ChartContentError) throw new RepoError(repo, 'invalid_archive', err.message, { cause: err });
    throw err;
  }
}

function loadTree(files: ReadonlyMap<string, Uint8Array>, where: string, read: (b: Uint8Array) => Map<string, Uint8Array>, depth: number, budget: { charts: number }): HelmChart {
  if (++budget.charts > MAX_CHARTS) throw new ChartContentError('too_many_subcharts', `${where}: more than ${MAX_CHARTS} charts`);
  if (depth > MAX_DEPTH) throw new ChartContentError('too_deep', `${where}: subcharts nested deeper than ${MAX_DEPTH}`);
  const chartYaml = files.get('Chart.yaml');
  if (!chartYaml) throw new ChartContentError('missing_chart_yaml', `${where}: no Chart.yaml`);
  const raw = chartYamlOf(chartYaml, `${where}: Chart.yaml`);
  if (!isTable(raw)) throw new ChartContentError('invalid_chart_yaml', `${where}: Chart.yaml is not a mapping`);
  const meta: JsonObject = deepCopy(raw);
  if (!scalarString(meta['apiVersion'])) meta['apiVersion'] = 'v1';
  let values: HelmChart['values'] = null;
  let helm4Values: Table | undefined;
  const groups = new Map<string, Map<string, Uint8Array>>();
  for (const [name, data] of files) {
    if (name === 'requirements.yaml') {
      const req = parseHelmYaml(decoder.decode(data), `${where}: requirements.yaml`);
      if (isTable(req) && 'dependencies' in req) meta['dependencies'] = deepCopy(req['dependencies']);
    } else if (name === 'values.yaml') {
      const v = valuesReadingsOf(data, `${where}: values.yaml`);
      values = isTable(v.helm3) ? deepCopy(v.helm3) : newTable();
      if (v.helm4) helm4Values = deepCopy(v.helm4) as Table;
    } else if (name.startsWith('charts/') && !name.endsWith('.prov')) {
      const rest = name.slice('charts/'.length);
      const slash = rest.indexOf('/');
      const group = slash < 0 ? rest : rest.slice(0, slash);
      if (group === '' || group.startsWith('_') || group.startsWith('.')) continue;
      let g = groups.get(group);
      if (!g) groups.set(group, (g = new Map()));
      g.set(rest, data);
    }
  }
  const metadata = helmMetadata(meta, where);
  const subcharts: HelmChart[] = [];
  for (const [group, g] of groups) {
    const sub = `${where}: charts/${group}`;
    if (group.endsWith('.tgz')) {
      const data = g.get(group);
      if (!data) throw new ChartContentError('invalid_subchart', `${sub} is not a file`);
      subcharts.push(loadTree(read(data), sub, read, depth + 1, budget));
    } else {
      const inner = new Map<string, Uint8Array>();
      for (const [n, d] of g) if (n.startsWith(`${group}/`)) inner.set(n.slice(group.length + 1), d);
      subcharts.push(loadTree(inner, sub, read, depth + 1, budget));
    }
  }
  return { metadata, values, subcharts, ...(helm4Values ? { helm4Values } : {}) };
}

function extraYaml(files: ReadonlyMap<string, Uint8Array>): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let bytes = 0;
  for (const [name, data] of files) {
    if (NOT_EXTRA.has(name) || name.startsWith('templates/') || name.startsWith('charts/') || !/\.ya?ml$/.test(name)) continue;
    bytes += data.byteLength;
    if (bytes > YAML_FILES_MAX_BYTES) return undefined;
    out[name] = decoder.decode(data);
  }
  return Object.keys(out).length ? out : undefined;
}

function helmMetadata(meta: JsonObject, where: string): HelmMetadata {
  const name = sanitizeString(scalarString(meta['name']) ?? '');
  const version = scalarString(meta['version']) ?? '';
  if (!name || !version) throw new ChartContentError('invalid_chart_yaml', `${where}: Chart.yaml has no name or version`);
  const out: HelmMetadata = { ...meta, name, version };
  const deps = meta['dependencies'];
  if (Array.isArray(deps)) {
    out.dependencies = deps.filter(isTable).map((d): HelmDependency => {
      const dep: HelmDependency = { ...d, name: sanitizeString(scalarString(d['name']) ?? '') };
      for (const f of ['version', 'repository', 'condition'] as const) {
        const s = scalarString(d[f]);
        if (s !== undefined) dep[f] = sanitizeString(s);
      }
      if (Array.isArray(d['tags'])) dep['tags'] = d['tags'].map((t) => sanitizeString(scalarString(t) ?? ''));
      return dep;
    });
  } else {
    delete out.dependencies;
  }
  return out;
}
