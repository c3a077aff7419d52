/**
 * A chart archive with its subcharts, loaded the way Helm's loader does (pkg/chart/loader/load.go
 * LoadFiles), for install-time processing: `charts/<name>.tgz` archives and `charts/<name>/` directories,
 * nested; entries starting with `_` or `.` skipped; requirements.yaml folded into the metadata; a missing
 * apiVersion read as v1; metadata strings sanitised as Metadata.Validate does.
 */
import { DEFAULT_ARCHIVE_LIMITS, readChartEntries, type ArchiveLimits, type ChartEntry } from './archive.ts';
import { chartContentFromFiles, ChartContentError, chartYamlOf, parseHelmYaml, valuesReadingsOf, type ChartContent } from './content.ts';
import { deepCopy, isTable, newTable, type Table } from './coalesce.ts';
import { sanitizeString } from './fingerprint.ts';
import { chartTemplateWrites, resolveDefineWrites, type DefineCall } from './template-writes.ts';
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
  const budget: TreeBudget = { charts: 0, defineCalls: [] };
  // One decompression budget for the whole tree (Helm's 100 MiB per chart would multiply with nesting).
  let remaining = limits?.maxTotalBytes ?? DEFAULT_ARCHIVE_LIMITS.maxTotalBytes;
  const read = (b: Uint8Array): ChartEntry[] => {
    if (remaining <= 0) throw new RepoError(repo, 'too_large', `${where}: subcharts decompress to more than ${limits?.maxTotalBytes ?? DEFAULT_ARCHIVE_LIMITS.maxTotalBytes} bytes in total`);
    const entries = readChartEntries(b, { ...limits, subcharts: true, maxTotalBytes: remaining });
    for (const e of entries) remaining -= e.data.byteLength;
    return entries;
  };
  try {
    const entries = read(bytes);
    // The parent's own paths are unique (readChartEntries); only subchart directories can repeat one.
    const files = new Map(entries.map((e) => [e.name, e.data]));
    const content = chartContentFromFiles(files, where);
    const tree = loadTree(entries, where, read, 0, budget);
    resolveTreeWrites(tree, budget.defineCalls);
    const yamlFiles = extraYaml(files);
    if (yamlFiles) tree.yamlFiles = yamlFiles;
    return { content, tree };
  } catch (err) {
    if (err instanceof ChartContentError) throw new RepoError(repo, 'invalid_archive', err.message, { cause: err });
    throw err;
  }
}

interface TreeBudget {
  charts: number;
  /** Every `include`/`template` of the tree: named templates are global across a chart and its subcharts. */
  defineCalls: DefineCall[];
}

/** Writes into a named template's argument, resolved against the whole tree's calls (template-writes.ts). */
function resolveTreeWrites(c: HelmChart, calls: readonly DefineCall[]): void {
  if (c.templateWrites) {
    const resolved = resolveDefineWrites(c.templateWrites, calls);
    if (resolved.length) c.templateWrites = resolved;
    else delete c.templateWrites;
  }
  for (const s of c.subcharts) resolveTreeWrites(s, calls);
}

/**
 * Helm's LoadFiles over files in archive order. A path seen twice (a subchart directory holding two versions of
 * one chart, see duplicableEntry) is read as Helm reads it: every Chart.yaml decoded into the same Metadata
 * (goDecodeInto), then every requirements.yaml, the last values.yaml replacing the others; templates and other
 * files only matter to rendering, not to what is stored.
 */
function loadTree(files: readonly ChartEntry[], where: string, read: (b: Uint8Array) => ChartEntry[], depth: number, budget: TreeBudget): HelmChart {
  if (++budget.charts > MAX_CHARTS) throw new ChartContentError('too_many_subcharts', `${where}: more than ${MAX_CHARTS} charts`);
  if (depth > MAX_DEPTH) throw new ChartContentError('too_deep', `${where}: subcharts nested deeper than ${MAX_DEPTH}`);
  const chartYamls = files.filter((f) => f.name === 'Chart.yaml');
  if (!chartYamls.length) throw new ChartContentError('missing_chart_yaml', `${where}: no Chart.yaml`);
  let meta: JsonObject | undefined;
  const hidden = new Map<string, number>();
  for (const f of chartYamls) {
    const raw = chartYamlOf(f.data, `${where}: Chart.yaml`);
    if (!isTable(raw)) throw new ChartContentError('invalid_chart_yaml', `${where}: Chart.yaml is not a mapping`);
    if (meta) {
      meta = goDecodeInto(meta, raw, METADATA_FIELDS, hidden, where);
    } else {
      meta = deepCopy(raw);
      for (const k of METADATA_FIELDS.structSlices.keys()) if (Array.isArray(raw[k])) hidden.set(k, raw[k].length);
    }
    // Helm defaults apiVersion after each Chart.yaml it decodes (v1: Helm 2 charts had none).
    if (!scalarString(meta['apiVersion'])) meta['apiVersion'] = 'v1';
  }
  if (!meta) throw new ChartContentError('missing_chart_yaml', `${where}: no Chart.yaml`);
  let values: HelmChart['values'] = null;
  let helm4Values: Table | undefined;
  let helm2Requirements: HelmDependency[] | null | undefined;
  let helm2EmptyValues = true;
  const groups = new Map<string, ChartEntry[]>();
  for (const { name, data } of files) {
    if (name === 'requirements.yaml') {
      const req = parseHelmYaml(decoder.decode(data), `${where}: requirements.yaml`);
      if (isTable(req) && 'dependencies' in req) meta = goDecodeInto(meta, { dependencies: req['dependencies'] }, METADATA_FIELDS, hidden, where);
      helm2Requirements = helm2RequirementsOf(data, req);
    } else if (name === 'values.yaml') {
      helm2EmptyValues = data.byteLength === 0;
      const v = valuesReadingsOf(data, `${where}: values.yaml`);
      values = isTable(v.helm3) ? deepCopy(v.helm3) : newTable();
      helm4Values = v.helm4 ? (deepCopy(v.helm4) as Table) : undefined;
    } else if (name.startsWith('charts/') && !name.endsWith('.prov')) {
      const rest = name.slice('charts/'.length);
      const slash = rest.indexOf('/');
      const group = slash < 0 ? rest : rest.slice(0, slash);
      if (group === '' || group.startsWith('_') || group.startsWith('.')) continue;
      let g = groups.get(group);
      if (!g) groups.set(group, (g = []));
      g.push({ name: rest, data });
    }
  }
  const metadata = helmMetadata(meta, where);
  const subcharts: HelmChart[] = [];
  for (const [group, g] of groups) {
    const sub = `${where}: charts/${group}`;
    if (group.endsWith('.tgz')) {
      // Helm reads the group's first file, which must be the archive itself.
      const first = g[0];
      if (!first || first.name !== group) throw new ChartContentError('invalid_subchart', `${sub} is not a file`);
      subcharts.push(loadTree(read(first.data), sub, read, depth + 1, budget));
    } else {
      const inner = g.filter((e) => e.name.startsWith(`${group}/`)).map((e) => ({ name: e.name.slice(group.length + 1), data: e.data }));
      subcharts.push(loadTree(inner, sub, read, depth + 1, budget));
    }
  }
  // What the templates write into the values (Helm < 3.13 stored it): the result only, never the text.
  const { writes: templateWrites, calls } = chartTemplateWrites(files);
  for (const c of calls) budget.defineCalls.push(c);
  return { metadata, values, subcharts, ...(helm4Values ? { helm4Values } : {}), ...(templateWrites.length ? { templateWrites } : {}), ...(helm2Requirements !== undefined ? { helm2Requirements } : {}), ...(helm2EmptyValues ? { helm2EmptyValues: true as const } : {}) };
}

/** Whether encoding/json decodes `d` into Helm 2's chartutil.Dependency (a JSON null leaves a field alone). */
function helm2Decodes(d: JsonObject): boolean {
  const ok = (k: string, test: (v: unknown) => boolean): boolean => d[k] === undefined || d[k] === null || test(d[k]);
  const text = (v: unknown): boolean => typeof v === 'string';
  return ['name', 'version', 'repository', 'condition', 'alias'].every((k) => ok(k, text)) && ok('tags', (v) => Array.isArray(v) && v.every((t) => t === null || text(t))) && ok('enabled', (v) => typeof v === 'boolean') && ok('import-values', Array.isArray);
}

/**
 * requirements.yaml as Helm 2's LoadRequirements reads it (helm/helm v2.17.0 pkg/chartutil/requirements.go): the
 * last such file, none when it is empty or does not decode into Requirements (doProcessRequirementsEnabled
 * treats every load error as "no requirements"); its dependencies as written, null when it lists none.
 */
function helm2RequirementsOf(data: Uint8Array, parsed: unknown): HelmDependency[] | null | undefined {
  if (data.byteLength === 0 || (parsed !== null && !isTable(parsed))) return undefined;
  const deps = isTable(parsed) ? parsed['dependencies'] : null;
  if (deps === null || deps === undefined) return null;
  if (!Array.isArray(deps) || !deps.every((d) => d === null || (isTable(d) && helm2Decodes(d)))) return undefined;
  // A null entry is a nil *Dependency, which Helm 2 dereferences and panics on: no release comes from it.
  if (deps.some((d) => d === null)) return undefined;
  return deps.map((d) => deepCopy(d) as HelmDependency);
}

/**
 * The fields of Helm's chart.Metadata (and its Maintainer and Dependency) that encoding/json decodes other than
 * by replacement when a second document is decoded into the same struct (sigs.k8s.io/yaml → json.Unmarshal):
 * a map gains the new keys, a slice of struct pointers decodes each element into the old element at its index
 * (encoding/json decode.go array(): the old length is reused before the slice is cut to the new one), and a JSON
 * null sets a slice, map or pointer to nil but leaves a string or bool alone. Not modelled: Go's case-insensitive
 * key matching (a `Version:` key), which `helm package` never writes (it marshals Metadata with its own keys).
 */
interface GoFields {
  maps: ReadonlySet<string>;
  slices: ReadonlySet<string>;
  structSlices: ReadonlyMap<string, GoFields>;
  scalars: ReadonlySet<string>;
}
const MAINTAINER_FIELDS: GoFields = { maps: new Set(), slices: new Set(), structSlices: new Map(), scalars: new Set(['name', 'email', 'url']) };
const DEPENDENCY_FIELDS: GoFields = {
  maps: new Set(),
  slices: new Set(['tags', 'import-values']),
  structSlices: new Map(),
  scalars: new Set(['name', 'version', 'repository', 'condition', 'enabled', 'alias']),
};
const METADATA_FIELDS: GoFields = {
  maps: new Set(['annotations']),
  slices: new Set(['sources', 'keywords']),
  structSlices: new Map([
    ['maintainers', MAINTAINER_FIELDS],
    ['dependencies', DEPENDENCY_FIELDS],
  ]),
  scalars: new Set(['name', 'home', 'version', 'description', 'icon', 'apiVersion', 'condition', 'tags', 'appVersion', 'deprecated', 'kubeVersion', 'type']),
};

/**
 * `src` decoded into a copy of `dst` the way encoding/json decodes into an existing struct (see GoFields).
 * `hidden` (top level only): per slice of struct pointers, how many elements its backing array still holds
 * beyond what a shorter later document cut it to. Go's array() lengthens a slice within its capacity without
 * clearing it, so a third document longer than the second decodes into the first's hidden elements (their
 * conditions, aliases, import-values resurface). That is not reproduced: such a chart is refused (never
 * Verified, never Mismatch).
 */
function goDecodeInto(dst: JsonObject, src: JsonObject, fields: GoFields, hidden?: Map<string, number>, where = 'chart'): JsonObject {
  const out: JsonObject = { ...dst };
  for (const [k, v] of Object.entries(src)) {
    const structFields = fields.structSlices.get(k);
    if (hidden && structFields) {
      // Go: `[]` makes a new empty slice, null a nil one (the backing array goes); otherwise the backing array
      // keeps the longest length written into it.
      const len = Array.isArray(dst[k]) ? (dst[k] as unknown[]).length : 0;
      const held = hidden.get(k) ?? len;
      const next = Array.isArray(v) ? v.length : 0;
      if (Array.isArray(v) && next > len && held > len) {
        throw new ChartContentError('unsupported_chart', `${where}: Chart.yaml files of one subchart shorten and then lengthen ${k}; Go's decoder would reuse the dropped entries, which is not reproduced`);
      }
      hidden.set(k, next === 0 ? 0 : Math.max(held, next));
    }
    if (v === null) {
      // A field Helm does not know is dropped by Go anyway; kept as null here, it is read by nothing.
      if (!fields.scalars.has(k)) out[k] = null;
      continue;
    }
    if (fields.maps.has(k) && isTable(v) && isTable(out[k])) {
      out[k] = { ...(out[k] as JsonObject), ...deepCopy(v) };
    } else if (structFields && Array.isArray(v)) {
      const old = out[k];
      out[k] = v.map((el, i) => {
        const prev = Array.isArray(old) ? old[i] : undefined;
        return isTable(el) && isTable(prev) ? goDecodeInto(prev, el, structFields) : deepCopy(el);
      });
    } else {
      out[k] = deepCopy(v);
    }
  }
  return out;
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
