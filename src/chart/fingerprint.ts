import { hash } from 'node:crypto';
import { arr, isObject, scalarString, type JsonObject } from '../util/guards.ts';
import type { ChartFingerprint } from '../model/chart.ts';
import type { ChartContent, ChartFile } from './content.ts';


function sha256(data: Uint8Array | string): string {
  // One-shot: a chart has dozens of small files, and a Hash object per file costs more than the hashing.
  return hash('sha256', data, 'hex');
}

/** JSON with sorted keys so that equal data hashes equally whatever produced it. */
function canonicalJson(v: unknown): string {
  // String building in loops, not map/join: this runs on every release's values and metadata.
  if (v === null || typeof v !== 'object') return v === undefined ? 'null' : JSON.stringify(v);
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + canonicalJson(v[i]);
    return `${s}]`;
  }
  const o = v as JsonObject;
  const keys = Object.keys(o).sort();
  let s = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    s += `${i ? ',' : ''}${JSON.stringify(k)}:${canonicalJson(o[k])}`;
  }
  return `${s}}`;
}

const STRING_FIELDS = ['name', 'home', 'version', 'description', 'icon', 'apiVersion', 'condition', 'tags', 'appVersion', 'kubeVersion', 'type'] as const;
const LIST_FIELDS = ['sources', 'keywords'] as const;

function stringList(v: unknown): string[] | undefined {
  const out = arr(v).map(scalarString).filter((s): s is string => s !== undefined && s !== '');
  return out.length ? out : undefined;
}

function compactObject(fields: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || v === '' || v === false || v === null) continue;
    out[k] = v;
  }
  return out;
}

/**
 * Chart.yaml reduced to the fields of Helm's chart.Metadata, with Go's omitempty semantics, so the copy
 * Helm stored in the release and the copy in the tarball compare equal when they are the same file.
 * `dependencies[].enabled` is dropped: Helm sets it at install time.
 */
function normalizeMetadata(meta: JsonObject): JsonObject {
  const fields: Record<string, unknown> = {};
  for (const f of STRING_FIELDS) fields[f] = scalarString(meta[f]);
  for (const f of LIST_FIELDS) fields[f] = stringList(meta[f]);
  fields['deprecated'] = meta['deprecated'] === true;
  const maintainers = arr(meta['maintainers'])
    .filter(isObject)
    .map((m) => compactObject({ name: scalarString(m['name']), email: scalarString(m['email']), url: scalarString(m['url']) }));
  fields['maintainers'] = maintainers.length ? maintainers : undefined;
  if (isObject(meta['annotations'])) {
    const ann: JsonObject = {};
    for (const [k, v] of Object.entries(meta['annotations'])) {
      const s = scalarString(v);
      if (s !== undefined) ann[k] = s;
    }
    fields['annotations'] = Object.keys(ann).length ? ann : undefined;
  }
  const deps = arr(meta['dependencies'])
    .filter(isObject)
    .map((d) =>
      compactObject({
        name: scalarString(d['name']),
        version: scalarString(d['version']),
        repository: scalarString(d['repository']),
        condition: scalarString(d['condition']),
        tags: stringList(d['tags']),
        alias: scalarString(d['alias']),
        'import-values': Array.isArray(d['import-values']) && d['import-values'].length ? d['import-values'] : undefined,
      }),
    );
  fields['dependencies'] = deps.length ? deps : undefined;
  return compactObject(fields);
}

function fileDigests(files: readonly ChartFile[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) out[f.name] = sha256(f.data);
  return out;
}

function normalizeValues(v: unknown): unknown {
  return v === null || v === undefined ? {} : v;
}

export function fingerprintChart(chart: ChartContent): ChartFingerprint {
  const metadata = normalizeMetadata(chart.metadata);
  const deps = arr(metadata['dependencies']);
  const version = typeof metadata['version'] === 'string' ? metadata['version'] : '';
  const plus = version.indexOf('+');
  const withoutBuild = plus > 0 ? sha256(canonicalJson({ ...metadata, version: version.slice(0, plus) })) : undefined;
  return {
    metadata: sha256(canonicalJson(metadata)),
    ...(withoutBuild ? { metadataWithoutBuild: withoutBuild } : {}),
    values: sha256(canonicalJson(normalizeValues(chart.values))),
    schema: chart.schema && chart.schema.length ? sha256(chart.schema) : '',
    templates: fileDigests(chart.templates),
    files: fileDigests(chart.files),
    valuesMerged: deps.some((d) => isObject(d) && d['import-values'] !== undefined),
  };
}

/**
 * Where two fingerprints differ, as a list of part names ('metadata', 'values', 'schema',
 * 'templates/x.yaml', 'files/README.md'); empty when the charts are the same.
 * File names are chart structure, not values, so they may be shown to users.
 */
export function fingerprintDifferences(installed: ChartFingerprint, published: ChartFingerprint): string[] {
  const diffs: string[] = [];
  if (installed.metadata !== published.metadata && installed.metadataWithoutBuild !== published.metadata) diffs.push('metadata');
  if (installed.values !== published.values && !(installed.valuesMerged || published.valuesMerged)) diffs.push('values');
  if (installed.schema !== published.schema) diffs.push('schema');
  diffFiles(installed.templates, published.templates, '', diffs);
  diffFiles(installed.files, published.files, 'files/', diffs);
  return diffs;
}

function diffFiles(a: Record<string, string>, b: Record<string, string>, prefix: string, out: string[]): void {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const n of [...names].sort()) if (a[n] !== b[n]) out.push(prefix + n);
}
